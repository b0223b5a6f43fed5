// Builds box images locally: rootfs (debootstrap + import, or a configured registry base) -> base (user,
// helpers) -> one image per runtime. Each step is skipped when its content-hash tag already exists.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
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
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import { type ImageDefinition, type ImageSet, needsRegistry, type Runtime, VARIANT_PARENTS } from "./definitions.js";

export type BuildProgress = (step: string, line: string) => void;

export interface BuildOptions {
  baseImage: string;
  debianMirror: string;
  force?: boolean;
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

  /** Ensures the images of `runtimes` exist; returns their refs. */
  async ensure(runtimes: readonly Runtime[], progress: BuildProgress): Promise<string[]> {
    const refs: string[] = [];
    const debian = runtimes.filter((r) => !needsRegistry(r));
    if (debian.length > 0) {
      const rootfsRef = await this.ensureRootfs(progress);
      await this.ensureBuilt(this.images.base, { ROOTFS: rootfsRef }, progress);
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

  private async exists(ref: string): Promise<boolean> {
    return (await this.engine.images.inspect(ref)) !== null;
  }

  private async ensureRootfs(progress: BuildProgress): Promise<string> {
    if (this.opts.baseImage) {
      if (!(await this.exists(this.opts.baseImage))) {
        progress("rootfs", `pulling ${this.opts.baseImage}`);
        await this.engine.images.pull(this.opts.baseImage, (l) => progress("rootfs", l));
      }
      return this.opts.baseImage;
    }
    const def = this.images.rootfs;
    if (!this.opts.force && (await this.exists(def.ref))) {
      progress("rootfs", `${def.ref} is up to date`);
      return def.ref;
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), "boxd-rootfs-"));
    try {
      await this.debootstrap(dir, progress);
      progress("rootfs", `importing ${def.ref}`);
      const tar = spawn("tar", ["-C", dir, "--numeric-owner", "--exclude=./var/cache/apt/archives/*.deb", "-c", "."], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const tarFailed = new Promise<never>((_, reject) => {
        tar.on("error", reject);
        tar.on("exit", (code) => {
          if (code !== 0) reject(new Error(`tar exited with ${code}`));
        });
      });
      await Promise.race([
        this.engine.images.importRootfs(
          tar.stdout,
          def.repo,
          def.hash,
          [`LABEL ${LABEL_MANAGED}=true`, `LABEL ${LABEL_KIND}=image`, `LABEL ${LABEL_IMAGE_HASH}=${def.hash}`],
          (l) => progress("rootfs", l),
        ),
        tarFailed,
      ]);
      return def.ref;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private debootstrap(dir: string, progress: BuildProgress): Promise<void> {
    const spec = this.images.debootstrap;
    const args = [
      `--variant=${spec.variant}`,
      `--include=${spec.include.join(",")}`,
      ...(spec.exclude.length ? [`--exclude=${spec.exclude.join(",")}`] : []),
      spec.suite,
      dir,
      this.opts.debianMirror,
    ];
    progress("rootfs", `debootstrap ${args.join(" ")} (about a minute)`);
    return new Promise((resolve, reject) => {
      const child = spawn("debootstrap", args, { stdio: ["ignore", "pipe", "pipe"] });
      let tail = "";
      const onData = (b: Buffer) => {
        const text = b.toString();
        tail = (tail + text).slice(-4000);
        for (const line of text.split("\n")) {
          // Only debootstrap's own step lines: the rest is per-package noise.
          if (/^[IWE]: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)/.test(line)) {
            if (!/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) [a-z0-9]/.test(line)) {
              progress("rootfs", line);
            }
          }
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("error", (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "ENOENT"
            ? new BoxdError(
                "NOT_FOUND",
                "debootstrap is not installed: `apt-get install debootstrap` (tools/provision-engine.sh does it), or set BOXD_BASE_IMAGE=debian:trixie-slim where a registry is reachable",
              )
            : err,
        );
      });
      child.on("exit", (code) => {
        if (code === 0) resolve();
        else reject(new Error(`debootstrap failed (exit ${code}):\n${tail}`));
      });
    });
  }

  private async ensureBuilt(
    def: ImageDefinition,
    buildArgs: Record<string, string>,
    progress: BuildProgress,
  ): Promise<void> {
    if (!this.opts.force && (await this.exists(def.ref))) {
      progress(def.kind, `${def.ref} is up to date`);
      return;
    }
    progress(def.kind, `building ${def.ref}`);
    const context = pack();
    for (const f of def.files) {
      context.entry({ name: f.name, mode: f.name.startsWith("boxd-") ? 0o755 : 0o644 }, f.content);
    }
    context.finalize();
    await this.engine.images.build(
      Readable.from(context),
      { tag: def.ref, buildArgs, labels: imageLabels(def) },
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
