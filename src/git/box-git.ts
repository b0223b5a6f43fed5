// Git inside a box: status, diff, commit, checkout, and the facts push and pull requests need (branch,
// commit, remote URL, git dir). Everything runs as boxuser through BoxShell with caller values only in
// argv or stdin, after `--` or as validated option values, with pathspecs taken literally
// (GIT_LITERAL_PATHSPECS) and any GIT_* variable of the box's environment cleared, so that the box's
// environment cannot redirect these commands. The box's own git config still applies: it is the box's repo.
import { BoxdError, conflict, invalidArgument, notFound } from "../errors.js";
import { type BoxShell, failure, type ShellResult } from "../fs/box-shell.js";
import { boxGitError } from "./git-errors.js";
import { type DiffFileStat, parseNumstat, parseStatus, type RepoStatus } from "./status-parse.js";

/** Shared start of every in-box git script (after BoxShell's prelude: set -u, fail, need). */
export const GIT_PRELUDE = `for v in $(compgen -e); do case $v in GIT_*) unset "$v" ;; esac; done
export GIT_TERMINAL_PROMPT=0 GIT_LITERAL_PATHSPECS=1 GIT_PAGER=cat PAGER=cat GIT_OPTIONAL_LOCKS=0
repo() {
  need "$1"
  [ -d "$1" ] || fail NOT_DIR "$1"
  cd -- "$1" || exit 1
  local t
  t=$(git rev-parse --is-inside-work-tree 2>&1) || { printf '%s\\n' "$t" >&2; fail NOT_REPO "$1"; }
  [ "$t" = true ] || fail NOT_REPO "$1"
}
`;

const STATUS = `repo "$1"
exec git status --porcelain=v2 --branch -z --untracked-files=normal`;

// First line: the numstat (base64, it is NUL-separated); then the patch itself.
const DIFF = `repo "$1"; staged=$2; shift 2
set -o pipefail
a=(--no-color --no-ext-diff --no-textconv)
[ "$staged" = 1 ] && a+=(--cached)
ns=$(git diff "\${a[@]}" --numstat -z -- "$@" | base64 -w0) || exit 1
printf '%s\\n' "$ns"
exec git diff "\${a[@]}" -- "$@"`;

// Identity: the call's, else the repo's or the box user's own git config (not the image's system
// default), else the server's default. The message arrives on stdin (any text, newlines, leading dashes).
const COMMIT = `repo "$1"; all=$2 name=$3 email=$4 dname=$5 demail=$6; shift 6
[ -n "$name" ] || name=$(git config --local --get user.name || git config --global --get user.name) || name=
[ -n "$email" ] || email=$(git config --local --get user.email || git config --global --get user.email) || email=
[ -n "$name" ] || name=$dname
[ -n "$email" ] || email=$demail
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
if [ $# -gt 0 ]; then git add -A -- "$@" >&2 || exit 1
elif [ "$all" = 1 ]; then git add -A >&2 || exit 1
fi
if ! git commit -F - >&2; then
  git diff --cached --quiet 2>/dev/null && fail NOTHING "$PWD"
  exit 1
fi
sha=$(git rev-parse --verify HEAD) || exit 1
br=$(git symbolic-ref -q --short HEAD) || br=
st=$(git show --shortstat --format= HEAD -- | tail -n 1)
printf '%s\\0%s\\0%s\\0%s\\0%s\\0' "$sha" "$br" "$name" "$email" "$st"`;

const CHECKOUT = `repo "$1"; b=$2 create=$3
if [ "$create" = 1 ]; then
  git show-ref --verify --quiet "refs/heads/$b" && fail BRANCH_EXISTS "$b"
  git switch -c "$b" >&2 || exit 1
else
  if ! git show-ref --verify --quiet "refs/heads/$b"; then
    [ -n "$(git for-each-ref --format=x "refs/remotes/*/$b")" ] || fail NO_BRANCH "$b"
  fi
  git switch "$b" >&2 || exit 1
fi
c=$(git rev-parse -q --verify HEAD) || c=
printf '%s\\0%s\\0' "$(git symbolic-ref -q --short HEAD)" "$c"`;

// What push and pull requests need: the branch (current unless given), its commit, the remote's URL (as
// data, validated by the server) and the absolute common git dir (worktrees share it).
const INFO = `repo "$1"; r=$2 b=$3 need_commit=$4
if [ -z "$b" ]; then b=$(git symbolic-ref -q --short HEAD) || fail DETACHED "$1"; fi
c=$(git rev-parse -q --verify "refs/heads/$b^{commit}") || c=
[ -n "$c" ] || [ "$need_commit" = 0 ] || fail NO_BRANCH "$b"
u=$(git config --get "remote.$r.pushurl" || git config --get "remote.$r.url") || fail NO_REMOTE "$r"
g=$(git rev-parse --path-format=absolute --git-common-dir) || exit 1
printf '%s\\0%s\\0%s\\0%s\\0' "$b" "$c" "$u" "$g"`;

// After a push: the remote-tracking ref, and the branch's upstream when it had none (like push -u).
const AFTER_PUSH = `repo "$1"; r=$2 b=$3 c=$4
git update-ref -m "push (boxd)" "refs/remotes/$r/$b" "$c" || exit 1
if ! git config --get "branch.$b.remote" >/dev/null; then
  git config "branch.$b.remote" "$r" && git config "branch.$b.merge" "refs/heads/$b"
fi`;

export interface DiffResult {
  diff: string;
  files: DiffFileStat[];
  additions: number;
  deletions: number;
  truncated: boolean;
}

export interface CommitResult {
  sha: string;
  branch: string | null;
  author: { name: string; email: string };
  summary: string;
}

export interface RepoInfo {
  branch: string;
  commit: string | null;
  remoteUrl: string;
  gitDir: string;
}

const MAX_STATUS_BYTES = 16 * 1024 * 1024;

export class BoxGit {
  constructor(
    private readonly shell: BoxShell,
    private readonly maxDiffBytes: number,
  ) {}

  async run(
    containerId: string,
    op: string,
    dir: string,
    script: string,
    args: string[],
    opts: Parameters<BoxShell["run"]>[3] = {},
  ): Promise<ShellResult> {
    const res = await this.shell.run(containerId, GIT_PRELUDE + script, args, opts);
    if (res.exitCode !== 0 && !res.overflow) throw gitFailure(op, dir, res);
    return res;
  }

  async status(containerId: string, dir: string, maxEntries: number): Promise<RepoStatus & { truncated: boolean }> {
    const res = await this.run(containerId, "git status", dir, STATUS, [dir], { maxStdout: MAX_STATUS_BYTES });
    const s = parseStatus(res.stdout.toString("utf8"), maxEntries);
    return { ...s, truncated: res.overflow || s.total > s.entries.length };
  }

  async diff(containerId: string, dir: string, staged: boolean, paths: string[]): Promise<DiffResult> {
    const limit = this.maxDiffBytes + 4 * 1024 * 1024;
    const res = await this.run(containerId, "git diff", dir, DIFF, [dir, staged ? "1" : "0", ...paths], {
      maxStdout: limit,
    });
    const nl = res.stdout.indexOf(0x0a);
    const numstat = nl >= 0 ? Buffer.from(res.stdout.subarray(0, nl).toString("ascii"), "base64").toString("utf8") : "";
    let patch = nl >= 0 ? res.stdout.subarray(nl + 1) : Buffer.alloc(0);
    let truncated = res.overflow;
    if (patch.length > this.maxDiffBytes) {
      // Cut at a line end so the patch that is returned stays readable.
      const cut = patch.lastIndexOf(0x0a, this.maxDiffBytes);
      patch = patch.subarray(0, cut > 0 ? cut + 1 : this.maxDiffBytes);
      truncated = true;
    }
    const files = parseNumstat(numstat);
    const sum = (k: "additions" | "deletions") => files.reduce((n, f) => n + (f[k] ?? 0), 0);
    return {
      diff: patch.toString("utf8"),
      files,
      additions: sum("additions"),
      deletions: sum("deletions"),
      truncated,
    };
  }

  async commit(
    containerId: string,
    dir: string,
    message: string,
    opts: { all: boolean; paths: string[]; name: string; email: string; defaultName: string; defaultEmail: string },
  ): Promise<CommitResult> {
    const args = [dir, opts.all ? "1" : "0", opts.name, opts.email, opts.defaultName, opts.defaultEmail, ...opts.paths];
    const res = await this.run(containerId, "git commit", dir, COMMIT, args, { stdin: Buffer.from(message, "utf8") });
    const [sha = "", branch = "", name = "", email = "", summary = ""] = res.stdout.toString("utf8").split("\0");
    return { sha, branch: branch || null, author: { name, email }, summary: summary.trim() };
  }

  async checkout(
    containerId: string,
    dir: string,
    branch: string,
    create: boolean,
  ): Promise<{ branch: string; commit: string | null }> {
    const res = await this.run(containerId, "git checkout", dir, CHECKOUT, [dir, branch, create ? "1" : "0"]);
    const [current = "", commit = ""] = res.stdout.toString("utf8").split("\0");
    return { branch: current || branch, commit: commit || null };
  }

  async info(
    containerId: string,
    dir: string,
    remote: string,
    branch: string,
    needCommit: boolean,
    op: string,
  ): Promise<RepoInfo> {
    const res = await this.run(containerId, op, dir, INFO, [dir, remote, branch, needCommit ? "1" : "0"]);
    const [b = "", commit = "", remoteUrl = "", gitDir = ""] = res.stdout.toString("utf8").split("\0");
    return { branch: b, commit: commit || null, remoteUrl, gitDir };
  }

  async afterPush(containerId: string, dir: string, remote: string, branch: string, commit: string): Promise<void> {
    await this.run(containerId, "git push (tracking ref)", dir, AFTER_PUSH, [dir, remote, branch, commit]);
  }
}

/** The error for a failed in-box git script: its marker when it set one, else git's own words. */
export function gitFailure(op: string, dir: string, res: ShellResult): BoxdError {
  const said = res.stderr
    .split("\n")
    .filter((l) => !l.startsWith("boxd-error:"))
    .join("\n");
  const subject = res.marker?.subject ?? dir;
  const quote = said.trim() ? ` (git: ${said.trim().split("\n").slice(-4).join(" | ").slice(0, 800)})` : "";
  switch (res.marker?.code as string | undefined) {
    case "NOT_REPO":
      return invalidArgument(`${subject} is not a git repository (or not inside one's working tree)${quote}`);
    case "NOTHING":
      return conflict(`nothing to commit in ${subject}: the working tree has no changes to record${quote}`);
    case "BRANCH_EXISTS":
      return new BoxdError(
        "ALREADY_EXISTS",
        `branch "${subject}" already exists in ${dir}: check it out without create`,
      );
    case "NO_BRANCH":
      return notFound(`branch "${subject}" does not exist in ${dir} (nor on any remote it knows)`);
    case "DETACHED":
      return invalidArgument(`${dir} is not on a branch (detached HEAD): pass branch, or check out a branch first`);
    case "NO_REMOTE":
      return notFound(`${dir} has no remote "${subject}" with a URL`);
    case undefined:
      return boxGitError(op, dir, said, res.exitCode);
  }
  return failure(res, dir, { NOT_DIR: "directory must be a folder holding a git repository" });
}
