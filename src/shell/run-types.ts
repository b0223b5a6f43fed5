// The shapes runs are made of: inputs, outcomes, views and the service's deps. Kept apart from
// run-service.ts so that file holds behaviour only (a live run is a RunHandle, run-handle.ts).
import type { BoxService } from "../box/box-service.js";
import { checkEnv } from "../box/env-guard.js";
import { newRunId } from "../box/ids.js";
import type { DockerEngine } from "../docker/engine.js";
import { invalidArgument } from "../errors.js";
import type { BoxEventEmitter } from "../events/box-events.js";
import type { Logger } from "../log.js";
import type { AgentRunInfo, RunRecord, RunType } from "../model/box.js";
import type { PageCursors } from "../state/page-cursor.js";
import type { RunCompletion, RunStore } from "../state/run-store.js";
import type { CappedBuffer } from "./output.js";

export { BOX_HOME, BOX_USER } from "../model/box-user.js";
export { EXEC_FAILED, OUT_OF_PROCESSES } from "./output.js";

export type OutputListener = (stream: "stdout" | "stderr", text: string) => void;

export interface ExecInput {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  stdin?: string;
  background?: boolean;
  /** "root": run as root; only in gVisor boxes created with root: true (checked by RunService.exec). */
  user?: "root" | "boxuser";
}

export interface ExecOutcome {
  runId: string;
  exitCode: number | null;
  /** The head of each stream, at most BOXD_MAX_OUTPUT_BYTES (the tool fits it to one answer). */
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes each stream produced in all. */
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
  timedOut: boolean;
}

/** A run with the output its record keeps (the head of each stream, up to BOXD_MAX_RUN_OUTPUT_BYTES). */
export interface RunOutput extends RunRecord {
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes each stream produced in all (more than kept when the run passed the record's cap). */
  stdoutProduced: number;
  stderrProduced: number;
}

export type Source = "system" | "user" | "agent";

export interface RunServiceDeps {
  engine: DockerEngine;
  boxes: BoxService;
  runStore: RunStore;
  /** Signs and checks box_runs' page cursors. */
  cursors: PageCursors;
  /** Applied to every box before a run (the lifecycle layer resumes paused boxes here). */
  ensureLive: (boxId: string) => Promise<{ containerId: string; resumed: boolean }>;
  onActivity: (boxId: string, usage?: { cpuNs: number; memoryPeakBytes: number }) => void;
  /** Last resort when a run cannot be ended from inside the box: restart its container (files kept). */
  restartBox?: (boxId: string) => Promise<void>;
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
  /** Announces run-started and run-ended (the idle timer and the disk guard learn live runs from them). */
  events: BoxEventEmitter;
  /** Env the server sets on every command of the box, after the caller's (the egress CA's trust variables). */
  serverEnv?: (boxId: string) => Record<string, string>;
}

/** The languages box_run_code takes: exactly the keys of CODE_RUNNERS (checked by `satisfies`). */
export const CODE_LANGS = ["js", "ts", "python"] as const;
type CodeRunner = { ext: string; run: (file: string) => string };

export const CODE_RUNNERS: Record<string, CodeRunner> = {
  python: { ext: "py", run: (f) => `python3 ${f}` },
  js: { ext: "mjs", run: (f) => `node ${f}` },
  ts: { ext: "ts", run: (f) => `boxd-ts ${f}` },
} satisfies Record<(typeof CODE_LANGS)[number], CodeRunner>;

/** Linux's limit on one argument (MAX_ARG_STRLEN, NUL included): the command travels as one. */
export const MAX_COMMAND_BYTES = 128 * 1024 - 1;

/** Checks what no run can start with (the client's env included: the same guard as box_create's). */
export function validateExec(input: ExecInput): void {
  if (!input.command.trim()) throw invalidArgument("command is empty: pass the shell command to run");
  if (input.command.includes("\0")) throw invalidArgument("command contains a NUL byte");
  const size = Buffer.byteLength(input.command);
  if (size > MAX_COMMAND_BYTES) {
    throw invalidArgument(
      `command is ${size} bytes, more than the ${MAX_COMMAND_BYTES} one argument may hold: write a script with box_write_file and run that`,
    );
  }
  if (input.env) checkEnv(input.env);
  if (input.cwd !== undefined && (input.cwd.includes("\0") || input.cwd === "")) {
    throw invalidArgument("cwd must be a non-empty path");
  }
}

/** A new run's record, as it is stored when the run starts. */
export function newRunRecord(boxId: string, type: RunType, command: string, agent?: AgentRunInfo): RunRecord {
  return {
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
    ...(agent ? { agent } : {}),
  };
}

/** How a run the server stopped following (shutdown) is recorded: interrupted, with its output so far. */
export function detachedCompletion(live: {
  record: RunRecord;
  stdout: CappedBuffer;
  stderr: CappedBuffer;
}): RunCompletion {
  return {
    status: "failed",
    exitCode: null,
    timedOut: false,
    cpuNs: null,
    memoryPeakBytes: null,
    completedAt: new Date().toISOString(),
    durationMs: Date.now() - Date.parse(live.record.startedAt),
    stdout: live.stdout.toBuffer(),
    stderr: live.stderr.toBuffer(),
    stdoutBytes: live.stdout.total,
    stderrBytes: live.stderr.total,
    error: "interrupted: the server stopped while this run was in progress (its processes may go on in the box)",
    agent: live.record.agent ?? null,
  };
}
