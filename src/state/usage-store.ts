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
}
