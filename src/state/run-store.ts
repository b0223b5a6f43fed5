// Persistence of runs (shell commands, agent runs) and their captured output.
import type { AgentRunInfo, RunRecord, RunStatus, RunType } from "../model/box.js";
import type { Db } from "./db.js";
import type { PageKey } from "./page-cursor.js";

interface RunRow {
  id: string;
  box_id: string;
  type: string;
  command: string;
  status: string;
  exit_code: number | null;
  timed_out: number;
  cpu_ns: number | null;
  memory_peak_bytes: number | null;
  started_at: string;
  completed_at: string | null;
  duration_ms: number | null;
  error: string | null;
  agent: string | null;
  schedule_id: string | null;
}

const COLUMNS =
  "id, box_id, type, command, status, exit_code, timed_out, cpu_ns, memory_peak_bytes, started_at, completed_at, duration_ms, error, agent, schedule_id";

function fromRow(r: RunRow): RunRecord {
  return {
    id: r.id,
    boxId: r.box_id,
    type: r.type as RunType,
    command: r.command,
    status: r.status as RunStatus,
    exitCode: r.exit_code,
    timedOut: r.timed_out === 1,
    cpuNs: r.cpu_ns,
    memoryPeakBytes: r.memory_peak_bytes,
    startedAt: r.started_at,
    completedAt: r.completed_at,
    durationMs: r.duration_ms,
    reason: r.error,
    ...(r.agent ? { agent: JSON.parse(r.agent) as AgentRunInfo } : {}),
    ...(r.schedule_id ? { scheduleId: r.schedule_id } : {}),
  };
}

export interface RunCompletion {
  status: RunStatus;
  exitCode: number | null;
  timedOut: boolean;
  cpuNs: number | null;
  memoryPeakBytes: number | null;
  completedAt: string;
  durationMs: number;
  stdout: Buffer;
  stderr: Buffer;
  stdoutBytes: number;
  stderrBytes: number;
  error: string | null;
  /** Agent runs: the final agent details (null keeps what insert stored). */
  agent?: AgentRunInfo | null;
}

export class RunStore {
  constructor(private readonly db: Db) {}

  insert(run: Pick<RunRecord, "id" | "boxId" | "type" | "command" | "startedAt" | "agent" | "scheduleId">): void {
    this.db
      .prepare(
        "INSERT INTO runs (id, box_id, type, command, status, started_at, agent, schedule_id) VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
      )
      .run(
        run.id,
        run.boxId,
        run.type,
        run.command,
        run.startedAt,
        run.agent ? JSON.stringify(run.agent) : null,
        run.scheduleId ?? null,
      );
  }

  complete(id: string, c: RunCompletion): void {
    this.db
      .prepare(
        `UPDATE runs SET status = @status, exit_code = @exitCode, timed_out = @timedOut, cpu_ns = @cpuNs,
           memory_peak_bytes = @memoryPeakBytes, completed_at = @completedAt, duration_ms = @durationMs,
           stdout = @stdout, stderr = @stderr, stdout_bytes = @stdoutBytes, stderr_bytes = @stderrBytes,
           error = @error, agent = COALESCE(@agent, agent)
         WHERE id = @id`,
      )
      .run({ ...c, id, timedOut: c.timedOut ? 1 : 0, agent: c.agent ? JSON.stringify(c.agent) : null });
  }

  get(id: string): RunRecord | null {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row ? fromRow(row) : null;
  }

  output(id: string): { stdout: Buffer; stderr: Buffer; stdoutBytes: number; stderrBytes: number } | null {
    const row = this.db.prepare("SELECT stdout, stderr, stdout_bytes, stderr_bytes FROM runs WHERE id = ?").get(id) as
      | { stdout: Buffer | null; stderr: Buffer | null; stdout_bytes: number; stderr_bytes: number }
      | undefined;
    if (!row) return null;
    return {
      stdout: row.stdout ?? Buffer.alloc(0),
      stderr: row.stderr ?? Buffer.alloc(0),
      stdoutBytes: row.stdout_bytes,
      stderrBytes: row.stderr_bytes,
    };
  }

  /** Up to n runs of the box before `after` (started_at, rowid), newest first: the keyset box_runs pages by. */
  pageByBox(boxId: string, after: PageKey | null, n: number): { run: RunRecord; key: PageKey }[] {
    const from = after ? "AND (started_at, rowid) < (?, ?)" : "";
    const rows = this.db
      .prepare(
        `SELECT ${COLUMNS}, rowid AS seq FROM runs WHERE box_id = ? ${from} ORDER BY started_at DESC, rowid DESC LIMIT ?`,
      )
      .all(boxId, ...(after ?? []), n) as (RunRow & { seq: number })[];
    return rows.map((r) => ({ run: fromRow(r), key: [r.started_at, r.seq] }));
  }

  /** The box's agent runs added up: how many (prompts), their tokens and cost as the harnesses reported them. */
  agentTotals(boxId: string): { prompts: number; inputTokens: number; outputTokens: number; costUsd: number } {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS prompts,
           COALESCE(SUM(json_extract(agent, '$.usage.inputTokens')), 0) AS inputTokens,
           COALESCE(SUM(json_extract(agent, '$.usage.outputTokens')), 0) AS outputTokens,
           COALESCE(SUM(json_extract(agent, '$.costUsd')), 0) AS costUsd
         FROM runs WHERE box_id = ? AND type = 'agent'`,
      )
      .get(boxId) as { prompts: number; inputTokens: number; outputTokens: number; costUsd: number };
    return { ...row, costUsd: Math.round(row.costUsd * 1e6) / 1e6 };
  }

  hasLiveRun(boxId: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM runs WHERE box_id = ? AND status = 'running' LIMIT 1").get(boxId) !== undefined
    );
  }

  /** Runs left 'running' by a previous server process cannot be followed any more: mark them failed. */
  failInterrupted(now: string): number {
    return this.db
      .prepare(
        "UPDATE runs SET status = 'failed', completed_at = ?, error = 'interrupted: the server restarted while this run was in progress' WHERE status = 'running'",
      )
      .run(now).changes;
  }
}
