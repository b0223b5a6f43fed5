// Pure logic: config precedence, output plumbing, subnets, validation, the per-key lock, image hashes.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { KeyLock } from "../../src/box/key-lock.js";
import { subnetAt } from "../../src/box/network-pool.js";
import { limitsFor } from "../../src/box/sizes.js";
import { checkEnv, checkLabels, checkName } from "../../src/box/validation.js";
import { loadConfig } from "../../src/config.js";
import type { BoxdError } from "../../src/errors.js";
import { loadImageSet } from "../../src/images/definitions.js";
import { CappedBuffer, TrailerFilter, usageFromTrailer } from "../../src/shell/output.js";

describe("config", () => {
  it("takes defaults, then env, then flags", () => {
    expect(loadConfig({}).execTimeoutSeconds).toBe(300);
    expect(loadConfig({ BOXD_EXEC_TIMEOUT_SECONDS: "20" }).execTimeoutSeconds).toBe(20);
    expect(loadConfig({ BOXD_EXEC_TIMEOUT_SECONDS: "20" }, { execTimeoutSeconds: "30" }).execTimeoutSeconds).toBe(30);
    expect(loadConfig({ BOXD_ROOTS: "/a,/b" }).roots).toEqual(["/a", "/b"]);
    expect(loadConfig({ BOXD_DATA_DIR: "rel" }).dataDir).toBe(path.resolve("rel"));
  });
  it("names the setting when a value is bad", () => {
    expect(() => loadConfig({ BOXD_LOG_LEVEL: "loud" })).toThrow(/BOXD_LOG_LEVEL/);
    expect(() => loadConfig({ BOXD_NETWORK_POOL: "10.0.0.0/8" })).toThrow(/BOXD_NETWORK_POOL/);
  });
});

describe("run output", () => {
  it("keeps the head of a stream and counts the rest", () => {
    const b = new CappedBuffer(5);
    b.push(Buffer.from("abc"));
    b.push(Buffer.from("defg"));
    expect(b.toBuffer().toString()).toBe("abcde");
    expect(b.total).toBe(7);
    expect(b.truncated).toBe(true);
  });

  it("strips the usage trailer from stderr, even split across chunks", () => {
    const out: string[] = [];
    const f = new TrailerFilter((c) => out.push(c.toString()));
    f.push(Buffer.from("warn: x\n\x1eboxd-us"));
    f.push(Buffer.from("age 0.50 0.25 0.10 2048\n"));
    f.end();
    expect(out.join("")).toBe("warn: x\n");
    expect(usageFromTrailer(f.trailer)).toEqual({ cpuNs: 350_000_000, memoryPeakBytes: 2048 * 1024 });
  });

  it("counts only the trailer the stream ends with: one the command printed before more output is output", () => {
    const out: string[] = [];
    const seen: unknown[] = [];
    const f = new TrailerFilter((c) => out.push(c.toString("latin1")));
    f.onTrailer = (t) => seen.push(t);
    f.push(Buffer.from("\x1eboxd-usage 0 99 99 99999\n"));
    f.push(Buffer.from("still running\n"));
    f.push(Buffer.from("\x1eboxd-usage 1.00 0.50 0.25 1024\n"));
    f.end();
    expect(out.join("")).toBe("\x1eboxd-usage 0 99 99 99999\nstill running\n");
    expect(usageFromTrailer(f.trailer)).toEqual({ cpuNs: 750_000_000, memoryPeakBytes: 1024 * 1024 });
    expect(seen.map((t) => (t === null ? null : "trailer"))).toEqual(["trailer", null, "trailer"]);
  });

  it("passes through RS bytes that are not a trailer", () => {
    const out: string[] = [];
    const f = new TrailerFilter((c) => out.push(c.toString()));
    f.push(Buffer.from("a\x1eb"));
    f.push(Buffer.from("c\n"));
    f.end();
    expect(out.join("")).toBe("a\x1ebc\n");
    expect(f.trailer).toBeNull();
  });
});

describe("subnets and sizes", () => {
  it("carves /28s from the pool", () => {
    expect(subnetAt("10.213.0.0/16", 0)).toEqual({ cidr: "10.213.0.0/28", gateway: "10.213.0.1", boxIp: "10.213.0.2" });
    expect(subnetAt("10.213.0.0/16", 17).cidr).toBe("10.213.1.16/28");
    expect(subnetAt("10.213.0.0/16", 4095).cidr).toBe("10.213.255.240/28");
    expect(() => subnetAt("10.213.0.0/16", 4096)).toThrow();
  });
  it("clamps CPUs to the host", () => {
    // Sizes are 2/4/8 CPUs (issue 15): a size's own count on a bigger host, the host's on a smaller one.
    expect(limitsFor("large", { cpus: 2, memoryBytes: 64 * 1024 ** 3 }).nanoCpus).toBe(2e9);
    expect(limitsFor("small", { cpus: 4, memoryBytes: 64 * 1024 ** 3 }).nanoCpus).toBe(2e9);
  });
});

describe("validation", () => {
  const code = (fn: () => void) => {
    try {
      fn();
      return "ok";
    } catch (e) {
      return (e as BoxdError).code;
    }
  };
  it("accepts good names and refuses bad ones", () => {
    expect(code(() => checkName("my-box.1"))).toBe("ok");
    for (const n of ["", "UPPER", "-x", "a b", "box_x", "a".repeat(64), "../x"])
      expect(code(() => checkName(n))).toBe("INVALID_ARGUMENT");
  });
  it("refuses env that would subvert the box", () => {
    expect(code(() => checkEnv({ FOO: "1" }))).toBe("ok");
    for (const k of ["PATH", "HOME", "LD_PRELOAD", "LD_LIBRARY_PATH", "NODE_OPTIONS", "path", "1X", "A-B", "BOXD_X"]) {
      expect(code(() => checkEnv({ [k]: "x" }))).toBe("INVALID_ARGUMENT");
    }
  });
  it("allows at most 5 labels", () => {
    expect(code(() => checkLabels({ a: "1", b: "2", c: "3", d: "4", e: "5" }))).toBe("ok");
    expect(code(() => checkLabels({ a: "1", b: "2", c: "3", d: "4", e: "5", f: "6" }))).toBe("INVALID_ARGUMENT");
  });
});

describe("key lock", () => {
  it("runs operations on one key one at a time, other keys in parallel", async () => {
    const lock = new KeyLock();
    const log: string[] = [];
    const op = (key: string, tag: string, ms: number) =>
      lock.run(key, async () => {
        log.push(`start ${tag}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${tag}`);
      });
    await Promise.all([op("a", "a1", 30), op("a", "a2", 1), op("b", "b1", 5)]);
    expect(log.indexOf("end a1")).toBeLessThan(log.indexOf("start a2"));
    expect(log.indexOf("start b1")).toBeLessThan(log.indexOf("end a1"));
  });
  it("keeps going after a failed operation", async () => {
    const lock = new KeyLock();
    await expect(lock.run("k", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(await lock.run("k", async () => 1)).toBe(1);
  });
});

describe("image definitions", () => {
  it("changes the tag when a definition changes and only then", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "boxd-img-"));
    mkdirSync(path.join(root, "base"));
    mkdirSync(path.join(root, "node"));
    writeFileSync(
      path.join(root, "base", "debootstrap.json"),
      JSON.stringify({ suite: "bookworm", variant: "minbase", include: [], exclude: [] }),
    );
    writeFileSync(path.join(root, "base", "Dockerfile"), "FROM x\n");
    writeFileSync(path.join(root, "node", "Dockerfile"), "FROM y\n");
    const a = loadImageSet("", root).runtime("node").ref;
    expect(loadImageSet("", root).runtime("node").ref).toBe(a);
    writeFileSync(path.join(root, "node", "Dockerfile"), "FROM y\nRUN true\n");
    const b = loadImageSet("", root).runtime("node").ref;
    expect(b).not.toBe(a);
    writeFileSync(path.join(root, "base", "Dockerfile"), "FROM x\nRUN true\n");
    expect(loadImageSet("", root).runtime("node").ref).not.toBe(b);
    expect(a).toMatch(/^boxd\/node:[0-9a-f]{12}$/);
  });
});
