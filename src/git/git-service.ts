// GitService: the git tools' one entry point. Remote operations (clone, push, pull's fetch) and pull
// requests run on the server with the server's credentials; status, diff, commit, checkout and pull's
// merge or rebase run inside the box on its own .git (box-git.ts, box-pull.ts). The box never sees a token and needs no network of its own: repositories travel
// between server and box as tar streams through exec (repo-transfer.ts). Callers pass a live container.
import { createReadStream, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ConfigSections } from "../config-sections.js";
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError, invalidArgument } from "../errors.js";
import { BoxShell } from "../fs/box-shell.js";
import { resolveBoxPath } from "../fs/paths.js";
import type { Logger } from "../log.js";
import { BoxGit, type CommitResult, type DiffResult } from "./box-git.js";
import { BoxPull, type PullApplied, type PullInfo, type PullMode } from "./box-pull.js";
import { defaultTokenHosts, GitCredentials, type TokenConfig } from "./credentials.js";
import { GitHubApi, type PullRequest } from "./github-api.js";
import { packMissing } from "./pull-pack.js";
import { checkBranchName, checkIdentity, checkPaths, checkRemoteName } from "./refs.js";
import { type AllowedHost, parseAllowedHost, RemoteGuard } from "./remote-guard.js";
import { type ProgressEvent, RemoteGit } from "./remote-ops.js";
import { ownerRepoOf, parseRemoteUrl, type RemoteUrl, repoNameOf } from "./remote-url.js";
import { RepoTransfer } from "./repo-transfer.js";
import type { RepoStatus } from "./status-parse.js";

export interface GitServiceDeps {
  engine: DockerEngine;
  log: Logger;
  /** The server's environment, which git commands inherit (minus its GIT_* variables). */
  baseEnv: Record<string, string>;
  tokens: TokenConfig;
  /** BOXD_GIT_ALLOWED_HOSTS, parsed. */
  allowedHosts: AllowedHost[];
  githubApiUrl: string;
  author: { name: string; email: string };
  /** A tenant's own git token (its GIT_TOKEN secret), or null: the server's BOXD_GIT_TOKEN then. */
  tenantToken?: (tenant: string) => string | null;
  /** Largest patch box_git_diff returns inline. */
  maxDiffBytes: number;
}

export interface OpContext {
  progress: (message: string) => void;
  signal?: AbortSignal;
  /** The caller's tenant: its GIT_TOKEN secret, when set, is its default token instead of BOXD_GIT_TOKEN. */
  tenant?: string;
}

export const MAX_STATUS_ENTRIES = 1000;

/** What box_git_pull did: `updated` when the branch moved, `from`/`to` its commit before and after. */
export interface PullResult extends PullApplied {
  directory: string;
  branch: string;
  remote: string;
  /** The remote branch pulled. */
  upstream: string;
  url: string;
  mode: PullMode;
  updated: boolean;
}

/** Builds the service from the server's configuration (the tokens parsed by config.ts). */
export function createGitService(
  config: ConfigSections["git"],
  engine: DockerEngine,
  log: Logger,
  baseEnv: Record<string, string>,
  secrets?: { reveal(tenant: string, name: string): string | null },
) {
  const perHost: Record<string, string> = {};
  for (const [host, token] of Object.entries(config.gitTokens)) perHost[host] = token.value;
  return new GitService({
    engine,
    log,
    baseEnv,
    tokens: {
      defaultToken: config.gitToken.value,
      perHost,
      defaultHosts: defaultTokenHosts(config.gitTokenHosts, config.githubApiUrl),
    },
    allowedHosts: config.gitAllowedHosts.map((e) => parseAllowedHost(e) as AllowedHost),
    githubApiUrl: config.githubApiUrl,
    author: { name: config.gitAuthorName, email: config.gitAuthorEmail },
    maxDiffBytes: config.maxOutputBytes,
    tenantToken: secrets ? (tenant) => secrets.reveal(tenant, "GIT_TOKEN") : undefined,
  });
}

/** Progress notifications: git's stages as they change, byte counts at most every 250 ms. */
function reporter(op: string, send: (m: string) => void) {
  let stage = "";
  let last = 0;
  const due = () => {
    const now = Date.now();
    if (now - last < 250) return false;
    last = now;
    return true;
  };
  return {
    git: (e: ProgressEvent) => {
      if (e.stage === stage && e.progress < 100 && !due()) return;
      stage = e.stage;
      send(`${op}: ${e.stage.replace(/:$/, "")} ${e.progress}% (${e.processed}/${e.total})`);
    },
    bytes: (what: string) => (n: number) => {
      if (due())
        send(
          `${op}: ${what} ${n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KiB` : `${(n / (1024 * 1024)).toFixed(1)} MiB`}`,
        );
    },
  };
}

export class GitService {
  private readonly creds: GitCredentials;
  private readonly remote: RemoteGit;
  private readonly guard: RemoteGuard;
  private readonly box: BoxGit;
  private readonly transfer: RepoTransfer;
  private readonly pulls: BoxPull;

  constructor(private readonly deps: GitServiceDeps) {
    this.creds = new GitCredentials(deps.tokens, deps.baseEnv);
    this.guard = new RemoteGuard(deps.allowedHosts);
    this.remote = new RemoteGit(this.creds, this.guard, deps.log);
    const shell = new BoxShell(deps.engine, deps.log);
    this.box = new BoxGit(shell, deps.maxDiffBytes);
    this.transfer = new RepoTransfer(shell);
    this.pulls = new BoxPull(shell);
  }

  async clone(
    containerId: string,
    args: { repo: string; directory?: string; branch?: string; depth?: number },
    ctx: OpContext,
  ): Promise<{ directory: string; branch: string | null; commit: string | null; url: string }> {
    const { git, creds } = this.forOp(ctx);
    const url = parseRemoteUrl(args.repo);
    const branch = args.branch === undefined ? undefined : await checkBranchName(args.branch);
    const target = resolveBoxPath(args.directory ?? repoNameOf(url), "directory");
    if (target === "/") throw invalidArgument("directory / cannot hold a clone: pass a folder");
    await this.transfer.checkTarget(containerId, target);
    const rep = reporter("clone", ctx.progress);
    ctx.progress(`clone: fetching ${url.href} on the server`);
    return this.withTemp(async (tmp) => {
      const c = await git.clone(url, tmp, { branch, depth: args.depth }, rep.git, ctx.signal);
      await this.assertNoToken(path.join(c.gitDir, "config"), creds);
      ctx.progress(`clone: copying the repository into the box at ${target}`);
      await this.transfer.cloneIn(containerId, c.gitDir, target, rep.bytes("copied into the box"));
      return { directory: target, branch: c.branch, commit: c.commit, url: url.href };
    });
  }

  status(containerId: string, directory: string): Promise<RepoStatus & { truncated: boolean; directory: string }> {
    const dir = resolveBoxPath(directory, "directory");
    return this.box.status(containerId, dir, MAX_STATUS_ENTRIES).then((s) => ({ ...s, directory: dir }));
  }

  diff(
    containerId: string,
    directory: string,
    opts: { staged?: boolean; paths?: string[] },
  ): Promise<DiffResult & { directory: string }> {
    const dir = resolveBoxPath(directory, "directory");
    const paths = checkPaths(opts.paths);
    return this.box.diff(containerId, dir, opts.staged ?? false, paths).then((d) => ({ ...d, directory: dir }));
  }

  async commit(
    containerId: string,
    directory: string,
    args: { message: string; authorName?: string; authorEmail?: string; all?: boolean; paths?: string[] },
  ): Promise<CommitResult & { directory: string; message: string }> {
    const dir = resolveBoxPath(directory, "directory");
    if (!args.message.trim()) throw invalidArgument("message is empty: say what the commit does");
    const r = await this.box.commit(containerId, dir, args.message, {
      all: args.all ?? true,
      paths: checkPaths(args.paths),
      name: checkIdentity(args.authorName, "authorName"),
      email: checkIdentity(args.authorEmail, "authorEmail"),
      defaultName: this.deps.author.name,
      defaultEmail: this.deps.author.email,
    });
    return { ...r, directory: dir, message: args.message };
  }

  async checkout(
    containerId: string,
    directory: string,
    branch: string,
    create: boolean,
  ): Promise<{ branch: string; commit: string | null; created: boolean; directory: string }> {
    const dir = resolveBoxPath(directory, "directory");
    const name = await checkBranchName(branch);
    const r = await this.box.checkout(containerId, dir, name, create);
    return { ...r, created: create, directory: dir };
  }

  async push(
    containerId: string,
    directory: string,
    args: { remote?: string; branch?: string },
    ctx: OpContext,
  ): Promise<{ remote: string; branch: string; commit: string; url: string }> {
    const { git } = this.forOp(ctx);
    const dir = resolveBoxPath(directory, "directory");
    const remoteName = checkRemoteName(args.remote ?? "origin");
    const wanted = args.branch === undefined ? "" : await checkBranchName(args.branch);
    const info = await this.box.info(containerId, dir, remoteName, wanted, true, "git push");
    const branch = await checkBranchName(info.branch);
    const url = parseRemoteUrl(info.remoteUrl, `the URL of remote "${remoteName}"`);
    const commit = info.commit as string;
    await git.precheck(url, "git push to");
    const rep = reporter("push", ctx.progress);
    return this.withTemp(async (tmp) => {
      const bare = path.join(tmp, "repo.git");
      await git.initBare(bare);
      ctx.progress(`push: copying ${dir}'s commits out of the box`);
      await this.transfer.gitDirOut(
        containerId,
        info.gitDir,
        dir,
        bare,
        path.join(tmp, "box"),
        rep.bytes("copied out of the box"),
      );
      ctx.progress(`push: pushing ${branch} to ${url.href}`);
      await git.push(bare, url, branch, rep.git, ctx.signal);
      // Only bookkeeping in the box (status shows the branch as pushed); the push itself succeeded.
      await this.box.afterPush(containerId, dir, remoteName, branch, commit).catch((err: unknown) => {
        this.deps.log.warn("could not record the push in the box", { dir, error: String(err) });
      });
      return { remote: remoteName, branch, commit, url: url.href };
    });
  }

  /**
   * Fetch on the server (its credentials; the box's objects copied out first so only what the box lacks
   * travels), the missing objects packed into the box, then a fast-forward, merge or rebase by the box's git.
   */
  async pull(
    containerId: string,
    directory: string,
    args: { rebase?: boolean; remote?: string; branch?: string },
    ctx: OpContext,
  ): Promise<PullResult> {
    const { git } = this.forOp(ctx);
    const dir = resolveBoxPath(directory, "directory");
    const mode: PullMode = args.rebase ? "rebase" : "merge";
    const remote = args.remote === undefined ? "" : checkRemoteName(args.remote);
    const wanted = args.branch === undefined ? "" : await checkBranchName(args.branch);
    const info = await this.pulls.info(containerId, dir, remote, wanted, mode);
    checkRemoteName(info.remote);
    await checkBranchName(info.upstream);
    const url = parseRemoteUrl(info.remoteUrl, `the URL of remote "${info.remote}"`);
    await git.precheck(url, "git fetch from");
    return this.withTemp(async (tmp) => {
      const { sha, pack } = await this.fetchForBox(containerId, dir, info, url, tmp, ctx);
      ctx.progress(
        `pull: ${mode === "rebase" ? "rebasing" : "merging"} ${info.remote}/${info.upstream} into ${info.branch}`,
      );
      const identity = { name: this.deps.author.name, email: this.deps.author.email };
      const stream = pack ? createReadStream(pack) : null;
      try {
        const r = await this.pulls.apply(containerId, dir, { info, sha, mode, pack: stream }, identity);
        const { branch, remote: remoteName, upstream } = info;
        return {
          directory: dir,
          branch,
          remote: remoteName,
          upstream,
          url: url.href,
          mode,
          ...r,
          updated: r.from !== r.to,
        };
      } finally {
        stream?.destroy();
      }
    });
  }

  /** The box's objects out, the fetch, and a pack of what the box lacks (null when it lacks nothing). */
  private async fetchForBox(
    containerId: string,
    dir: string,
    info: PullInfo,
    url: RemoteUrl,
    tmp: string,
    ctx: OpContext,
  ): Promise<{ sha: string; pack: string | null }> {
    const { git, creds } = this.forOp(ctx);
    const rep = reporter("pull", ctx.progress);
    const bare = path.join(tmp, "repo.git");
    await git.initBare(bare);
    ctx.progress(`pull: copying ${dir}'s commits out of the box`);
    const staging = path.join(tmp, "box");
    await this.transfer.gitDirOut(containerId, info.gitDir, dir, bare, staging, rep.bytes("copied out of the box"));
    ctx.progress(`pull: fetching ${info.upstream} from ${url.href}`);
    const sha = await git.fetch(bare, url, info.upstream, rep.git, ctx.signal);
    if (!(await git.isNewTo(bare, sha))) return { sha, pack: null };
    const pack = path.join(tmp, "fetched.pack");
    await packMissing(bare, sha, creds.commandEnv(), pack);
    ctx.progress(`pull: copying the fetched commits into the box`);
    return { sha, pack };
  }

  async pullRequest(
    containerId: string,
    directory: string,
    args: { title: string; body?: string; base?: string; head?: string; draft?: boolean; remote?: string },
    ctx: OpContext,
  ): Promise<PullRequest & { repository: string }> {
    const { creds } = this.forOp(ctx);
    const dir = resolveBoxPath(directory, "directory");
    if (!args.title.trim()) throw invalidArgument("title is empty");
    const remoteName = checkRemoteName(args.remote ?? "origin");
    const wanted = args.head === undefined ? "" : await checkBranchName(args.head, "head");
    const info = await this.box.info(containerId, dir, remoteName, wanted, false, "pull request");
    const head = await checkBranchName(info.branch, "head");
    const url = parseRemoteUrl(info.remoteUrl, `the URL of remote "${remoteName}"`);
    const { owner, repo } = ownerRepoOf(url);
    const apiUrl = new URL(this.deps.githubApiUrl);
    const api = new GitHubApi(this.deps.githubApiUrl, creds.apiToken(apiUrl, url), (t) => creds.redact(t));
    const base =
      args.base === undefined
        ? await api.defaultBranch(owner, repo, ctx.signal)
        : await checkBranchName(args.base, "base");
    ctx.progress(`pull request: opening ${owner}/${repo} ${head} → ${base}`);
    const pr = await api.createPullRequest(
      { owner, repo, title: args.title, head, base, body: args.body, draft: args.draft },
      ctx.signal,
    );
    return { ...pr, repository: `${owner}/${repo}` };
  }

  /**
   * The credentials of one operation: the server's, or with the tenant's GIT_TOKEN secret as the default
   * token (sent to the same BOXD_GIT_TOKEN_HOSTS; per-host BOXD_GIT_TOKENS still apply), so tenants can
   * push and open pull requests as themselves.
   */
  private forOp(ctx: OpContext): { git: RemoteGit; creds: GitCredentials } {
    const token = ctx.tenant ? this.deps.tenantToken?.(ctx.tenant) : null;
    if (!token) return { git: this.remote, creds: this.creds };
    const creds = new GitCredentials({ ...this.deps.tokens, defaultToken: token }, this.deps.baseEnv);
    return { git: new RemoteGit(creds, this.guard, this.deps.log), creds };
  }

  /** A private temp folder on the server for one operation, always removed afterwards. */
  private async withTemp<T>(work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "boxd-git-"));
    try {
      return await work(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) => {
        this.deps.log.warn("could not remove a git temp folder", { dir, error: String(err) });
      });
    }
  }

  /** The last line of defence before anything enters a box: no configured token in the clone's config. */
  private async assertNoToken(file: string, creds: GitCredentials): Promise<void> {
    const text = await fs.readFile(file, "utf8");
    if (creds.redact(text) !== text) {
      throw new BoxdError("INTERNAL", "the clone's git config holds a credential; refusing to copy it into the box");
    }
  }
}
