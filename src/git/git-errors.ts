// git's failures in the contract's codes. git's own words are always kept in the message (the last lines
// of its output, tokens redacted by the caller), after a sentence that says what to do next.
import { BoxdError, type ErrorCode } from "../errors.js";

/** The useful tail of git's output: hint lines dropped, at most a few lines and ~1000 characters. */
export function gitMessage(output: string): string {
  const lines = output
    .replace(/\r/g, "\n")
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) => l && !l.startsWith("hint:") && !/^(Cloning into|remote: (Counting|Compressing|Enumerating))/.test(l),
    );
  const text = lines.slice(-6).join(" | ");
  return text.length > 1000 ? `…${text.slice(-1000)}` : text;
}

interface Rule {
  test: RegExp;
  code: ErrorCode;
  say: string;
}

// Order matters: the first matching rule wins.
const REMOTE_RULES: Rule[] = [
  {
    test: /Authentication failed|could not read (Username|Password)|terminal prompts disabled|HTTP 401|\b401\b/i,
    code: "UNAUTHENTICATED",
    say: "the remote refused the credentials (or none are configured for it): set BOXD_GIT_TOKEN (and BOXD_GIT_TOKEN_HOSTS) or BOXD_GIT_TOKENS on the server",
  },
  {
    test: /\b403\b|Forbidden|permission to .* denied|Write access to repository not granted/i,
    code: "FORBIDDEN",
    say: "the remote denies this operation to the configured token: check the token's permissions",
  },
  {
    test: /\[remote rejected\]|pre-receive hook declined|protected branch/i,
    code: "FORBIDDEN",
    say: "the remote refused the update (a hook or branch protection)",
  },
  {
    test: /\[rejected\]|non-fast-forward|fetch first|Updates were rejected/i,
    code: "CONFLICT",
    say: "the remote branch has commits the box does not have (non-fast-forward); integrate them first or push to a new branch",
  },
  {
    test: /Remote branch .* not found|couldn't find remote ref|not our ref|invalid reference/i,
    code: "NOT_FOUND",
    say: "that branch does not exist on the remote",
  },
  {
    test: /repository .* not found|not found|does not appear to be a git repository|\b404\b|Not a git repository/i,
    code: "NOT_FOUND",
    say: "no repository at that URL (or it is private and the token cannot see it)",
  },
  {
    test: /unable to access/i,
    code: "NOT_FOUND",
    say: "the remote did not answer as a git server",
  },
  {
    test: /transport .* not allowed|unsupported URL protocol|protocol .* is not supported|unable to find remote helper/i,
    code: "INVALID_ARGUMENT",
    say: "that URL scheme is not allowed: use https://, http:// or git://",
  },
  {
    test: /shallow update not allowed/i,
    code: "CONFLICT",
    say: "the remote refuses a push from a shallow clone: clone without depth to push new history",
  },
  {
    test: /No space left on device/i,
    code: "LIMIT_EXCEEDED",
    say: "the server's disk is full",
  },
  {
    test: /timed out|operation too slow/i,
    code: "TIMEOUT",
    say: "the remote did not answer in time",
  },
];

/**
 * git's words for a connection that failed (curl's and git://'s). These get remote-guard's one message
 * without git's words, which would tell a refused port from a filtered one or a missing name.
 */
export const CONNECT_FAILED =
  /Could not resolve (host|proxy)|Failed to connect|Couldn't connect|Connection refused|Connection timed out|Network is unreachable|No route to host|unable to connect to|unable to look up/i;

/** A failed clone or push (run on the server) as a BoxdError. */
export function remoteError(op: string, target: string, output: string): BoxdError {
  const said = gitMessage(output);
  for (const r of REMOTE_RULES) {
    if (r.test.test(output)) return new BoxdError(r.code, `${op} ${target} failed: ${r.say} (git: ${said})`);
  }
  return new BoxdError("INTERNAL", `${op} ${target} failed (git: ${said || "no output"})`);
}

const BOX_RULES: Rule[] = [
  {
    test: /would be overwritten|Please commit your changes or stash them|unmerged|needs merge|you need to resolve|conflict/i,
    code: "CONFLICT",
    say: "the working tree's state does not allow this; commit, stash or resolve first",
  },
  {
    test: /did not match any file|pathspec .* did not match|invalid reference|not a valid (object|ref)|unknown revision/i,
    code: "NOT_FOUND",
    say: "git does not know that name",
  },
  {
    test: /Permission denied|Operation not permitted|Read-only file system/i,
    code: "FORBIDDEN",
    say: "the box user (boxuser) may not write there",
  },
  { test: /No space left on device|Disk quota exceeded/i, code: "LIMIT_EXCEEDED", say: "the box's disk is full" },
  { test: /dubious ownership/i, code: "FORBIDDEN", say: "the repository belongs to another user in the box" },
  {
    test: /empty commit message|Aborting commit/i,
    code: "INVALID_ARGUMENT",
    say: "git refused the commit message",
  },
  {
    test: /is not a valid branch name|not a valid ref|already exists/i,
    code: "INVALID_ARGUMENT",
    say: "git refused the name",
  },
];

/** A failed git command inside a box (status, diff, commit, checkout, clone's checkout) as a BoxdError. */
export function boxGitError(op: string, dir: string, output: string, exitCode: number | null): BoxdError {
  const said = gitMessage(output);
  for (const r of BOX_RULES) {
    if (r.test.test(output)) return new BoxdError(r.code, `${op} in ${dir} failed: ${r.say} (git: ${said})`);
  }
  return new BoxdError(
    "INTERNAL",
    `${op} in ${dir} failed (exit code ${exitCode ?? "unknown"}; git: ${said || "no output"})`,
  );
}
