// Builds box images locally: rootfs (a registry image or debootstrap, see rootfs.ts) -> base (user, helpers)
// and netd (the network helper) -> one image per runtime. Each step is skipped when its content-hash tag
// already exists; the rootfs is only looked for (and a registry only asked) when something must be built on it.
import { Readable } from "node:stream";
import { pack } from "tar-stream";
import type { DockerEngine } from "../docker/engine.js";
import {
  LABEL_IMAGE_HASH,
  LABEL_KIND,
  LABEL_MANAGED,
  LABEL_RUNTIME,
  LABEL_RUNTIME_VERSION,
  RUNTIME_VERSION_FILE,
} from "../docker/labels.js";
import type { Logger } from "../log.js";
import { type ImageDefinition, type ImageSet, needsRegistry, type Runtime, VARIANT_PARENTS } from "./definitions.js";
import {
  buildContext,
  buildRegistryRootfs,
  chooseRootfs,
  describeRootfs,
  importDebootstrap,
  officialImage,
  parseRootfsSetting,
  type RootfsSetting,
  type RootfsSource,
} from "./rootfs.js";

export type BuildProgress = (step: string, line: string) => void;

export interface BuildOptions {
  /** BOXD_BASE_IMAGE: auto (or ""), debootstrap, or a registry image ref (rootfs.ts). */
  baseImage: string;
  debianMirror: string;
  force?: boolean;
  /** The image `auto` tries; debian:<suite>-slim unless a test points it elsewhere. */
  autoImage?: string;
}

export function imageLabels(def: ImageDefinition): Record<string, string> {
  return {
    [LABEL_MANAGED]: "true",
    [LABEL_KIND]: "image",
    [LABEL_RUNTIME]: def.kind,
    [LABEL_IMAGE_HASH]: def.hash,
  };
}

export class ImageBuilder {
  constructor(
    private readonly engine: DockerEngine,
    private readonly images: ImageSet,
    private readonly opts: BuildOptions,
    private readonly log: Logger,
  ) {}

  /** The rootfs's ref once made or found (one decision per builder). */
  private rootfsRef?: Promise<string>;
  /** Which path gave the rootfs ("from registry image debian:trixie-slim", "debootstrap (...)"); unset until needed. */
  rootfsPath?: string;

  /** Ensures the images of `runtimes` exist (and netd with any Debian one); returns the runtimes' refs. */
  async ensure(runtimes: readonly Runtime[], progress: BuildProgress): Promise<string[]> {
    const refs: string[] = [];
    const debian = runtimes.filter((r) => !needsRegistry(r));
    if (debian.length > 0) {
      await this.ensureBuilt(this.images.base, async () => ({ ROOTFS: await this.rootfs(progress) }), progress);
      await this.ensureNetd(progress);
    }
    for (const runtime of runtimes) {
      const def = this.images.runtime(runtime);
      const variantOf = VARIANT_PARENTS[runtime as keyof typeof VARIANT_PARENTS];
      let base = this.images.base.ref;
      if (variantOf) {
        // A variant (node-agent) is built on its runtime's image, which must exist first.
        const parent = this.images.runtime(variantOf);
        await this.ensureBuilt(parent, { BASE: this.images.base.ref }, progress);
        base = parent.ref;
      }
      await this.ensureBuilt(def, needsRegistry(runtime) ? {} : { BASE: base }, progress);
      await this.stampVersion(def, progress);
      await this.pruneOlder(def);
      refs.push(def.ref);
    }
    // Older bases go once no runtime image is built on them any more.
    if (debian.length > 0) await this.pruneOlder(this.images.base);
    return refs;
  }

  /** Ensures the network helper's image (images/netd, on the rootfs) exists; returns its ref. */
  async ensureNetd(progress: BuildProgress): Promise<string> {
    const def = this.images.netd;
    await this.ensureBuilt(def, async () => ({ ROOTFS: await this.rootfs(progress) }), progress);
    await this.pruneOlder(def);
    return def.ref;
  }

  private async exists(ref: string): Promise<boolean> {
    return (await this.engine.images.inspect(ref)) !== null;
  }

  private rootfs(progress: BuildProgress): Promise<string> {
    this.rootfsRef ??= this.makeRootfs((line) => progress("rootfs", line));
    return this.rootfsRef;
  }

  /** Finds or makes the rootfs by the path BOXD_BASE_IMAGE asks for, saying which path it took. */
  private async makeRootfs(progress: (line: string) => void): Promise<string> {
    const setting = parseRootfsSetting(this.opts.baseImage);
    const autoImage = this.opts.autoImage ?? officialImage(this.images.debootstrap);
    const found = await this.presentRootfs(setting, autoImage);
    if (found) {
      this.rootfsPath = `${describeRootfs(found.source)}, ${found.ref}`;
      progress(`${describeRootfs(found.source)}: ${found.ref} is up to date`);
      return found.ref;
    }
    const source = await chooseRootfs(this.engine.images, setting, autoImage, progress);
    this.rootfsPath = describeRootfs(source);
    progress(this.rootfsPath);
    if (source.path === "registry") {
      const def = this.images.registryRootfs(source.image);
      await buildRegistryRootfs(this.engine, def, source.image, this.opts.debianMirror, progress);
      this.log.info("image built", { ref: def.ref, from: source.image });
      return def.ref;
    }
    const def = this.images.rootfs;
    await importDebootstrap(this.engine, def, this.images.debootstrap, this.opts.debianMirror, progress);
    this.log.info("image built", { ref: def.ref, from: "debootstrap" });
    return def.ref;
  }

  /**
   * A rootfs already made by a path the setting allows (none with --force): auto takes the official image's
   * one, else the debootstrap one, without asking a registry.
   */
  private async presentRootfs(
    setting: RootfsSetting,
    autoImage: string,
  ): Promise<{ ref: string; source: RootfsSource } | null> {
    if (this.opts.force) return null;
    const fromRegistry = (image: string) => ({
      ref: this.images.registryRootfs(image).ref,
      source: { path: "registry", image } as const,
    });
    const fromDebootstrap = {
      ref: this.images.rootfs.ref,
      source: { path: "debootstrap", why: "made earlier" } as const,
    };
    const candidates =
      setting.mode === "debootstrap"
        ? [fromDebootstrap]
        : setting.mode === "image"
          ? [fromRegistry(setting.ref)]
          : [fromRegistry(autoImage), fromDebootstrap];
    for (const c of candidates) if (await this.exists(c.ref)) return c;
    return null;
  }

  /** Builds `def` unless its tag exists; `buildArgs` as a function is only called when it must be built. */
  private async ensureBuilt(
    def: ImageDefinition,
    buildArgs: Record<string, string> | (() => Promise<Record<string, string>>),
    progress: BuildProgress,
  ): Promise<void> {
    if (!this.opts.force && (await this.exists(def.ref))) {
      progress(def.kind, `${def.ref} is up to date`);
      return;
    }
    const args = typeof buildArgs === "function" ? await buildArgs() : buildArgs;
    progress(def.kind, `building ${def.ref}`);
    await this.engine.images.build(
      buildContext(def.files),
      { tag: def.ref, buildArgs: args, labels: imageLabels(def) },
      (line) => {
        if (line.startsWith("Step ") || line.startsWith("Successfully") || /^E: /.test(line)) {
          progress(def.kind, line);
        }
      },
    );
    this.log.info("image built", { ref: def.ref });
  }

  /**
   * Copies the toolchain versions the image's Dockerfile wrote into a label, so the server can report them
   * without starting anything (box_create's `runtimeVersion`). Images without the file stay as they are.
   */
  private async stampVersion(def: ImageDefinition, progress: BuildProgress): Promise<void> {
    const info = await this.engine.images.inspect(def.ref);
    if (!info || info.labels[LABEL_RUNTIME_VERSION] !== undefined) return;
    const version = (await this.engine.images.readFile(def.ref, RUNTIME_VERSION_FILE))?.toString("utf8").trim();
    if (!version) return;
    const context = pack();
    context.entry({ name: "Dockerfile" }, `FROM ${def.ref}\n`);
    context.finalize();
    const labels = { ...imageLabels(def), [LABEL_RUNTIME_VERSION]: version.slice(0, 200) };
    await this.engine.images.build(Readable.from(context), { tag: def.ref, labels }, () => {});
    progress(def.kind, `${def.ref}: ${version}`);
  }

  /** Removes this runtime's images of older definitions (those no container uses; the engine refuses the rest). */
  private async pruneOlder(def: ImageDefinition): Promise<void> {
    const all = await this.engine.images.list({ [LABEL_MANAGED]: "true", [LABEL_RUNTIME]: def.kind });
    for (const img of all) {
      if (img.labels[LABEL_IMAGE_HASH] === def.hash) continue;
      if (!img.tags.every((t) => t.startsWith(`${def.repo}:`))) continue;
      try {
        for (const t of img.tags) await this.engine.images.remove(t);
      } catch (err) {
        this.log.debug("older image kept (in use)", { image: img.id, error: String(err) });
      }
    }
  }
}
