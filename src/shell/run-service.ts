// Runs: shell commands (and code) in a box, in the foreground or background, each recorded with its
// output, exit code, duration and usage. Commands run through boxd-run (in every box image) so that a
// run's whole process tree can be ended (timeout, box_run_kill) and its CPU and memory measured. Each live
// run is a RunHandle (run-handle.ts) that ends in one result; this service keeps the registry of live
// handles, writes their records and runs a command once more when the box's process limit kept it from
// starting.
import { SHELL_STARTUP_ENV, shellSafe } from "../box/env-guard.js";
import { newRunId } from "../box/ids.js";
import { BoxdError, invalidArgument, notFound } from "../errors.js";
import type { AgentExecInput, AgentRunHooks, AgentRunInfo, AgentRunStart, RunRecord, RunType } from "../model/box.js";
import { collectPage, type Page, type PageRequest } from "../state/page-cursor.js";
import { badCwdReason, RunHandle, type RunHandleDeps, type RunResult, type RunSpec, runEnd } from "./run-handle.js";
import { markedCommand, sweepCommand } from "./run-marker.js";
import {
  BOX_HOME,
  BOX_USER,
  CODE_RUNNERS,
  detachedCompletion,
  type ExecInput,
  type ExecOutcome,
  newRunRecord,
  type OutputListener,
  type RunOutput,
  type RunServiceDeps,
  type Source,
  validateExec,
} from "./run-types.js";

export * from "./run-types.js";

/** box_exec user "root": gVisor boxes created with root: true only (src/box/isolation.ts says why). */
function assertRootAllowed(box: { name: string; isolation: string; root: boolean }): void {
  if (box.root) return;
  const why =
    box.isolation === "gvisor"
      ? "it was created without root: true (root cannot be turned on later: create a gvisor box with root: true)"
      : "it is a runc box, where root would face the host's kernel; create a box with isolation: gvisor and root: true";
  throw new BoxdError("POLICY_DENIED", `box "${box.name}" does not allow root: ${why}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command as exec takes it: `type` is how its run is recorded (box_run_code's are `code` runs). */
type CommandInput = ExecInput & { source?: "system" | "user"; type?: Exclude<RunType, "agent">; scheduleId?: string };

export class RunService {
  private readonly live = new Map<string, RunHandle>();
  private closing = false;
  private readonly handleDeps: RunHandleDeps;

  constructor(private readonly deps: RunServiceDeps) {
    this.handleDeps = {
      execs: { run: (req) => deps.engine.execs.run(req) },
      maxRunOutputBytes: deps.maxRunOutputBytes,
      signal: (handle) => this.signalRun(handle.record.boxId, handle.record.id),
      processCount: (containerId) => deps.engine.containers.usage(containerId),
      closing: () => this.closing,
      restartBox: deps.restartBox,
      onEnd: (handle, result) => this.finish(handle, result),
    };
  }

  /** Runs a command; with `background` returns at once with the run id. */
  async exec(
    boxId: string,
    input: CommandInput,
    onOutput?: OutputListener,
  ): Promise<ExecOutcome & { background?: boolean }> {
    validateExec(input);
    if (input.user === "root") assertRootAllowed(this.deps.boxes.mustGet(boxId));
    for (let attempt = 1; ; attempt += 1) {
      const handle = await this.startCommand(boxId, input, onOutput);
      if (input.background) return backgroundOutcome(handle.record.id);
      const result = await handle.wait();
      // Nothing ran and the box was restarted to free it: run the command once more, in the fresh box.
      if (result.kind === "could-not-start" && attempt === 1) continue;
      return this.outcome(handle, result);
    }
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
      { command: check + command, stdin: input.code, timeoutSeconds: input.timeoutSeconds, type: "code" },
      onOutput,
    );
  }

  /** Starts an agent run (type "agent") through boxd-run like a command; `done` resolves with its record. */
  async startAgent(boxId: string, input: AgentExecInput, hooks: AgentRunHooks): Promise<AgentRunStart> {
    validateExec({ command: input.command });
    const { containerId } = await this.deps.ensureLive(boxId);
    const source = this.deps.boxes.admitRun(boxId, "agent", this.live.values());
    const record = this.begin(boxId, "agent", input.prompt, source, {
      agent: input.agent,
      scheduleId: input.scheduleId,
    });
    const handle = this.start(containerId, record, source, input, {
      timeoutSeconds: input.timeoutSeconds,
      onRawStdout: hooks.onStdout,
      settle: hooks.settle,
    });
    const done = handle
      .wait()
      .then((result) =>
        result.kind === "start-failed" ? Promise.reject(result.error) : this.deps.runStore.get(record.id),
      );
    return { runId: record.id, done };
  }

  /** One page of the box's runs, newest first (`tenant` owns the box: cursors are bound to it). */
  page(tenant: string, boxId: string, request: PageRequest): Page<RunRecord> {
    return collectPage({
      request,
      cursors: this.deps.cursors,
      where: { list: "box_runs", tenant, scope: boxId },
      fetch: (after, n) => this.deps.runStore.pageByBox(boxId, after, n),
      keyOf: (r) => r.key,
      toItem: (r) => r.run,
    });
  }

  /** A run with its output so far; `waitSeconds` waits for a live run to end first. */
  async get(boxId: string, runId: string, waitSeconds = 0): Promise<RunOutput> {
    const handle = this.live.get(runId);
    if (handle && handle.record.boxId === boxId) {
      if (waitSeconds > 0) await Promise.race([handle.wait(), sleep(waitSeconds * 1000)]);
      if (this.live.has(runId)) return handle.snapshot();
    }
    const record = this.deps.runStore.get(runId);
    if (!record || record.boxId !== boxId) throw notFound(`no run "${runId}" in this box: box_runs lists its runs`);
    const out = this.deps.runStore.output(runId);
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
    const handle = this.live.get(runId);
    if (handle && handle.record.boxId === boxId) {
      await handle.kill();
      await Promise.race([handle.wait(), sleep(5000)]);
    }
    return this.get(boxId, runId);
  }

  /** Ends every live run of a box (disk guard, delete). */
  async killAll(boxId: string): Promise<number> {
    const mine = [...this.live.values()].filter((h) => h.record.boxId === boxId);
    await Promise.all(mine.map((h) => this.kill(boxId, h.record.id).catch(() => null)));
    return mine.length;
  }

  hasLiveRun(boxId: string): boolean {
    for (const h of this.live.values()) if (h.record.boxId === boxId) return true;
    return false;
  }

  /**
   * Stops following live runs without killing them (server shutdown): their processes go on in the box,
   * and the next start marks their records as interrupted.
   */
  async detachAll(): Promise<void> {
    this.closing = true;
    for (const h of this.live.values()) h.detach();
    await Promise.allSettled([...this.live.values()].map((h) => h.wait()));
  }

  private async startCommand(boxId: string, input: CommandInput, onOutput?: OutputListener): Promise<RunHandle> {
    const { containerId } = await this.deps.ensureLive(boxId);
    const source = this.deps.boxes.admitRun(boxId, input.source ?? "user", this.live.values());
    const record = this.begin(boxId, input.type ?? "command", input.command, source, { scheduleId: input.scheduleId });
    const timeoutSeconds = input.timeoutSeconds ?? (input.background ? 0 : this.deps.execTimeoutSeconds);
    return this.start(containerId, record, source, input, { timeoutSeconds, onOutput });
  }

  private begin(
    boxId: string,
    type: RunType,
    command: string,
    source: Source,
    extra: { agent?: AgentRunInfo; scheduleId?: string },
  ): RunRecord {
    const { agent } = extra;
    const record = {
      ...newRunRecord(boxId, type, command, agent),
      ...(extra.scheduleId ? { scheduleId: extra.scheduleId } : {}),
    };
    this.deps.runStore.insert(record);
    this.deps.onActivity(boxId);
    const head = type === "agent" ? `agent (${agent?.harness}): ${command}` : `$ ${command}`;
    this.deps.onLog?.(boxId, "info", source, `${head}   [${record.id}]`);
    return record;
  }

  /** Starts boxd-run for the record and registers its handle. */
  private start(
    containerId: string,
    record: RunRecord,
    source: Source,
    input: ExecInput,
    how: Pick<RunSpec, "timeoutSeconds" | "onOutput" | "onRawStdout" | "settle">,
  ): RunHandle {
    const cwd = input.cwd ?? BOX_HOME;
    const command = markedCommand(record.id, input.command);
    const handle = new RunHandle(this.handleDeps, {
      ...how,
      record,
      source,
      cwd: input.cwd,
      request: {
        containerId,
        // boxd-run is bash: it starts without the box's shell-startup variables (SHELLOPTS, BASH_ENV, ...).
        cmd: shellSafe(["boxd-run", record.id, cwd, command]),
        run: { id: record.id, cwd, command, unsetEnv: SHELL_STARTUP_ENV },
        user: input.user === "root" ? "0:0" : BOX_USER,
        // The box's own env rides on every exec: a box claimed from the warm pool was made before it was known.
        env: Object.entries({
          ...this.deps.boxes.mustGet(record.boxId).env,
          ...input.env,
          ...this.deps.serverEnv?.(record.boxId),
        }).map(([k, v]) => `${k}=${v}`),
        stdin: input.stdin !== undefined ? Buffer.from(input.stdin, "utf8") : undefined,
      },
    });
    this.live.set(record.id, handle);
    this.deps.events.emit("run-started", { boxId: record.boxId, runId: record.id, type: record.type });
    return handle;
  }

  /** Records a handle's result (its onEnd): the record, the box's activity and log; then forgets it. */
  private finish(handle: RunHandle, result: RunResult): void {
    const { record, stdout, stderr } = handle;
    if (this.closing) {
      this.recordDetached(handle);
      return;
    }
    const end = runEnd(result, handle.cwd);
    const verdict = handle.settle(end);
    const failure = end.error ?? verdict?.failure ?? null;
    if (verdict) record.agent = verdict.agent;
    record.exitCode = end.exitCode;
    record.timedOut = end.timedOut;
    record.durationMs = handle.elapsedMs();
    record.completedAt = new Date().toISOString();
    record.reason = failure ?? (end.timedOut ? "timed out" : null);
    record.cpuNs = result.usage?.cpuNs ?? null;
    record.memoryPeakBytes = result.usage?.memoryPeakBytes ?? null;
    const ok = !failure && !end.timedOut && (verdict !== undefined || end.exitCode === 0);
    record.status = end.cancelled ? "cancelled" : ok ? "completed" : "failed";
    try {
      this.deps.runStore.complete(record.id, {
        status: record.status,
        exitCode: end.exitCode,
        timedOut: end.timedOut,
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
      this.deps.onActivity(record.boxId, result.usage ?? undefined);
      this.logEnd(handle, end.cancelled ? "cancelled" : end.timedOut ? "timed out" : `exit ${end.exitCode}`, failure);
    } catch (err) {
      this.deps.log.warn("could not record the end of a run", { run: record.id, error: String(err) });
    } finally {
      this.live.delete(record.id);
      this.deps.events.emit("run-ended", { boxId: record.boxId, runId: record.id, status: record.status });
    }
  }

  /** The run's output and end in the box's log. */
  private logEnd(handle: RunHandle, end: string, failure: string | null): void {
    const { record, stdout, stderr } = handle;
    // An agent run's stdout is its raw event stream, already logged event by event by the agent layer.
    const out = `${record.type === "agent" ? "" : stdout.toBuffer().toString("utf8")}${stderr.toBuffer().toString("utf8")}`;
    this.deps.onLog?.(
      record.boxId,
      record.status === "completed" ? "info" : "warn",
      handle.source,
      `${out}${out && !out.endsWith("\n") ? "\n" : ""}[${record.id}] ${end} in ${record.durationMs} ms${failure ? ` (${failure})` : ""}`,
    );
  }

  /**
   * The server is stopping (a stdio client went away, SIGTERM) while this run goes on in its box: keep what
   * it wrote so far and mark it interrupted now, as the next start would, so no output is lost.
   */
  private recordDetached(handle: RunHandle): void {
    const { record } = handle;
    try {
      this.deps.runStore.complete(record.id, detachedCompletion(handle));
    } catch (err) {
      this.deps.log.warn("could not record a detached run", { run: record.id, error: String(err) });
    } finally {
      this.live.delete(record.id);
      this.deps.events.emit("run-ended", { boxId: record.boxId, runId: record.id, status: "failed" });
    }
  }

  /** What exec answers for a result: the run's outcome, or the error that kept it from running as asked. */
  private outcome(handle: RunHandle, result: RunResult): ExecOutcome {
    if (result.kind === "start-failed") throw result.error;
    if (result.kind === "bad-cwd" || (result.kind === "out-of-processes" && result.cwdMissing)) {
      throw invalidArgument(`${badCwdReason(handle.cwd)}: create it first (box_make_dir) or pass another cwd`);
    }
    const { record, stdout, stderr } = handle;
    const cap = this.deps.maxOutputBytes;
    return {
      runId: record.id,
      exitCode: record.exitCode,
      stdout: stdout.toBuffer().subarray(0, cap),
      stderr: stderr.toBuffer().subarray(0, cap),
      stdoutBytes: stdout.total,
      stderrBytes: stderr.total,
      durationMs: record.durationMs ?? 0,
      timedOut: runEnd(result, handle.cwd).timedOut,
    };
  }

  /** Sends SIGKILL to the run's process group, from inside the box, as the box's user. */
  private async signalRun(boxId: string, runId: string): Promise<void> {
    const box = this.deps.boxes.mustGet(boxId);
    if (!box.containerId) return;
    const user = this.live.get(runId)?.user ?? BOX_USER;
    const res = await this.deps.engine.execs
      .run({ containerId: box.containerId, cmd: shellSafe(["boxd-kill", runId, "KILL"]), user })
      .catch(() => ({ exitCode: null }));
    // Then whatever it started that left its process group (setsid) but still carries its marker.
    await this.deps.engine.execs
      .run({ containerId: box.containerId, cmd: sweepCommand(runId), user })
      .catch(() => undefined);
    // boxd-kill exits 0 even when the run is already gone. If it could not run, or the run is still alive a
    // moment later (a fork bomb has used up the box's processes), restart the container: every process ends.
    const handle = this.live.get(runId);
    const ended =
      !handle ||
      (await Promise.race([
        handle.wait().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
      ]));
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

function backgroundOutcome(runId: string): ExecOutcome & { background: true } {
  const none = Buffer.alloc(0);
  return {
    runId,
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
