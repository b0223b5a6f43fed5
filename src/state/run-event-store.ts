// Persistence of agent runs' structured events (box_run_events): one row per event, numbered per run from
// 1, so a reader's cursor is simply the last number it has seen.
import type { Db } from "./db.js";

export interface StoredRunEvent {
  seq: number;
  type: string;
  /** The event's fields as JSON (without `type`). */
  data: string;
  at: string;
}

export class RunEventStore {
  constructor(private readonly db: Db) {}

  append(runId: string, seq: number, type: string, data: string): void {
    this.db
      .prepare("INSERT INTO run_events (run_id, seq, type, data, at) VALUES (?, ?, ?, ?, ?)")
      .run(runId, seq, type, data, new Date().toISOString());
  }

  /** Up to `limit` events of the run after `after` (its seq), oldest first. */
  after(runId: string, after: number, limit: number): StoredRunEvent[] {
    return this.db
      .prepare("SELECT seq, type, data, at FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
      .all(runId, after, limit) as StoredRunEvent[];
  }

  /** The last seq stored for the run (0 when none): a recorder resumes numbering from it. */
  lastSeq(runId: string): number {
    const row = this.db.prepare("SELECT MAX(seq) AS seq FROM run_events WHERE run_id = ?").get(runId) as {
      seq: number | null;
    };
    return row.seq ?? 0;
  }
}
