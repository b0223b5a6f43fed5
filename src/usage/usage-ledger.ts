// A box's CPU and memory total across its container's lifetimes, as pure data and one fold. The kernel
// counts per cgroup, and a container's cgroup goes when it stops (a stopped pause, a restart): its
// counters start again from zero at the next start. So the ledger keeps a base (what earlier lifetimes
// used) and the last reading of the current one; a reading with another StartedAt is a new lifetime, and
// the last reading of the old one moves into the base. Total = base + last reading.

export interface UsageLedger {
  /** CPU ns of the lifetimes before the current one. */
  baseCpuNs: number;
  /** The highest memory peak of those lifetimes. */
  baseMemoryPeakBytes: number;
  /** The current lifetime's last reading. */
  lastCpuNs: number;
  lastMemoryPeakBytes: number;
  /** The StartedAt of the lifetime `last*` belongs to; null before the first reading. */
  startedAt: string | null;
}

export interface LifetimeReading {
  cpuNs: number;
  memoryPeakBytes: number;
  startedAt: string;
}

export interface UsageTotal {
  cpuNs: number;
  memoryPeakBytes: number;
}

/**
 * A ledger before its first reading. `seed` is what the box's runs had measured before boxd read its
 * cgroup (boxes made by an earlier version): the first reading keeps the larger of the two totals.
 */
export function newLedger(seed: UsageTotal = { cpuNs: 0, memoryPeakBytes: 0 }): UsageLedger {
  return {
    baseCpuNs: seed.cpuNs,
    baseMemoryPeakBytes: seed.memoryPeakBytes,
    lastCpuNs: 0,
    lastMemoryPeakBytes: 0,
    startedAt: null,
  };
}

/** The ledger with one more reading folded in. Readings may arrive late or twice: the total never drops. */
export function fold(ledger: UsageLedger, reading: LifetimeReading): UsageLedger {
  if (ledger.startedAt === reading.startedAt) {
    // The same lifetime: its counters only grow; a reading taken earlier but stored later changes nothing.
    return {
      ...ledger,
      lastCpuNs: Math.max(ledger.lastCpuNs, reading.cpuNs),
      lastMemoryPeakBytes: Math.max(ledger.lastMemoryPeakBytes, reading.memoryPeakBytes),
    };
  }
  if (ledger.startedAt === null) {
    // The first reading. The seed came from runs inside this very lifetime, which its counter includes:
    // keep whichever total is larger rather than adding them.
    return {
      ...ledger,
      baseCpuNs: Math.max(0, ledger.baseCpuNs - reading.cpuNs),
      lastCpuNs: reading.cpuNs,
      lastMemoryPeakBytes: reading.memoryPeakBytes,
      startedAt: reading.startedAt,
    };
  }
  // A reading of an older lifetime than the one already recorded (it raced a restart): nothing new in it.
  if (startedBefore(reading.startedAt, ledger.startedAt)) return ledger;
  return {
    baseCpuNs: ledger.baseCpuNs + ledger.lastCpuNs,
    baseMemoryPeakBytes: Math.max(ledger.baseMemoryPeakBytes, ledger.lastMemoryPeakBytes),
    lastCpuNs: reading.cpuNs,
    lastMemoryPeakBytes: reading.memoryPeakBytes,
    startedAt: reading.startedAt,
  };
}

export function totalOf(ledger: UsageLedger): UsageTotal {
  return {
    cpuNs: ledger.baseCpuNs + ledger.lastCpuNs,
    memoryPeakBytes: Math.max(ledger.baseMemoryPeakBytes, ledger.lastMemoryPeakBytes),
  };
}

/**
 * Whether StartedAt `a` is before `b`. Docker writes RFC 3339 with nanoseconds and trailing zeros trimmed,
 * so the strings do not sort; milliseconds tell two starts of one container apart (a start takes longer).
 */
function startedBefore(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isFinite(ta) && Number.isFinite(tb) && ta < tb;
}
