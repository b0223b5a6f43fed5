// Issue 15 items 1 and 8: sizes as the product defines them (clamped to a small host), the disk allowance
// per size with the operator's override, and runs typed command / code / agent (old shell rows migrated).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  diskAllowanceFor,
  effectiveLimits,
  HOST_MEMORY_HEADROOM_BYTES,
  limitsFor,
  MIN_BOX_MEMORY_BYTES,
} from "../../src/box/sizes.js";
import { loadConfig } from "../../src/config.js";
import { DiskAllowance } from "../../src/lifecycle/disk-guard.js";
import { openDb } from "../../src/state/db.js";

const GiB = 1024 ** 3;
const big = { cpus: 64, memoryBytes: 256 * GiB };

describe("sizes", () => {
  it("are 2/4/8 CPUs, 4/8/16 GiB memory, 5/10/20 GiB disk on a big host", () => {
    expect(effectiveLimits("small", big)).toEqual({ cpus: 2, memoryBytes: 4 * GiB });
    expect(effectiveLimits("medium", big)).toEqual({ cpus: 4, memoryBytes: 8 * GiB });
    expect(effectiveLimits("large", big)).toEqual({ cpus: 8, memoryBytes: 16 * GiB });
    expect([diskAllowanceFor("small", 0), diskAllowanceFor("medium", 0), diskAllowanceFor("large", 0)]).toEqual([
      5 * GiB,
      10 * GiB,
      20 * GiB,
    ]);
    expect(limitsFor("large", big)).toEqual({ nanoCpus: 8e9, memoryBytes: 16 * GiB, pids: 2048 });
    // A gVisor box's pids cgroup counts the sandbox's host tasks, several per box process.
    expect(limitsFor("small", big, "gvisor").pids).toBe(512 * 10 + 256);
    expect(limitsFor("small", big, "runc").pids).toBe(512);
  });

  it("clamp CPUs and memory on a small host, leaving the host headroom", () => {
    const small = { cpus: 2, memoryBytes: 3 * GiB };
    expect(effectiveLimits("large", small)).toEqual({ cpus: 2, memoryBytes: 3 * GiB - HOST_MEMORY_HEADROOM_BYTES });
    expect(effectiveLimits("small", { cpus: 1, memoryBytes: 8 * GiB })).toEqual({ cpus: 1, memoryBytes: 4 * GiB });
    // A tiny host still gives a box something to run in; the container's limits are the same figures.
    expect(effectiveLimits("small", { cpus: 1, memoryBytes: 512 * 1024 ** 2 }).memoryBytes).toBe(MIN_BOX_MEMORY_BYTES);
    expect(limitsFor("large", small)).toEqual({
      nanoCpus: 2e9,
      memoryBytes: 3 * GiB - HOST_MEMORY_HEADROOM_BYTES,
      pids: 2048,
    });
  });

  it("take the operator's disk allowance for every size when set", () => {
    expect(diskAllowanceFor("small", 300 * 1024 ** 2)).toBe(300 * 1024 ** 2);
    expect(diskAllowanceFor("large", 300 * 1024 ** 2)).toBe(300 * 1024 ** 2);
    expect(loadConfig({}).maxDiskBytes).toBe(0);
    expect(loadConfig({ BOXD_MAX_DISK_BYTES: "0" }).maxDiskBytes).toBe(0);
    expect(loadConfig({ BOXD_MAX_DISK_BYTES: String(2 * GiB) }).maxDiskBytes).toBe(2 * GiB);
    expect(() => loadConfig({ BOXD_MAX_DISK_BYTES: "100" })).toThrow();
  });

  it("disk allowance: per box from its size, last measurement kept, forgotten with the box", () => {
    const a = new DiskAllowance(0);
    const box = { id: "box_a", size: "medium" as const };
    expect(a.of(box)).toEqual({ allowanceBytes: 10 * GiB });
    a.record("box_a", 1234);
    expect(a.of(box)).toEqual({ allowanceBytes: 10 * GiB, usedBytes: 1234 });
    a.markOver("box_a", 11 * GiB, 10 * GiB);
    expect(() => a.assertWithinAllowance("box_a")).toThrow(/over its 10240 MiB allowance/);
    a.forget("box_a");
    expect(a.isOver("box_a")).toBe(false);
    expect(a.of(box)).toEqual({ allowanceBytes: 10 * GiB });
  });
});

describe("run types", () => {
  it("shell runs recorded before read back as command runs", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "boxd-runtypes-"));
    try {
      // A database at the schema before this change, with a shell run in it.
      openDb(dir).close();
      const raw = new Database(path.join(dir, "boxd.db"));
      // Version 3: the three migrations before the one that added limits (later ones undone too, or replayable: box_usage is created only if missing).
      raw.pragma("user_version = 3");
      raw.exec(
        "DROP INDEX boxes_expiry; ALTER TABLE boxes DROP COLUMN expires_at; ALTER TABLE boxes DROP COLUMN limits; ALTER TABLE runs DROP COLUMN schedule_id; ALTER TABLE boxes DROP COLUMN isolation; ALTER TABLE boxes DROP COLUMN root",
      );
      raw
        .prepare(
          "INSERT INTO runs (id, box_id, type, command, status, timed_out, started_at) VALUES ('run_1', 'box_1', 'shell', 'ls', 'completed', 0, '2024-01-01')",
        )
        .run();
      raw.close();
      const db = openDb(dir);
      expect(db.prepare("SELECT type FROM runs WHERE id = 'run_1'").get()).toEqual({ type: "command" });
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
