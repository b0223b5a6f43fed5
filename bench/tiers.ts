// The gVisor tier beside runc: the figures people choose a tier by (time to interactive, exec, resume,
// snapshot, idle memory), measured again with BOXD_ISOLATION=gvisor against raw Docker containers with
// the runsc runtime on the same image, in the same run. BENCH_TIERS=runc skips it.
import os from "node:os";
import { BoxdBench } from "./boxd-client.js";
import type { BenchContext } from "./context.js";
import { RawDocker } from "./raw-docker.js";
import { type Produces, runSteps, type Step } from "./steps.js";

export const TIER_FIGURES = [
  "time_to_interactive",
  "box_create",
  "exec_round_trip",
  "resume_frozen",
  "resume_stopped",
  "snapshot",
  "idle_density",
  "growth",
];

export type TierResult = { figures: Produces; errors: Record<string, string> } | { skipped: string };

export async function gvisorTier(base: BenchContext, steps: Step[]): Promise<TierResult> {
  if ((process.env.BENCH_TIERS ?? "both") === "runc") return { skipped: "BENCH_TIERS=runc" };
  const runtimes = Object.keys((await base.raw.docker.info()).Runtimes ?? {});
  if (!runtimes.includes("runsc")) {
    return { skipped: "runsc is not registered with the engine (see README, Isolation tiers)" };
  }
  const tierSteps = steps.filter((s) => s.names.some((n) => TIER_FIGURES.includes(n)));
  if (!tierSteps.length) return { skipped: "no tier figure selected by BENCH_ONLY" };
  base.log("gVisor tier: the same figures with BOXD_ISOLATION=gvisor and raw containers on runsc");
  const boxdEnv = { ...base.boxdEnv, BOXD_ISOLATION: "gvisor" };
  const boxd = await BoxdBench.start({ tmpDir: base.tmpDir, env: { ...boxdEnv, BOXD_ROOTS: base.tmpDir } });
  // Same run id: the run's final sweep and leak check cover these containers too.
  const raw = new RawDocker(base.raw.image, base.raw.runId, os.cpus().length, "runsc");
  try {
    const ctx = {
      ...base,
      boxd,
      raw,
      boxdEnv,
      growthLevels: base.gvisorLevels,
      log: (m: string) => base.log(`[gvisor] ${m}`),
    };
    return await runSteps(ctx, tierSteps);
  } finally {
    base.problems.push(...(await boxd.close().catch((err) => [`close gVisor boxd: ${String(err)}`])));
    base.problems.push(...(await raw.sweep().catch((err) => [`sweep gVisor raw: ${String(err)}`])));
  }
}
