// The git commands that talk to remotes, run on the server with simple-git in temp folders: clone (without
// checkout: the box checks out its own files, so the server never writes a repository's work tree), push
// (from a bare repository assembled from the box's objects and refs) and pull's fetch (into such a bare
// repository). Each command gets its own
// environment from GitCredentials (the token, when one is configured for that host, only for that
// command), a stall timeout, the caller's abort signal, and progress events. Before each command the
// remote is checked and git pinned to the checked address (remote-guard.ts); a redirect is followed here,
// by checking its target like a new remote, never by git.
import { promises as fs } from "node:fs";
import path from "node:path";
import { GitPluginError, type SimpleGit, type SimpleGitProgressEvent, simpleGit } from "simple-git";
import { BoxdError, timeoutError } from "../errors.js";
import type { Logger } from "../log.js";
import type { GitCredentials } from "./credentials.js";
import { CONNECT_FAILED, remoteError } from "./git-errors.js";
import { type PinnedRemote, pinnedGit, probeRedirect, type RemoteGuard, unreachable } from "./remote-guard.js";
import { parseRemoteUrl, type RemoteUrl } from "./remote-url.js";

/** A git command that prints nothing for this long is ended (TIMEOUT). */
const STALL_MS = 5 * 60_000;
/** Redirects followed per operation (git's own limit is 20; one or two are normal). */
const MAX_REDIRECTS = 5;

/** curl's words for a redirect git was told not to follow. */
const REDIRECTED = /The requested URL returned error: 30[12378]\b/;

class Redirected extends Error {}

/** Where a pull's fetch lands in the server's bare repository (never copied into the box). */
export const FETCHED_REF = "refs/boxd/fetched";

export type ProgressEvent = Pick<SimpleGitProgressEvent, "stage" | "progress" | "processed" | "total">;

export interface CloneResult {
  /** The clone's .git folder on the server. */
  gitDir: string;
  branch: string | null;
  commit: string | null;
}

export class RemoteGit {
  constructor(
    private readonly creds: GitCredentials,
    private readonly guard: RemoteGuard,
    private readonly log: Logger,
  ) {}

  private git(
    baseDir: string,
    env = this.creds.commandEnv(),
    onProgress?: (e: ProgressEvent) => void,
    signal?: AbortSignal,
  ) {
    const git: SimpleGit = simpleGit({
      baseDir,
      ...(onProgress ? { progress: onProgress } : {}),
      ...(signal ? { abort: signal } : {}),
      timeout: { block: STALL_MS },
      // These variables are set by boxd itself (credentials.ts), never from caller input.
      unsafe: {
        allowUnsafeConfigEnvCount: true,
        allowUnsafeCredentialHelper: true,
        allowUnsafeAskPass: true,
        allowUnsafeConfigPaths: true,
      },
      // git's stdout and stderr both, whenever it exits non-zero (push reports rejections on stdout).
      errors: (error, result) => {
        if (result.exitCode === 0) return error;
        return Buffer.concat([...result.stdOut, ...result.stdErr]);
      },
    });
    return git.env(env);
  }

  /**
   * Runs `run` against the checked, pinned remote (its href and environment), following redirects: each
   * target is checked like the original and gets its own credentials.
   */
  private async reach(
    url: RemoteUrl,
    op: string,
    service: string,
    run: (href: string, env: Record<string, string>, current: RemoteUrl) => Promise<unknown>,
  ): Promise<void> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const pin = await this.guard.check(current, op);
      const { href, config } = pinnedGit(pin);
      try {
        await run(href, this.creds.commandEnv(current, config), current);
        return;
      } catch (err) {
        if (!(err instanceof Redirected)) throw err;
        current = await this.redirectTarget(pin, op, service, hop, err.message);
      }
    }
  }

  private async redirectTarget(pin: PinnedRemote, op: string, service: string, hop: number, said: string) {
    const next = hop < MAX_REDIRECTS ? await probeRedirect(pin, service) : null;
    if (next === null) {
      throw new BoxdError(
        "NOT_FOUND",
        `${op} ${pin.url.href} failed: the remote redirects ${hop < MAX_REDIRECTS ? "somewhere boxd cannot follow" : "too many times"}: pass the repository's final URL (git: ${said})`,
      );
    }
    this.log.debug(`${op}: following a redirect`, { from: pin.url.href, to: next });
    try {
      return parseRemoteUrl(next, "the redirect's target");
    } catch {
      throw unreachable(op, pin.url);
    }
  }

  /** Runs one git command; failures become coded errors with git's words (tokens redacted). */
  private async exec(git: SimpleGit, args: string[], op: string, url: RemoteUrl | string): Promise<string> {
    const target = typeof url === "string" ? url : url.href;
    try {
      return await git.raw(args);
    } catch (err) {
      if (err instanceof GitPluginError && err.plugin === "timeout") {
        throw timeoutError(`${op} ${target} stalled: git printed nothing for ${STALL_MS / 1000} s`);
      }
      if (err instanceof GitPluginError && err.plugin === "abort") {
        throw new BoxdError("TIMEOUT", `${op} ${target} was cancelled`);
      }
      const message = this.creds.redact(err instanceof Error ? err.message : String(err));
      this.log.debug(`${op} failed`, { target, message: message.slice(0, 500) });
      if (typeof url !== "string" && REDIRECTED.test(message)) throw new Redirected(REDIRECTED.exec(message)?.[0]);
      if (typeof url !== "string" && CONNECT_FAILED.test(message)) throw unreachable(op, url);
      throw remoteError(op, target, message);
    }
  }

  /** Fails as `reach` would for a remote git may not connect to (before a push copies anything). */
  async precheck(url: RemoteUrl, op: string): Promise<void> {
    await this.guard.check(url, op);
  }

  /** `git clone --no-checkout` into workDir/repo; remotes end up exactly as `url` (no credentials). */
  async clone(
    url: RemoteUrl,
    workDir: string,
    opts: { branch?: string; depth?: number },
    onProgress: (e: ProgressEvent) => void,
    signal?: AbortSignal,
  ): Promise<CloneResult> {
    const dir = path.join(workDir, "repo");
    const args = ["clone", "--no-checkout", "--progress"];
    if (opts.branch) args.push("--branch", opts.branch);
    if (opts.depth) args.push("--depth", String(opts.depth));
    await this.reach(url, "git clone", "git-upload-pack", (href, env, current) =>
      this.exec(this.git(workDir, env, onProgress, signal), [...args, "--", href, dir], "git clone", current),
    );
    const gitDir = path.join(dir, ".git");
    const local = this.git(dir);
    // Written by boxd, not by the clone: makes sure the stored remote is the bare URL whatever git did.
    await this.exec(local, ["config", "remote.origin.url", url.href], "git config", url.href);
    const head = (await fs.readFile(path.join(gitDir, "HEAD"), "utf8")).trim();
    const branch = head.startsWith("ref: refs/heads/") ? head.slice("ref: refs/heads/".length) : null;
    const commit = await local.raw(["rev-parse", "-q", "--verify", "HEAD^{commit}"]).then(
      (out) => out.trim() || null,
      () => null,
    );
    return { gitDir, branch, commit };
  }

  /**
   * Fetches refs/heads/<branch> of `url` into FETCHED_REF of a bare repository holding the box's objects
   * (so only what the box lacks travels); returns the fetched commit.
   */
  async fetch(
    bareDir: string,
    url: RemoteUrl,
    branch: string,
    onProgress: (e: ProgressEvent) => void,
    signal?: AbortSignal,
  ): Promise<string> {
    const op = "git fetch from";
    const refspec = `+refs/heads/${branch}:${FETCHED_REF}`;
    await this.reach(url, op, "git-upload-pack", (href, env, current) =>
      this.exec(
        this.git(bareDir, env, onProgress, signal),
        ["fetch", "--progress", "--no-tags", "--no-write-fetch-head", "--", href, refspec],
        op,
        current,
      ),
    );
    return (await this.exec(this.git(bareDir), ["rev-parse", "--verify", `${FETCHED_REF}^{commit}`], op, url)).trim();
  }

  /** Whether `sha` has history that no ref of the box's (every ref but FETCHED_REF) reaches. */
  async isNewTo(bareDir: string, sha: string): Promise<boolean> {
    const args = ["rev-list", "-n", "1", sha, "--not", `--exclude=${FETCHED_REF}`, "--all"];
    return (await this.exec(this.git(bareDir), args, "git rev-list", bareDir)).trim() !== "";
  }

  async initBare(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await this.exec(this.git(dir), ["init", "--bare", "-q", "."], "git init", dir);
  }

  /** Pushes refs/heads/<branch> of a bare repository to the same branch at `url`. */
  async push(
    bareDir: string,
    url: RemoteUrl,
    branch: string,
    onProgress: (e: ProgressEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const refspec = `refs/heads/${branch}:refs/heads/${branch}`;
    const op = "git push to";
    await this.reach(url, op, "git-receive-pack", (href, env, current) =>
      this.exec(
        this.git(bareDir, env, onProgress, signal),
        ["push", "--progress", "--porcelain", "--", href, refspec],
        op,
        current,
      ),
    );
  }
}
