// Persistence of box logs: an append-only table, bounded per box (oldest entries dropped first).
import type { Db } from "./db.js";

export const LOG_LEVELS = ["info", "warn", "error"] as const;
export const LOG_SOURCES = ["system", "agent", "user"] as const;

export interface LogEntry {
  seq: number;
  timestamp: string;
  level: (typeof LOG_LEVELS)[number];
  source: (typeof LOG_SOURCES)[number];
  message: string;
}

export class LogStore {
  private appendsSincePrune = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly maxEntries: number,
  ) {}

  append(boxId: string, entry: Omit<LogEntry, "seq">): number {
    const res = this.db
      .prepare("INSERT INTO logs (box_id, timestamp, level, source, message) VALUES (?, ?, ?, ?, ?)")
      .run(boxId, entry.timestamp, entry.level, entry.source, entry.message);
    // Prune in batches: a DELETE per append would double the write cost of every log line.
    const n = (this.appendsSincePrune.get(boxId) ?? 0) + 1;
    if (n >= Math.max(1, Math.floor(this.maxEntries / 10))) {
      this.prune(boxId);
      this.appendsSincePrune.set(boxId, 0);
    } else {
      this.appendsSincePrune.set(boxId, n);
    }
    return Number(res.lastInsertRowid);
  }

  prune(boxId: string): void {
    this.db
      .prepare(
        `DELETE FROM logs WHERE box_id = ? AND seq <= (
           SELECT seq FROM logs WHERE box_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      )
      .run(boxId, boxId, this.maxEntries);
  }

  /** The newest `n` entries, oldest first (without reading the rest). */
  newest(boxId: string, n: number): LogEntry[] {
    const rows = this.db
      .prepare("SELECT seq, timestamp, level, source, message FROM logs WHERE box_id = ? ORDER BY seq DESC LIMIT ?")
      .all(boxId, n) as LogEntry[];
    return rows.reverse();
  }

  /** Entries oldest first; `offset` counts from the oldest entry kept. */
  list(boxId: string, opts: { offset?: number; limit?: number; since?: string } = {}): LogEntry[] {
    const args: unknown[] = [boxId];
    let where = "box_id = ?";
    if (opts.since) {
      where += " AND timestamp >= ?";
      args.push(opts.since);
    }
    args.push(opts.limit ?? 1000, opts.offset ?? 0);
    return this.db
      .prepare(`SELECT seq, timestamp, level, source, message FROM logs WHERE ${where} ORDER BY seq LIMIT ? OFFSET ?`)
      .all(...args) as LogEntry[];
  }

  count(boxId: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM logs WHERE box_id = ?").get(boxId) as { n: number }).n;
  }

  deleteBox(boxId: string): void {
    this.db.prepare("DELETE FROM logs WHERE box_id = ?").run(boxId);
  }
}
