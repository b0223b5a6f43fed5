// The root filesystem box images are built on, by one of two paths giving the same packages: a registry
// image (the official debian:<suite>-slim, or BOXD_BASE_IMAGE's ref) with debootstrap.json's include list
// installed into it, or debootstrap + `docker import` where no registry is reachable (the project's
// machines). BOXD_BASE_IMAGE: `auto` (or empty) tries the official image and falls back to debootstrap,
// `debootstrap` never asks a registry, anything else is an image ref that must be pullable.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pack } from "tar-stream";
import type { DockerEngine } from "../docker/engine.js";
import type { ProgressFn } from "../docker/images.js";
import { LABEL_IMAGE_HASH, LABEL_KIND, LABEL_MANAGED } from "../docker/labels.js";
import { BoxdError } from "../errors.js";
import { type DebootstrapSpec, type DefinitionFile, type ImageDefinition, LABEL_ROOTFS_SOURCE } from "./definitions.js";

export type RootfsSetting = { mode: "auto" } | { mode: "debootstrap" } | { mode: "image"; ref: string };

/** What a BOXD_BASE_IMAGE value asks for ("" is the older spelling of auto). */
export function parseRootfsSetting(value: string): RootfsSetting {
  const v = value.trim();
  if (v === "" || v === "auto") return { mode: "auto" };
  if (v === "debootstrap") return { mode: "debootstrap" };
  return { mode: "image", ref: v };
}

/** The official image `auto` tries: debian:<suite>-slim. */
export const officialImage = (spec: DebootstrapSpec) => `debian:${spec.suite}-slim`;

/** Which path makes the rootfs: from a registry image (present locally by then), or debootstrap and why. */
export type RootfsSource = { path: "registry"; image: string } | { path: "debootstrap"; why: string };

/** One line for the build's output: "from registry image debian:trixie-slim", "debootstrap (...)". */
export function describeRootfs(source: RootfsSource): string {
  return source.path === "registry" ? `from registry image ${source.image}` : `debootstrap (${source.why})`;
}

type RegistryImages = Pick<DockerEngine["images"], "inspect" | "pull">;

/**
 * Decides the path, pulling the registry image when it is not already present (never again when it is).
 * Never runs debootstrap. `auto` falls back to debootstrap when the pull fails; an explicit ref fails.
 */
export async function chooseRootfs(
  images: RegistryImages,
  setting: RootfsSetting,
  autoImage: string,
  progress: ProgressFn,
): Promise<RootfsSource> {
  if (setting.mode === "debootstrap") return { path: "debootstrap", why: "BOXD_BASE_IMAGE=debootstrap" };
  const image = setting.mode === "image" ? setting.ref : autoImage;
  if (await images.inspect(image)) return { path: "registry", image };
  progress(`pulling ${image}`);
  try {
    await images.pull(image, (line) => {
      if (/^(Pulling from|Digest:|Status:)/.test(line)) progress(line);
    });
    return { path: "registry", image };
  } catch (err) {
    const reason = shortReason(err, image);
    if (setting.mode === "auto") return { path: "debootstrap", why: `registry not reachable: ${reason}` };
    throw new BoxdError(
      "NOT_FOUND",
      `BOXD_BASE_IMAGE=${image} cannot be pulled (${reason}): make that image reachable or present on the engine, or set BOXD_BASE_IMAGE=auto (the official ${autoImage} where a registry is reachable, else debootstrap) or BOXD_BASE_IMAGE=debootstrap (no registry needed)`,
      { cause: err },
    );
  }
}

/** The informative end of a pull failure ("... dial tcp ...: connection refused"), at most 160 characters. */
function shortReason(err: unknown, image: string): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(`pull image ${image}: `, "").trim();
  return text.length > 160 ? `…${text.slice(-159)}` : text;
}

/** A build context holding `files` (names starting with boxd- are executable). */
export function buildContext(files: DefinitionFile[]): Readable {
  const context = pack();
  for (const f of files) {
    context.entry({ name: f.name, mode: f.name.startsWith("boxd-") ? 0o755 : 0o644 }, f.content);
  }
  context.finalize();
  return Readable.from(context);
}

const rootfsLabels = (def: ImageDefinition, source: string) => ({
  [LABEL_MANAGED]: "true",
  [LABEL_KIND]: "image",
  [LABEL_IMAGE_HASH]: def.hash,
  [LABEL_ROOTFS_SOURCE]: source,
});

/** Builds `def` (images.registryRootfs(image)): the include list installed into the pulled image. */
export async function buildRegistryRootfs(
  engine: DockerEngine,
  def: ImageDefinition,
  image: string,
  mirror: string,
  progress: ProgressFn,
): Promise<void> {
  progress(`building ${def.ref} from ${image}`);
  await engine.images.build(
    buildContext(def.files),
    { tag: def.ref, buildArgs: { MIRROR: mirror }, labels: rootfsLabels(def, `registry:${image}`) },
    (line) => {
      if (line.startsWith("Step ") || line.startsWith("Successfully") || /^E: /.test(line)) progress(line);
    },
  );
}

/** debootstrap into a temporary folder, then `docker import` of it as `def`. */
export async function importDebootstrap(
  engine: DockerEngine,
  def: ImageDefinition,
  spec: DebootstrapSpec,
  mirror: string,
  progress: ProgressFn,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "boxd-rootfs-"));
  try {
    await debootstrap(spec, dir, mirror, progress);
    progress(`importing ${def.ref}`);
    const tar = spawn("tar", ["-C", dir, "--numeric-owner", "--exclude=./var/cache/apt/archives/*.deb", "-c", "."], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tarFailed = new Promise<never>((_, reject) => {
      tar.on("error", reject);
      tar.on("exit", (code) => {
        if (code !== 0) reject(new Error(`tar exited with ${code}`));
      });
    });
    const changes = Object.entries(rootfsLabels(def, "debootstrap")).map(([k, v]) => `LABEL ${k}=${v}`);
    await Promise.race([engine.images.importRootfs(tar.stdout, def.repo, def.hash, changes, progress), tarFailed]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function debootstrap(spec: DebootstrapSpec, dir: string, mirror: string, progress: ProgressFn): Promise<void> {
  const args = [
    `--variant=${spec.variant}`,
    `--include=${spec.include.join(",")}`,
    ...(spec.exclude.length ? [`--exclude=${spec.exclude.join(",")}`] : []),
    spec.suite,
    dir,
    mirror,
  ];
  progress(`debootstrap ${args.join(" ")} (about a minute)`);
  return new Promise((resolve, reject) => {
    const child = spawn("debootstrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const onData = (b: Buffer) => {
      const text = b.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) {
        // Only debootstrap's own step lines: the rest is per-package noise.
        if (/^[IWE]: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)/.test(line)) {
          if (!/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) [a-z0-9]/.test(line)) progress(line);
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
              `debootstrap is not installed: \`apt-get install debootstrap\` (tools/provision-engine.sh does it), or, where a registry is reachable, set BOXD_BASE_IMAGE=auto or BOXD_BASE_IMAGE=${officialImage(spec)}`,
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
