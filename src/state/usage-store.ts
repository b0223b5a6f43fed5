// Persistence of each box's usage ledger (src/usage/usage-ledger.ts): the CPU and memory of its earlier
// container lifetimes and the last reading of the current one. Pure data access.
import type { UsageLedger } from "../usage/usage-ledger.js";
import type { Db } from "./db.js";

interface LedgerRow {
  base_cpu_ns: number;
  base_memory_peak_bytes: number;
  last_cpu_ns: number;
  last_memory_peak_bytes: number;
  started_at: string | null;
}

export class UsageStore {
  constructor(private readonly db: Db) {}

  get(boxId: string): UsageLedger | null {
    const r = this.db
      .prepare(
        `SELECT base_cpu_ns, base_memory_peak_bytes, last_cpu_ns, last_memory_peak_bytes, started_at
         FROM box_usage WHERE box_id = ?`,
      )
      .get(boxId) as LedgerRow | undefined;
    if (!r) return null;
    return {
      baseCpuNs: r.base_cpu_ns,
      baseMemoryPeakBytes: r.base_memory_peak_bytes,
      lastCpuNs: r.last_cpu_ns,
      lastMemoryPeakBytes: r.last_memory_peak_bytes,
      startedAt: r.started_at,
    };
  }

  /** Stores the box's ledger as of `sampledAt`, and where its last reading came from. */
  put(boxId: string, ledger: UsageLedger, sampledAt: string, source: string): void {
    this.db
      .prepare(
        `INSERT INTO box_usage (box_id, base_cpu_ns, base_memory_peak_bytes, last_cpu_ns, last_memory_peak_bytes,
           started_at, sampled_at, source)
         VALUES (@boxId, @baseCpuNs, @baseMemoryPeakBytes, @lastCpuNs, @lastMemoryPeakBytes, @startedAt, @sampledAt, @source)
         ON CONFLICT(box_id) DO UPDATE SET base_cpu_ns = excluded.base_cpu_ns,
           base_memory_peak_bytes = excluded.base_memory_peak_bytes, last_cpu_ns = excluded.last_cpu_ns,
           last_memory_peak_bytes = excluded.last_memory_peak_bytes, started_at = excluded.started_at,
           sampled_at = excluded.sampled_at, source = excluded.source`,
      )
      .run({ boxId, ...ledger, sampledAt, source });
  }

  /** One point of the box's usage history: its total CPU time so far and its memory in use at `at`. */
  addSample(boxId: string, at: string, cpuNs: number, memoryBytes: number): void {
    this.db
      .prepare("INSERT INTO usage_samples (box_id, at, cpu_ns, memory_bytes) VALUES (?, ?, ?, ?)")
      .run(boxId, at, cpuNs, memoryBytes);
  }

  /** The box's history since `since` (ISO), oldest first. */
  samples(boxId: string, since: string): UsageSample[] {
    return this.db
      .prepare(
        "SELECT at, cpu_ns AS cpuNs, memory_bytes AS memoryBytes FROM usage_samples WHERE box_id = ? AND at >= ? ORDER BY at",
      )
      .all(boxId, since) as UsageSample[];
  }

  /** Drops points older than `before` (ISO), and every point of boxes that are gone. */
  prune(before: string): void {
    this.db
      .prepare("DELETE FROM usage_samples WHERE at < ? OR box_id IN (SELECT id FROM boxes WHERE status = 'deleted')")
      .run(before);
  }
}

export interface UsageSample {
  at: string;
  cpuNs: number;
  memoryBytes: number;
}
