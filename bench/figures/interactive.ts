// time_to_interactive: box_create -> first box_exec returns, vs createContainer + start + first exec.
// The same loop also yields box_create alone (issue 2's figure) vs createContainer + start, and, as a
// breakdown, raw time to interactive when the container first gets a network of its own like a box does.
import { type BenchContext, type ExecResult, expectHi } from "../context.js";
import { type Figure, figure, interleave, percentiles, since } from "../stats.js";

export async function timeToInteractive(ctx: BenchContext): Promise<Record<string, Figure>> {
  const create = { boxd: [] as number[], raw: [] as number[] };
  const ownNetwork: number[] = [];
  const samples = await interleave(
    ctx.iterations,
    ctx.warmup,
    async (i) => {
      const t0 = performance.now();
      const id = await ctx.boxd.createBox();
      const created = since(t0);
      try {
        const r = await ctx.boxd.call<ExecResult>("box_exec", { box: id, command: "echo hi" });
        const ms = since(t0);
        expectHi(r.stdout, "box_exec");
        if (i >= 0) create.boxd.push(created);
        return ms;
      } finally {
        await ctx.boxd.deleteBox(id);
      }
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
