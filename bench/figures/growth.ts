// growth: box_create, box_exec and box_set_network_policy latency with 1, 50, 100 and 200 boxes present
// (BENCH_GROWTH_LEVELS), beside raw Docker's create (with a network of its own) and exec on the same
// engine at the same moment, so that growth the engine itself shows is told apart from boxd's own. At the
// top level the boxes sit idle and give idle_density: the server's RSS and CPU over BENCH_IDLE_SECONDS
// (at least one pass of the usage meter and disk guard, 30 s each by default) and each box's memory.
// A boxd of its own, without the per-tenant box limit (default 50), holds the boxes; all are deleted after.
import { BoxdBench } from "../boxd-client.js";
import { type BenchContext, type ExecResult, expectHi } from "../context.js";
import { collectGarbage, cpuPercentOver, MiB, rssMb } from "../memory.js";
import { type Growth, type GrowthLevel, type IdleDensity, percentiles, round, since, timed } from "../stats.js";

const POLICIES = [
  { mode: "deny-all" },
  { mode: "custom", allowedCidrs: ["198.51.100.0/28"], allowedDomains: ["example.test"] },
  { mode: "allow-all" },
];

export async function growth(ctx: BenchContext): Promise<{ growth: Growth; idle_density: IdleDensity }> {
  const levels = [...ctx.growthLevels].sort((a, b) => a - b);
  const boxd = await BoxdBench.start({
    tmpDir: ctx.tmpDir,
    env: { ...ctx.boxdEnv, BOXD_TENANT_MAX_BOXES: "0", BOXD_ROOTS: ctx.tmpDir },
  });
  const boxes: string[] = [];
  try {
    collectGarbage();
    const baseline = rssMb();
    const out: GrowthLevel[] = [];
    let density: IdleDensity | null = null;
    for (const level of levels) {
      const fillMs: number[] = [];
      while (boxes.length < level) {
        const t0 = performance.now();
        boxes.push(await boxd.createBox());
        fillMs.push(since(t0));
        if (boxes.length % 25 === 0) ctx.log(`growth: ${boxes.length}/${level} boxes`);
      }
      await new Promise((r) => setTimeout(r, 1000)); // let creation settle
      const top = level === levels[levels.length - 1];
      const idleMs = (top ? ctx.idleSeconds : Math.min(ctx.idleSeconds, 5)) * 1000;
      ctx.log(`growth: ${level} boxes present; idle ${idleMs / 1000} s, then measuring`);
      collectGarbage();
      let peak = rssMb();
      const cpu = await cpuPercentOver(idleMs, () => {
        peak = Math.max(peak, rssMb());
      });
      if (top) density = await idleDensity(ctx, boxd, boxes, { peak, cpu, baseline, fillMs });
      out.push({
        boxes: level,
        ...(await measureAt(ctx, boxd, boxes[0] as string)),
        server_rss_mb: round(peak),
        idle_cpu_pct: round(cpu, 2),
      });
    }
    const first = out[0] as GrowthLevel;
    const last = out[out.length - 1] as GrowthLevel;
    const ratio = (k: keyof Growth["ratio_top_to_first"]) => round(last[k].p50 / first[k].p50, 2);
    return {
      growth: {
        levels: out,
        ratio_top_to_first: {
          box_create: ratio("box_create"),
          exec: ratio("exec"),
          policy_change: ratio("policy_change"),
          raw_create_own_network: ratio("raw_create_own_network"),
          raw_exec: ratio("raw_exec"),
        },
      },
      idle_density: density as IdleDensity,
    };
  } finally {
    ctx.log(`growth: deleting ${boxes.length} boxes`);
    for (const id of boxes) await boxd.deleteBox(id).catch((err) => ctx.problems.push(`delete ${id}: ${err}`));
    ctx.problems.push(...(await boxd.close()));
  }
}

/** The latencies at one level: interleaved boxd and raw samples, the engine holding the same objects. */
async function measureAt(ctx: BenchContext, boxd: BoxdBench, box: string) {
  const s = {
    create: [] as number[],
    exec: [] as number[],
    policy: [] as number[],
    rawCreate: [] as number[],
    rawExec: [] as number[],
  };
  const rawBox = await ctx.raw.create();
  try {
    for (let i = -ctx.warmup; i < ctx.iterations; i++) {
      const keep = i >= 0;
      let extra = "";
      const create = await timed(async () => {
        extra = await boxd.createBox();
      });
      await boxd.deleteBox(extra);
      let rawId = "";
      const rawCreate = await timed(async () => {
        rawId = await ctx.raw.create({ ownNetwork: true });
      });
      await ctx.raw.remove(rawId);
      const policy = await timed(() =>
        boxd.call("box_set_network_policy", { box, networkPolicy: POLICIES[(i + POLICIES.length) % POLICIES.length] }),
      );
      if (keep) {
        s.create.push(create);
        s.rawCreate.push(rawCreate);
        s.policy.push(policy);
      }
      for (let j = 0; j < 2; j++) {
        const t0 = performance.now();
        const r = await boxd.call<ExecResult>("box_exec", { box, command: "echo hi" });
        const execMs = since(t0);
        expectHi(r.stdout, "box_exec");
        const rawExec = await timed(async () =>
          expectHi((await ctx.raw.exec(rawBox, ["echo", "hi"])).stdout, "raw exec"),
        );
        if (keep) {
          s.exec.push(execMs);
          s.rawExec.push(rawExec);
        }
      }
    }
  } finally {
    await ctx.raw.remove(rawBox);
    await boxd.call("box_set_network_policy", { box, networkPolicy: { mode: "allow-all" } }).catch(() => {});
  }
  return {
    box_create: percentiles(s.create),
    exec: percentiles(s.exec),
    policy_change: percentiles(s.policy),
    raw_create_own_network: percentiles(s.rawCreate),
    raw_exec: percentiles(s.rawExec),
  };
}

async function idleDensity(
  ctx: BenchContext,
  boxd: BoxdBench,
  boxes: string[],
  m: { peak: number; cpu: number; baseline: number; fillMs: number[] },
): Promise<IdleDensity> {
  const memory = await boxMemory(ctx, boxd, boxes);
  return {
    boxes: boxes.length,
    server_rss_mb: round(m.peak),
    idle_cpu_pct: round(m.cpu, 2),
    server_rss_baseline_mb: round(m.baseline),
    server_rss_per_box_mb: round((m.peak - m.baseline) / Math.max(1, boxes.length), 2),
    box_memory_mb_avg: memory === null ? null : round(memory.usage, 2),
    box_working_set_mb_avg: memory === null ? null : round(memory.workingSet, 2),
    box_create_ms: percentiles(m.fillMs),
    idle_seconds: ctx.idleSeconds,
  };
}

interface MemoryStats {
  memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

/**
 * Average cgroup memory of the boxes' containers (one-shot stats), in MiB: all of it, and the working set
 * (less inactive page cache, as `docker stats` shows it).
 */
async function boxMemory(
  ctx: BenchContext,
  boxd: BoxdBench,
  boxes: string[],
): Promise<{ usage: number; workingSet: number } | null> {
  let usage = 0;
  let workingSet = 0;
  let n = 0;
  for (const box of boxes) {
    const id = boxd.containerOf(box);
    if (!id) continue;
    const { memory_stats: m } = (await ctx.raw.docker
      .getContainer(id)
      .stats({ stream: false, "one-shot": true } as { stream: false })) as MemoryStats;
    if (m?.usage === undefined) continue;
    usage += m.usage;
    workingSet += m.usage - (m.stats?.inactive_file ?? m.stats?.total_inactive_file ?? 0);
    n += 1;
  }
  return n ? { usage: usage / n / MiB, workingSet: workingSet / n / MiB } : null;
}
