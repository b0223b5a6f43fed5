// The box state machine (src/box/box-state.ts) against a real SQLite database, without Docker: every legal
// transition succeeds, every illegal one is CONFLICT and leaves the row as it was, and of two transitions
// racing from one state only one wins.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoxState, IllegalTransition, type PoolClaim, TRANSITIONS, type Transition } from "../../src/box/box-state.js";
import { BoxdError } from "../../src/errors.js";
import type { BoxRecord, PauseKind, StoredStatus } from "../../src/model/box.js";
import { BoxStore } from "../../src/state/box-store.js";
import { type Db, openDb } from "../../src/state/db.js";

const STORED: StoredStatus[] = ["pooled", "creating", "idle", "paused", "error", "deleted"];

const CLAIM: PoolClaim = {
  tenant: "t1",
  name: "claimed",
  env: { A: "1" },
  labels: { team: "x" },
  keepAlive: false,
  idleTimeoutSeconds: 60,
  networkPolicy: { mode: "deny-all" },
  initCommand: "echo hi",
  expiresAt: null,
};

/** One call per transition; typed by Transition, so a new transition without a case does not compile. */
const CALLS: Record<Transition, (s: BoxState, id: string) => void> = {
  created: (s, id) => s.markCreated(id, "c-new"),
  createFailed: (s, id) => s.markCreateFailed(id, "boom"),
  pooled: (s, id) => s.markPooled(id),
  claimed: (s, id) => s.claimFromPool(id, { ...CLAIM, name: `claimed-${id}` }),
  frozen: (s, id) => s.markFrozen(id),
  stoppedItself: (s, id) => s.markStoppedItself(id),
  deepened: (s, id) => s.markDeepened(id),
  woke: (s, id) => s.markWoke(id),
  restarted: (s, id) => s.markRestarted(id),
  lost: (s, id) => s.markLost(id, "gone"),
  adoptedPaused: (s, id) => s.adoptPaused(id, "2024-01-01T00:00:00.000Z"),
  adoptedRunning: (s, id) => s.adoptRunning(id),
  deleted: (s, id) => s.markDeleted(id),
};

let dir: string;
let db: Db;
let store: BoxStore;
let state: BoxState;
let seq = 0;

function seed(status: StoredStatus, pauseKind: PauseKind | null = status === "paused" ? "frozen" : null): BoxRecord {
  const id = `box_${String(seq++).padStart(12, "0")}`;
  const box: BoxRecord = {
    id,
    tenant: status === "pooled" ? "" : "t0",
    name: `b-${id.slice(4)}`,
    runtime: "node",
    size: "small",
    status,
    keepAlive: false,
    idleTimeoutSeconds: 300,
    networkPolicy: { mode: "allow-all" },
    image: "boxd/node:x",
    env: {},
    labels: {},
    fromSnapshot: null,
    containerId: "c-old",
    networkName: null,
    subnetIndex: null,
    createdAt: "2020-01-01T00:00:00.000Z",
    lastActiveAt: "2020-01-01T00:00:00.000Z",
    pausedAt: pauseKind ? "2020-01-01T00:00:00.000Z" : null,
    pauseKind,
    deletedAt: status === "deleted" ? "2020-01-01T00:00:00.000Z" : null,
    error: status === "error" ? "old" : null,
    usage: { cpuNs: 0, memoryPeakBytes: 0, runs: 0 },
    initCommand: null,
    limits: null,
    expiresAt: null,
    isolation: "runc",
    root: false,
  };
  // Test fixture only: the store's insert is how a row in any state is set up here.
  store.insert(box);
  if (pauseKind)
    db.prepare("UPDATE boxes SET paused_at = ?, pause_kind = ? WHERE id = ?").run(box.pausedAt, pauseKind, id);
  if (box.deletedAt)
    db.prepare("UPDATE boxes SET deleted_at = ?, error = ? WHERE id = ?").run(box.deletedAt, box.error, id);
  if (box.error) db.prepare("UPDATE boxes SET error = ? WHERE id = ?").run(box.error, id);
  return store.get(id) as BoxRecord;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "boxd-box-state-"));
  db = openDb(dir);
  store = new BoxStore(db);
  state = new BoxState(store);
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("box state machine", () => {
  for (const [name, rule] of Object.entries(TRANSITIONS) as [Transition, (typeof TRANSITIONS)[Transition]][]) {
    for (const from of STORED) {
      const legal = (rule.from as readonly StoredStatus[]).includes(from);
      it(`${name} from ${from} ${legal ? "succeeds" : "is CONFLICT"}`, () => {
        const before = seed(from);
        if (legal) {
          CALLS[name](state, before.id);
          expect(store.get(before.id)?.status).toBe(rule.to);
          return;
        }
        let caught: unknown;
        try {
          CALLS[name](state, before.id);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(BoxdError);
        expect(caught).toBeInstanceOf(IllegalTransition);
        expect((caught as BoxdError).code).toBe("CONFLICT");
        const message = (caught as BoxdError).message;
        for (const part of [before.name, before.id, `is ${from}`, name]) expect(message).toContain(part);
        expect(store.get(before.id)).toEqual(before);
      });
    }
  }

  it("writes each state's own fields", () => {
    const a = seed("idle");
    state.markFrozen(a.id);
    expect(store.get(a.id)).toMatchObject({ status: "paused", pauseKind: "frozen" });
    expect(store.get(a.id)?.pausedAt).not.toBeNull();
    state.markDeepened(a.id);
    expect(store.get(a.id)).toMatchObject({ status: "paused", pauseKind: "stopped" });
    state.markWoke(a.id);
    expect(store.get(a.id)).toMatchObject({ status: "idle", pauseKind: null, pausedAt: null });
    expect(store.get(a.id)?.lastActiveAt).not.toBe(a.lastActiveAt);
    state.markLost(a.id, "its container was removed outside boxd");
    expect(store.get(a.id)).toMatchObject({ status: "error", error: "its container was removed outside boxd" });
    state.markDeleted(a.id);
    expect(store.get(a.id)?.deletedAt).not.toBeNull();

    const p = seed("pooled");
    state.claimFromPool(p.id, CLAIM);
    expect(store.get(p.id)).toMatchObject({ ...CLAIM, status: "idle", pausedAt: null, pauseKind: null });

    const c = seed("creating");
    state.markCreateFailed(c.id, "interrupted during create");
    expect(store.get(c.id)).toMatchObject({ status: "deleted", error: "interrupted during create" });
  });

  it("a missing box is NOT_FOUND", () => {
    expect(() => state.markDeleted("box_nosuchboxxxx")).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
  });

  it("of two transitions from one state, on two connections, only one wins", async () => {
    const other = openDb(dir);
    try {
      const mine = new BoxState(store);
      const theirs = new BoxState(new BoxStore(other));
      // Both sides saw `creating`; one says created, the other failed.
      const box = seed("creating");
      const results = await Promise.allSettled([
        Promise.resolve().then(() => mine.markCreated(box.id, "c-1")),
        Promise.resolve().then(() => theirs.markCreateFailed(box.id, "lost the race")),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(loser.reason).toMatchObject({ code: "CONFLICT" });
      expect(store.get(box.id)).toMatchObject({ status: "idle", containerId: "c-1" });

      // Two tenants claiming one pooled box: one gets it, the row is the winner's.
      const pooled = seed("pooled");
      const claims = await Promise.allSettled([
        Promise.resolve().then(() => mine.claimFromPool(pooled.id, { ...CLAIM, tenant: "a" })),
        Promise.resolve().then(() => theirs.claimFromPool(pooled.id, { ...CLAIM, tenant: "b" })),
      ]);
      expect(claims.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
      expect(store.get(pooled.id)).toMatchObject({ status: "idle", tenant: "a" });
    } finally {
      other.close();
    }
  });
});

describe("idle timers due (decided in SQL)", () => {
  const at = (iso: string) => new Date(iso);
  const set = (id: string, sql: string, ...args: unknown[]) =>
    db.prepare(`UPDATE boxes SET ${sql} WHERE id = ?`).run(...args, id);

  it("an idle box is due to freeze once idle for its own timeout, to the second; keepAlive never", () => {
    const box = seed("idle");
    set(box.id, "last_active_at = ?, idle_timeout_seconds = 60", "2030-01-01T00:00:00.000Z");
    const keep = seed("idle");
    set(keep.id, "last_active_at = ?, keep_alive = 1", "2020-01-01T00:00:00.000Z");
    const due = (now: string) => store.dueForIdleTimers(at(now), 3600).filter((d) => [box.id, keep.id].includes(d.id));
    expect(due("2030-01-01T00:00:59.500Z")).toEqual([]);
    expect(due("2030-01-01T00:01:00.000Z")).toEqual([{ id: box.id, due: "freeze" }]);
    set(box.id, "last_active_at = ?", "2030-01-01T00:00:30.000Z"); // activity restarts the timer
    expect(due("2030-01-01T00:01:00.000Z")).toEqual([]);
  });

  it("a frozen box is due to stop after stopAfterPausedSeconds; a stopped or deleted one never", () => {
    const frozen = seed("paused", "frozen");
    set(frozen.id, "paused_at = ?", "2030-01-02T00:00:00.000Z");
    const stopped = seed("paused", "stopped");
    const gone = seed("deleted");
    const ids = [frozen.id, stopped.id, gone.id];
    const due = (now: string) => store.dueForIdleTimers(at(now), 600).filter((d) => ids.includes(d.id));
    expect(due("2030-01-02T00:09:59.000Z")).toEqual([]);
    expect(due("2030-01-02T00:10:00.000Z")).toEqual([{ id: frozen.id, due: "deepen" }]);
    expect(due("2040-01-01T00:00:00.000Z")).toEqual([{ id: frozen.id, due: "deepen" }]);
  });
});
