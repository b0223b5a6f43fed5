// `npm run bench:network`: the latency a box's network policy adds to one HTTP request, per mode, against
// allow-all, measured in one run against this run's own stand-in internet (containers it creates; no
// traffic leaves the machine). Requests are timed by curl inside the box, so exec overhead is not counted.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { silentLogger } from "../src/log.js";
import { startStandInInternet } from "../test/helpers/stand-in-internet.js";
import { writeNamedResults } from "./network-results.js";
import { percentiles } from "./stats.js";

const N = Number(process.env.BENCH_ITERATIONS ?? 30);

async function main(): Promise<void> {
  const inet = await startStandInInternet();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "boxd-bench-net-"));
  const app = await createApp(loadConfig({ BOXD_DATA_DIR: dataDir, BOXD_DNS_SERVERS: inet.dns }), silentLogger);
  const s = app.services;
  const made: string[] = [];
  try {
    const modes = {
      "allow-all": { policy: { mode: "allow-all" as const }, url: `http://${inet.webA}/` },
      "custom-cidr": {
        policy: { mode: "custom" as const, allowedCidrs: [`${inet.webA}/32`] },
        url: `http://${inet.webA}/`,
      },
      "custom-domain (proxy)": {
        policy: { mode: "custom" as const, allowedDomains: ["allowed.test"] },
        url: "http://allowed.test/",
      },
      "deny-all (time to refusal)": { policy: { mode: "deny-all" as const }, url: `http://${inet.webA}/` },
    };
    const figures: Record<string, { p50: number; p95: number; p99: number; ratio_p50: number; unit: string }> = {};
    let base = Number.NaN;
    for (const [name, m] of Object.entries(modes)) {
      const box = await s.boxes.create("local", { networkPolicy: m.policy });
      made.push(box.id);
      const script = `for i in $(seq 1 ${N}); do curl -s -o /dev/null -m 5 -w '%{time_total}\\n' ${m.url}; done`;
      const r = await s.runs.exec(box.id, { command: script, timeoutSeconds: 300 });
      const ms = r.stdout
        .toString("utf8")
        .trim()
        .split("\n")
        .map((x) => Number(x) * 1000)
        .filter((x) => Number.isFinite(x));
      const p = percentiles(ms.slice(2)); // the first requests warm up ARP, DNS and the proxy
      if (name === "allow-all") base = p.p50;
      figures[name] = { ...p, ratio_p50: Number((p.p50 / base).toFixed(2)), unit: "ms" };
      process.stderr.write(`[bench:network] ${name}: p50 ${p.p50.toFixed(2)} ms\n`);
    }
    process.stdout.write(`${writeNamedResults(path.resolve(import.meta.dirname, "results"), "network", figures)}\n`);
  } finally {
    for (const id of made) await s.boxes.delete("local", id).catch(() => {});
    await app.close();
    await inet.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`[bench:network] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
