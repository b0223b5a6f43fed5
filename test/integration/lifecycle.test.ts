// Pause/resume, the idle timer, keepAlive, deep pause (stopped), initCommand, usage, across restarts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Box {
  id: string;
  status: string;
  pauseKind?: string;
  usage: { cpuNs: number; runs: number };
}

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(last)}`);
    await sleep(100);
    last = await fn();
  }
  return last;
}

describe("lifecycle", () => {
  let h: Harness;
  const get = (box: string) => h.callOk<Box>("box_get", { box });
  const exec = (box: string, command: string, extra: Record<string, unknown> = {}) =>
    h.callOk<{ exitCode: number; stdout: string; resumed: boolean; runId: string }>("box_exec", {
      box,
      command,
      ...extra,
    });

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "3600" } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("pauses on request, keeps files, and wakes transparently on exec and file read", async () => {
    const box = await h.createBox({ name: "sleeper", idleTimeoutSeconds: 3600 });
    await exec(box.id, "echo before-pause > kept.txt");
    const paused = await h.callOk<Box>("box_pause", { box: box.id });
    expect(paused).toMatchObject({ status: "paused", pauseKind: "frozen" });
    // Frozen: a pause twice is fine, and the container really is paused.
    expect((await h.callOk<Box>("box_pause", { box: box.id })).status).toBe("paused");
    const state = await h.services.engine.containers.inspect(h.services.boxes.mustGet(box.id).containerId as string);
    expect(state?.paused).toBe(true);

    const woke = await exec(box.id, "cat kept.txt");
    expect(woke).toMatchObject({ exitCode: 0, stdout: "before-pause\n", resumed: true });
    expect((await get(box.id)).status).toBe("idle");

    await h.callOk("box_pause", { box: box.id });
    const read = await h.callOk<{ content: string }>("box_read_file", { box: box.id, path: "kept.txt" });
    expect(read.content).toBe("before-pause\n");
    expect((await get(box.id)).status).toBe("idle");
    const resumed = await h.callOk<Box>("box_resume", { box: box.id });
    expect(resumed.status).toBe("idle");
  });

  it("refuses to pause keepAlive boxes and never pauses them when idle", async () => {
    const box = await h.createBox({ name: "awake", keepAlive: true, idleTimeoutSeconds: 1 });
    expect((await h.callErr("box_pause", { box: box.id })).code).toBe("CONFLICT");
    await sleep(2500);
    expect((await get(box.id)).status).toBe("idle");
  });

  it("pauses an idle box after its idle time, never during a background run", async () => {
    const box = await h.createBox({ name: "idler", idleTimeoutSeconds: 1 });
    const bg = await exec(box.id, "sleep 4; echo finished > done.txt", { background: true });
    await sleep(2500);
    expect((await get(box.id)).status).toBe("running");
    await waitFor(
      "auto-pause",
      () => get(box.id),
      (b) => b.status === "paused",
      15_000,
    );
    const run = await h.callOk<{ status: string }>("box_run_get", { box: box.id, runId: bg.runId });
    expect(run.status).toBe("completed");
    const r = await exec(box.id, "cat done.txt");
    expect(r).toMatchObject({ stdout: "finished\n", resumed: true });
  });

  it("counts CPU time while working and not while paused", async () => {
    const box = await h.createBox({ name: "counter", idleTimeoutSeconds: 3600 });
    await exec(box.id, "python3 -c 'sum(range(20000000))'");
    const after = await get(box.id);
    expect(after.usage.cpuNs).toBeGreaterThan(100_000_000);
    await h.callOk("box_pause", { box: box.id });
    // Usage is the box's cgroup figure: the freeze itself may add a few microseconds, then nothing.
    const paused = await get(box.id);
    expect(paused.usage.cpuNs).toBeGreaterThanOrEqual(after.usage.cpuNs);
    expect(paused.usage.cpuNs - after.usage.cpuNs).toBeLessThan(50_000_000);
    await sleep(1500);
    const later = (await get(box.id)).usage.cpuNs;
    if (box.isolation === "gvisor") {
      // gVisor pauses the box's tasks inside its sandbox, whose own runtime still ticks now and then
      // (about 0.1 ms of CPU a second): bounded, not zero. README says so.
      expect(later - paused.usage.cpuNs).toBeLessThan(5_000_000);
    } else {
      expect(later).toBe(paused.usage.cpuNs);
    }
  });

  it("logs lifecycle events and runs, as a tool and as a subscribable resource", async () => {
    const box = await h.createBox({ name: "logged", idleTimeoutSeconds: 3600 });
    const updates: string[] = [];
    const { ResourceUpdatedNotificationSchema } = await import("@modelcontextprotocol/sdk/types.js");
    h.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    const uri = `box://${box.id}/logs`;
    await h.client.subscribeResource({ uri });
    await exec(box.id, "echo hello-log; echo oops >&2; exit 4");
    await waitFor(
      "resource update",
      async () => updates.length,
      (n) => n > 0,
      5000,
    );
    expect(updates).toContain(uri);

    const listed = await h.client.listResources();
    expect(listed.resources.map((r) => r.uri)).toContain(uri);
    const res = await h.client.readResource({ uri });
    const text = (res.contents[0] as { text: string }).text;
    expect(text).toContain("box created");
    expect(text).toContain("$ echo hello-log");
    expect(text).toContain("hello-log");
    expect(text).toContain("exit 4");

    const entries = await h.callOk<{ entries: { source: string; level: string; message: string }[] }>("box_logs", {
      box: box.id,
    });
    expect(entries.entries.some((e) => e.source === "system" && e.message.includes("box created"))).toBe(true);
    expect(entries.entries.some((e) => e.source === "user" && e.level === "warn" && e.message.includes("oops"))).toBe(
      true,
    );
    const page = await h.callOk<{ entries: unknown[] }>("box_logs", { box: box.id, offset: 1, limit: 1 });
    expect(page.entries).toHaveLength(1);
  });

  it("runs initCommand at create and at every start after a deep pause", async () => {
    const box = await h.createBox({
      name: "init",
      initCommand: "echo started >> /tmp/starts.log",
      idleTimeoutSeconds: 3600,
    });
    await waitFor(
      "initCommand",
      () => exec(box.id, "cat /tmp/starts.log 2>/dev/null | wc -l"),
      (r) => r.stdout.trim() === "1",
    );
    const runs = await h.callOk<{ runs: { command: string }[] }>("box_runs", { box: box.id });
    expect(runs.runs.some((r) => r.command.includes("starts.log"))).toBe(true);
  });
});

describe("deep pause and restarts", () => {
  it("stops a long-paused box, keeps its files, wakes it with initCommand again", async () => {
    const h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "1" } });
    try {
      const box = await h.createBox({
        name: "deep",
        idleTimeoutSeconds: 3600,
        initCommand: "date >> /workspace/home/starts.log",
      });
      await waitFor(
        "initCommand",
        () => h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "wc -l < starts.log" }),
        (r) => r.stdout.trim() === "1",
      );
      await h.callOk("box_write_file", { box: box.id, path: "deep.txt", content: "still here" });
      await h.callOk("box_pause", { box: box.id });
      const stopped = await waitFor(
        "deep pause",
        () => h.callOk<Box>("box_get", { box: box.id }),
        (b) => b.pauseKind === "stopped",
      );
      expect(stopped.status).toBe("paused");
      const state = await h.services.engine.containers.inspect(h.services.boxes.mustGet(box.id).containerId as string);
      expect(state?.running).toBe(false);

      const r = await h.callOk<{ stdout: string; resumed: boolean }>("box_exec", {
        box: box.id,
        command: "cat deep.txt",
      });
      expect(r).toMatchObject({ stdout: "still here", resumed: true });
      await waitFor(
        "initCommand again",
        () => h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "wc -l < starts.log" }),
        (x) => x.stdout.trim() === "2",
      );
    } finally {
      await h.close();
    }
  });

  it("serves the first command after a wake through the executor, also when the box was paused at once after its create", async () => {
    const h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "1" } });
    try {
      // Paused before its executor had answered boxd's hello, then stopped while that hello waited.
      const box = await h.createBox({ name: "paused-at-once", idleTimeoutSeconds: 3600 });
      await h.callOk("box_pause", { box: box.id });
      await waitFor(
        "deep pause",
        () => h.callOk<Box>("box_get", { box: box.id }),
        (b) => b.pauseKind === "stopped",
      );
      // Its parent is the executor (not GNU time in boxd-run, as on the Docker exec path).
      const parent = "tr '\\0' ' ' < /proc/$PPID/cmdline";
      const r = await h.callOk<{ stdout: string; resumed: boolean }>("box_exec", { box: box.id, command: parent });
      expect(r.resumed).toBe(true);
      expect(r.stdout).toMatch(/python3 .*\/boxd-executor/);
    } finally {
      await h.close();
    }
  });

  it("keeps pause state and timers across a restart, pausing boxes whose time ran out while it was down", async () => {
    const first = await startHarness({ keepData: true, keepBoxes: true, env: { BOXD_LIFECYCLE_TICK_MS: "100" } });
    const dataDir = first.dataDir;
    const paused = await first.createBox({ name: "was-paused", idleTimeoutSeconds: 3600 });
    await first.callOk("box_exec", { box: paused.id, command: "echo p > p.txt" });
    await first.callOk("box_pause", { box: paused.id });
    const expiring = await first.createBox({ name: "expiring", idleTimeoutSeconds: 2 });
    await first.close();
    await sleep(2500);

    const second = await startHarness({ dataDir, env: { BOXD_LIFECYCLE_TICK_MS: "60000" } });
    try {
      expect((await second.callOk<Box>("box_get", { box: paused.id })).status).toBe("paused");
      // The tick is a minute away: only the start-up catch-up can have paused it.
      expect((await second.callOk<Box>("box_get", { box: expiring.id })).status).toBe("paused");
      const r = await second.callOk<{ stdout: string; resumed: boolean }>("box_exec", {
        box: paused.id,
        command: "cat p.txt",
      });
      expect(r).toMatchObject({ stdout: "p\n", resumed: true });
    } finally {
      await second.close();
    }
  });
});
