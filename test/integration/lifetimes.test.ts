// Lifetimes (issue 15 item 3): a box with ttlSeconds is deleted at its expiresAt whatever its state (idle
// with a run in progress, frozen, stopped), with a log entry, its snapshots kept; also when the server was
// down at that moment (deleted at start); an expired box is never used while its deletion is pending; bad
// ttlSeconds are coded errors.
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

interface BoxView {
  id: string;
  name: string;
  status: string;
  pauseKind?: string;
  expiresAt: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls box_get until it answers NOT_FOUND for a deleted box (an expired box awaiting deletion is NOT_FOUND
 * already, "expired at T" without "deleted"); returns that error and when it came.
 */
async function waitGone(h: Harness, box: string, maxMs: number): Promise<{ message: string; at: number }> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const res = await h.call("box_get", { box });
    if (res.isError) {
      const err = (res.structuredContent as { error: { code: string; message: string } }).error;
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toMatch(/expired at/);
      if (/was deleted at/.test(err.message)) return { message: err.message, at: Date.now() };
    }
    await sleep(250);
  }
  throw new Error(`box ${box} still there after ${maxMs} ms`);
}

/** The box's container and network are gone from the engine. */
async function expectNoDockerObjects(h: Harness, boxId: string, containerId: string): Promise<void> {
  expect(await h.services.engine.containers.inspect(containerId)).toBeNull();
  expect(await h.services.engine.networks.list({ "boxd.box-id": boxId })).toHaveLength(0);
}

async function logMessages(h: Harness, box: string): Promise<string[]> {
  const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box, limit: 1000 });
  return log.entries.map((e) => e.message);
}

describe("lifetimes", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "100" } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("refuses ttlSeconds outside 1..259200 with INVALID_ARGUMENT naming the range, and makes no box", async () => {
    const before = (await h.callOk<{ boxes: unknown[] }>("box_list")).boxes.length;
    for (const ttlSeconds of [0, -5, 259201, 1.5]) {
      const err = await h.callErr("box_create", { ttlSeconds });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(/from 1 to 259200/);
    }
    expect((await h.callOk<{ boxes: unknown[] }>("box_list")).boxes).toHaveLength(before);
    const box = await h.createBox();
    expect(box.expiresAt).toBeNull();
    const err = await h.callErr("box_update", { box: box.id, ttlSeconds: 3 * 24 * 3600 + 1 });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/from 1 to 259200/);
    expect((await h.callOk<BoxView>("box_get", { box: box.id })).expiresAt).toBeNull();
    await h.callOk("box_delete", { box: box.id });
  });

  it("deletes a frozen ephemeral box at its expiresAt, with a log entry; its container and network go", async () => {
    const t0 = Date.now();
    const box = await h.createBox({ ttlSeconds: 20 });
    const expiresAt = Date.parse(box.expiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(t0 + 19_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 20_000);
    const listed = await h.callOk<{ boxes: BoxView[] }>("box_list");
    expect(listed.boxes.find((b) => b.id === box.id)?.expiresAt).toBe(box.expiresAt);
    const containerId = h.services.boxes.mustGet(box.id).containerId as string;
    expect((await h.callOk<BoxView>("box_pause", { box: box.id })).status).toBe("paused");

    const gone = await waitGone(h, box.id, 60_000);
    expect(gone.at).toBeGreaterThanOrEqual(expiresAt);
    expect(gone.at).toBeLessThan(expiresAt + 20_000);
    expect(gone.message).toContain(`expired at ${box.expiresAt}`);
    expect((await logMessages(h, box.id)).some((m) => m.startsWith("box expired"))).toBe(true);
    await expectNoDockerObjects(h, box.id, containerId);
    const all = await h.callOk<{ boxes: BoxView[] }>("box_list");
    expect(all.boxes.map((b) => b.id)).not.toContain(box.id);
  });

  it("deletes a box mid-run when a TTL set by box_update runs out; the run ends and its snapshot is kept", async () => {
    const box = await h.createBox();
    await h.callOk("box_exec", { box: box.id, command: "echo kept > note.txt" });
    const snap = await h.callOk<{ id: string; status: string }>("box_snapshot", { box: box.id });
    expect(snap.status).toBe("ready");
    const run = await h.callOk<{ runId: string }>("box_exec", { box: box.id, command: "sleep 600", background: true });
    expect((await h.callOk<BoxView>("box_get", { box: box.id })).status).toBe("running");
    const containerId = h.services.boxes.mustGet(box.id).containerId as string;

    const updated = await h.callOk<BoxView>("box_update", { box: box.id, ttlSeconds: 3 });
    const expiresAt = Date.parse(updated.expiresAt as string);
    const gone = await waitGone(h, box.id, 60_000);
    expect(gone.at).toBeGreaterThanOrEqual(expiresAt);
    expect(gone.message).toMatch(/expired at .* and was deleted at/);
    await expectNoDockerObjects(h, box.id, containerId);
    const messages = await logMessages(h, box.id);
    expect(messages.some((m) => m.startsWith("updated: ttlSeconds 3"))).toBe(true);
    expect(messages.some((m) => m.startsWith("box expired"))).toBe(true);

    const db = new Database(path.join(h.dataDir, "boxd.db"), { readonly: true });
    try {
      const until = Date.now() + 30_000;
      let status = "running";
      while (status === "running" && Date.now() < until) {
        status = (db.prepare("SELECT status FROM runs WHERE id = ?").get(run.runId) as { status: string }).status;
        if (status === "running") await sleep(250);
      }
      expect(status).not.toBe("running");
    } finally {
      db.close();
    }

    const snaps = await h.callOk<{ snapshots: { id: string; status: string }[] }>("box_snapshot_list");
    expect(snaps.snapshots.find((s) => s.id === snap.id)?.status).toBe("ready");
    const copy = await h.createBox({ fromSnapshot: snap.id });
    const r = await h.callOk<{ stdout: string }>("box_exec", { box: copy.id, command: "cat note.txt" });
    expect(r.stdout).toBe("kept\n");
    await h.callOk("box_delete", { box: copy.id });
  });

  it("never uses a box past its TTL while its deletion is pending: calls are NOT_FOUND, lists leave it out", async () => {
    const box = await h.createBox({ ttlSeconds: 3600 });
    // Its expiry moved into the past behind the expiry job's back (as if the deletion had failed):
    // nothing re-armed the timer, and the backstop sweep is a minute away.
    const db = new Database(path.join(h.dataDir, "boxd.db"));
    try {
      const past = new Date(Date.now() - 1000).toISOString();
      db.prepare("UPDATE boxes SET expires_at = ? WHERE id = ?").run(past, box.id);
    } finally {
      db.close();
    }
    const exec = await h.callErr("box_exec", { box: box.id, command: "true" });
    expect(exec.code).toBe("NOT_FOUND");
    expect(exec.message).toMatch(/expired at/);
    expect((await h.callErr("box_get", { box: box.id })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_update", { box: box.id, keepAlive: true })).code).toBe("NOT_FOUND");
    expect((await h.callOk<{ boxes: BoxView[] }>("box_list")).boxes.map((b) => b.id)).not.toContain(box.id);
    // Deleting it by hand does what the expiry job would.
    await h.callOk("box_delete", { box: box.id });
    expect(h.services.boxes.mustGet(box.id).status).toBe("deleted");
  });
});

describe("lifetimes with the warm pool", () => {
  it("counts a claimed box's TTL from the claim and deletes it on time", async () => {
    const h = await startHarness({ env: { BOXD_POOL: "node:small:1" } });
    try {
      await h.services.pool.settled();
      const ready = h.services.boxes.listAll().filter((b) => b.status === "pooled");
      expect(ready).toHaveLength(1);
      const t0 = Date.now();
      const box = await h.callOk<BoxView>("box_create", { ttlSeconds: 5 });
      expect(box.id).toBe(ready[0]?.id); // claimed, not made
      expect(Date.parse(box.expiresAt as string)).toBeGreaterThanOrEqual(t0 + 5000);
      const gone = await waitGone(h, box.id, 60_000);
      expect(gone.at).toBeGreaterThanOrEqual(Date.parse(box.expiresAt as string));
      expect((await logMessages(h, box.id)).some((m) => m.startsWith("box expired"))).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe("lifetimes across a stopped pause and a server restart", () => {
  it("deletes a stopped-paused box on time, and at start a box that expired while the server was down", async () => {
    const env = { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "1" };
    const first = await startHarness({ keepData: true, keepBoxes: true, env });
    const dataDir = first.dataDir;
    let downBox: BoxView | null = null;
    let downContainer = "";
    try {
      const stoppedBox = await first.callOk<BoxView>("box_create", { ttlSeconds: 30 });
      const stoppedContainer = first.services.boxes.mustGet(stoppedBox.id).containerId as string;
      await first.callOk("box_pause", { box: stoppedBox.id });
      const until = Date.now() + 20_000;
      while ((await first.callOk<BoxView>("box_get", { box: stoppedBox.id })).pauseKind !== "stopped") {
        if (Date.now() > until) throw new Error("the box was not stopped after its pause");
        await sleep(200);
      }
      const gone = await waitGone(first, stoppedBox.id, 60_000);
      expect(gone.at).toBeGreaterThanOrEqual(Date.parse(stoppedBox.expiresAt as string));
      await expectNoDockerObjects(first, stoppedBox.id, stoppedContainer);

      downBox = await first.callOk<BoxView>("box_create", { ttlSeconds: 8 });
      downContainer = first.services.boxes.mustGet(downBox.id).containerId as string;
    } finally {
      await first.close();
    }
    if (!downBox) throw new Error("no box was made");
    const wait = Date.parse(downBox.expiresAt as string) + 1000 - Date.now();
    expect(wait).toBeGreaterThan(0); // it expires while no server runs
    await sleep(wait);
    // Still there on the engine: nothing deleted it while the server was down.
    expect(await first.services.engine.containers.inspect(downContainer)).not.toBeNull();

    const second = await startHarness({ dataDir, env: { BOXD_LIFECYCLE_TICK_MS: "60000" } });
    try {
      // Deleted by the start itself (the harness returns once the app has started), not by a later timer.
      expect(second.services.boxes.mustGet(downBox.id).status).toBe("deleted");
      const err = await second.callErr("box_get", { box: downBox.id });
      expect(err.code).toBe("NOT_FOUND");
      expect(err.message).toContain(`expired at ${downBox.expiresAt}`);
      await expectNoDockerObjects(second, downBox.id, downContainer);
      expect((await logMessages(second, downBox.id)).some((m) => m.startsWith("box expired"))).toBe(true);
    } finally {
      await second.close();
    }
  });
});
