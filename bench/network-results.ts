// Result files of the network benchmark (kept apart from the main suite's files).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Percentiles } from "./stats.js";

export function writeNamedResults(
  dir: string,
  name: string,
  figures: Record<string, Percentiles & { ratio_p50: number; unit: string }>,
): string {
  mkdirSync(dir, { recursive: true });
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB`;
  const date = new Date().toISOString();
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify({ machine, date, figures }, null, 2)}\n`);
  const md = [
    `Machine: ${machine}; date: ${date}`,
    "",
    "| mode | p50 | p95 | p99 | ratio to allow-all (p50) |",
    "| --- | --- | --- | --- | --- |",
    ...Object.entries(figures).map(
      ([k, f]) =>
        `| ${k} | ${f.p50.toFixed(2)} ${f.unit} | ${f.p95.toFixed(2)} | ${f.p99.toFixed(2)} | ${f.ratio_p50.toFixed(2)}x |`,
    ),
    "",
  ].join("\n");
  writeFileSync(path.join(dir, `${name}.md`), md);
  return md;
}
