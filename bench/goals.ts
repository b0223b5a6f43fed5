// The goals of issue 21 (performance round two), each judged from the figures of one run: met, not met
// (with the figure measured), or not measured when its figure was left out (BENCH_ONLY) or failed.
import type { HttpLoad } from "./http-concurrency.js";
import { type Figure, type Growth, type IdleDensity, isFigure, type Percentiles } from "./stats.js";

export interface Goal {
  figure: string;
  goal: string;
  met: boolean | null;
  measured: string;
}

export type Figures = Record<string, Figure | IdleDensity | Growth | HttpLoad>;

const unmeasured = (figure: string, goal: string): Goal => ({ figure, goal, met: null, measured: "not measured" });

function latency(figures: Figures, name: string, goal: string, limitMs: number): Goal {
  const f = figures[name];
  if (!isFigure(f)) return unmeasured(name, goal);
  return { figure: name, goal, met: f.boxd.p50 <= limitMs, measured: `p50 ${f.boxd.p50} ms` };
}

function coldStart(figures: Figures): Goal {
  const goal = "p50 <= 1.0x raw Docker with a network of its own";
  const f = figures.time_to_interactive;
  const own = isFigure(f) ? (f.raw_with_own_network as Percentiles | undefined) : undefined;
  if (!isFigure(f) || !own) return unmeasured("time_to_interactive", goal);
  const ratio = f.boxd.p50 / own.p50;
  return {
    figure: "time_to_interactive",
    goal,
    met: ratio <= 1.0,
    measured: `${ratio.toFixed(2)}x (p50 ${f.boxd.p50} ms vs ${own.p50} ms)`,
  };
}

function ratioGoal(figures: Figures, name: string, limit: number): Goal {
  const goal = `p50 <= ${limit.toFixed(1)}x raw`;
  const f = figures[name];
  if (!isFigure(f)) return unmeasured(name, goal);
  const own = f.raw_with_own_network as Percentiles | undefined;
  const beside = own ? `; ${(f.boxd.p50 / own.p50).toFixed(2)}x raw with a network of its own, ${own.p50} ms` : "";
  return {
    figure: name,
    goal,
    met: f.ratio_p50 <= limit,
    measured: `${f.ratio_p50}x (p50 ${f.boxd.p50} ms vs ${f.raw.p50} ms${beside})`,
  };
}

function transfer(figures: Figures, name: string): Goal {
  const goal = ">= 1.0x raw archive API throughput, server RSS growth <= 32 MiB";
  const f = figures[name];
  const tp = isFigure(f) ? (f.throughput_mib_s as { boxd: number; raw: number } | undefined) : undefined;
  const growth = isFigure(f) ? (f.server_rss_growth_mb as { boxd: number } | undefined) : undefined;
  if (!tp || !growth) return unmeasured(name, goal);
  const ratio = tp.boxd / tp.raw;
  return {
    figure: name,
    goal,
    met: ratio >= 1.0 && growth.boxd <= 32,
    measured: `${ratio.toFixed(2)}x (${tp.boxd} vs ${tp.raw} MiB/s), RSS +${growth.boxd} MiB`,
  };
}

function density(figures: Figures): Goal {
  const goal = "200 idle boxes: <= 1 MiB per box's container, server RSS <= 250 MiB, server CPU <= 1% of a core";
  const d = figures.idle_density as IdleDensity | undefined;
  if (!d) return unmeasured("idle_density", goal);
  const perBox = Number(d.box_working_set_mb_avg ?? d.box_memory_mb_avg);
  return {
    figure: "idle_density",
    goal,
    met: d.boxes >= 200 && perBox <= 1 && d.server_rss_mb <= 250 && d.idle_cpu_pct <= 1,
    measured: `${d.boxes} boxes: ${perBox} MiB per box (working set; ${d.box_memory_mb_avg} MiB with page cache), server RSS ${d.server_rss_mb} MiB, CPU ${d.idle_cpu_pct}%`,
  };
}

function growth(figures: Figures): Goal {
  const goal = "create, exec and policy change with the most boxes present within 1.3x of one box";
  const g = figures.growth as Growth | undefined;
  if (!g?.levels?.length) return unmeasured("growth", goal);
  const r = g.ratio_top_to_first;
  const top = g.levels[g.levels.length - 1]?.boxes;
  return {
    figure: "growth",
    goal,
    met: (top ?? 0) >= 200 && r.box_create <= 1.3 && r.exec <= 1.3 && r.policy_change <= 1.3,
    measured: `at ${top} boxes: create ${r.box_create}x, exec ${r.exec}x, policy change ${r.policy_change}x (raw create ${r.raw_create_own_network}x, raw exec ${r.raw_exec}x)`,
  };
}

function httpLoad(figures: Figures): Goal {
  const goal = "50 clients over Streamable HTTP: 0 errors, throughput >= 3x raw docker exec, p99 <= 3x p50";
  const h = figures.bench_http as HttpLoad | undefined;
  if (!h) return unmeasured("bench_http", goal);
  const spread = h.latency_ms.p99 / h.latency_ms.p50;
  return {
    figure: "bench_http",
    goal,
    met: h.errors === 0 && h.throughput_ratio_to_raw >= 3 && spread <= 3,
    measured: `${h.errors} errors, ${h.throughput_ratio_to_raw}x raw throughput (${h.throughput_calls_per_s} calls/s), p99 ${spread.toFixed(2)}x p50 (${h.latency_ms.p99} / ${h.latency_ms.p50} ms)`,
  };
}

export function goals(figures: Figures): Goal[] {
  return [
    latency(figures, "exec_round_trip", "p50 <= 12 ms", 12),
    latency(figures, "time_to_interactive_pooled", "p50 <= 35 ms", 35),
    coldStart(figures),
    ratioGoal(figures, "resume_stopped", 1.1),
    transfer(figures, "upload_100mib"),
    transfer(figures, "download_100mib"),
    density(figures),
    growth(figures),
    httpLoad(figures),
  ];
}
