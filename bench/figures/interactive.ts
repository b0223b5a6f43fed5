// time_to_interactive: box_create -> first box_exec returns, vs createContainer + start + first exec.
// The same loop also yields box_create alone (issue 2's figure) vs createContainer + start, and, as a
// breakdown, raw time to interactive when the container first gets a network of its own like a box does.
import { BoxdBench } from "../boxd-client.js";
import { type BenchContext, type ExecResult, expectHi } from "../context.js";
import { type Figure, figure, interleave, percentiles, since } from "../stats.js";

export async function timeToInteractive(ctx: BenchContext): Promise<Record<string, Figure>> {
  const create = { boxd: [] as number[], raw: [] as number[] };
  const ownNetwork: number[] = [];
  const samples = await interleave(
    ctx.iterations,
    ctx.warmup,
    async (i) => {
      const { created, ms } = await boxdInteractive(ctx.boxd);
      if (i >= 0) create.boxd.push(created);
      return ms;
    },
    async (i) => {
      const plain = await rawInteractive(ctx, false);
      // Breakdown: the same with a network of its own first, as boxd gives every box.
      const own = await rawInteractive(ctx, true);
      if (i >= 0) {
        create.raw.push(plain.created);
        ownNetwork.push(own.ms);
      }
      return plain.ms;
    },
    (done, total) => ctx.log(`time_to_interactive ${done}/${total}`),
  );
  return {
    time_to_interactive: figure(samples, "ms", { raw_with_own_network: percentiles(ownNetwork) }),
    box_create: figure(create),
  };
}

/** box_create + first box_exec; the box is deleted afterwards. */
async function boxdInteractive(boxd: BoxdBench): Promise<{ created: number; ms: number }> {
  const t0 = performance.now();
  const id = await boxd.createBox();
  const created = since(t0);
  try {
    const r = await boxd.call<ExecResult>("box_exec", { box: id, command: "echo hi" });
    const ms = since(t0);
    expectHi(r.stdout, "box_exec");
    return { created, ms };
  } finally {
    await boxd.deleteBox(id);
  }
}

/** createContainer (+ its own network) + start + first exec; the container is removed afterwards. */
async function rawInteractive(ctx: BenchContext, ownNetwork: boolean): Promise<{ created: number; ms: number }> {
  const t0 = performance.now();
  const id = await ctx.raw.create({ ownNetwork });
  const created = since(t0);
  try {
    const r = await ctx.raw.exec(id, ["echo", "hi"]);
    const ms = since(t0);
    expectHi(r.stdout, "raw exec");
    return { created, ms };
  } finally {
    await ctx.raw.remove(id);
  }
}

/**
 * time_to_interactive_pooled: the same, against a second boxd with a warm pool of one box of the default
 * runtime and size (BOXD_POOL=node:small:1), waiting before each sample until the pool is full again, so
 * that each box_create is a claim. Raw: createContainer + start + first exec, as above.
 */
export async function pooledTimeToInteractive(ctx: BenchContext): Promise<Record<string, Figure>> {
  const boxd = await BoxdBench.start({ tmpDir: ctx.tmpDir, env: { ...ctx.boxdEnv, BOXD_POOL: "node:small:1" } });
  try {
    const pool = boxd.app.services.pool;
    const samples = await interleave(
      ctx.iterations,
      ctx.warmup,
      async () => {
        await pool.settled();
        return (await boxdInteractive(boxd)).ms;
      },
      async () => (await rawInteractive(ctx, false)).ms,
      (done, total) => ctx.log(`time_to_interactive_pooled ${done}/${total}`),
    );
    return { time_to_interactive_pooled: figure(samples) };
  } finally {
    ctx.problems.push(...(await boxd.close()));
  }
}
