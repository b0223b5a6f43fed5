// A run handle: one run of boxd-run in a box, from its start to ONE result (the shape of E2B's
// CommandHandle). It owns what belongs to that run alone: its output (two capped streams, the trailer
// filter, the progress listeners), its timeout, its kill (through the service's boxd-kill signal), its
// detach (stop reading, leave the processes running), the out-of-processes restart and the agent's settle
// hook. It writes nothing to the store: the run service keeps the registry of live handles and records
// each result (onEnd) before the handle's wait() resolves.

import type { ExecRequest, ExecResult } from "../docker/exec.js";
import { type BoxdError, toBoxdError } from "../errors.js";
import type { AgentRunHooks, RunEnd, RunRecord } from "../model/box.js";
import { CappedBuffer, EXEC_FAILED, saidOutOfProcesses, TrailerFilter, usageFromTrailer } from "./output.js";
import type { OutputListener, RunOutput, Source } from "./run-types.js";

export interface Usage {
  cpuNs: number;
  memoryPeakBytes: number;
}

/** Stops that came from outside: the run's timeout fired, box_run_kill asked (either, both, in any order). */
export interface Stops {
  timedOut: boolean;
  cancelled: boolean;
}

interface Ended {
  /** null when reading stopped before the process exited (detached, container stopped under it). */
  exitCode: number | null;
  /** From boxd-run's trailer: only the trailer the stream ends with counts. */
  usage: Usage | null;
}

/**
 * How a run ended, decided once, when its streams have ended. The first three are ordinary ends; the others
 * say why the run was not carried out as asked, with the stops that raced them (they are recorded too).
 */
export type RunResult =
  /** The command ended by itself. */
  | ({ kind: "exited" } & Ended)
  /** Its timeout fired: boxd-kill (or the container restart fallback) ended its process tree. */
  | ({ kind: "timed-out" } & Ended)
  /** box_run_kill ended it (its timeout may have fired too). */
  | ({ kind: "cancelled"; timedOut: boolean } & Ended)
  /** boxd-run could not enter the cwd: nothing ran. */
  | ({ kind: "bad-cwd" } & Ended & Stops)
  /** The box reached its process limit and was restarted (every process ended, files kept). */
  | ({ kind: "out-of-processes"; cwdMissing: boolean } & Ended & Stops)
  /** The same, and the command never started: the box was restarted, the run is worth one more try. */
  | ({ kind: "could-not-start" } & Ended & Stops)
  /** The exec itself failed (engine unreachable, container gone). */
  | ({ kind: "start-failed"; error: BoxdError; reason: string } & Ended & Stops);

export const OUT_OF_PROCESSES_REASON =
  "the box reached its process limit; it was restarted: every process ended, files kept";

export function badCwdReason(cwd: string | undefined): string {
  return `cwd "${cwd}" does not exist in the box`;
}

/** A result as the record and the agent's settle hook see it: exit code, stops and the failure, if any. */
export function runEnd(result: RunResult, cwd: string | undefined): RunEnd {
  const { timedOut, cancelled } = stopsOf(result);
  return { exitCode: result.exitCode, timedOut, cancelled, error: failureOf(result, cwd) };
}

function stopsOf(r: RunResult): Stops {
  if (r.kind === "exited") return { timedOut: false, cancelled: false };
  if (r.kind === "timed-out") return { timedOut: true, cancelled: false };
  if (r.kind === "cancelled") return { timedOut: r.timedOut, cancelled: true };
  return { timedOut: r.timedOut, cancelled: r.cancelled };
}

function failureOf(r: RunResult, cwd: string | undefined): string | null {
  if (r.kind === "start-failed") return r.reason;
  if (r.kind === "out-of-processes" || r.kind === "could-not-start") return OUT_OF_PROCESSES_REASON;
  if (r.kind === "bad-cwd") return badCwdReason(cwd);
  return null;
}

/** What a handle needs from the run service and the engine (one object, shared by every handle). */
export interface RunHandleDeps {
  execs: { run(req: ExecRequest): Promise<ExecResult> };
  maxRunOutputBytes: number;
  /** Ends the run's process tree from inside the box (boxd-kill; restarts the box when that fails). */
  signal: (handle: RunHandle) => Promise<void>;
  /** The container's process count against its limit (null when unknown). */
  processCount: (containerId: string) => Promise<{ pids: number; pidsLimit: number } | null>;
  /** True once the server is stopping: no restart of an out-of-processes box then. */
  closing: () => boolean;
  restartBox?: (boxId: string) => Promise<void>;
  /** Records the result; called once, before wait() resolves. */
  onEnd: (handle: RunHandle, result: RunResult) => void;
}

export interface RunSpec {
  record: RunRecord;
  source: Source;
  /** The exec that runs boxd-run; the handle adds the output callbacks and its abort signal. */
  request: Omit<ExecRequest, "onStdout" | "onStderr" | "signal">;
  /** The cwd the caller asked for (undefined: the box's home), for the bad-cwd message. */
  cwd: string | undefined;
  /** 0: no timeout. */
  timeoutSeconds: number;
  onOutput?: OutputListener;
  onRawStdout?: (chunk: Buffer) => void;
  settle?: AgentRunHooks["settle"];
}

export class RunHandle {
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  /** Who the run's processes run as: its kill must come from the same user. */
  get user(): string {
    return this.spec.request.user;
  }
  private readonly started = Date.now();
  private readonly reading = new AbortController();
  private readonly filter: TrailerFilter;
  private readonly result: Promise<RunResult>;
  private timer: NodeJS.Timeout | undefined;
  private giveUp: NodeJS.Timeout | undefined;
  private timedOut = false;
  private cancelled = false;

  constructor(
    private readonly deps: RunHandleDeps,
    private readonly spec: RunSpec,
  ) {
    this.stdout = new CappedBuffer(deps.maxRunOutputBytes);
    this.stderr = new CappedBuffer(deps.maxRunOutputBytes);
    this.filter = new TrailerFilter((chunk) => {
      this.stderr.push(chunk);
      spec.onOutput?.("stderr", chunk.toString("utf8"));
    });
    // A trailer (probably) means the command has exited: stop reading 10 s later if the streams stay open.
    // That only guards against a helper that never ends its relays (a busy engine may take seconds to
    // end the streams); output after the trailer cancels it, as the command printed that trailer itself.
    this.filter.onTrailer = (t) => {
      clearTimeout(this.giveUp);
      if (t) this.giveUp = setTimeout(() => this.reading.abort(), 10_000).unref();
    };
    if (spec.timeoutSeconds > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.deps.signal(this).catch(() => {});
      }, spec.timeoutSeconds * 1000);
    }
    this.result = this.run();
  }

  get record(): RunRecord {
    return this.spec.record;
  }

  get source(): Source {
    return this.spec.source;
  }

  get cwd(): string | undefined {
    return this.spec.cwd;
  }

  /** Milliseconds since the run started. */
  elapsedMs(): number {
    return Date.now() - this.started;
  }

  /** Resolves with the run's result once it has been recorded. */
  wait(): Promise<RunResult> {
    return this.result;
  }

  /** Ends the run's whole process tree; the result says "cancelled". */
  async kill(): Promise<void> {
    this.cancelled = true;
    await this.deps.signal(this);
  }

  /** Stops reading the run's output without ending its processes (server shutdown). */
  detach(): void {
    this.reading.abort();
  }

  /** The agent layer's verdict over this run's end (undefined for a command). */
  settle(end: RunEnd): ReturnType<AgentRunHooks["settle"]> | undefined {
    return this.spec.settle?.(end);
  }

  /** The run as it is now, with its output so far. */
  snapshot(): RunOutput {
    const { record } = this.spec;
    return {
      ...record,
      durationMs: Date.now() - Date.parse(record.startedAt),
      stdout: this.stdout.toBuffer(),
      stderr: this.stderr.toBuffer(),
      stdoutProduced: this.stdout.total,
      stderrProduced: this.stderr.total,
    };
  }

  private async run(): Promise<RunResult> {
    const { onOutput, onRawStdout } = this.spec;
    try {
      const exec = await this.deps.execs
        .run({
          ...this.spec.request,
          onStdout: (chunk) => {
            this.stdout.push(chunk);
            onRawStdout?.(chunk);
            onOutput?.("stdout", chunk.toString("utf8"));
          },
          onStderr: (chunk) => this.filter.push(chunk),
          signal: this.reading.signal,
        })
        .then(
          (res) => ({ res }),
          (err: unknown) => ({ err }),
        );
      // The stream has ended: only now is the trailer known to be boxd-run's own (the last thing it printed).
      this.filter.end();
      clearTimeout(this.giveUp);
      const result = "err" in exec ? this.failed(exec.err) : await this.classify(exec.res);
      this.deps.onEnd(this, result);
      return result;
    } finally {
      clearTimeout(this.timer);
    }
  }

  private failed(err: unknown): RunResult {
    const reason = err instanceof Error ? err.message : String(err);
    return { kind: "start-failed", error: toBoxdError(err), reason, ...this.endedWith(null), ...this.stops() };
  }

  private async classify(res: ExecResult): Promise<RunResult> {
    const ended = this.endedWith(res.exitCode);
    const t = this.filter.trailer;
    const cwdMissing = t?.kind === "error" && t.fields[0] === "cwd";
    if (res.exitCode !== 0 && !this.deps.closing() && (await this.outOfProcesses(res))) {
      // The box has no process slot left (a fork bomb outlived its command): nothing can run in it, so
      // restart it: every process ends, files stay. A run that never started is worth one more try.
      const couldNotStart =
        res.couldNotStart === true ||
        (res.exitCode === 126 && this.stdout.toBuffer().includes(EXEC_FAILED)) ||
        (t === null && this.stderr.toBuffer().includes("boxd-run: fork:"));
      await this.deps.restartBox?.(this.spec.record.boxId).catch(() => {});
      // Stops are read after the restart: a kill or the timeout may have come while it ran.
      if (couldNotStart) return { kind: "could-not-start", ...ended, ...this.stops() };
      return { kind: "out-of-processes", cwdMissing, ...ended, ...this.stops() };
    }
    if (cwdMissing) return { kind: "bad-cwd", ...ended, ...this.stops() };
    if (this.cancelled) return { kind: "cancelled", timedOut: this.timedOut, ...ended };
    if (this.timedOut) return { kind: "timed-out", ...ended };
    return { kind: "exited", ...ended };
  }

  private outOfProcesses(res: ExecResult): Promise<boolean> {
    const { containerId } = this.spec.request;
    return saidOutOfProcesses(this.stdout, this.stderr, res.couldNotStart, () => this.deps.processCount(containerId));
  }

  private endedWith(exitCode: number | null): Ended {
    return { exitCode, usage: usageFromTrailer(this.filter.trailer) };
  }

  private stops(): Stops {
    return { timedOut: this.timedOut, cancelled: this.cancelled };
  }
}
