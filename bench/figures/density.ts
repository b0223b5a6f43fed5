// idle_density: BENCH_DENSITY idle boxes at once; the server's RSS and its CPU use over BENCH_IDLE_SECONDS
// while they all sit idle (its idle timer and disk guard keep running), and what each idle box costs the
// host (its container's cgroup memory). The boxes are deleted afterwards.
import type { BenchContext } from "../context.js";
import { collectGarbage, cpuPercentOver, MiB, rssMb } from "../memory.js";
import { type IdleDensity, percentiles, round, since } from "../stats.js";

export async function idleDensity(ctx: BenchContext): Promise<IdleDensity> {
  collectGarbage();
  const baseline = rssMb();
  const boxes: string[] = [];
  const createMs: number[] = [];
  try {
    for (let i = 0; i < ctx.density; i++) {
      const t0 = performance.now();
      boxes.push(await ctx.boxd.createBox());
      createMs.push(since(t0));
      if ((i + 1) % 5 === 0) ctx.log(`idle_density: ${i + 1}/${ctx.density} boxes`);
    }
    await new Promise((r) => setTimeout(r, 1000)); // let creation settle
    collectGarbage();
    let peak = rssMb();
    ctx.log(`idle_density: measuring ${ctx.idleSeconds} s idle`);
    const cpu = await cpuPercentOver(ctx.idleSeconds * 1000, () => {
      peak = Math.max(peak, rssMb());
    });
    peak = Math.max(peak, rssMb());
    const memory = await boxMemory(ctx, boxes);
    return {
      boxes: boxes.length,
      server_rss_mb: round(peak),
      idle_cpu_pct: round(cpu, 2),
      server_rss_baseline_mb: round(baseline),
      server_rss_per_box_mb: round((peak - baseline) / Math.max(1, boxes.length), 2),
      box_memory_mb_avg: memory === null ? null : round(memory, 1),
      box_create_ms: percentiles(createMs),
      idle_seconds: ctx.idleSeconds,
    };
  } finally {
    ctx.log(`idle_density: deleting ${boxes.length} boxes`);
    for (const id of boxes) await ctx.boxd.deleteBox(id).catch((err) => ctx.problems.push(`delete ${id}: ${err}`));
  }
}

/** Average cgroup memory use of the boxes' containers (one-shot stats), in MiB. */
async function boxMemory(ctx: BenchContext, boxes: string[]): Promise<number | null> {
  const used: number[] = [];
  for (const box of boxes) {
    const id = ctx.boxd.containerOf(box);
    if (!id) continue;
    const stats = (await ctx.raw.docker
      .getContainer(id)
      .stats({ stream: false, "one-shot": true } as { stream: false })) as { memory_stats?: { usage?: number } };
    if (stats.memory_stats?.usage !== undefined) used.push(stats.memory_stats.usage);
  }
  return used.length ? used.reduce((a, b) => a + b, 0) / used.length / MiB : null;
}
