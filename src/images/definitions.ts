// Box image definitions: the folders under images/ in the repo, each tagged with a content hash of its
// definition (and of what it is built on), so a changed definition rebuilds and an unchanged one is reused.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

/** Where a rootfs image came from: `registry:<ref>` or `debootstrap` (a label of boxd/rootfs images). */
export const LABEL_ROOTFS_SOURCE = "boxd.rootfs-source";

/**
 * The Dockerfile of a rootfs made from a registry image: the debootstrap include list installed into it, so
 * both paths give the same packages. MIRROR (BOXD_DEBIAN_MIRROR) replaces the official image's mirror, as
 * debootstrap writes the mirror it used into its rootfs.
 */
export function registryRootfsDockerfile(ref: string, spec: DebootstrapSpec): string {
  return [
    "# Made by boxd's image builder: the root filesystem of box images from a registry image.",
    `FROM ${ref}`,
    "ARG MIRROR=http://deb.debian.org/debian",
    "RUN sources=/etc/apt/sources.list.d/debian.sources \\",
    ' && { [ ! -f "$sources" ] || sed -i -E "s#^URIs: http://deb.debian.org/debian\\$#URIs: $MIRROR#" "$sources"; } \\',
    " && apt-get update \\",
    ` && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${spec.include.join(" ")} \\`,
    " && apt-get clean \\",
    " && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb",
    "",
  ].join("\n");
}

export interface ImageSet {
  debootstrap: DebootstrapSpec;
  /** The root filesystem imported from debootstrap (what base's and the runtimes' tags are computed from). */
  rootfs: ImageDefinition;
  /** The root filesystem made from registry image `ref` plus the include list (same packages as debootstrap). */
  registryRootfs(ref: string): ImageDefinition;
  base: ImageDefinition;
  /** The network helper's image (images/netd): Node, iptables, iproute2, openssl on the rootfs. */
  netd: ImageDefinition;
  runtime(name: Runtime): ImageDefinition;
}

export interface ImageSetOptions {
  /** The repository prefix of every tag (`boxd`): tests build under their own so they never touch boxd's. */
  repoPrefix?: string;
}

/**
 * Loads every definition and computes its tag; pure apart from reading images/. The tags never depend on
 * where the rootfs comes from (registry or debootstrap, see rootfs.ts): base, netd and the runtimes are
 * found by the same tags whichever path built them. `_baseImage` (BOXD_BASE_IMAGE) is accepted for the
 * callers that pass it and does not change anything here.
 */
export function loadImageSet(_baseImage = "", root = imagesRoot(), opts: ImageSetOptions = {}): ImageSet {
  const prefix = opts.repoPrefix ?? "boxd";
  const baseFiles = readDir(path.join(root, "base"));
  const spec = JSON.parse(
    baseFiles.find((f) => f.name === "debootstrap.json")?.content.toString() ?? "{}",
  ) as DebootstrapSpec;
  const rootfsHash = hashOf([JSON.stringify(spec)]);
  const rootfs = definition("rootfs", `${prefix}/rootfs`, rootfsHash, []);
  const onRootfs = (kind: string, files: DefinitionFile[]) =>
    definition(kind, `${prefix}/${kind}`, hashOf([rootfsHash, ...files.flatMap((f) => [f.name, f.content])]), files);
  const buildFiles = baseFiles.filter((f) => f.name !== "debootstrap.json");
  const base = onRootfs("base", buildFiles);
  const netdDir = path.join(root, "netd");
  const netd = onRootfs("netd", existsSync(netdDir) ? readDir(netdDir) : []);
  const helpers = buildFiles.filter((f) => f.name.startsWith("boxd-"));
  return {
    debootstrap: spec,
    rootfs,
    registryRootfs(ref: string) {
      const dockerfile = Buffer.from(registryRootfsDockerfile(ref, spec));
      const hash = hashOf(["registry", ref, JSON.stringify(spec), dockerfile]);
      return definition("rootfs", `${prefix}/rootfs`, hash, [{ name: "Dockerfile", content: dockerfile }]);
    },
    base,
    netd,
    runtime(name: Runtime) {
      const own = readDir(path.join(root, name));
      // Alpine variants carry the run helpers themselves; Debian ones inherit them from base.
      const files = needsRegistry(name) ? [...own, ...helpers] : own;
      const variantOf = VARIANT_PARENTS[name as keyof typeof VARIANT_PARENTS];
      const parent = needsRegistry(name) ? "registry" : variantOf ? this.runtime(variantOf).hash : base.hash;
      return definition(
        name,
        `${prefix}/${name}`,
        hashOf([parent, ...files.flatMap((f) => [f.name, f.content])]),
        files,
      );
    },
  };
}
