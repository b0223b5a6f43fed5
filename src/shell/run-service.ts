// Runs: shell commands (and code) in a box, in the foreground or background, each recorded with its
// output, exit code, duration and usage. Commands run through boxd-run (in every box image) so that a
// run's whole process tree can be ended (timeout, box_run_kill) and its CPU and memory measured.
import type { BoxService } from "../box/box-service.js";
import { newRunId } from "../box/ids.js";
import type { RunRecord } from "../box/types.js";
import type { DockerEngine } from "../docker/engine.js";
import { invalidArgument, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { RunStore } from "../state/run-store.js";
import { CappedBuffer, TrailerFilter, usageFromTrailer } from "./output.js";

export const BOX_USER = "1000:1000";
export const BOX_HOME = "/workspace/home";

export type OutputListener = (stream: "stdout" | "stderr", text: string) => void;

export interface ExecInput {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  stdin?: string;
  background?: boolean;
}

export interface ExecOutcome {
  runId: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
  timedOut: boolean;
}

export interface RunView extends RunRecord {
  stdout: string;
  stderr: string;
  truncated: boolean;
}

interface LiveRun {
  record: RunRecord;
  stdout: CappedBuffer;
  stderr: CappedBuffer;
  done: Promise<void>;
  cancelled: boolean;
  timedOut: boolean;
  usage: { cpuNs: number; memoryPeakBytes: number } | null;
  /** Set when the run could not start as asked (e.g. its cwd does not exist). */
  badInput: string | null;
  stop: AbortController;
  source: "system" | "user";
}

export interface RunServiceDeps {
  engine: DockerEngine;
  boxes: BoxService;
  runs: RunStore;
  /** Applied to every box before a run (the lifecycle layer resumes paused boxes here). */
  ensureLive: (boxId: string) => Promise<{ containerId: string; resumed: boolean }>;
  onActivity: (boxId: string, usage?: { cpuNs: number; memoryPeakBytes: number }) => void;
  /** Appends to the box's log (every run with its output). */
  onLog?: (
    boxId: string,
    level: "info" | "warn" | "error",
    source: "system" | "user" | "agent",
    message: string,
  ) => void;
  execTimeoutSeconds: number;
  maxOutputBytes: number;
  maxRunOutputBytes: number;
  log: Logger;
}

const CODE_RUNNERS: Record<string, { ext: string; run: (file: string) => string }> = {
  python: { ext: "py", run: (f) => `python3 ${f}` },
  js: { ext: "mjs", run: (f) => `node ${f}` },
  ts: { ext: "ts", run: (f) => `boxd-ts ${f}` },
};

export class RunService {
  private readonly live = new Map<string, LiveRun>();
  private closing = false;

  constructor(private readonly deps: RunServiceDeps) {}

  /** Runs a command; with `background` returns at once with the run id. */
  async exec(
    boxId: string,
    input: ExecInput & { source?: "system" | "user" },
    onOutput?: OutputListener,
  ): Promise<ExecOutcome & { background?: boolean }> {
    validateExec(input);
    const { containerId } = await this.deps.ensureLive(boxId);
    const source = input.source ?? "user";
    const record = this.begin(boxId, "shell", input.command, source);
    const timeoutSeconds = input.timeoutSeconds ?? (input.background ? 0 : this.deps.execTimeoutSeconds);
    const live = this.start(containerId, record, input, timeoutSeconds, onOutput);
    live.source = source;
    if (input.background) {
      return {
        runId: record.id,
        exitCode: null,
        stdout: "",
        stderr: "",
        durationMs: 0,
        truncated: false,
        timedOut: false,
        background: true,
      };
    }
    await live.done;
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

  list(boxId: string, limit: number): RunRecord[] {
    return this.deps.runs.listByBox(boxId, limit);
  }

  /** A run with its output so far; `waitSeconds` waits for a live run to end first. */
  async get(boxId: string, runId: string, waitSeconds = 0): Promise<RunView> {
    const live = this.live.get(runId);
    if (live && live.record.boxId === boxId) {
      if (waitSeconds > 0) {
        await Promise.race([live.done, new Promise((r) => setTimeout(r, waitSeconds * 1000))]);
      }
      if (this.live.has(runId)) {
        return {
          ...live.record,
          durationMs: Date.now() - Date.parse(live.record.startedAt),
          stdout: live.stdout.toBuffer().toString("utf8"),
          stderr: live.stderr.toBuffer().toString("utf8"),
          truncated: live.stdout.truncated || live.stderr.truncated,
        };
      }
    }
    const record = this.deps.runs.get(runId);
    if (!record || record.boxId !== boxId) throw notFound(`no run "${runId}" in this box: box_runs lists its runs`);
    const out = this.deps.runs.output(runId);
    return {
      ...record,
      stdout: out?.stdout.toString("utf8") ?? "",
      stderr: out?.stderr.toString("utf8") ?? "",
      truncated:
        (out?.stdoutBytes ?? 0) > (out?.stdout.length ?? 0) || (out?.stderrBytes ?? 0) > (out?.stderr.length ?? 0),
    };
  }

  /** Ends a live run's whole process tree; a finished run is returned as it is. */
  async kill(boxId: string, runId: string): Promise<RunView> {
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

  private begin(boxId: string, type: "shell", command: string, source: "system" | "user"): RunRecord {
    const record: RunRecord = {
      id: newRunId(),
      boxId,
      type,
      command,
      status: "running",
      exitCode: null,
      timedOut: false,
      cpuNs: null,
      memoryPeakBytes: null,
      startedAt: new Date().toISOString(),
      completedAt: null,
      durationMs: null,
      reason: null,
    };
    this.deps.runs.insert(record);
    this.deps.onActivity(boxId);
    this.deps.onLog?.(boxId, "info", source, `$ ${command}   [${record.id}]`);
    return record;
  }

  private start(
    containerId: string,
    record: RunRecord,
    input: ExecInput,
    timeoutSeconds: number,
    onOutput?: OutputListener,
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
    filter.onTrailer = (t) => {
      live.usage = usageFromTrailer(t);
      if (t.kind === "error" && t.fields[0] === "cwd") live.badInput = `cwd "${input.cwd}" does not exist in the box`;
      // boxd-run ends its output relays itself; this only guards against a helper that does not.
      setTimeout(() => stop.abort(), 2000).unref();
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
        cmd: ["boxd-run", record.id, input.cwd ?? BOX_HOME, input.command],
        user: BOX_USER,
        env: Object.entries(input.env ?? {}).map(([k, v]) => `${k}=${v}`),
        stdin: input.stdin !== undefined ? Buffer.from(input.stdin, "utf8") : undefined,
        onStdout: (chunk) => {
          stdout.push(chunk);
          onOutput?.("stdout", chunk.toString("utf8"));
        },
        onStderr: (chunk) => filter.push(chunk),
        signal: stop.signal,
      })
      .then(
        (res) => {
          filter.end();
          this.finish(live, res.exitCode, started, live.badInput);
        },
        (err: unknown) => {
          filter.end();
          this.finish(live, null, started, err instanceof Error ? err.message : String(err));
        },
      )
      .finally(() => clearTimeout(timer));
    this.live.set(record.id, live);
    return live;
  }

  private finish(live: LiveRun, exitCode: number | null, started: number, error: string | null): void {
    const { record, stdout, stderr } = live;
    if (this.closing) {
      this.live.delete(record.id);
      return;
    }
    const measured = live.usage;
    record.exitCode = exitCode;
    record.timedOut = live.timedOut;
    record.durationMs = Date.now() - started;
    record.completedAt = new Date().toISOString();
    record.reason = error ?? (live.timedOut ? "timed out" : null);
    record.cpuNs = measured?.cpuNs ?? null;
    record.memoryPeakBytes = measured?.memoryPeakBytes ?? null;
    record.status = live.cancelled ? "cancelled" : exitCode === 0 && !live.timedOut && !error ? "completed" : "failed";
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
      });
      this.deps.onActivity(record.boxId, measured ?? undefined);
      const out = `${stdout.toBuffer().toString("utf8")}${stderr.toBuffer().toString("utf8")}`;
      const end = live.cancelled ? "cancelled" : live.timedOut ? "timed out" : `exit ${exitCode}`;
      this.deps.onLog?.(
        record.boxId,
        record.status === "completed" ? "info" : "warn",
        live.source,
        `${out}${out && !out.endsWith("\n") ? "\n" : ""}[${record.id}] ${end} in ${record.durationMs} ms${error ? ` (${error})` : ""}`,
      );
    } catch (err) {
      this.deps.log.warn("could not record the end of a run", { run: record.id, error: String(err) });
    } finally {
      this.live.delete(record.id);
    }
  }

  private outcome(live: LiveRun): ExecOutcome {
    const cap = this.deps.maxOutputBytes;
    const out = live.stdout.toBuffer();
    const err = live.stderr.toBuffer();
    return {
      runId: live.record.id,
      exitCode: live.record.exitCode,
      stdout: out.subarray(0, cap).toString("utf8"),
      stderr: err.subarray(0, cap).toString("utf8"),
      durationMs: live.record.durationMs ?? 0,
      truncated: live.stdout.total > cap || live.stderr.total > cap,
      timedOut: live.timedOut,
    };
  }

  /** Sends SIGKILL to the run's process group, from inside the box, as the box's user. */
  private async signalRun(boxId: string, runId: string): Promise<void> {
    const box = this.deps.boxes.mustGet(boxId);
    if (!box.containerId) return;
    await this.deps.engine.execs.run({
      containerId: box.containerId,
      cmd: ["boxd-kill", runId, "KILL"],
      user: BOX_USER,
    });
  }
}

function validateExec(input: ExecInput): void {
  if (!input.command.trim()) throw invalidArgument("command is empty: pass the shell command to run");
  if (input.command.includes("\0")) throw invalidArgument("command contains a NUL byte");
  if (input.cwd !== undefined && (input.cwd.includes("\0") || input.cwd === "")) {
    throw invalidArgument("cwd must be a non-empty path");
  }
}
