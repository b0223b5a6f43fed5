// What a caller asks of an exec and what it gets back, shared by both exec paths (exec.ts: Docker exec;
// resident-exec.ts and executor-channel.ts: the box's resident executor) without an import cycle.
import type { Readable } from "node:stream";

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  /**
   * Who runs it, always given: a container with the privilege-separated executor runs as root (with
   * CAP_SETUID/CAP_SETGID), so a Docker exec without a user would too.
   */
  user: string;
  env?: string[];
  workingDir?: string;
  stdin?: Readable | Buffer;
  /**
   * Each stdout chunk. A promise returned holds reading back until it settles (a download whose disk is
   * slower than the engine): on Docker exec's raw stream, so the box's writer waits rather than the
   * server buffering. The executor's metered lines (bulk is false) do not wait.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting stops reading output and returns; the process itself is not killed (see boxd-kill). */
  signal?: AbortSignal;
  /** Large byte streams (downloads): kept on Docker exec's raw stream, never the executor's lines. */
  bulk?: boolean;
  /**
   * This exec is a run: `cmd` is its boxd-run wrapper. An executor that does boxd-run's work itself (v3)
   * runs `bash -c command` as the run instead, without `unsetEnv` (the names shellSafe strips), saving
   * the wrapper's forks; Docker exec and older executors run `cmd`.
   */
  run?: { id: string; cwd: string; command: string; unsetEnv: readonly string[] };
}

export interface ExecResult {
  /** null when reading stopped before the process exited (aborted), or the container stopped under it. */
  exitCode: number | null;
  aborted: boolean;
  /** The process could not be started at all (no process slot or memory left in the box). */
  couldNotStart?: boolean;
}
