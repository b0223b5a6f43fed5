// The usage ledger's fold (src/usage/usage-ledger.ts) and the meter around it (src/usage/usage-meter.ts)
// with a real SQLite store and scripted readings: totals carry across container lifetimes, never drop on
// late or repeated readings, and a reading that fails changes nothing.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/log.js";
import { type Db, openDb } from "../../src/state/db.js";
import { UsageStore } from "../../src/state/usage-store.js";
import { fold, type LifetimeReading, newLedger, totalOf } from "../../src/usage/usage-ledger.js";
import { UsageMeter } from "../../src/usage/usage-meter.js";

const T1 = "2026-12-02T10:00:00.1234567Z";
const T2 = "2026-12-02T11:00:00.5Z";
const read = (cpuNs: number, memoryPeakBytes: number, startedAt: string): LifetimeReading => ({
  cpuNs,
  memoryPeakBytes,
  startedAt,
});

describe("fold", () => {
  it("adds a new lifetime's counters to the earlier ones and keeps the highest memory peak", () => {
    let l = newLedger();
    l = fold(l, read(100, 5000, T1));
    l = fold(l, read(300, 4000, T1));
    expect(totalOf(l)).toEqual({ cpuNs: 300, memoryPeakBytes: 5000 });
    l = fold(l, read(50, 1000, T2)); // stopped and started: the counters began again
    expect(totalOf(l)).toEqual({ cpuNs: 350, memoryPeakBytes: 5000 });
    l = fold(l, read(80, 9000, T2));
    expect(totalOf(l)).toEqual({ cpuNs: 380, memoryPeakBytes: 9000 });
  });

  it("never drops: a late reading of the same lifetime or of an older one changes nothing", () => {
    let l = fold(fold(newLedger(), read(300, 10, T1)), read(20, 10, T2));
    const before = totalOf(l);
    l = fold(l, read(10, 10, T2)); // taken before the last one, stored after it
    l = fold(l, read(400, 10, T1)); // raced the restart
    expect(totalOf(l)).toEqual(before);
    expect(before.cpuNs).toBe(320);
  });

  it("the first reading of a box measured only by its runs keeps the larger total, without adding", () => {
    const seeded = newLedger({ cpuNs: 1_000, memoryPeakBytes: 64 });
    expect(totalOf(fold(seeded, read(400, 32, T1)))).toEqual({ cpuNs: 1_000, memoryPeakBytes: 64 });
    expect(totalOf(fold(seeded, read(5_000, 128, T1)))).toEqual({ cpuNs: 5_000, memoryPeakBytes: 128 });
    const next = fold(fold(seeded, read(400, 32, T1)), read(100, 16, T2));
    expect(totalOf(next).cpuNs).toBe(1_100);
  });
});

describe("UsageMeter", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "boxd-usage-"));
  const db: Db = openDb(dir);
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function meter(script: (LifetimeReading | null | Error)[]) {
    return new UsageMeter({
      read: async () => {
        const next = script.shift() ?? null;
        if (next instanceof Error) throw next;
        return next && { ...next, source: "cgroup-v1" };
      },
      store: new UsageStore(db),
      boxes: () => [],
      log: silentLogger,
      intervalMs: 60_000,
    });
  }

  it("stores the folded readings; a failed or absent reading keeps the last total; runs' sums before any", async () => {
    const box = { id: "bx-meter-1", containerId: "c1", usage: { cpuNs: 7, memoryPeakBytes: 3, runs: 1 } };
    const m = meter([read(100, 50, T1), new Error("engine down"), null, read(20, 10, T2)]);
    expect(m.total(box)).toEqual({ cpuNs: 7, memoryPeakBytes: 3 });
    await m.sample(box);
    expect(m.total(box)).toEqual({ cpuNs: 100, memoryPeakBytes: 50 });
    await m.sample(box); // throws inside: logged, not raised
    await m.sample(box); // stopped container: nothing to read
    expect(m.total(box)).toEqual({ cpuNs: 100, memoryPeakBytes: 50 });
    await m.sample(box);
    expect(m.total(box)).toEqual({ cpuNs: 120, memoryPeakBytes: 50 });
    // A second meter on the same database (a server restart) sees the same totals.
    expect(meter([]).total(box)).toEqual({ cpuNs: 120, memoryPeakBytes: 50 });
  });
});
