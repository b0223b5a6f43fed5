// bench/results/latest.json and latest.md: the machine, the date, every figure, and the goals of issue 21
// (bench/goals.ts) with whether they are met.
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import type Docker from "dockerode";
import type { Figures, Goal } from "./goals.js";
import { describeHttpLoad, type HttpLoad } from "./http-concurrency.js";
import { type Growth, type IdleDensity, isFigure, type Percentiles } from "./stats.js";

export interface Results {
  machine: string;
  date: string;
  figures: Figures;
  settings: Record<string, number | string>;
  goals: Goal[];
  errors?: Record<string, string>;
  /** The gVisor tier's figures (bench/tiers.ts), or why it was not measured. */
  gvisor?: { figures: Figures; errors: Record<string, string> } | { skipped: string };
}

export async function machine(docker: Docker): Promise<string> {
  const cpus = os.cpus();
  const model = (cpus[0]?.model ?? "cpu").replace(/\s+/g, " ").trim();
  let distro = `${os.platform()}`;
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? distro;
  } catch {}
  const engine = await docker
    .version()
    .then((v) => `Docker engine ${v.Version} (API ${v.ApiVersion})`)
    .catch(() => "Docker engine ?");
  const mem = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `${cpus.length} x ${model}, ${mem} GiB RAM, ${distro}, kernel ${os.release()}, ${engine}, Node ${process.version}`;
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "-");

export function markdown(r: Results): string {
  const rows: string[] = [];
  const notes: string[] = [];
  for (const [name, f] of Object.entries(r.figures)) {
    if (!isFigure(f)) continue;
    rows.push(
      `| ${name} | ${fmt(f.boxd.p50)} | ${fmt(f.boxd.p95)} | ${fmt(f.boxd.p99)} | ${fmt(f.raw.p50)} | ${fmt(f.raw.p95)} | ${fmt(f.raw.p99)} | ${f.ratio_p50.toFixed(2)}x | ${f.n} |`,
    );
    const ownNet = f.raw_with_own_network as Percentiles | undefined;
    if (ownNet) {
      notes.push(
        `- ${name} breakdown: raw with a network of its own per container (as boxd makes per box) p50 ${fmt(ownNet.p50)} ms, p95 ${fmt(ownNet.p95)} ms`,
      );
    }
    const wrapper = f.raw_exec_of_boxd_run as Percentiles | undefined;
    if (wrapper) {
      notes.push(
        `- ${name} breakdown: raw docker exec of the in-box wrapper \`boxd-run\` (what box_exec runs) p50 ${fmt(wrapper.p50)} ms, p95 ${fmt(wrapper.p95)} ms`,
      );
    }
    const tp = f.throughput_mib_s as { boxd: number; raw: number } | undefined;
    const rss = f.server_rss_peak_mb as { boxd: number; raw: number } | undefined;
    const growth = f.server_rss_growth_mb as { boxd: number; raw: number } | undefined;
    if (tp && rss && growth) {
      notes.push(
        `- ${name}: ${fmt(tp.boxd)} MiB/s boxd vs ${fmt(tp.raw)} MiB/s raw (p50); server RSS peak ${fmt(rss.boxd)} MiB (+${fmt(growth.boxd)} during the transfer) vs ${fmt(rss.raw)} MiB (+${fmt(growth.raw)}) for raw`,
      );
    }
    const sides = f.requests_per_second as { proxy: number; direct: number; ratio: number } | undefined;
    const dl = f.download_16mib_mib_s as { proxy: number; direct: number; ratio: number } | undefined;
    if (sides && dl) {
      notes.push(
        `- ${name} (boxd = through the preview listener, raw = direct to the box's address): ${fmt(sides.proxy)} requests/s vs ${fmt(sides.direct)} direct at 8 clients (${sides.ratio.toFixed(2)}x); a 16 MiB download at ${fmt(dl.proxy)} MiB/s vs ${fmt(dl.direct)} direct (${dl.ratio.toFixed(2)}x)`,
      );
    }
  }
  const d = r.figures.idle_density as IdleDensity | undefined;
  if (d) notes.push(densityLine(d));
  const http = r.figures.bench_http as HttpLoad | undefined;
  if (http) notes.push("- bench_http:", ...describeHttpLoad(http).map((l) => `  - ${l.trim()}`));
  const goalLines = r.goals.map(
    (g) =>
      `- ${g.figure} ${g.goal}: ${g.met === null ? "not measured" : `${g.met ? "met" : "**not met yet**"} (${g.measured})`}`,
  );
  const errors = Object.entries(r.errors ?? {}).map(([k, v]) => `- ${k}: FAILED: ${v.split("\n")[0]}`);
  return [
    `Machine: ${r.machine}  `,
    `Date: ${r.date}; ${Object.entries(r.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
    "",
    "Times in ms (transfers: ms per 100 MiB); boxd through an MCP client vs raw dockerode on the same image, interleaved; ratio = boxd p50 / raw p50.",
    "",
    "| figure | boxd p50 | boxd p95 | boxd p99 | raw p50 | raw p95 | raw p99 | ratio p50 | n |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    ...notes,
    "",
    ...growthSection(r.figures.growth as Growth | undefined),
    "Goals (issue 21):",
    "",
    ...goalLines,
    ...(errors.length ? ["", "Errors:", "", ...errors] : []),
    "",
    ...tierSection(r),
  ].join("\n");
}

function densityLine(d: IdleDensity): string {
  const ws =
    d.box_working_set_mb_avg === undefined ? "" : `, ${fmt(Number(d.box_working_set_mb_avg))} MiB less page cache`;
  return `- idle_density: ${d.boxes} idle boxes; server RSS ${fmt(d.server_rss_mb)} MiB (${fmt(Number(d.server_rss_baseline_mb))} MiB before them); server CPU ${d.idle_cpu_pct}% of a core over ${d.idle_seconds} s idle; each idle box's container uses ${fmt(Number(d.box_memory_mb_avg))} MiB${ws}`;
}

/** Latency p50 (ms) by boxes present, and the top level over the first. */
function growthSection(g: Growth | undefined): string[] {
  if (!g?.levels?.length) return [];
  const rows = g.levels.map(
    (l) =>
      `| ${l.boxes} | ${fmt(l.box_create.p50)} | ${fmt(l.exec.p50)} | ${fmt(l.policy_change.p50)} | ${fmt(l.raw_create_own_network.p50)} | ${fmt(l.raw_exec.p50)} | ${fmt(l.server_rss_mb)} | ${l.idle_cpu_pct} |`,
  );
  const r = g.ratio_top_to_first;
  return [
    "Growth: p50 in ms with this many boxes present (raw: the same engine at the same moment; RSS in MiB and CPU in % of a core while they sat idle):",
    "",
    "| boxes | box_create | box_exec | box_set_network_policy | raw create + own network | raw exec | server RSS | server CPU % |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    `| last / first | ${r.box_create}x | ${r.exec}x | ${r.policy_change}x | ${r.raw_create_own_network}x | ${r.raw_exec}x | | |`,
    "",
  ];
}

/** The gVisor tier: its own table against raw runsc, and boxd's p50 in both tiers side by side. */
function tierSection(r: Results): string[] {
  const g = r.gvisor;
  if (!g) return [];
  if ("skipped" in g) return [`gVisor tier: not measured (${g.skipped}).`, ""];
  const rows: string[] = [];
  const sideBySide: string[] = [];
  for (const [name, f] of Object.entries(g.figures)) {
    if (!isFigure(f)) continue;
    rows.push(
      `| ${name} | ${fmt(f.boxd.p50)} | ${fmt(f.boxd.p95)} | ${fmt(f.raw.p50)} | ${fmt(f.raw.p95)} | ${f.ratio_p50.toFixed(2)}x | ${f.n} |`,
    );
    const runc = r.figures[name];
    if (runc && isFigure(runc)) {
      sideBySide.push(
        `| ${name} | ${fmt(runc.boxd.p50)} | ${fmt(f.boxd.p50)} | ${(f.boxd.p50 / runc.boxd.p50).toFixed(2)}x |`,
      );
    }
  }
  const d = g.figures.idle_density as IdleDensity | undefined;
  const dr = r.figures.idle_density as IdleDensity | undefined;
  const notes = d ? [densityLine(d), ""] : [];
  if (d && dr) {
    const a = Number(dr.box_memory_mb_avg);
    const b = Number(d.box_memory_mb_avg);
    sideBySide.push(`| idle memory per box (MiB) | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(2)}x |`);
  }
  const errors = Object.entries(g.errors).map(([k, v]) => `- ${k}: FAILED: ${v.split("\n")[0]}`);
  return [
    "## gVisor tier",
    "",
    "boxd with BOXD_ISOLATION=gvisor vs raw Docker containers with the runsc runtime, same image, same run.",
    "",
    "| figure | boxd p50 | boxd p95 | raw p50 | raw p95 | ratio p50 | n |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    ...notes,
    ...growthSection(g.figures.growth as Growth | undefined),
    "boxd p50 in both tiers (ms unless said):",
    "",
    "| figure | runc | gVisor | gVisor / runc |",
    "| --- | ---: | ---: | ---: |",
    ...sideBySide,
    ...(errors.length ? ["", "Errors:", "", ...errors] : []),
    "",
  ];
}

export function write(dir: string, r: Results): string {
  writeFileSync(`${dir}/latest.json`, `${JSON.stringify(r, null, 2)}\n`);
  const md = markdown(r);
  writeFileSync(`${dir}/latest.md`, md);
  return md;
}
