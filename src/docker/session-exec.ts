// Session exec: a Docker exec whose stdin, stdout and stderr stay open as streams for as long as the process
// runs, optionally on a pseudo-terminal (Tty: true, resizable). The SSH gateway (src/ssh/) pipes a channel
// through it. It never goes through the resident executor: that path answers whole requests, not a
// terminal. Ending the hijacked connection does not end the process in the box; the caller kills it (see
// src/ssh/box-process.ts), which is why `exited` reports only what the engine says.
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { asBoxdError } from "./docker-errors.js";

export interface SessionExecRequest {
  containerId: string;
  cmd: string[];
  /** Always given (see ExecRequest.user). */
  user: string;
  env?: string[];
  workingDir?: string;
  /** A pseudo-terminal: one output stream (stdout), resizable; else stdout and stderr apart. */
  tty: boolean;
  /** The terminal's first size, when tty. */
  size?: { cols: number; rows: number };
}

export interface SessionExec {
  /** What the process reads; end() sends it EOF (without a tty). */
  stdin: NodeJS.WritableStream;
  stdout: PassThrough;
  /** Empty and ended at once on a tty (a terminal has one output). */
  stderr: PassThrough;
  /** Resolves once both output streams ended, with the exit code (null when it could not be read). */
  exited: Promise<number | null>;
  resize(size: { cols: number; rows: number }): Promise<void>;
  /** Drops the connection to the engine (the process itself goes on: kill it in the box). */
  detach(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSessionExec(docker: Docker, req: SessionExecRequest): Promise<SessionExec> {
  const short = req.containerId.slice(0, 12);
  let exec: Docker.Exec;
  let raw: NodeJS.ReadWriteStream & { destroy?: () => void };
  try {
    exec = await docker.getContainer(req.containerId).exec({
      Cmd: req.cmd,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: req.tty,
      User: req.user,
      Env: req.env,
      WorkingDir: req.workingDir,
      ...(req.tty && req.size ? { ConsoleSize: [req.size.rows, req.size.cols] } : {}),
    } as Docker.ExecCreateOptions);
    raw = (await exec.start({ hijack: true, stdin: true, Tty: req.tty })) as never;
  } catch (err) {
    throw asBoxdError(err, `start a session in container ${short}`);
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const finish = () => {
    stdout.end();
    stderr.end();
  };
  raw.on("end", finish);
  raw.on("close", finish);
  raw.on("error", finish);
  if (req.tty) {
    raw.pipe(stdout, { end: false });
    // Ended and drained here: a stream's end is only seen once it is read, and a caller with nothing to
    // read from a terminal's empty stderr would otherwise never see the process exit.
    stderr.resume();
    stderr.end();
  } else {
    docker.modem.demuxStream(raw, stdout, stderr);
  }
  const bothEnded = Promise.all([endedOf(stdout), endedOf(stderr)]);
  return {
    stdin: raw,
    stdout,
    stderr,
    exited: bothEnded.then(() => exitCode(exec)),
    resize: async (size) => {
      try {
        await exec.resize({ h: size.rows, w: size.cols });
      } catch {
        // The process may have just ended; a missed resize is harmless.
      }
    },
    detach: () => {
      raw.destroy?.();
      finish();
    },
  };
}

/** Resolves when a stream ends or closes, without consuming it (the caller reads it). */
function endedOf(s: PassThrough): Promise<void> {
  return new Promise<void>((resolve) => {
    s.once("end", resolve);
    s.once("close", resolve);
  });
}

/** The exit code: the engine may report the exec as running for a moment after its streams end. */
async function exitCode(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; i < 40; i++) {
    try {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode ?? null;
    } catch {
      return null;
    }
    await sleep(Math.min(5 * (i + 1), 50));
  }
  return null;
}
