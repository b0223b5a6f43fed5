// Exec: runs a process in a container with stdout and stderr demultiplexed. Requests go through the box's
// resident executor when it can serve them (resident-exec.ts), else through a Docker exec: there the exit
// code is read only after both demuxed streams have ended (reading it at the raw stream's end truncates
// output), and stdin is streamed and then half-closed so that the process sees EOF.
import { PassThrough, type Readable } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import { demuxStream } from "./demux.js";
import { asBoxdError } from "./docker-errors.js";
import type { ExecRequest, ExecResult } from "./exec-types.js";
import { ResidentExec } from "./resident-exec.js";
import { type SessionExec, type SessionExecRequest, startSessionExec } from "./session-exec.js";

export type { ExecRequest, ExecResult } from "./exec-types.js";
export type { SessionExec, SessionExecRequest } from "./session-exec.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ExecClient {
  /** The fast path; null when turned off (BOXD_FAST_EXEC=off). */
  readonly resident: ResidentExec | null;
  private readonly stopWatches = new Map<string, { users: number; abort: AbortController; stopped: Promise<void> }>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
    fast = true,
  ) {
    this.resident = fast ? new ResidentExec(docker, log) : null;
  }

  async run(req: ExecRequest): Promise<ExecResult> {
    const fast = await this.resident?.tryRun(req).catch((err: unknown) => {
      throw asBoxdError(err, `exec in container ${req.containerId.slice(0, 12)}`);
    });
    return fast ?? this.dockerExec(req);
  }

  /** A process whose streams stay open while it runs, on a terminal or not (the SSH gateway's sessions). */
  session(req: SessionExecRequest): Promise<SessionExec> {
    return startSessionExec(this.docker, req);
  }

  /**
   * Opens the fast path to a container ahead of its first command (no effect without an executor);
   * settles once it is open or known not to be, never rejects. `fresh` after a start: a new lifetime.
   */
  prepare(containerId: string, fresh = false): Promise<void> {
    return this.resident?.prepare(containerId, fresh) ?? Promise.resolve();
  }

  /** Forgets a removed container. */
  forget(containerId: string): void {
    this.resident?.forget(containerId);
  }

  close(): void {
    this.resident?.closeAll();
  }

  /** Creates and starts a Docker exec with a hijacked stream. */
  private async startExec(
    req: ExecRequest,
    short: string,
  ): Promise<{ exec: Docker.Exec; raw: NodeJS.ReadWriteStream }> {
    try {
      const exec = await this.docker.getContainer(req.containerId).exec({
        Cmd: req.cmd,
        AttachStdin: req.stdin !== undefined,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        User: req.user,
        Env: req.env,
        WorkingDir: req.workingDir,
      });
      const raw = (await exec.start({
        hijack: true,
        stdin: req.stdin !== undefined,
      })) as unknown as NodeJS.ReadWriteStream;
      return { exec, raw };
    } catch (err) {
      throw asBoxdError(err, `exec in container ${short}`);
    }
  }

  private async dockerExec(req: ExecRequest): Promise<ExecResult> {
    const short = req.containerId.slice(0, 12);
    const watch = this.watchStop(req.containerId);
    try {
      return await this.dockerExecWatched(req, short, watch.stopped);
    } finally {
      watch.release();
    }
  }

  /** Pauses the raw stream while any promise the consumer returned is unsettled. */
  private withBackpressure(raw: NodeJS.ReadWriteStream, consume: NonNullable<ExecRequest["onStdout"]>) {
    let waiting = 0;
    const settled = () => {
      if (--waiting === 0) raw.resume();
    };
    return (chunk: Buffer) => {
      const wait = consume(chunk);
      if (!(wait instanceof Promise)) return;
      if (waiting++ === 0) raw.pause();
      wait.then(settled, settled);
    };
  }

  private async dockerExecWatched(req: ExecRequest, short: string, stopped: Promise<void>): Promise<ExecResult> {
    const { exec, raw } = await this.startExec(req, short);

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    if (req.onStdout) stdout.on("data", this.withBackpressure(raw, req.onStdout));
    else stdout.resume();
    if (req.onStderr) stderr.on("data", req.onStderr);
    else stderr.resume();
    const ended = (s: PassThrough) => new Promise<void>((resolve) => s.once("end", resolve));
    const bothEnded = Promise.all([ended(stdout), ended(stderr)]);

    let streamError: unknown;
    const finish = () => {
      stdout.end();
      stderr.end();
    };
    raw.on("end", finish);
    raw.on("close", finish);
    raw.on("error", (err: unknown) => {
      streamError = err;
      finish();
    });
    demuxStream(raw, stdout, stderr);

    if (req.stdin !== undefined) this.feedStdin(raw, req.stdin);

    let aborted = false;
    const onAbort = () => {
      aborted = true;
      (raw as unknown as { destroy?: () => void }).destroy?.();
      finish();
    };
    if (req.signal?.aborted) onAbort();
    else req.signal?.addEventListener("abort", onAbort, { once: true });
    // gVisor's runtime sometimes never closes an exec's stream when the container stops under it (1 in 5
    // kills of its main process here): the stop ends the exec instead, as the resident path does.
    let containerStopped = false;
    void stopped.then(() => {
      containerStopped = true;
      (raw as unknown as { destroy?: () => void }).destroy?.();
      finish();
    });

    await bothEnded;
    req.signal?.removeEventListener("abort", onAbort);
    if (streamError && !aborted && !containerStopped) throw asBoxdError(streamError, `read output of exec in ${short}`);
    // The engine forgets the execs of a stopped container: no exit code to read then.
    if (containerStopped) return { exitCode: await this.exitCode(exec, short, 1).catch(() => null), aborted };
    return { exitCode: await this.exitCode(exec, short, aborted ? 1 : 40), aborted };
  }

  /**
   * Resolves when the container stops (never on an error: the exec's own stream says those). One engine
   * wait per container with Docker execs in flight, ended when the last of them is done.
   */
  private watchStop(containerId: string): { stopped: Promise<void>; release: () => void } {
    let w = this.stopWatches.get(containerId);
    if (!w) {
      const abort = new AbortController();
      const entry = { users: 0, abort, stopped: Promise.resolve() };
      entry.stopped = this.docker
        .getContainer(containerId)
        .wait({ condition: "not-running", abortSignal: abort.signal })
        .then(
          () => {
            // A later exec (after the box is started again) must not see this stop.
            if (this.stopWatches.get(containerId) === entry) this.stopWatches.delete(containerId);
          },
          () => new Promise<void>(() => {}),
        );
      w = entry;
      this.stopWatches.set(containerId, w);
    }
    const entry = w;
    entry.users++;
    const release = () => {
      if (--entry.users > 0) return;
      entry.abort.abort();
      if (this.stopWatches.get(containerId) === entry) this.stopWatches.delete(containerId);
    };
    return { stopped: entry.stopped, release };
  }

  /** Streams stdin into the hijacked connection, then half-closes it so the process reads EOF. */
  private feedStdin(raw: NodeJS.ReadWriteStream, input: Readable | Buffer): void {
    const sink = raw as unknown as NodeJS.WritableStream & { end(): void };
    if (Buffer.isBuffer(input)) {
      sink.write(input);
      sink.end();
      return;
    }
    input.on("error", (err) => {
      this.log.warn("stdin source failed; closing stdin", { error: String(err) });
      sink.end();
    });
    input.pipe(sink, { end: true });
  }

  /** The exit code, polling briefly: the engine may still report the exec as running right after EOF. */
  private async exitCode(exec: Docker.Exec, short: string, tries: number): Promise<number | null> {
    for (let i = 0; i < tries; i++) {
      try {
        const info = await exec.inspect();
        if (!info.Running) return info.ExitCode ?? null;
      } catch (err) {
        throw asBoxdError(err, `inspect exec in ${short}`);
      }
      await sleep(Math.min(5 * (i + 1), 50));
    }
    return null;
  }
}
