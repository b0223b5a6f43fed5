// `boxd images build|ls`: builds the box images locally with visible progress.
import type { Config } from "../config.js";
import { DockerEngine } from "../docker/engine.js";
import { ImageBuilder } from "../images/builder.js";
import { isRuntime, loadImageSet, RUNTIMES, type Runtime } from "../images/definitions.js";
import type { Logger } from "../log.js";

export async function imagesBuild(
  config: Config,
  log: Logger,
  opts: { runtime?: string[]; force?: boolean },
): Promise<void> {
  const wanted = opts.runtime?.length ? opts.runtime : [...RUNTIMES];
  const bad = wanted.filter((r) => !isRuntime(r));
  if (bad.length) throw new Error(`unknown runtime(s): ${bad.join(", ")}`);
  const engine = new DockerEngine(log);
  await engine.ping();
  const set = loadImageSet(config.baseImage);
  const builder = new ImageBuilder(
    engine,
    set,
    { baseImage: config.baseImage, debianMirror: config.debianMirror, force: opts.force ?? false },
    log,
  );
  const started = Date.now();
  const progress = (step: string, line: string) => process.stderr.write(`[images:${step}] ${line}\n`);
  for (const runtime of wanted as Runtime[]) {
    const t0 = Date.now();
    await builder.ensure([runtime], progress);
    process.stderr.write(
      `[images] ${runtime} ready: ${set.runtime(runtime).ref} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
  }
  // The network helper's image, whatever runtimes were asked for (the server starts it in every mode but off).
  process.stderr.write(`[images] netd ready: ${await builder.ensureNetd(progress)}\n`);
  process.stderr.write(
    `[images] rootfs: ${builder.rootfsPath ?? "not needed (everything built on it is up to date)"}\n`,
  );
  process.stderr.write(`[images] done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

export async function imagesList(config: Config, log: Logger): Promise<void> {
  const engine = new DockerEngine(log);
  const set = loadImageSet(config.baseImage);
  const runtimes = [...RUNTIMES, ...RUNTIMES.map((r) => `${r}-alpine` as Runtime)];
  for (const [name, def] of [...runtimes.map((r) => [r, set.runtime(r)] as const), ["netd", set.netd] as const]) {
    const info = await engine.images.inspect(def.ref);
    const state = info ? `present (${(info.sizeBytes / 1e6).toFixed(0)} MB)` : "missing";
    process.stdout.write(`${name.padEnd(15)} ${def.ref.padEnd(32)} ${state}\n`);
  }
}
