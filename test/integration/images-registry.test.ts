// The image builder's registry path against a real registry: Debian's docker-registry on a free loopback port
// stands in for Docker Hub, serving a stand-in for the official debian:trixie-slim (the local debootstrap
// rootfs with git, curl and python3 purged, so the builder must install debootstrap.json's include list
// itself). Everything the test builds is under its own repository prefix and carries a label of this run: the
// boxd/* images that concurrently running tests use are never replaced or removed, and afterAll removes all
// of this run's images (dangling ones included), containers, the registry and its folder, also on failure.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerEngine } from "../../src/docker/engine.js";
import type { ImageInfo } from "../../src/docker/images.js";
import { LABEL_IMAGE_HASH, LABEL_MANAGED } from "../../src/docker/labels.js";
import { BoxdError } from "../../src/errors.js";
import { ImageBuilder } from "../../src/images/builder.js";
import { LABEL_ROOTFS_SOURCE, loadImageSet } from "../../src/images/definitions.js";
import { chooseRootfs, describeRootfs, parseRootfsSetting } from "../../src/images/rootfs.js";
import { silentLogger } from "../../src/log.js";
import { testRoot } from "../helpers/test-root.js";

const RUN = `${process.pid}-${Date.now().toString(36)}`;
/** Every image and container of this run carries it (images inherit it from the stand-in's first layer). */
const LABEL_RUN = "boxd.test-images-registry";
const PREFIX = `boxd-test-registry-${RUN}`;
const MIRROR = "http://deb.debian.org/debian";
const PURGED = ["git", "curl", "python3"];

const engine = new DockerEngine(silentLogger);
const real = loadImageSet();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Registry {
  process: ChildProcess;
  port: number;
  output: () => string;
}

/** `docker-registry serve` with filesystem storage in `dir`, listening on 127.0.0.1 only; waits for /v2/. */
async function startRegistry(dir: string): Promise<Registry> {
  const port = await freePort();
  const config = path.join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
  let failure: Error | null = null;
  child.on("error", (err) => (failure = err));
  child.on("exit", (code) => (failure ??= new Error(`docker-registry exited with ${code}:\n${output}`)));
  const registry = { process: child, port, output: () => output };
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (failure) {
      throw new Error(
        `docker-registry did not start (${(failure as Error).message}): tools/test-deps.sh installs Debian's docker-registry`,
      );
    }
    const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return registry;
  }
  child.kill("SIGKILL");
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 15 s:\n${output}`);
}

/** Builds a Dockerfile with no other files in its context. */
async function buildDockerfile(tag: string, dockerfile: string): Promise<void> {
  const context = pack();
  context.entry({ name: "Dockerfile" }, dockerfile);
  context.finalize();
  await engine.images.build(Readable.from(context), { tag }, () => {});
}

let containers = 0;
/** Runs `command` as root in a throwaway container of `image` (no network); returns its exit code and output. */
async function runIn(image: string, command: string): Promise<{ code: number | null; out: string }> {
  const id = await engine.containers.create({
    name: `boxd-test-registry-${RUN}-${++containers}`,
    image,
    labels: { [LABEL_RUN]: RUN },
    env: [],
    user: "0:0",
    workingDir: "/",
    hostname: "registry-test",
    cmd: ["sleep", "300"],
    limits: { nanoCpus: 1e9, memoryBytes: 512 * 1024 * 1024, pids: 256 },
  });
  try {
    await engine.containers.start(id);
    let out = "";
    const append = (b: Buffer) => {
      out += b.toString();
    };
    const res = await engine.execs.run({
      containerId: id,
      cmd: ["sh", "-c", command],
      user: "0:0",
      bulk: true,
      onStdout: append,
      onStderr: append,
    });
    return { code: res.exitCode, out };
  } finally {
    await engine.containers.remove(id);
  }
}

/** Removes every image of this run, newest first (children before the images they are built on). */
async function removeRunImages(): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const left: ImageInfo[] = await engine.images.list({ [LABEL_RUN]: RUN });
    if (left.length === 0) return;
    left.sort((a, b) => b.created.localeCompare(a.created));
    for (const img of left) await engine.images.remove(img.id, true).catch(() => {});
  }
  const left = await engine.images.list({ [LABEL_RUN]: RUN });
  if (left.length) throw new Error(`images of this run left behind: ${left.map((i) => i.tags.join(",") || i.id)}`);
}

describe("images from a registry", () => {
  let dir = "";
  let registry: Registry | undefined;
  let standIn = "";
  const pushed: string[] = [];

  beforeAll(async () => {
    if (!(await engine.images.inspect(real.rootfs.ref))) {
      throw new Error(
        `the debootstrap rootfs ${real.rootfs.ref} is missing: run \`npm run setup\` (boxd images build)`,
      );
    }
    dir = mkdtempSync(path.join(testRoot(), "registry-"));
    registry = await startRegistry(dir);
    standIn = `127.0.0.1:${registry.port}/debian:trixie-slim`;
    await buildDockerfile(
      standIn,
      [
        `FROM ${real.rootfs.ref}`,
        `LABEL ${LABEL_RUN}=${RUN}`,
        `RUN apt-get purge -y ${PURGED.join(" ")} python3-minimal 'python3.*' && rm -rf /var/lib/apt/lists/*`,
        "",
      ].join("\n"),
    );
    await engine.images.push(standIn, (line) => pushed.push(line));
    // Only the registry has it now: the builder must pull it.
    await engine.images.remove(standIn);
    expect(await engine.images.inspect(standIn)).toBeNull();
  }, 300_000);

  afterAll(async () => {
    try {
      for (const c of await engine.containers.list({ [LABEL_RUN]: RUN })) await engine.containers.remove(c.id);
      await removeRunImages();
    } finally {
      const proc = registry?.process;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            proc.kill("SIGKILL");
            resolve();
          }, 5_000);
          proc.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          proc.kill("SIGTERM");
        });
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("pushes the stand-in to the local registry", () => {
    expect(pushed.join("\n")).toMatch(/trixie-slim: digest: sha256:[0-9a-f]{64}/);
  });

  it("pulls the configured image, installs the include list into it, and builds on it under the usual tags", async () => {
    const set = loadImageSet("", undefined, { repoPrefix: PREFIX });
    const builder = new ImageBuilder(engine, set, { baseImage: standIn, debianMirror: MIRROR }, silentLogger);
    const progress: string[] = [];
    const netd = await builder.ensureNetd((step, line) => progress.push(`${step}: ${line}`));

    // It pulled from the local registry and said which path it took.
    expect(progress).toContain(`rootfs: pulling ${standIn}`);
    expect(progress).toContain(`rootfs: Status: Downloaded newer image for ${standIn}`);
    expect(progress).toContain(`rootfs: from registry image ${standIn}`);
    expect(builder.rootfsPath).toBe(`from registry image ${standIn}`);
    // The registry's access log: the pull fetched the manifest and the layers from it (a push only uploads).
    const access = (registry?.output() ?? "").split("\n").filter((l) => l.startsWith("127.0.0.1 - - "));
    expect(access.filter((l) => /"HEAD \/v2\/debian\/manifests\/trixie-slim HTTP\/1\.1" 200/.test(l))).toHaveLength(1);
    expect(
      access.filter((l) => /"GET \/v2\/debian\/blobs\/sha256:[0-9a-f]{64} HTTP\/1\.1" 200/.test(l)).length,
    ).toBeGreaterThan(0);
    expect((await engine.images.inspect(standIn))?.labels[LABEL_RUN]).toBe(RUN);

    // The rootfs: labelled with its source, with the packages the stand-in lacked installed again.
    const rootfs = set.registryRootfs(standIn);
    expect(rootfs.ref).toMatch(new RegExp(`^${PREFIX}/rootfs:[0-9a-f]{12}$`));
    expect(rootfs.hash).not.toBe(real.rootfs.hash);
    const labels = (await engine.images.inspect(rootfs.ref))?.labels ?? {};
    expect(labels[LABEL_ROOTFS_SOURCE]).toBe(`registry:${standIn}`);
    expect(labels[LABEL_MANAGED]).toBe("true");
    expect(labels[LABEL_IMAGE_HASH]).toBe(rootfs.hash);
    const missing = await runIn(standIn, PURGED.map((p) => `! command -v ${p}`).join(" && "));
    expect(missing).toEqual({ code: 0, out: "" });
    const tools = await runIn(rootfs.ref, "python3 --version && git --version && curl --version | head -n 1");
    expect(tools.code, tools.out).toBe(0);
    expect(tools.out).toMatch(/^Python 3\.\d+\.\d+\ngit version 2\.\d+.*\ncurl \d+\.\d+/);

    // netd on that rootfs: the same hash as the real one (tags do not depend on the path), and it works.
    expect(netd).toBe(`${PREFIX}/netd:${real.netd.hash}`);
    const check = await runIn(
      netd,
      "node -e 'process.exit(Number(process.versions.node.split(\".\")[0]) >= 20 ? 0 : 1)' && node --version && iptables-nft-save --version && iptables-legacy-save --version && ip -V && openssl version",
    );
    expect(check.code, check.out).toBe(0);
    expect(check.out).toMatch(
      /^v2\d\.\d+\.\d+\niptables-nft-save v1\.\d+.*\niptables-save v1\.\d+.*legacy.*\nip utility.*\nOpenSSL 3/,
    );

    // Built again by a new builder: everything is found, nothing is pulled or built.
    const again: string[] = [];
    const rebuilt = new ImageBuilder(engine, set, { baseImage: standIn, debianMirror: MIRROR }, silentLogger);
    expect(await rebuilt.ensureNetd((step, line) => again.push(`${step}: ${line}`))).toBe(netd);
    expect(again).toEqual([`netd: ${netd} is up to date`]);
    expect(rebuilt.rootfsPath).toBeUndefined();
  }, 600_000);

  it("fails an explicit ref it cannot pull with an error naming the ref and the fallback settings", async () => {
    const closed = `127.0.0.1:${await freePort()}/debian:trixie-slim`;
    const set = loadImageSet("", undefined, { repoPrefix: `${PREFIX}-unreachable` });
    const builder = new ImageBuilder(engine, set, { baseImage: closed, debianMirror: MIRROR }, silentLogger);
    const err = await builder.ensureNetd(() => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoxdError);
    expect((err as BoxdError).code).toBe("NOT_FOUND");
    expect((err as BoxdError).message).toMatch(
      new RegExp(
        `^BOXD_BASE_IMAGE=${closed} cannot be pulled \\(.*connection refused\\).*BOXD_BASE_IMAGE=auto.*BOXD_BASE_IMAGE=debootstrap`,
      ),
    );
  });

  it("auto falls back to debootstrap when the registry cannot be reached, and says why", async () => {
    const closed = `127.0.0.1:${await freePort()}/debian:trixie-slim`;
    const lines: string[] = [];
    const source = await chooseRootfs(engine.images, parseRootfsSetting("auto"), closed, (l) => lines.push(l));
    expect(source).toMatchObject({ path: "debootstrap" });
    expect(describeRootfs(source)).toMatch(
      /^debootstrap \(registry not reachable: .*127\.0\.0\.1.*connection refused\)$/,
    );
    expect(lines).toEqual([`pulling ${closed}`]);
  });

  it("auto takes a present image without pulling; debootstrap never asks a registry", async () => {
    expect(parseRootfsSetting("")).toEqual({ mode: "auto" });
    expect(parseRootfsSetting(" auto ")).toEqual({ mode: "auto" });
    expect(parseRootfsSetting("debootstrap")).toEqual({ mode: "debootstrap" });
    expect(parseRootfsSetting("mirror.example:5000/debian:trixie-slim")).toEqual({
      mode: "image",
      ref: "mirror.example:5000/debian:trixie-slim",
    });
    const pulls: string[] = [];
    const images = {
      inspect: engine.images.inspect.bind(engine.images),
      pull: async (ref: string) => {
        pulls.push(ref);
      },
    };
    const present = real.rootfs.ref;
    expect(await chooseRootfs(images, { mode: "auto" }, present, () => {})).toEqual({
      path: "registry",
      image: present,
    });
    expect(await chooseRootfs(images, { mode: "debootstrap" }, standIn, () => {})).toEqual({
      path: "debootstrap",
      why: "BOXD_BASE_IMAGE=debootstrap",
    });
    expect(pulls).toEqual([]);
  });
});
