// small_file_rw: box_write_file + box_read_file of 1 KiB vs raw putArchive + getArchive of the same bytes.
import { randomBytes } from "node:crypto";
import type { BenchContext } from "../context.js";
import { type Figure, figure, interleave, timed } from "../stats.js";

const DIR = "/workspace/home";
const NAME = "bench-1k.txt";

export async function smallFileRw(ctx: BenchContext): Promise<Record<string, Figure>> {
  const box = await ctx.boxd.createBox();
  const container = await ctx.raw.create();
  try {
    const samples = await interleave(
      ctx.iterations,
      ctx.warmup,
      () => {
        const text = randomBytes(768).toString("base64"); // 1024 ASCII characters
        return timed(async () => {
          await ctx.boxd.call("box_write_file", { box, path: `${DIR}/${NAME}`, content: text });
          const r = await ctx.boxd.call<{ content: string }>("box_read_file", { box, path: `${DIR}/${NAME}` });
          if (r.content !== text) throw new Error("box_read_file returned other bytes than were written");
        });
      },
      () => {
        const bytes = Buffer.from(randomBytes(768).toString("base64"));
        return timed(async () => {
          await ctx.raw.putFile(container, DIR, NAME, bytes);
          const back = await ctx.raw.getFile(container, `${DIR}/${NAME}`);
          if (!back.equals(bytes)) throw new Error("raw getArchive returned other bytes than were written");
        });
      },
      (done, total) => done % 5 === 0 && ctx.log(`small_file_rw ${done}/${total}`),
    );
    return { small_file_rw: figure(samples) };
  } finally {
    await ctx.boxd.deleteBox(box);
    await ctx.raw.remove(container);
  }
}
