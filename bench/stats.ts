// Percentiles and result files for the benchmarks.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

export interface Figure {
  boxd: Percentiles;
  raw: Percentiles;
  ratio_p50: number;
  unit: string;
}

export function figure(boxd: number[], raw: number[], unit = "ms"): Figure {
  const b = percentiles(boxd);
  const r = percentiles(raw);
  return { boxd: b, raw: r, ratio_p50: Number((b.p50 / r.p50).toFixed(2)), unit };
}

export function machine(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.platform()} ${os.release()}`;
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");

export function writeResults(dir: string, figures: Record<string, Figure>): string {
  mkdirSync(dir, { recursive: true });
  const result = { machine: machine(), date: new Date().toISOString(), figures };
  writeFileSync(path.join(dir, "latest.json"), `${JSON.stringify(result, null, 2)}\n`);
  const rows = Object.entries(figures).map(
    ([name, f]) =>
      `| ${name} | ${fmt(f.boxd.p50)} | ${fmt(f.boxd.p95)} | ${fmt(f.raw.p50)} | ${fmt(f.raw.p95)} | ${f.ratio_p50.toFixed(2)}x | ${f.unit} |`,
  );
  const md = [
    `Machine: ${result.machine}; date: ${result.date}`,
    "",
    "| figure | boxd p50 | boxd p95 | raw Docker p50 | raw Docker p95 | ratio (p50) | unit |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
  writeFileSync(path.join(dir, "latest.md"), md);
  return md;
}
