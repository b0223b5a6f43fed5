// `npm run bench`: boxd through a real MCP client next to raw dockerode on the same image, interleaved in
// one run; prints p50/p95/p99 and boxd/raw ratios and writes bench/results/latest.{json,md}.
//
// Settings (env): BENCH_ITERATIONS (15) samples per side of the latency figures (exec: twice that),
// BENCH_TRANSFER_ITERATIONS (3) for the 100 MiB transfers, BENCH_WARMUP (1) unrecorded rounds per latency
// figure, BENCH_GROWTH_LEVELS (1,50,100,200) boxes present for the growth figure and idle_density (the
// last), BENCH_GVISOR_LEVELS (1,20) the same in the gVisor tier, BENCH_IDLE_SECONDS (35) idle at the top
// level, BENCH_ONLY (comma-separated figure names);
// BOXD_* settings are passed to the boxd under test (e.g. BOXD_POOL=node:small:2). A BENCH_ONLY run prints
// its figures but leaves bench/results/latest.* alone.
// Everything it creates (boxes, snapshots, raw containers and images, data and scratch dirs) is removed at
// the end, also on failure or Ctrl-C, and the engine is checked for leftovers before it exits.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { loadImageSet } from "../src/images/definitions.js";
import { BoxdBench, sweepInstance } from "./boxd-client.js";
import type { BenchContext, BenchOptions } from "./context.js";
import { execRoundTrip } from "./figures/exec.js";
import { growth } from "./figures/growth.js";
import { pooledTimeToInteractive, timeToInteractive } from "./figures/interactive.js";
import { previewRequest } from "./figures/preview.js";
import { resumeFrozen, resumeStopped } from "./figures/resume.js";
import { smallFileRw } from "./figures/small-file.js";
import { snapshot } from "./figures/snapshot.js";
import { transfers } from "./figures/transfer.js";
import { goals } from "./goals.js";
import { httpConcurrency } from "./http-concurrency.js";
import { RawDocker } from "./raw-docker.js";
import { machine, markdown, type Results, write } from "./report.js";
import { type Produces, runSteps, type Step } from "./steps.js";
import { gvisorTier, type TierResult } from "./tiers.js";

/** Each step measures one or more figures; BENCH_ONLY selects steps by any figure name they produce. */
const STEPS: Step[] = [
  { names: ["time_to_interactive", "box_create"], run: timeToInteractive },
  { names: ["time_to_interactive_pooled"], run: pooledTimeToInteractive },
  { names: ["exec_round_trip"], run: execRoundTrip },
  { names: ["small_file_rw"], run: smallFileRw },
  { names: ["upload_100mib", "download_100mib"], run: transfers },
  { names: ["resume_frozen"], run: resumeFrozen },
  { names: ["resume_stopped"], run: resumeStopped },
  { names: ["snapshot"], run: snapshot },
  { names: ["preview_request"], run: previewRequest },
  { names: ["growth", "idle_density"], run: growth },
  { names: ["bench_http"], run: async (ctx) => ({ bench_http: await httpConcurrency(ctx.log) }) },
];

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function levelsEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const levels = raw.split(",").map((s) => Number(s.trim()));
  if (!levels.length || levels.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${name} must be comma-separated integers >= 1 (boxes present), got "${raw}"`);
  }
  return levels;
}

function options(): BenchOptions {
  return {
    iterations: intEnv("BENCH_ITERATIONS", 15, 1),
    transferIterations: intEnv("BENCH_TRANSFER_ITERATIONS", 3, 1),
    warmup: intEnv("BENCH_WARMUP", 1, 0),
    growthLevels: levelsEnv("BENCH_GROWTH_LEVELS", [1, 50, 100, 200]),
    gvisorLevels: levelsEnv("BENCH_GVISOR_LEVELS", [1, 20]),
    idleSeconds: intEnv("BENCH_IDLE_SECONDS", 35, 1),
  };
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(): Promise<number> {
  const opts = options();
  const only = (process.env.BENCH_ONLY ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only.filter((n) => !STEPS.some((s) => s.names.includes(n)));
  if (unknown.length) throw new Error(`BENCH_ONLY names unknown figures: ${unknown.join(", ")}`);
  const steps = only.length ? STEPS.filter((s) => s.names.some((n) => only.includes(n))) : STEPS;

  // BOXD_* settings in the environment configure the boxd under test (e.g. BOXD_POOL); data dir and roots are the bench's.
  const boxdEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[0].startsWith("BOXD_") && !["BOXD_DATA_DIR", "BOXD_ROOTS"].includes(e[0]) && e[1] !== undefined,
    ),
  );
  const runId = `run${Date.now().toString(36)}`;
  const started = performance.now();
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), "boxd-bench-"));
  const problems: string[] = [];
  let raw: RawDocker | null = null;

  let cleaning: Promise<void> | null = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      log("cleaning up");
      await engineReachable(raw?.docker ?? new Docker(), 60_000);
      for (const b of [...BoxdBench.open]) {
        problems.push(...(await b.close().catch((err) => [`close boxd ${b.instanceId}: ${String(err)}`])));
      }
      if (raw) problems.push(...(await raw.sweep().catch((err) => [`sweep raw: ${String(err)}`])));
      rmSync(tmpDir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const figures: Produces = {};
  const errors: Record<string, string> = {};
  let gvisor: TierResult | null = null;
  let header: Pick<Results, "machine" | "date" | "settings"> | null = null;
  try {
    // The preview listener on a free port unless BOXD_PREVIEW_PORT says otherwise (preview_request).
    const boxd = await BoxdBench.start({ tmpDir, env: { BOXD_PREVIEW_PORT: "0", ...boxdEnv, BOXD_ROOTS: tmpDir } });
    const image = loadImageSet(boxd.config.baseImage).runtime("node").ref;
    raw = new RawDocker(image, runId, os.cpus().length);
    if (
      !(await raw.docker
        .getImage(image)
        .inspect()
        .catch(() => null))
    ) {
      throw new Error(`the node box image ${image} is not built: run \`npm run setup\` first`);
    }
    header = {
      machine: await machine(raw.docker),
      date: new Date().toISOString(),
      settings: {
        image,
        iterations: opts.iterations,
        exec_iterations: opts.iterations * 2,
        transfer_iterations: opts.transferIterations,
        warmup: opts.warmup,
        growth_levels: opts.growthLevels.join("/"),
        gvisor_levels: opts.gvisorLevels.join("/"),
        idle_seconds: opts.idleSeconds,
        boxd_env:
          Object.entries(boxdEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ") || "defaults",
        load_avg_at_start: os.loadavg()[0]?.toFixed(2) ?? "?",
      },
    };
    log(`${header.machine}`);
    log(`image ${image}; ${opts.iterations} samples per side (${opts.transferIterations} for transfers)`);
    const ctx: BenchContext = { ...opts, boxd, raw, tmpDir, log, problems, boxdEnv };
    const runc = await runSteps(ctx, steps);
    Object.assign(figures, runc.figures);
    Object.assign(errors, runc.errors);
    gvisor = await gvisorTier(ctx, steps);
  } finally {
    await cleanup();
  }

  if (header) {
    const results: Results = {
      machine: header.machine,
      date: header.date,
      figures,
      settings: { ...header.settings, load_avg_at_end: os.loadavg()[0]?.toFixed(2) ?? "?" },
      goals: goals(figures),
      ...(Object.keys(errors).length ? { errors } : {}),
      ...(gvisor ? { gvisor } : {}),
    };
    if (only.length) {
      // A partial run never replaces the full results.
      process.stdout.write(`${markdown(results)}\n`);
      log("BENCH_ONLY run: results printed, bench/results/latest.* left as they were");
    } else {
      const dir = path.resolve(import.meta.dirname, "results");
      mkdirSync(dir, { recursive: true });
      process.stdout.write(`${write(dir, results)}\n`);
      log(`wrote ${path.relative(process.cwd(), dir)}/latest.json and latest.md`);
    }
  }
  problems.push(...(await verifyClean(runId).catch((err) => [`could not check the engine for leftovers: ${err}`])));
  log(`boxd instances of this run: ${BoxdBench.instances.join(", ")}; raw objects labelled boxd.bench.run=${runId}`);
  log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (problems.length) log(`cleanup problems (boxd or engine leftovers):\n  ${problems.join("\n  ")}`);
  else log("cleanup verified: no container, network, image or firewall rule of this run is left");
  const tierFailed = gvisor && "errors" in gvisor && Object.keys(gvisor.errors).length > 0;
  return Object.keys(errors).length || problems.length || tierFailed ? 1 : 0;
}

/** Waits (up to `ms`) for the engine to answer, so that a restart of it mid-run does not leave leftovers. */
async function engineReachable(docker: Docker, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let warned = false; ; warned = true) {
    if (
      await docker.ping().then(
        () => true,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) return;
    if (!warned) log("the Docker engine does not answer; waiting up to 60 s for it before cleaning up");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Anything of this run still on the engine (each instance was swept on close; this double-checks). */
async function verifyClean(runId: string): Promise<string[]> {
  const left: string[] = [];
  for (const id of BoxdBench.instances) left.push(...(await sweepInstance(id)));
  const check = new RawDocker("", runId, 1);
  const filters = { label: [`boxd.bench.run=${runId}`] };
  for (const c of await check.docker.listContainers({ all: true, filters })) left.push(`raw container ${c.Id}`);
  for (const i of await check.docker.listImages({ filters })) left.push(`raw image ${i.Id}`);
  if (left.length) await check.sweep();
  return left;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
