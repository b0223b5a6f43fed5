// The git commands that talk to remotes, run on the server with simple-git in temp folders: clone (without
// checkout: the box checks out its own files, so the server never writes a repository's work tree) and
// push (from a bare repository assembled from the box's objects and refs). Each command gets its own
// environment from GitCredentials (the token, when one is configured for that host, only for that
// command), a stall timeout, the caller's abort signal, and progress events.
import { promises as fs } from "node:fs";
import path from "node:path";
import { GitPluginError, type SimpleGit, type SimpleGitProgressEvent, simpleGit } from "simple-git";
import { BoxdError, timeoutError } from "../errors.js";
import type { Logger } from "../log.js";
import type { GitCredentials } from "./credentials.js";
import { remoteError } from "./git-errors.js";
import type { RemoteUrl } from "./remote-url.js";

/** A git command that prints nothing for this long is ended (TIMEOUT). */
const STALL_MS = 5 * 60_000;

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
    private readonly log: Logger,
  ) {}

  private git(baseDir: string, url?: RemoteUrl, onProgress?: (e: ProgressEvent) => void, signal?: AbortSignal) {
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
    return git.env(this.creds.commandEnv(url));
  }

  /** Runs one git command; failures become coded errors with git's words (tokens redacted). */
  private async exec(git: SimpleGit, args: string[], op: string, target: string): Promise<string> {
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
      throw remoteError(op, target, message);
    }
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
    args.push("--", url.href, dir);
    await this.exec(this.git(workDir, url, onProgress, signal), args, "git clone", url.href);
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
    await this.exec(
      this.git(bareDir, url, onProgress, signal),
      ["push", "--progress", "--porcelain", "--", url.href, refspec],
      "git push to",
      url.href,
    );
  }
}
