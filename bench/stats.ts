// Percentiles and the figure shape of bench/results/latest.json: boxd and raw Docker percentiles side by
// side, and the boxd/raw ratio of the medians (> 1 means boxd is slower).

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Nearest-rank percentiles; with 15 samples p95 and p99 are both the largest sample. */
export function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)) };
}

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Figure {
  boxd: Percentiles;
  raw: Percentiles;
  ratio_p50: number;
  unit: string;
  /** Samples per side. */
  n: number;
  /** Figure-specific extras (throughput, RSS, ...). */
  [extra: string]: unknown;
}

/** A boxd-vs-raw figure (not idle density, growth or the HTTP load). */
export const isFigure = (f: unknown): f is Figure => typeof f === "object" && f !== null && "ratio_p50" in f;

export interface Samples {
  boxd: number[];
  raw: number[];
}

export function figure(samples: Samples, unit = "ms", extra: Record<string, unknown> = {}): Figure {
  const b = percentiles(samples.boxd);
  const r = percentiles(samples.raw);
  return {
    boxd: b,
    raw: r,
    ratio_p50: round(b.p50 / r.p50, 2),
    unit,
    n: Math.min(samples.boxd.length, samples.raw.length),
    ...extra,
  };
}

export interface IdleDensity {
  boxes: number;
  server_rss_mb: number;
  idle_cpu_pct: number;
  [extra: string]: unknown;
}

export interface GrowthLevel {
  boxes: number;
  box_create: Percentiles;
  exec: Percentiles;
  policy_change: Percentiles;
  raw_create_own_network: Percentiles;
  raw_exec: Percentiles;
  server_rss_mb: number;
  idle_cpu_pct: number;
}

/** Latency as boxes accumulate (bench/figures/growth.ts). */
export interface Growth {
  levels: GrowthLevel[];
  /** Top level's p50 / first level's p50, per operation. */
  ratio_top_to_first: Record<"box_create" | "exec" | "policy_change" | "raw_create_own_network" | "raw_exec", number>;
  [extra: string]: unknown;
}

/** Milliseconds since `t0` (a performance.now() reading). */
export const since = (t0: number): number => performance.now() - t0;

/** Times one async step. */
export async function timed(step: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await step();
  return since(t0);
}

/**
 * Interleaved samples: boxd, raw, boxd, raw, ... so that both sides see the same machine conditions.
 * `warmup` rounds run first and are not recorded (first-call costs: JIT, page cache, engine caches).
 */
export async function interleave(
  n: number,
  warmup: number,
  boxd: (i: number) => Promise<number>,
  raw: (i: number) => Promise<number>,
  progress?: (done: number, total: number) => void,
): Promise<Samples> {
  const out: Samples = { boxd: [], raw: [] };
  for (let i = -warmup; i < n; i++) {
    const b = await boxd(i);
    const r = await raw(i);
    if (i >= 0) {
      out.boxd.push(b);
      out.raw.push(r);
      progress?.(i + 1, n);
    }
  }
  return out;
}
