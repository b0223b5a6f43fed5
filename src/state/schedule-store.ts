// Persistence of schedules (src/schedules/): what to run, when next, and how the last fires went.
import type { Db } from "./db.js";

export const SCHEDULE_STATUSES = ["active", "paused"] as const;
export type ScheduleStatus = (typeof SCHEDULE_STATUSES)[number];
export const SCHEDULE_RUN_STATUSES = ["completed", "failed", "skipped"] as const;
export type ScheduleRunStatus = (typeof SCHEDULE_RUN_STATUSES)[number];

/** An agent schedule's run settings (a prompt schedule has one). */
export interface ScheduleAgent {
  harness?: string;
  model?: string;
  /** The custom harness's command line. */
  harnessCommand?: string;
  options?: Record<string, unknown>;
}

export interface ScheduleRecord {
  id: string;
  tenant: string;
  boxId: string;
  cron: string;
  timezone: string;
  command: string | null;
  prompt: string | null;
  agent: ScheduleAgent | null;
  timeoutSeconds: number | null;
  webhookUrl: string | null;
  status: ScheduleStatus;
  createdAt: string;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastRunStatus: ScheduleRunStatus | null;
  lastRunId: string | null;
  totalRuns: number;
  totalFailures: number;
}

interface Row {
  id: string;
  tenant: string;
  box_id: string;
  cron: string;
  timezone: string;
  command: string | null;
  prompt: string | null;
  agent: string | null;
  timeout_seconds: number | null;
  webhook_url: string | null;
  status: string;
  created_at: string;
  next_run_at: string | null;
  last_run_at: string | null;
  last_run_status: string | null;
  last_run_id: string | null;
  total_runs: number;
  total_failures: number;
}

function fromRow(r: Row): ScheduleRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    boxId: r.box_id,
    cron: r.cron,
    timezone: r.timezone,
    command: r.command,
    prompt: r.prompt,
    agent: r.agent ? (JSON.parse(r.agent) as ScheduleAgent) : null,
    timeoutSeconds: r.timeout_seconds,
    webhookUrl: r.webhook_url,
    status: r.status as ScheduleStatus,
    createdAt: r.created_at,
    nextRunAt: r.next_run_at,
    lastRunAt: r.last_run_at,
    lastRunStatus: r.last_run_status as ScheduleRunStatus | null,
    lastRunId: r.last_run_id,
    totalRuns: r.total_runs,
    totalFailures: r.total_failures,
  };
}

export class ScheduleStore {
  constructor(private readonly db: Db) {}

  insert(s: ScheduleRecord): void {
    this.db
      .prepare(
        `INSERT INTO schedules (id, tenant, box_id, cron, timezone, command, prompt, agent, timeout_seconds,
           webhook_url, status, created_at, next_run_at, total_runs, total_failures)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)`,
      )
      .run(
        s.id,
        s.tenant,
        s.boxId,
        s.cron,
        s.timezone,
        s.command,
        s.prompt,
        s.agent ? JSON.stringify(s.agent) : null,
        s.timeoutSeconds,
        s.webhookUrl,
        s.status,
        s.createdAt,
        s.nextRunAt,
      );
  }

  get(id: string): ScheduleRecord | null {
    const row = this.db.prepare("SELECT * FROM schedules WHERE id = ?").get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  list(tenant: string, boxId?: string): ScheduleRecord[] {
    const rows = boxId
      ? this.db
          .prepare("SELECT * FROM schedules WHERE tenant = ? AND box_id = ? ORDER BY created_at")
          .all(tenant, boxId)
      : this.db.prepare("SELECT * FROM schedules WHERE tenant = ? ORDER BY created_at").all(tenant);
    return (rows as Row[]).map(fromRow);
  }

  /** Active schedules, soonest first (the scheduler's view). */
  active(): ScheduleRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM schedules WHERE status = 'active' AND next_run_at IS NOT NULL ORDER BY next_run_at")
      .all() as Row[];
    return rows.map(fromRow);
  }

  setStatus(id: string, status: ScheduleStatus, nextRunAt: string | null): void {
    this.db.prepare("UPDATE schedules SET status = ?, next_run_at = ? WHERE id = ?").run(status, nextRunAt, id);
  }

  setNext(id: string, nextRunAt: string | null): void {
    this.db.prepare("UPDATE schedules SET next_run_at = ? WHERE id = ?").run(nextRunAt, id);
  }

  /** A fire: started a run (counted), or skipped / failed to start (recorded, `failed` counted as a failure). */
  recordFire(id: string, at: string, status: ScheduleRunStatus | null, runId: string | null): void {
    this.db
      .prepare(
        `UPDATE schedules SET last_run_at = ?, last_run_status = ?, last_run_id = COALESCE(?, last_run_id),
           total_runs = total_runs + ?, total_failures = total_failures + ? WHERE id = ?`,
      )
      .run(at, status, runId, runId ? 1 : 0, status === "failed" ? 1 : 0, id);
  }

  /** The end of a run the schedule started: a failure counts; the status shows when it is still the last fire. */
  recordEnd(id: string, runId: string, status: "completed" | "failed"): void {
    this.db
      .prepare(
        `UPDATE schedules SET total_failures = total_failures + ?,
           last_run_status = CASE WHEN last_run_id = ? AND last_run_status IS NULL THEN ? ELSE last_run_status END
         WHERE id = ?`,
      )
      .run(status === "failed" ? 1 : 0, runId, status, id);
  }

  delete(id: string): boolean {
    return this.db.prepare("DELETE FROM schedules WHERE id = ?").run(id).changes > 0;
  }

  deleteByBox(boxId: string): number {
    return this.db.prepare("DELETE FROM schedules WHERE box_id = ?").run(boxId).changes;
  }
}
