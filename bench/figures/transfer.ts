// upload_100mib and download_100mib: box_upload / box_download with a hostPath (streamed through tar in
// the box) vs raw putArchive / getArchive of a tar holding the same 100 MiB file, with throughput and the
// server's RSS peak while the transfer runs (sampled every 10 ms after a GC).

import { createHash, randomFillSync } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { type BenchContext, sleep } from "../context.js";
import { collectGarbage, MiB, RssSampler, rssMb } from "../memory.js";
import { type Figure, figure, interleave, round, type Samples, since } from "../stats.js";

const SIZE_MIB = 100;
const SIZE = SIZE_MIB * MiB;
const DEST = "/workspace/home/up";
const NAME = "payload.bin";

/** Random bytes (nothing compresses them along the way), written in 1 MiB chunks; returns their sha256. */
async function makePayload(file: string): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(file);
  for (let i = 0; i < SIZE_MIB; i++) {
    const chunk = randomFillSync(Buffer.alloc(MiB));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, "drain");
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest("hex");
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

interface Measured {
  ms: number;
  peakMb: number;
  growthMb: number;
}

/** One transfer with GC first, RSS sampled throughout. */
async function measure(step: () => Promise<void>): Promise<Measured> {
  collectGarbage();
  await sleep(200); // the GC returns pages in the background: read the baseline once it has
  const before = rssMb();
  const sampler = new RssSampler();
  const t0 = performance.now();
  try {
    await step();
  } catch (err) {
    sampler.stop();
    throw err;
  }
  const ms = since(t0);
  const peakMb = sampler.stop();
  return { ms, peakMb, growthMb: Math.max(0, peakMb - before) };
}

function transferFigure(samples: Samples, peaks: { boxd: Measured[]; raw: Measured[] }): Figure {
  const max = (xs: Measured[], k: "peakMb" | "growthMb") => round(Math.max(...xs.map((x) => x[k])));
  const f = figure(samples);
  return {
    ...f,
    bytes: SIZE,
    throughput_mib_s: { boxd: round(SIZE_MIB / (f.boxd.p50 / 1000)), raw: round(SIZE_MIB / (f.raw.p50 / 1000)) },
    server_rss_peak_mb: { boxd: max(peaks.boxd, "peakMb"), raw: max(peaks.raw, "peakMb") },
    server_rss_growth_mb: { boxd: max(peaks.boxd, "growthMb"), raw: max(peaks.raw, "growthMb") },
  };
}

export async function transfers(ctx: BenchContext): Promise<Record<string, Figure>> {
  const dir = path.join(ctx.tmpDir, "transfer");
  const dl = path.join(dir, "downloads");
  await mkdir(dl, { recursive: true });
  const payload = path.join(dir, NAME);
  ctx.log(`writing a ${SIZE_MIB} MiB payload`);
  const digest = await makePayload(payload);
  const box = await ctx.boxd.createBox();
  const container = await ctx.raw.create();
  try {
    await ctx.raw.sh(container, `mkdir -p ${DEST}`);
    const n = ctx.transferIterations;

    const up = { boxd: [] as Measured[], raw: [] as Measured[] };
    const upload = await interleave(
      n,
      0,
      async () => {
        const m = await measure(async () => {
          const r = await ctx.boxd.call<{ bytes: number }>("box_upload", { box, destination: DEST, hostPath: payload });
          if (r.bytes !== SIZE) throw new Error(`box_upload moved ${r.bytes} bytes, not ${SIZE}`);
        });
        up.boxd.push(m);
        return m.ms;
      },
      async () => {
        const m = await measure(() =>
          ctx.raw.putFile(container, DEST, NAME, { stream: createReadStream(payload), size: SIZE }),
        );
        up.raw.push(m);
        return m.ms;
      },
      (done, total) => ctx.log(`upload_100mib ${done}/${total}`),
    );

    const down = { boxd: [] as Measured[], raw: [] as Measured[] };
    const check = async (file: string, i: number, who: string) => {
      const size = (await stat(file)).size;
      if (size !== SIZE) throw new Error(`${who} wrote ${size} bytes, not ${SIZE}`);
      if (i === 0 && (await sha256(file)) !== digest) throw new Error(`${who} wrote other bytes than were uploaded`);
      await rm(file, { force: true });
    };
    const download = await interleave(
      n,
      0,
      async (i) => {
        const target = path.join(dl, `boxd-${i}.bin`);
        const m = await measure(async () => {
          await ctx.boxd.call("box_download", { box, path: `${DEST}/${NAME}`, hostPath: target });
        });
        down.boxd.push(m);
        await check(target, i, "box_download");
        return m.ms;
      },
      async (i) => {
        const target = path.join(dl, `raw-${i}.bin`);
        const m = await measure(async () => {
          await ctx.raw.getFileToHost(container, `${DEST}/${NAME}`, target);
        });
        down.raw.push(m);
        await check(target, i, "raw getArchive");
        return m.ms;
      },
      (done, total) => ctx.log(`download_100mib ${done}/${total}`),
    );
    return { upload_100mib: transferFigure(upload, up), download_100mib: transferFigure(download, down) };
  } finally {
    await ctx.boxd.deleteBox(box);
    await ctx.raw.remove(container);
    await rm(dir, { recursive: true, force: true });
  }
}
