// snapshot: box_snapshot vs raw commit (paused, labelled) of a container of the same image after the same
// small change. The change and the removal of each snapshot image are not timed.
import type { BenchContext } from "../context.js";
import { type Figure, figure, interleave, timed } from "../stats.js";

export async function snapshot(ctx: BenchContext): Promise<Record<string, Figure>> {
  const box = await ctx.boxd.createBox();
  const container = await ctx.raw.create();
  const change = (i: number) =>
    `echo ${i} > /workspace/home/marker && mkdir -p /workspace/home/src && date > /workspace/home/src/t`;
  try {
    const samples = await interleave(
      ctx.iterations,
      ctx.warmup,
      async (i) => {
        await ctx.boxd.call("box_exec", { box, command: change(i) });
        let id = "";
        const ms = await timed(async () => {
          const s = await ctx.boxd.call<{ id: string; status: string }>("box_snapshot", { box });
          if (s.status !== "ready") throw new Error(`box_snapshot returned status ${s.status}`);
          id = s.id;
        });
        await ctx.boxd.call("box_snapshot_delete", { snapshot: id });
        return ms;
      },
      async (i) => {
        await ctx.raw.sh(container, change(i));
        let image = "";
        const ms = await timed(async () => {
          image = await ctx.raw.commit(container, `${ctx.raw.runId}-${i + ctx.warmup}`);
        });
        await ctx.raw.removeImage(image);
        return ms;
      },
      (done, total) => done % 5 === 0 && ctx.log(`snapshot ${done}/${total}`),
    );
    return { snapshot: figure(samples) };
  } finally {
    await ctx.boxd.deleteBox(box);
    await ctx.raw.remove(container);
  }
}
