// Git tools: box_git_clone, box_git_status, box_git_diff, box_git_commit, box_git_checkout, box_git_push,
// box_git_pull, box_git_pull_request. They resolve the box (resuming it if paused), call GitService and shape results;
// git itself, credentials and the box's files are GitService's business.
import { z } from "zod";
import type { OpContext } from "../../git/git-service.js";
import { CHANGE_KINDS } from "../../git/status-parse.js";
import { defineBoxTool } from "../define-box-tool.js";
import type { ToolContext } from "../define-tool.js";
import { boxPath } from "../schemas.js";

const directory = boxPath("Folder of the repository (its working tree, or a folder inside it)");
const branchName = (what: string) => z.string().min(1).max(255).describe(what);

const op = (ctx: ToolContext): OpContext => ({ progress: ctx.progress, signal: ctx.signal, tenant: ctx.tenant });

export const boxGitClone = defineBoxTool({
  name: "box_git_clone",
  title: "Clone a git repository",
  description:
    "Clone a repository into the box. The server fetches it with its own configured credentials, or your GIT_TOKEN secret when you set one (the box never sees a token and needs no network access) and copies it in, owned by boxuser, with the remote stored without credentials. " +
    "The target folder must not exist or be empty; on failure nothing is left behind. Progress is reported while it runs.",
  input: {
    repo: z.string().min(1).max(2048).describe("Repository URL: https://, http:// or git:// (no credentials in it)"),
    directory: boxPath("Folder to clone into")
      .optional()
      .describe("Folder to clone into (default: /workspace/home/<repository name>); must not exist or be empty"),
    branch: branchName("Branch to check out (default: the remote's default branch)").optional(),
    depth: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe("Fetch only this many latest commits (a shallow clone; faster for large histories)"),
  },
  output: {
    directory: z.string().describe("Absolute path of the clone in the box"),
    branch: z.string().nullable().describe("Branch checked out (null for a detached HEAD)"),
    commit: z.string().nullable().describe("Commit checked out (null for an empty repository)"),
    url: z.string().describe("The remote's URL as stored in the clone (origin)"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const r = await s.git.clone(box.containerId, args, op(ctx));
    const at = r.commit ? ` at ${r.commit.slice(0, 12)}` : " (empty repository)";
    return {
      text: `cloned ${r.url} into ${r.directory} (${r.branch ?? "detached"}${at})`,
      structured: r,
    };
  },
});

const statusEntry = z.object({
  path: z.string().describe("Path relative to the repository root"),
  originalPath: z.string().optional().describe("Path before a rename or copy"),
  index: z.string().describe('Staged state, git\'s X letter: M modified, A added, D deleted, R renamed, "." none'),
  worktree: z.string().describe("Unstaged state, git's Y letter (same letters)"),
  kind: z.enum(CHANGE_KINDS).describe("What kind of change"),
});

export const boxGitStatus = defineBoxTool({
  name: "box_git_status",
  title: "Git status",
  description:
    "Branch, upstream, commits ahead/behind, and the changed, staged, untracked and conflicted files of a repository in the box (ignored files are left out).",
  input: { directory },
  output: {
    directory: z.string().describe("Absolute path of the folder"),
    branch: z.string().nullable().describe("Current branch (null when HEAD is detached)"),
    detached: z.boolean().describe("true when HEAD is not on a branch"),
    commit: z.string().nullable().describe("HEAD commit (null before the first commit)"),
    upstream: z.string().nullable().describe("Upstream branch, e.g. origin/main (null when none)"),
    ahead: z.number().describe("Commits on the branch not on its upstream"),
    behind: z.number().describe("Commits on the upstream not on the branch"),
    clean: z.boolean().describe("true when nothing is changed, staged or untracked"),
    staged: z.number().describe("Files with staged changes"),
    unstaged: z.number().describe("Files with unstaged changes"),
    untracked: z.number().describe("Untracked files (and folders)"),
    conflicted: z.number().describe("Files with merge conflicts"),
    files: z.array(statusEntry).describe("The changed files (at most 1000)"),
    truncated: z.boolean().describe("true when there were more files than listed"),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const st = await s.git.status(box.containerId, args.directory);
    const where = st.branch ?? `detached at ${st.commit?.slice(0, 12) ?? "nothing"}`;
    const track = st.upstream ? `, ${st.ahead} ahead / ${st.behind} behind ${st.upstream}` : "";
    const clean = st.total === 0;
    const summary = clean
      ? "clean"
      : `${st.staged} staged, ${st.unstaged} unstaged, ${st.untracked} untracked, ${st.conflicted} conflicted`;
    return {
      text: `${st.directory}: on ${where}${track}; ${summary}`,
      structured: {
        directory: st.directory,
        branch: st.branch,
        detached: st.detached,
        commit: st.commit,
        upstream: st.upstream,
        ahead: st.ahead,
        behind: st.behind,
        clean,
        staged: st.staged,
        unstaged: st.unstaged,
        untracked: st.untracked,
        conflicted: st.conflicted,
        files: st.entries,
        truncated: st.truncated,
      },
    };
  },
});

export const boxGitDiff = defineBoxTool({
  name: "box_git_diff",
  title: "Git diff",
  description:
    "Unified diff of a repository in the box with per-file line counts: unstaged changes (working tree vs index) by default, or staged ones (index vs HEAD) with staged: true. " +
    "Untracked files do not appear (see box_git_status). Long diffs are cut at the server's output limit (truncated: true); narrow them with paths.",
  input: {
    directory,
    staged: z.boolean().optional().describe("Diff what is staged for the next commit instead of unstaged changes"),
    paths: z
      .array(z.string().min(1).max(4096))
      .max(1000)
      .optional()
      .describe("Only these files or folders (relative to directory, taken literally, no wildcards)"),
  },
  output: {
    directory: z.string().describe("Absolute path of the folder"),
    diff: z.string().describe("The unified diff"),
    files: z
      .array(
        z.object({
          path: z.string().describe("Path relative to the repository root"),
          originalPath: z.string().optional().describe("Path before a rename"),
          additions: z.number().nullable().describe("Lines added (null for binary files)"),
          deletions: z.number().nullable().describe("Lines deleted (null for binary files)"),
          binary: z.boolean().describe("true for binary files"),
        }),
      )
      .describe("Per-file statistics"),
    additions: z.number().describe("Lines added in total"),
    deletions: z.number().describe("Lines deleted in total"),
    truncated: z.boolean().describe("true when the diff was cut at the server's output limit"),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const d = await s.git.diff(box.containerId, args.directory, { staged: args.staged, paths: args.paths });
    const cut = d.truncated ? " (truncated)" : "";
    const head = `${d.files.length} files changed, +${d.additions} -${d.deletions}${args.staged ? " (staged)" : ""}${cut}`;
    return {
      text: d.diff ? `${head}\n\n${d.diff}` : `no ${args.staged ? "staged " : ""}changes`,
      structured: d,
    };
  },
});

export const boxGitCommit = defineBoxTool({
  name: "box_git_commit",
  title: "Git commit",
  description:
    "Commit in a repository in the box. By default every change is staged first (like git add -A: new, changed and deleted files); with all: false only what is already staged is committed; with paths only those. " +
    "Author: authorName/authorEmail, else the repository's or boxuser's own git config, else the server's default. Nothing to commit is a CONFLICT.",
  input: {
    directory,
    message: z.string().min(1).max(100_000).describe("Commit message (first line: the summary)"),
    authorName: z.string().min(1).max(200).optional().describe("Author and committer name for this commit"),
    authorEmail: z.string().min(3).max(200).optional().describe("Author and committer email for this commit"),
    all: z
      .boolean()
      .optional()
      .describe("Stage all changes, including new and deleted files, before committing (default true)"),
    paths: z
      .array(z.string().min(1).max(4096))
      .max(1000)
      .optional()
      .describe("Stage only these files or folders (relative to directory, taken literally) and commit"),
  },
  output: {
    directory: z.string().describe("Absolute path of the folder"),
    sha: z.string().describe("The new commit"),
    message: z.string().describe("The commit message"),
    branch: z.string().nullable().describe("Branch the commit is on (null when detached)"),
    author: z.object({ name: z.string(), email: z.string() }).describe("Who the commit is by"),
    summary: z.string().describe('git\'s short statistics, e.g. "2 files changed, 10 insertions(+)"'),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const c = await s.git.commit(box.containerId, args.directory, args);
    return {
      text: `committed ${c.sha.slice(0, 12)} on ${c.branch ?? "detached HEAD"}: ${c.message.split("\n")[0]}${c.summary ? ` (${c.summary})` : ""}`,
      structured: c,
    };
  },
});

export const boxGitCheckout = defineBoxTool({
  name: "box_git_checkout",
  title: "Git checkout",
  description:
    "Switch a repository in the box to a branch, or create a new branch from the current commit and switch to it (create: true). " +
    "A branch that exists only on the remote (e.g. origin/feature) is checked out as a new local branch tracking it. Uncommitted changes that would be lost make it a CONFLICT.",
  input: {
    directory,
    branch: branchName("Branch to switch to (or to create)"),
    create: z.boolean().optional().describe("Create the branch at the current commit (fails if it exists)"),
  },
  output: {
    directory: z.string().describe("Absolute path of the folder"),
    branch: z.string().describe("The branch now checked out"),
    commit: z.string().nullable().describe("Its commit (null before the first commit)"),
    created: z.boolean().describe("true when the branch was created"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, _ctx, box, s) {
    const r = await s.git.checkout(box.containerId, args.directory, args.branch, args.create ?? false);
    const at = r.commit ? ` at ${r.commit.slice(0, 12)}` : "";
    return {
      text: `${r.created ? "created and switched to" : "switched to"} ${r.branch}${at}`,
      structured: r,
    };
  },
});

export const boxGitPush = defineBoxTool({
  name: "box_git_push",
  title: "Git push",
  description:
    "Push a branch of a repository in the box to its remote. The server does the push with its own credentials (the box never sees a token and needs no network access); the branch is created on the remote if new. " +
    "A push the remote rejects because it has commits the box lacks (non-fast-forward) is a CONFLICT. Progress is reported while it runs.",
  input: {
    directory,
    remote: z.string().min(1).max(100).optional().describe('Remote name in the repository (default "origin")'),
    branch: branchName("Branch to push (default: the current branch)").optional(),
  },
  output: {
    remote: z.string().describe("Remote name"),
    branch: z.string().describe("Branch pushed (same name on the remote)"),
    commit: z.string().describe("Commit the remote branch now points at"),
    url: z.string().describe("The remote's URL"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const p = await s.git.push(box.containerId, args.directory, { remote: args.remote, branch: args.branch }, op(ctx));
    return {
      text: `pushed ${p.branch} (${p.commit.slice(0, 12)}) to ${p.remote} ${p.url}`,
      structured: p,
    };
  },
});

export const boxGitPull = defineBoxTool({
  name: "box_git_pull",
  title: "Git pull",
  description:
    "Bring the remote's new commits into the current branch of a repository in the box: the server fetches them with its own credentials (the box never sees a token and needs no network access), then the box's git fast-forwards, merges (default) or rebases (rebase: true). " +
    "Pulls from the branch's upstream (else the same branch name on origin) unless remote/branch are given. Use it to take upstream changes, or after a push rejected as non-fast-forward, then push again. " +
    "Conflicts are a CONFLICT naming the files, with the repository left mid-merge or mid-rebase: resolve and commit (or `git rebase --continue`), or abort with box_exec `git merge --abort` / `git rebase --abort`. " +
    "Uncommitted changes that block it (any tracked change for a rebase) are a CONFLICT naming the files. Progress is reported while it runs.",
  input: {
    directory,
    rebase: z
      .boolean()
      .optional()
      .describe("true: rebase the branch's own commits onto the remote's (default false: merge)"),
    remote: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe('Remote to pull from (default: the branch\'s upstream remote, else "origin")'),
    branch: branchName(
      "Remote branch to pull (default: the branch's upstream, else the current branch's name)",
    ).optional(),
  },
  output: {
    directory: z.string().describe("Absolute path of the repository in the box"),
    branch: z.string().describe("The local branch that was updated"),
    remote: z.string().describe("Remote name"),
    upstream: z.string().describe("The remote branch pulled"),
    url: z.string().describe("The remote's URL"),
    mode: z.enum(["merge", "rebase"]).describe("How the commits were integrated"),
    updated: z.boolean().describe("Whether the branch moved (false: it already had every remote commit)"),
    from: z.string().nullable().describe("The branch's commit before (null for a branch with no commit yet)"),
    to: z.string().describe("The branch's commit after"),
    commits: z.number().describe("Commits of the remote branch the local branch did not have"),
    fastForward: z.boolean().describe("true when the branch simply moved forward to the remote's commit"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const p = await s.git.pull(
      box.containerId,
      args.directory,
      { rebase: args.rebase, remote: args.remote, branch: args.branch },
      op(ctx),
    );
    const how = p.fastForward ? "fast-forward" : p.mode === "rebase" ? "rebased" : "merged";
    const text = p.updated
      ? `pulled ${p.remote}/${p.upstream} into ${p.branch}: ${how} ${p.from?.slice(0, 12) ?? "(none)"}..${p.to.slice(0, 12)} (${p.commits} new commits)`
      : `${p.branch} is up to date with ${p.remote}/${p.upstream} (${p.to.slice(0, 12)})`;
    return { text, structured: p };
  },
});

export const boxGitPullRequest = defineBoxTool({
  name: "box_git_pull_request",
  title: "Open a pull request",
  description:
    "Open a GitHub pull request from a branch of a repository in the box (the current branch unless head is given) into base (default: the repository's default branch). " +
    "The repository is taken from the remote's URL (…/OWNER/REPO.git); push the branch first with box_git_push. The server calls the GitHub API with its own token.",
  input: {
    directory,
    title: z.string().min(1).max(256).describe("Pull request title"),
    body: z.string().max(65_536).optional().describe("Pull request description (Markdown)"),
    base: branchName("Branch to merge into (default: the repository's default branch)").optional(),
    head: branchName("Branch with the changes (default: the current branch)").optional(),
    draft: z.boolean().optional().describe("Open it as a draft"),
    remote: z.string().min(1).max(100).optional().describe('Remote whose URL names the repository (default "origin")'),
  },
  output: {
    url: z.string().describe("The pull request's web page"),
    number: z.number().describe("The pull request's number"),
    title: z.string().describe("Its title"),
    base: z.string().describe("Branch it merges into"),
    head: z.string().describe("Branch it merges from"),
    repository: z.string().describe("OWNER/REPO"),
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const p = await s.git.pullRequest(box.containerId, args.directory, args, op(ctx));
    return {
      text: `opened pull request #${p.number} ${p.url} (${p.head} → ${p.base})`,
      structured: p,
    };
  },
});

export const gitTools = [
  boxGitClone,
  boxGitStatus,
  boxGitDiff,
  boxGitCommit,
  boxGitCheckout,
  boxGitPush,
  boxGitPull,
  boxGitPullRequest,
];
