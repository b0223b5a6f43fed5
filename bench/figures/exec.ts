// exec_round_trip: box_exec `echo hi` vs raw exec create + start + read to end + inspect, on a live box
// and a live container of the same image. Also reported: raw exec of `boxd-run ... "echo hi"` (the wrapper
// box_exec runs in the box for process-group kill and usage), which splits boxd's overhead into the
// wrapper's share and the server's.
import { type BenchContext, type ExecResult, expectHi } from "../context.js";
import { type Figure, figure, interleave, percentiles, timed } from "../stats.js";

export async function execRoundTrip(ctx: BenchContext): Promise<Record<string, Figure>> {
  const box = await ctx.boxd.createBox();
  const container = await ctx.raw.create();
  try {
    const n = ctx.iterations * 2;
    const viaWrapper: number[] = [];
    const samples = await interleave(
      n,
      ctx.warmup,
      () =>
        timed(async () => {
          const r = await ctx.boxd.call<ExecResult>("box_exec", { box, command: "echo hi" });
          expectHi(r.stdout, "box_exec");
        }),
      async (i) => {
        const ms = await timed(async () => {
          const r = await ctx.raw.exec(container, ["echo", "hi"]);
          expectHi(r.stdout, "raw exec");
        });
        // Breakdown: the same raw exec of the wrapper box_exec runs in the box (boxd-run), without boxd.
        const wrapped = await timed(async () => {
          const r = await ctx.raw.exec(container, [
            "boxd-run",
            `bench-${i + ctx.warmup}`,
            "/workspace/home",
            "echo hi",
          ]);
          expectHi(r.stdout, "raw exec of boxd-run");
        });
        if (i >= 0) viaWrapper.push(wrapped);
        return ms;
      },
      (done) => done % 10 === 0 && ctx.log(`exec_round_trip ${done}/${n}`),
    );
    return { exec_round_trip: figure(samples, "ms", { raw_exec_of_boxd_run: percentiles(viaWrapper) }) };
  } finally {
    await ctx.boxd.deleteBox(box);
    await ctx.raw.remove(container);
  }
}
