// Runs: shell commands (and code) in a box, in the foreground or background, each recorded with its
// output, exit code, duration and usage. Commands run through boxd-run (in every box image) so that a
// run's whole process tree can be ended (timeout, box_run_kill) and its CPU and memory measured.
import { shellSafe } from "../box/env-guard.js";
import { newRunId } from "../box/ids.js";
import type { AgentExecInput, AgentRunHooks, AgentRunInfo, AgentRunStart, RunRecord, RunType } from "../box/types.js";
import { invalidArgument, notFound, toBoxdError } from "../errors.js";
import { CappedBuffer, saidOutOfProcesses, TrailerFilter, usageFromTrailer } from "./output.js";
import {
  BOX_HOME,
  BOX_USER,
  CODE_RUNNERS,
  detachedCompletion,
  EXEC_FAILED,
  type ExecInput,
  type ExecOutcome,
  type LiveRun,
  newRunRecord,
  type OutputListener,
  type RunOutput,
  type RunServiceDeps,
  type Source,
  validateExec,
} from "./run-types.js";

export * from "./run-types.js";

export class RunService {
  private readonly live = new Map<string, LiveRun>();
  private closing = false;

  constructor(private readonly deps: RunServiceDeps) {}

  /** Runs a command; with `background` returns at once with the run id. */
  async exec(
    boxId: string,
    input: ExecInput & { source?: "system" | "user" },
    onOutput?: OutputListener,
    retried = false,
  ): Promise<ExecOutcome & { background?: boolean }> {
    validateExec(input);
    const { containerId } = await this.deps.ensureLive(boxId);
    const source = this.deps.boxes.admitRun(boxId, input.source ?? "user", this.live.values());
    const record = this.begin(boxId, "shell", input.command, source);
    const timeoutSeconds = input.timeoutSeconds ?? (input.background ? 0 : this.deps.execTimeoutSeconds);
    const live = this.start(containerId, record, input, timeoutSeconds, onOutput);
    live.source = source;
    if (input.background) {
      const none = Buffer.alloc(0);
      return {
        runId: record.id,
        exitCode: null,
        stdout: none,
        stderr: none,
        stdoutBytes: 0,
        stderrBytes: 0,
        durationMs: 0,
        timedOut: false,
        background: true,
      };
    }
    await live.done;
    if (live.startFailure) throw live.startFailure;
    // Nothing ran and the box was restarted to free it: run the command once more, in the fresh box.
    if (live.couldNotStart && !retried) return this.exec(boxId, input, onOutput, true);
    if (live.badInput) throw invalidArgument(`${live.badInput}: create it first (box_make_dir) or pass another cwd`);
    return this.outcome(live);
  }

  async runCode(
    boxId: string,
    input: { code: string; lang: string; timeoutSeconds?: number },
    onOutput?: OutputListener,
  ): Promise<ExecOutcome> {
    const runner = CODE_RUNNERS[input.lang];
    if (!runner) throw invalidArgument(`unknown lang "${input.lang}": use js, ts or python`);
    const file = `/tmp/.boxd-code/${newRunId()}.${runner.ext}`;
    // The code arrives on stdin and is saved first, so the program itself sees an empty stdin.
    const command = `mkdir -p /tmp/.boxd-code && cat > ${file} && exec ${runner.run(file)} </dev/null`;
    const interp = runner.run(file).split(" ")[0] ?? "";
    const check = `command -v ${interp} >/dev/null || { echo "boxd: ${input.lang} needs ${interp}, which this box's runtime does not have; create a box with runtime ${input.lang === "python" ? "python" : "node"}" >&2; exit 127; }; `;
    return this.exec(
      boxId,
      { command: check + command, stdin: input.code, timeoutSeconds: input.timeoutSeconds },
      onOutput,
    );
  }

  /** Starts an agent run (type "agent") through boxd-run like a command; `done` resolves with its record. */
  async startAgent(boxId: string, input: AgentExecInput, hooks: AgentRunHooks): Promise<AgentRunStart> {
    validateExec({ command: input.command });
    const { containerId } = await this.deps.ensureLive(boxId);
    const source = this.deps.boxes.admitRun(boxId, "agent", this.live.values());
    const record = this.begin(boxId, "agent", input.prompt, source, input.agent);
    const live = this.start(containerId, record, input, input.timeoutSeconds, undefined, hooks.onStdout);
    Object.assign(live, { source: "agent", settle: hooks.settle });
    const recorded = () => (live.startFailure ? Promise.reject(live.startFailure) : this.deps.runs.get(record.id));
    return { runId: record.id, done: live.done.then(recorded) };
  }

  list(boxId: string, limit: number): RunRecord[] {
    return this.deps.runs.listByBox(boxId, limit);
  }

  /** A run with its output so far; `waitSeconds` waits for a live run to end first. */
  async get(boxId: string, runId: string, waitSeconds = 0): Promise<RunOutput> {
    const live = this.live.get(runId);
    if (live && live.record.boxId === boxId) {
      if (waitSeconds > 0) {
        await Promise.race([live.done, new Promise((r) => setTimeout(r, waitSeconds * 1000))]);
      }
      if (this.live.has(runId)) {
        return {
          ...live.record,
          durationMs: Date.now() - Date.parse(live.record.startedAt),
          stdout: live.stdout.toBuffer(),
          stderr: live.stderr.toBuffer(),
          stdoutProduced: live.stdout.total,
          stderrProduced: live.stderr.total,
        };
      }
    }
    const record = this.deps.runs.get(runId);
    if (!record || record.boxId !== boxId) throw notFound(`no run "${runId}" in this box: box_runs lists its runs`);
    const out = this.deps.runs.output(runId);
    const stdout = out?.stdout ?? Buffer.alloc(0);
    const stderr = out?.stderr ?? Buffer.alloc(0);
    return {
      ...record,
      stdout,
      stderr,
      stdoutProduced: Math.max(out?.stdoutBytes ?? 0, stdout.length),
      stderrProduced: Math.max(out?.stderrBytes ?? 0, stderr.length),
    };
  }

  /** Ends a live run's whole process tree; a finished run is returned as it is. */
  async kill(boxId: string, runId: string): Promise<RunOutput> {
    const live = this.live.get(runId);
    if (live && live.record.boxId === boxId) {
      live.cancelled = true;
      await this.signalRun(boxId, runId);
      await Promise.race([live.done, new Promise((r) => setTimeout(r, 5000))]);
    }
    return this.get(boxId, runId);
  }

  /** Ends every live run of a box (disk guard, delete). */
  async killAll(boxId: string): Promise<number> {
    const mine = [...this.live.values()].filter((r) => r.record.boxId === boxId);
    await Promise.all(mine.map((r) => this.kill(boxId, r.record.id).catch(() => null)));
    return mine.length;
  }

  hasLiveRun(boxId: string): boolean {
    for (const r of this.live.values()) if (r.record.boxId === boxId) return true;
    return false;
  }

  /**
   * Stops following live runs without killing them (server shutdown): their processes go on in the box,
   * and the next start marks their records as interrupted.
   */
  async detachAll(): Promise<void> {
    this.closing = true;
    for (const r of this.live.values()) r.stop.abort();
    await Promise.allSettled([...this.live.values()].map((r) => r.done));
  }

  private begin(boxId: string, type: RunType, command: string, source: Source, agent?: AgentRunInfo): RunRecord {
    const record = newRunRecord(boxId, type, command, agent);
    this.deps.runs.insert(record);
    this.deps.onActivity(boxId);
    const head = type === "agent" ? `agent (${agent?.harness}): ${command}` : `$ ${command}`;
    this.deps.onLog?.(boxId, "info", source, `${head}   [${record.id}]`);
    return record;
  }

  private start(
    containerId: string,
    record: RunRecord,
    input: ExecInput,
    timeoutSeconds: number,
    onOutput?: OutputListener,
    onRawStdout?: (chunk: Buffer) => void,
  ): LiveRun {
    const stdout = new CappedBuffer(this.deps.maxRunOutputBytes);
    const stderr = new CappedBuffer(this.deps.maxRunOutputBytes);
    const started = Date.now();
    const stop = new AbortController();
    const filter = new TrailerFilter((chunk) => {
      stderr.push(chunk);
      onOutput?.("stderr", chunk.toString("utf8"));
    });
    // The trailer means the command has exited; background processes it left may keep the streams open.
    const live: LiveRun = {
      record,
      stdout,
      stderr,
      done: Promise.resolve(),
      cancelled: false,
      timedOut: false,
      usage: null,
      badInput: null,
      stop,
      source: "user",
    };
    // A trailer (probably) means the command has exited: stop reading 10 s later if the streams stay open.
    // That only guards against a helper that never ends its relays (a busy engine may take seconds to
    // end the streams); output after the trailer cancels it, as the command printed that trailer itself.
    let giveUp: NodeJS.Timeout | undefined;
    filter.onTrailer = (t) => {
      clearTimeout(giveUp);
      if (t) giveUp = setTimeout(() => stop.abort(), 10_000).unref();
    };
    let timer: NodeJS.Timeout | undefined;
    if (timeoutSeconds > 0) {
      timer = setTimeout(() => {
        live.timedOut = true;
        this.signalRun(record.boxId, record.id).catch(() => {});
      }, timeoutSeconds * 1000);
    }

    live.done = this.deps.engine.execs
      .run({
        containerId,
        // boxd-run is bash: it starts without the box's shell-startup variables (SHELLOPTS, BASH_ENV, ...).
        cmd: shellSafe(["boxd-run", record.id, input.cwd ?? BOX_HOME, input.command]),
        user: BOX_USER,
        // The box's own env rides on every exec: a box claimed from the warm pool was made before it was known.
        env: Object.entries({ ...this.deps.boxes.mustGet(record.boxId).env, ...input.env }).map(
          ([k, v]) => `${k}=${v}`,
        ),
        stdin: input.stdin !== undefined ? Buffer.from(input.stdin, "utf8") : undefined,
        onStdout: (chunk) => {
          stdout.push(chunk);
          onRawStdout?.(chunk);
          onOutput?.("stdout", chunk.toString("utf8"));
        },
        onStderr: (chunk) => filter.push(chunk),
        signal: stop.signal,
      })
      .then(
        async (res) => {
          this.endOutput(live, filter, input.cwd);
          clearTimeout(giveUp);
          if (
            !this.closing &&
            res.exitCode !== 0 &&
            (await saidOutOfProcesses(stdout, stderr, res.couldNotStart, () =>
              this.deps.engine.containers.usage(containerId),
            ))
          ) {
            // The box has no process slot left (a fork bomb outlived its command): nothing can run in it,
            // so restart it: every process ends, files stay. If this run never started, run it again.
            live.couldNotStart =
              res.couldNotStart === true ||
              (res.exitCode === 126 && stdout.toBuffer().includes(EXEC_FAILED)) ||
              (filter.trailer === null && stderr.toBuffer().includes("boxd-run: fork:"));
            if (this.deps.restartBox) await this.deps.restartBox(record.boxId).catch(() => {});
            this.finish(
              live,
              res.exitCode,
              started,
              "the box reached its process limit; it was restarted: every process ended, files kept",
            );
            return;
          }
          this.finish(live, res.exitCode, started, live.badInput);
        },
        (err: unknown) => {
          live.startFailure = toBoxdError(err);
          this.endOutput(live, filter, input.cwd);
          clearTimeout(giveUp);
          this.finish(live, null, started, err instanceof Error ? err.message : String(err));
        },
      )
      .finally(() => clearTimeout(timer));
    this.live.set(record.id, live);
    this.deps.events.emit("run-started", { boxId: record.boxId, runId: record.id, type: record.type });
    return live;
  }

  /** The stream has ended: only now is the trailer known to be boxd-run's own (the last thing it printed). */
  private endOutput(live: LiveRun, filter: TrailerFilter, cwd: string | undefined): void {
    filter.end();
    const t = filter.trailer;
    live.usage = usageFromTrailer(t);
    if (t?.kind === "error" && t.fields[0] === "cwd") live.badInput = `cwd "${cwd}" does not exist in the box`;
  }

  private finish(live: LiveRun, exitCode: number | null, started: number, error: string | null): void {
    const { record, stdout, stderr } = live;
    if (this.closing) {
      this.recordDetached(live);
      return;
    }
    const measured = live.usage;
    const verdict = live.settle?.({ exitCode, timedOut: live.timedOut, cancelled: live.cancelled, error });
    const failure = error ?? verdict?.failure ?? null;
    if (verdict) record.agent = verdict.agent;
    record.exitCode = exitCode;
    record.timedOut = live.timedOut;
    record.durationMs = Date.now() - started;
    record.completedAt = new Date().toISOString();
    record.reason = failure ?? (live.timedOut ? "timed out" : null);
    record.cpuNs = measured?.cpuNs ?? null;
    record.memoryPeakBytes = measured?.memoryPeakBytes ?? null;
    const ok = !failure && !live.timedOut && (verdict !== undefined || exitCode === 0);
    record.status = live.cancelled ? "cancelled" : ok ? "completed" : "failed";
    try {
      this.deps.runs.complete(record.id, {
        status: record.status,
        exitCode,
        timedOut: live.timedOut,
        cpuNs: record.cpuNs,
        memoryPeakBytes: record.memoryPeakBytes,
        completedAt: record.completedAt,
        durationMs: record.durationMs,
        stdout: stdout.toBuffer(),
        stderr: stderr.toBuffer(),
        stdoutBytes: stdout.total,
        stderrBytes: stderr.total,
        error: record.reason,
        agent: record.agent ?? null,
      });
      this.deps.onActivity(record.boxId, measured ?? undefined);
      // An agent run's stdout is its raw event stream, already logged event by event by the agent layer.
      const out = `${record.type === "agent" ? "" : stdout.toBuffer().toString("utf8")}${stderr.toBuffer().toString("utf8")}`;
      const end = live.cancelled ? "cancelled" : live.timedOut ? "timed out" : `exit ${exitCode}`;
      this.deps.onLog?.(
        record.boxId,
        record.status === "completed" ? "info" : "warn",
        live.source,
        `${out}${out && !out.endsWith("\n") ? "\n" : ""}[${record.id}] ${end} in ${record.durationMs} ms${failure ? ` (${failure})` : ""}`,
      );
    } catch (err) {
      this.deps.log.warn("could not record the end of a run", { run: record.id, error: String(err) });
    } finally {
      this.live.delete(record.id);
      this.deps.events.emit("run-ended", { boxId: record.boxId, runId: record.id, status: record.status });
    }
  }

  /**
   * The server is stopping (a stdio client went away, SIGTERM) while this run goes on in its box: keep what
   * it wrote so far and mark it interrupted now, as the next start would, so no output is lost.
   */
  private recordDetached(live: LiveRun): void {
    const { record } = live;
    try {
      this.deps.runs.complete(record.id, detachedCompletion(live));
    } catch (err) {
      this.deps.log.warn("could not record a detached run", { run: record.id, error: String(err) });
    } finally {
      this.live.delete(record.id);
      this.deps.events.emit("run-ended", { boxId: record.boxId, runId: record.id, status: "failed" });
    }
  }

  private outcome(live: LiveRun): ExecOutcome {
    const cap = this.deps.maxOutputBytes;
    return {
      runId: live.record.id,
      exitCode: live.record.exitCode,
      stdout: live.stdout.toBuffer().subarray(0, cap),
      stderr: live.stderr.toBuffer().subarray(0, cap),
      stdoutBytes: live.stdout.total,
      stderrBytes: live.stderr.total,
      durationMs: live.record.durationMs ?? 0,
      timedOut: live.timedOut,
    };
  }

  /** Sends SIGKILL to the run's process group, from inside the box, as the box's user. */
  private async signalRun(boxId: string, runId: string): Promise<void> {
    const box = this.deps.boxes.mustGet(boxId);
    if (!box.containerId) return;
    const res = await this.deps.engine.execs
      .run({ containerId: box.containerId, cmd: shellSafe(["boxd-kill", runId, "KILL"]), user: BOX_USER })
      .catch(() => ({ exitCode: null }));
    // boxd-kill exits 0 even when the run is already gone. If it could not run, or the run is still alive a
    // moment later (a fork bomb has used up the box's processes), restart the container: every process ends.
    const live = this.live.get(runId);
    const ended =
      !live ||
      (await Promise.race([live.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]));
    if ((res.exitCode !== 0 || !ended) && this.live.has(runId) && this.deps.restartBox) {
      this.deps.onLog?.(
        boxId,
        "error",
        "system",
        `could not end run ${runId} in place (box out of processes?): restarting the box; its files are kept`,
      );
      await this.deps.restartBox(boxId);
    }
  }
}
