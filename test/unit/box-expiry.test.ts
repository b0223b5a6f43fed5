// The expiry job's timer (src/lifetime/box-expiry.ts) on fake time, without Docker: it fires at the soonest
// expiry (not before), re-arms for the next one, retries a failing deletion with a growing delay instead of
// spinning, and never hands setTimeout a delay past its 24.8-day limit (which Node fires at once).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BoxExpiry } from "../../src/lifetime/box-expiry.js";
import { silentLogger } from "../../src/log.js";

/** A store of box id -> expiry (ms); expire() removes the box unless it is set to fail. */
function fakeBoxes(expiries: Record<string, number>, failing = new Set<string>()) {
  const calls: string[] = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  const boxStore = {
    nextExpiry: () => {
      const all = Object.values(expiries);
      return all.length ? iso(Math.min(...all)) : null;
    },
    expiredBy: (at: string) =>
      Object.entries(expiries)
        .filter(([, ms]) => iso(ms) <= at)
        .map(([id]) => id),
  };
  const expire = async (id: string) => {
    calls.push(id);
    if (failing.has(id)) throw new Error("engine down");
    delete expiries[id];
    return true;
  };
  return { boxStore, expire, calls };
}

describe("box expiry timer", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("deletes each box at its expiry, not before, with one timer re-armed for the next", async () => {
    const now = Date.now();
    const f = fakeBoxes({ a: now + 5000, b: now + 9000 });
    const job = new BoxExpiry({ ...f, log: silentLogger });
    await job.start();
    await vi.advanceTimersByTimeAsync(4900);
    expect(f.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(f.calls).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(3700);
    expect(f.calls).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(200);
    expect(f.calls).toEqual(["a", "b"]);
    await job.stop();
  });

  it("retries a failing deletion with a growing delay, not in a loop", async () => {
    const f = fakeBoxes({ a: Date.now() - 1 }, new Set(["a"]));
    const job = new BoxExpiry({ ...f, log: silentLogger });
    await job.start();
    await vi.advanceTimersByTimeAsync(30_000);
    // At start, then after 2, 4, 8 and 16 s (30 s in all): a handful of tries, not thousands.
    expect(f.calls.length).toBeGreaterThanOrEqual(4);
    expect(f.calls.length).toBeLessThanOrEqual(6);
    await job.stop();
  });

  it("waits for an expiry beyond setTimeout's limit instead of firing at once", async () => {
    const f = fakeBoxes({ far: Date.now() + 40 * 24 * 3600 * 1000 });
    const job = new BoxExpiry({ ...f, log: silentLogger });
    const spy = vi.spyOn(globalThis, "setTimeout");
    await job.start();
    const delays = spy.mock.calls.map((c) => c[1] ?? 0);
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2 ** 31 - 1);
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    expect(f.calls).toEqual([]);
    spy.mockRestore();
    await job.stop();
  });
});
