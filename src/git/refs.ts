// Names that reach git as arguments: branch names (checked by git itself, `git check-ref-format --branch`,
// run on the server so the rule is exactly git's), remote names, commit identities and pathspecs. Every
// check happens before anything runs in a box, so a refused value never gets near a git command line.
import { execFile } from "node:child_process";
import os from "node:os";
import { invalidArgument } from "../errors.js";

/** Refuses what git would refuse as a branch name (and anything that could pass for an option). */
export async function checkBranchName(name: string, what = "branch"): Promise<string> {
  if (!name) throw invalidArgument(`${what} is empty`);
  if (name.startsWith("-")) throw invalidArgument(`${what} "${name}" starts with "-", which git does not allow`);
  // "@{-1}" means "the previous branch" to --branch; boxd wants literal names only.
  if (name.includes("@{") || /[\0\n\r]/.test(name) || name.length > 255) {
    throw invalidArgument(`${what} "${name}" is not a valid branch name`);
  }
  const verdict = await new Promise<string | null>((resolve) => {
    // cwd outside any repository: --branch must not resolve anything against the server's own repos.
    execFile("git", ["check-ref-format", "--branch", name], { cwd: os.tmpdir(), timeout: 10_000 }, (err, stdout) =>
      resolve(err ? null : stdout.trim()),
    );
  });
  if (verdict !== name) {
    throw invalidArgument(`${what} "${name}" is not a valid branch name (git check-ref-format --branch refuses it)`);
  }
  return name;
}

/** A remote's name as stored in a box's git config (remote.<name>.url). */
export function checkRemoteName(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/.test(name) || name.endsWith(".lock") || name.includes("..")) {
    throw invalidArgument(`remote "${name}" is not a valid remote name (letters, digits, ".", "_", "-")`);
  }
  return name;
}

/** A commit author name or email: git refuses "<", ">" and line breaks in identities. */
export function checkIdentity(value: string | undefined, what: "authorName" | "authorEmail"): string {
  if (value === undefined) return "";
  const v = value.trim();
  const bad = what === "authorName" ? /[<>\0\n\r]/ : /[<>\s\0]/;
  if (!v || bad.test(v) || v.length > 200) {
    throw invalidArgument(
      `${what} "${value}" is not usable as a git identity (no "<", ">" or line breaks${what === "authorEmail" ? ", no spaces" : ""})`,
    );
  }
  return v;
}

/** Paths given to diff or commit: taken literally by git (GIT_LITERAL_PATHSPECS in the box), so only NUL is refused. */
export function checkPaths(paths: string[] | undefined): string[] {
  for (const p of paths ?? []) {
    if (!p || p.includes("\0")) throw invalidArgument("paths must be non-empty and contain no NUL bytes");
  }
  return paths ?? [];
}
