// The in-box half of box_git_pull. Before the server fetches: the current branch, the remote and remote
// branch it pulls from (its upstream, else the same name on origin), the remote's URL, the git dir, and
// the refusals that need no network (detached HEAD, a merge or rebase in progress, for a rebase tracked
// changes). After: the fetched objects arrive as one pack on stdin (git index-pack in the box), the
// remote-tracking ref is set, and the branch is fast-forwarded, merged or rebased by the box's own git.
// A conflict leaves the repository as git leaves it (mid-merge or mid-rebase) for the agent to resolve or
// abort; the result names the conflicting files. Caller values travel as argv only.
import type { Readable } from "node:stream";
import { conflict, invalidArgument } from "../errors.js";
import type { BoxShell, ShellResult } from "../fs/box-shell.js";
import { GIT_PRELUDE, gitFailure } from "./box-git.js";

// $2/$3 empty: the branch's configured upstream (branch.<b>.remote/.merge), else origin and the same name.
const PULL_INFO = `repo "$1"; r=$2 ub=$3 rebase=$4
b=$(git symbolic-ref -q --short HEAD) || fail DETACHED "$1"
gd=$(git rev-parse --path-format=absolute --git-dir) || exit 1
g=$(git rev-parse --path-format=absolute --git-common-dir) || exit 1
[ -e "$gd/MERGE_HEAD" ] && fail IN_MERGE "$1"
{ [ -d "$gd/rebase-merge" ] || [ -d "$gd/rebase-apply" ]; } && fail IN_REBASE "$1"
[ -n "$r" ] || r=$(git config --get "branch.$b.remote") || r=origin
if [ -z "$ub" ]; then
  if m=$(git config --get "branch.$b.merge"); then ub=\${m#refs/heads/}; else ub=$b; fi
fi
u=$(git config --get "remote.$r.url") || fail NO_REMOTE "$r"
c=$(git rev-parse -q --verify HEAD) || c=
printf '%s\\0%s\\0%s\\0%s\\0%s\\0%s\\0' "$b" "$r" "$ub" "$u" "$g" "$c"
if [ "$rebase" = 1 ] && [ -n "$c" ]; then git diff --name-only -z HEAD -- || exit 1; fi`;

// Exit 3: conflicts (their files on stdout, NUL-separated); exit 4: local files in the way (git's words
// on stderr). Identity for a merge commit or rebased commits as box_git_commit finds it.
const PULL_APPLY = `repo "$1"; r=$2 ub=$3 sha=$4 mode=$5 pack=$6 dname=$7 demail=$8
export GIT_EDITOR=true GIT_MERGE_AUTOEDIT=no
if [ "$pack" = 1 ]; then git index-pack --stdin >/dev/null || exit 1; fi
git cat-file -e "$sha^{commit}" || exit 1
git update-ref -m "pull (boxd)" "refs/remotes/$r/$ub" "$sha" || exit 1
name=$(git config --local --get user.name || git config --global --get user.name) || name=$dname
email=$(git config --local --get user.email || git config --global --get user.email) || email=$demail
old=$(git rev-parse -q --verify HEAD) || old=
n=0 ff=0
stuck() {
  f=$(git diff --name-only -z --diff-filter=U)
  if [ -n "$f" ]; then printf '%s' "$f"; exit 3; fi
  grep -q 'would be overwritten' "$log" && exit 4
  exit 1
}
log=$(mktemp) || exit 1
trap 'rm -f -- "$log"' EXIT
if [ -z "$old" ]; then
  n=$(git rev-list --count "$sha"); ff=1
  git merge -q --ff-only "$sha" >"$log" 2>&1 || { cat "$log" >&2; stuck; }
elif git merge-base --is-ancestor "$sha" "$old"; then :
else
  n=$(git rev-list --count "$old..$sha")
  git merge-base --is-ancestor "$old" "$sha" && ff=1
  if [ "$ff" = 1 ]; then set -- merge -q --ff-only "$sha"
  elif [ "$mode" = rebase ]; then set -- rebase -q "refs/remotes/$r/$ub"
  else set -- merge -q --no-ff --no-edit "refs/remotes/$r/$ub"
  fi
  git -c user.name="$name" -c user.email="$email" "$@" >"$log" 2>&1 || { cat "$log" >&2; stuck; }
fi
printf '%s\\0%s\\0%s\\0%s\\0' "$old" "$(git rev-parse -q --verify HEAD)" "$n" "$ff"`;

export interface PullInfo {
  branch: string;
  remote: string;
  upstream: string;
  remoteUrl: string;
  gitDir: string;
  /** HEAD before the pull (null on a branch with no commit yet). */
  head: string | null;
}

export interface PullApplied {
  from: string | null;
  to: string;
  /** Commits of the remote branch the branch did not have. */
  commits: number;
  fastForward: boolean;
}

export type PullMode = "merge" | "rebase";

export class BoxPull {
  constructor(private readonly shell: BoxShell) {}

  async info(containerId: string, dir: string, remote: string, upstream: string, mode: PullMode): Promise<PullInfo> {
    const args = [dir, remote, upstream, mode === "rebase" ? "1" : "0"];
    const res = await this.shell.run(containerId, GIT_PRELUDE + PULL_INFO, args);
    if (res.exitCode !== 0) throw pullFailure(dir, res);
    const [branch = "", r = "", ub = "", remoteUrl = "", gitDir = "", head = "", ...dirty] = res.stdout
      .toString("utf8")
      .split("\0");
    const changed = dirty.filter((f) => f !== "");
    if (changed.length) {
      throw conflict(
        `cannot rebase ${branch} in ${dir}: it has uncommitted changes to ${listFiles(changed)}; commit them (box_git_commit) or stash them (box_exec "git stash"), then pull again`,
      );
    }
    return { branch, remote: r, upstream: ub, remoteUrl, gitDir, head: head || null };
  }

  async apply(
    containerId: string,
    dir: string,
    target: { info: PullInfo; sha: string; mode: PullMode; pack: Readable | null },
    identity: { name: string; email: string },
  ): Promise<PullApplied> {
    const { info, sha, mode, pack } = target;
    const args = [dir, info.remote, info.upstream, sha, mode, pack ? "1" : "0", identity.name, identity.email];
    const res = await this.shell.run(containerId, GIT_PRELUDE + PULL_APPLY, args, pack ? { stdin: pack } : {});
    const into = `${info.remote}/${info.upstream} into ${info.branch} in ${dir}`;
    if (res.exitCode === 3) throw conflictsOf(res, into, mode);
    if (res.exitCode === 4) {
      throw conflict(
        `cannot ${mode} ${into}: local files would be overwritten: ${listFiles(overwritten(res.stderr))}; commit them (box_git_commit), stash them (box_exec "git stash") or move them away, then pull again`,
      );
    }
    if (res.exitCode !== 0) throw gitFailure(`git pull (${mode})`, dir, res);
    const [from = "", to = "", commits = "0", ff = "0"] = res.stdout.toString("utf8").split("\0");
    return { from: from || null, to, commits: Number(commits), fastForward: ff === "1" };
  }
}

/** CONFLICT naming the files, saying how to go on from the state git left. */
function conflictsOf(res: ShellResult, into: string, mode: PullMode): Error {
  const files = res.stdout
    .toString("utf8")
    .split("\0")
    .filter((f) => f !== "");
  const next =
    mode === "rebase"
      ? 'the rebase stopped there: fix the files, `git add` them and run `git rebase --continue` (box_exec), or give up with box_exec "git rebase --abort"'
      : 'the merge stopped there: fix the files and commit (box_git_commit), or give up with box_exec "git merge --abort"';
  return conflict(`${mode} of ${into} has conflicts in ${listFiles(files)}; ${next}`);
}

/** The paths git lists (tab-indented) after "... would be overwritten by ...:". */
function overwritten(stderr: string): string[] {
  const files: string[] = [];
  let inList = false;
  for (const line of stderr.split("\n")) {
    if (/would be overwritten by/.test(line)) inList = true;
    else if (inList && line.startsWith("\t")) files.push(line.slice(1));
    else inList = false;
  }
  return files;
}

function listFiles(files: string[]): string {
  if (files.length === 0) return "(git named none)";
  const shown = files.slice(0, 20).join(", ");
  return files.length > 20 ? `${shown} and ${files.length - 20} more` : shown;
}

function pullFailure(dir: string, res: ShellResult): Error {
  switch (res.marker?.code as string | undefined) {
    case "IN_MERGE":
      return conflict(
        `${dir} is in the middle of a merge: finish it (resolve, then box_git_commit) or abort it (box_exec "git merge --abort"), then pull again`,
      );
    case "IN_REBASE":
      return conflict(
        `${dir} is in the middle of a rebase: finish it (box_exec "git rebase --continue") or abort it (box_exec "git rebase --abort"), then pull again`,
      );
    case "DETACHED":
      return invalidArgument(`${dir} is not on a branch (detached HEAD): check out a branch first (box_git_checkout)`);
  }
  return gitFailure("git pull", dir, res);
}
