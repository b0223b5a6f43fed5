// Box image definitions: the folders under images/ in the repo, each tagged with a content hash of its
// definition (and of what it is built on), so a changed definition rebuilds and an unchanged one is reused.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const RUNTIMES = ["node", "python", "golang", "ruby", "rust"] as const;
export type BaseRuntime = (typeof RUNTIMES)[number];
/** Variants built on a runtime image; not in the default build set. */
export const VARIANT_PARENTS = { "node-agent": "node" } as const;
export const ALL_RUNTIMES = [
  ...RUNTIMES,
  ...RUNTIMES.map((r) => `${r}-alpine` as const),
  ...(Object.keys(VARIANT_PARENTS) as (keyof typeof VARIANT_PARENTS)[]),
] as const;
export type Runtime = (typeof ALL_RUNTIMES)[number];

export function isRuntime(value: string): value is Runtime {
  return (ALL_RUNTIMES as readonly string[]).includes(value);
}

/** Alpine variants are based on official registry images: they can only be built where one is reachable. */
export const needsRegistry = (runtime: Runtime) => runtime.endsWith("-alpine");

export interface DefinitionFile {
  name: string;
  content: Buffer;
}

export interface ImageDefinition {
  /** What this image is: "rootfs", "base" or a runtime name. */
  kind: string;
  repo: string;
  hash: string;
  files: DefinitionFile[];
  get ref(): string;
}

export interface DebootstrapSpec {
  suite: string;
  variant: string;
  include: string[];
  exclude: string[];
}

/** images/ at the repo root, from src/images or dist/images alike. */
export function imagesRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "images");
}

function readDir(dir: string): DefinitionFile[] {
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, content: readFileSync(path.join(dir, name)) }));
}

function hashOf(parts: Array<string | Buffer>): string {
  const h = createHash("sha256");
  for (const p of parts) {
    h.update(p);
    h.update("\0");
  }
  return h.digest("hex").slice(0, 12);
}

function definition(kind: string, repo: string, hash: string, files: DefinitionFile[]) {
  return {
    kind,
    repo,
    hash,
    files,
    get ref() {
      return `${repo}:${hash}`;
    },
  };
}

export interface ImageSet {
  debootstrap: DebootstrapSpec;
  /** The root filesystem: imported from debootstrap, or `baseImage` when one is configured. */
  rootfs: ImageDefinition;
  base: ImageDefinition;
  runtime(name: Runtime): ImageDefinition;
}

/** Loads every definition and computes its tag; pure apart from reading images/. */
export function loadImageSet(baseImage = "", root = imagesRoot()): ImageSet {
  const baseFiles = readDir(path.join(root, "base"));
  const spec = JSON.parse(
    baseFiles.find((f) => f.name === "debootstrap.json")?.content.toString() ?? "{}",
  ) as DebootstrapSpec;
  const rootfsHash = baseImage ? hashOf(["registry", baseImage]) : hashOf([JSON.stringify(spec)]);
  const rootfs = definition("rootfs", "boxd/rootfs", rootfsHash, []);
  const buildFiles = baseFiles.filter((f) => f.name !== "debootstrap.json");
  const base = definition(
    "base",
    "boxd/base",
    hashOf([rootfsHash, ...buildFiles.flatMap((f) => [f.name, f.content])]),
    buildFiles,
  );
  const helpers = buildFiles.filter((f) => f.name.startsWith("boxd-"));
  return {
    debootstrap: spec,
    rootfs,
    base,
    runtime(name: Runtime) {
      const own = readDir(path.join(root, name));
      // Alpine variants carry the run helpers themselves; Debian ones inherit them from base.
      const files = needsRegistry(name) ? [...own, ...helpers] : own;
      const variantOf = VARIANT_PARENTS[name as keyof typeof VARIANT_PARENTS];
      const parent = needsRegistry(name) ? "registry" : variantOf ? this.runtime(variantOf).hash : base.hash;
      return definition(name, `boxd/${name}`, hashOf([parent, ...files.flatMap((f) => [f.name, f.content])]), files);
    },
  };
}
