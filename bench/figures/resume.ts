// resume_frozen and resume_stopped: the first box_exec after each kind of pause (it must say resumed: true),
// vs raw unpause + exec and raw start + exec. The pause itself is not timed.
import { BoxdBench } from "../boxd-client.js";
import { type BenchContext, type ExecResult, expectHi, sleep } from "../context.js";
import { type Figure, figure, interleave, percentiles, since, timed } from "../stats.js";

async function resumedExec(boxd: BoxdBench, box: string): Promise<number> {
  const t0 = performance.now();
  const r = await boxd.call<ExecResult>("box_exec", { box, command: "echo hi" });
  const ms = since(t0);
  expectHi(r.stdout, "box_exec after pause");
  if (r.resumed !== true)
    throw new Error(`box_exec after box_pause did not report resumed: true (${JSON.stringify(r)})`);
  return ms;
}

async function rawExec(ctx: BenchContext, id: string): Promise<void> {
  const r = await ctx.raw.exec(id, ["echo", "hi"]);
  expectHi(r.stdout, "raw exec after pause");
}

/** Frozen (cgroup freezer): box_pause, then the timed box_exec; raw: pause, then timed unpause + exec. */
export async function resumeFrozen(ctx: BenchContext): Promise<Record<string, Figure>> {
  const box = await ctx.boxd.createBox();
  const container = await ctx.raw.create();
  try {
    const samples = await interleave(
      ctx.iterations,
      ctx.warmup,
      async () => {
        await ctx.boxd.call("box_pause", { box });
        return resumedExec(ctx.boxd, box);
      },
      async () => {
        await ctx.raw.pause(container);
        return timed(async () => {
          await ctx.raw.unpause(container);
          await rawExec(ctx, container);
        });
      },
      (done, total) => done % 5 === 0 && ctx.log(`resume_frozen ${done}/${total}`),
    );
    return { resume_frozen: figure(samples) };
  } finally {
    await ctx.boxd.deleteBox(box);
    await ctx.raw.remove(container);
  }
}

/**
 * Stopped (frozen long enough that boxd stopped the container): a second boxd instance with
 * BOXD_STOP_AFTER_PAUSED_SECONDS=1 and a 100 ms lifecycle tick; box_pause, wait until box_get says
 * pauseKind "stopped", then the timed box_exec. Raw: stop -t 0, then timed start + exec.
 */
export async function resumeStopped(ctx: BenchContext): Promise<Record<string, Figure>> {
  const boxd = await BoxdBench.start({
    tmpDir: ctx.tmpDir,
    env: { ...ctx.boxdEnv, BOXD_STOP_AFTER_PAUSED_SECONDS: "1", BOXD_LIFECYCLE_TICK_MS: "100" },
  });
  try {
    const box = await boxd.createBox();
    const container = await ctx.raw.create();
    // Breakdown: the same with a network of its own, as a box has (the engine joins it at every start).
    const ownNetwork = await ctx.raw.create({ ownNetwork: true });
    const own: number[] = [];
    try {
      const samples = await interleave(
        ctx.iterations,
        ctx.warmup,
        async () => {
          await boxd.call("box_pause", { box });
          await waitStopped(boxd, box);
          return resumedExec(boxd, box);
        },
        async (i) => {
          const restart = async (id: string) => {
            await ctx.raw.stop(id);
            return timed(async () => {
              await ctx.raw.start(id);
              await rawExec(ctx, id);
            });
          };
          const withOwn = await restart(ownNetwork);
          if (i >= 0) own.push(withOwn);
          return restart(container);
        },
        (done, total) => done % 5 === 0 && ctx.log(`resume_stopped ${done}/${total}`),
      );
      return { resume_stopped: figure(samples, "ms", { raw_with_own_network: percentiles(own) }) };
    } finally {
      await boxd.deleteBox(box);
      await ctx.raw.remove(container);
      await ctx.raw.remove(ownNetwork);
    }
  } finally {
    ctx.problems.push(...(await boxd.close()));
  }
}

async function waitStopped(boxd: BoxdBench, box: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const b = await boxd.call<{ status: string; pauseKind?: string }>("box_get", { box });
    if (b.status === "paused" && b.pauseKind === "stopped") return;
    if (b.status !== "paused") throw new Error(`box left its pause by itself (status ${b.status})`);
    if (Date.now() > deadline) throw new Error(`box was not stopped 30 s after box_pause (pauseKind ${b.pauseKind})`);
    await sleep(50);
  }
}
