// A box's usage comes from its container's cgroup: CPU burnt by a run and CPU burnt by a process left
// detached outside any run both count, and the total survives a stopped pause (the cgroup goes with the
// container) and a server restart, never going down. Busy loops burn CPU time, not wall time (other tests
// share the cores), and the ranges are generous: startup and the executor's own work count too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingClient } from "../../src/docker/accounting.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Usage {
  cpuNs: number;
  memoryPeakBytes: number;
  runs: number;
}

/** Burns `seconds` of CPU time of its own process (python3 is in every box image: the executor is one). */
const burn = (seconds: number) =>
  `python3 -c 'import time\nt = time.process_time() + ${seconds}\nwhile time.process_time() < t: pass'`;

const MIN_HALF_SECOND = 350_000_000;
const MAX_HALF_SECOND = 2_500_000_000;

async function usageOf(h: Harness, box: string): Promise<Usage> {
  return (await h.callOk<{ usage: Usage }>("box_get", { box })).usage;
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(last)}`);
    await sleep(200);
    last = await fn();
  }
  return last;
}

describe("usage from the box's cgroup", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("grows by about 0.5 s of CPU for a 0.5 s busy loop run through box_exec", async () => {
    const box = await h.createBox({ name: "burner", idleTimeoutSeconds: 3600 });
    const before = await usageOf(h, box.id);
    const r = await h.callOk<{ exitCode: number; runId: string }>("box_exec", { box: box.id, command: burn(0.5) });
    expect(r.exitCode).toBe(0);
    const after = await usageOf(h, box.id);
    const grew = after.cpuNs - before.cpuNs;
    expect(grew).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
    expect(grew).toBeLessThanOrEqual(MAX_HALF_SECOND);
    expect(after.memoryPeakBytes).toBeGreaterThan(0);
    // The run keeps its own figure (its process tree, as GNU time measured it).
    const run = await h.callOk<{ cpuNs: number }>("box_run_get", { box: box.id, runId: r.runId });
    expect(run.cpuNs).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
  });

  it("counts a busy loop left running detached, outside any run", async () => {
    const box = await h.createBox({ name: "daemon", idleTimeoutSeconds: 3600 });
    const before = await usageOf(h, box.id);
    // setsid + & : the command returns at once; the loop runs on in its own session, in no run.
    const start = await h.callOk<{ exitCode: number; runId: string }>("box_exec", {
      box: box.id,
      command: `setsid sh -c "${burn(0.5).replace(/"/g, '\\"')}; touch /tmp/burnt" >/dev/null 2>&1 </dev/null &`,
    });
    expect(start.exitCode).toBe(0);
    const wait = await h.callOk<{ exitCode: number; runId: string }>("box_exec", {
      box: box.id,
      command: "for i in $(seq 1 300); do [ -f /tmp/burnt ] && exit 0; sleep 0.1; done; exit 1",
    });
    expect(wait.exitCode).toBe(0);
    const after = await usageOf(h, box.id);
    const grew = after.cpuNs - before.cpuNs;
    expect(grew).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
    expect(grew).toBeLessThanOrEqual(MAX_HALF_SECOND);
    // Neither run measured the loop: the total is more than the runs saw.
    for (const runId of [start.runId, wait.runId]) {
      const run = await h.callOk<{ cpuNs: number }>("box_run_get", { box: box.id, runId });
      expect(run.cpuNs).toBeLessThan(MIN_HALF_SECOND / 2);
    }
  });

  it("reads the same counters through the engine's stats API where the host's cgroup files are not reachable", async () => {
    const box = await h.createBox({ name: "remote-like", idleTimeoutSeconds: 3600 });
    await h.callOk("box_exec", { box: box.id, command: burn(0.5) });
    const containerId = h.services.boxes.mustGet(box.id).containerId as string;
    const local = await h.services.engine.accounting.read(containerId);
    const remote = await new AccountingClient(h.services.engine.containers, async () => null).read(containerId);
    expect(local?.source).toMatch(/^cgroup-v[12]$/);
    expect(remote?.source).toBe("engine-stats");
    expect(remote?.startedAt).toBe(local?.startedAt);
    // The box is idle: the two readings, a moment apart, see about the same CPU time.
    expect(remote?.cpuNs).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
    expect(Math.abs((remote?.cpuNs ?? 0) - (local?.cpuNs ?? 0))).toBeLessThan(100_000_000);
    expect(remote?.memoryPeakBytes).toBeGreaterThan(0);
  });

  it("asks the engine once per container lifetime, and again once the container was started anew", async () => {
    const box = await h.createBox({ name: "lifetimes", idleTimeoutSeconds: 3600 });
    const containerId = h.services.boxes.mustGet(box.id).containerId as string;
    const containers = h.services.engine.containers;
    let inspects = 0;
    const counting = Object.create(containers) as typeof containers;
    counting.inspect = (id: string) => {
      inspects += 1;
      return containers.inspect(id);
    };
    const accounting = new AccountingClient(counting);
    const first = await accounting.read(containerId);
    await h.callOk("box_exec", { box: box.id, command: burn(0.3) });
    const second = await accounting.read(containerId);
    expect(inspects).toBe(1);
    expect(second?.startedAt).toBe(first?.startedAt);
    expect(second?.cpuNs).toBeGreaterThan((first?.cpuNs ?? 0) + 150_000_000);
    // A new lifetime: the same container stopped and started again has a new init process.
    await containers.stop(containerId, 0);
    expect(await accounting.read(containerId)).toBeNull();
    await h.services.engine.containers.start(containerId);
    const third = await accounting.read(containerId);
    expect(inspects).toBe(3);
    expect(third?.startedAt).not.toBe(first?.startedAt);
    expect(third?.cpuNs).toBeLessThan(second?.cpuNs ?? 0);
  });
});

describe("usage across a stopped pause and a server restart", () => {
  it("keeps the total when the container's cgroup goes and when the server restarts, never going down", async () => {
    const env = { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "1" };
    const first = await startHarness({ keepData: true, keepBoxes: true, env });
    const box = await first.createBox({ name: "lasting", idleTimeoutSeconds: 3600 });
    const containerId = first.services.boxes.mustGet(box.id).containerId as string;
    await first.callOk("box_exec", { box: box.id, command: burn(0.5) });
    const u1 = await usageOf(first, box.id);
    expect(u1.cpuNs).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
    const startedBefore = (await first.services.engine.containers.inspect(containerId))?.startedAt;

    // Frozen, then stopped by the idle timer: the container's cgroup (and its counters) are gone.
    await first.callOk("box_pause", { box: box.id });
    await waitFor(
      "a stopped pause",
      () => first.callOk<{ pauseKind?: string }>("box_get", { box: box.id }),
      (b) => b.pauseKind === "stopped",
    );
    expect((await first.services.engine.containers.inspect(containerId))?.running).toBe(false);
    const u2 = await usageOf(first, box.id);
    expect(u2.cpuNs).toBeGreaterThanOrEqual(u1.cpuNs);

    // Started again: new counters from zero, added to what the box had used.
    await first.callOk("box_resume", { box: box.id });
    expect((await first.services.engine.containers.inspect(containerId))?.startedAt).not.toBe(startedBefore);
    expect((await usageOf(first, box.id)).cpuNs).toBeGreaterThanOrEqual(u2.cpuNs);
    await first.callOk("box_exec", { box: box.id, command: burn(0.5) });
    const u3 = await usageOf(first, box.id);
    expect(u3.cpuNs - u2.cpuNs).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
    expect(u3.cpuNs - u2.cpuNs).toBeLessThanOrEqual(MAX_HALF_SECOND);
    await first.close();

    // A new server on the same data dir: the box's total is where it was, and keeps growing.
    const second = await startHarness({ dataDir: first.dataDir });
    try {
      const u4 = await usageOf(second, "lasting");
      expect(u4.cpuNs).toBeGreaterThanOrEqual(u3.cpuNs);
      expect(u4.memoryPeakBytes).toBeGreaterThanOrEqual(u1.memoryPeakBytes);
      await second.callOk("box_exec", { box: "lasting", command: burn(0.5) });
      const u5 = await usageOf(second, "lasting");
      expect(u5.cpuNs - u4.cpuNs).toBeGreaterThanOrEqual(MIN_HALF_SECOND);
      expect(u5.cpuNs - u4.cpuNs).toBeLessThanOrEqual(MAX_HALF_SECOND);
    } finally {
      await second.close();
    }
  });
});
