// box_update (issue 15 item 4): every setting changes after create and takes effect as documented: env for
// new commands on both exec paths (set and unset), a shorter idle timeout pauses the box soon, keepAlive
// holds it up and lets it go, labels filter box_list at once, initCommand runs at the next start after a
// stopped pause, a TTL is set and cleared. Each change is logged; bad updates are coded errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

interface BoxView {
  id: string;
  name: string;
  status: string;
  pauseKind?: string;
  keepAlive: boolean;
  idleTimeoutSeconds: number;
  labels: Record<string, string>;
  envKeys: string[];
  initCommand?: string;
  expiresAt: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, maxMs = 30_000): Promise<T> {
  const until = Date.now() + maxMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`${what}: still ${JSON.stringify(v)} after ${maxMs} ms`);
    await sleep(200);
  }
}

async function logMessages(h: Harness, box: string): Promise<string[]> {
  const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box, limit: 1000 });
  return log.entries.map((e) => e.message);
}

/** Sets A, unsets B (given at create) and checks what a new command sees. */
async function checkEnvUpdate(h: Harness): Promise<void> {
  const box = await h.callOk<BoxView>("box_create", { env: { A: "a1", B: "b1" } });
  const probe = "env | grep -E '^(A|B|C)=' | sort";
  const before = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: probe });
  expect(before.stdout).toBe("A=a1\nB=b1\n");
  const updated = await h.callOk<BoxView>("box_update", {
    box: box.id,
    env: { set: { A: "a2", C: "c" }, unset: ["B"] },
  });
  expect(updated.envKeys).toEqual(["A", "C"]);
  const after = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: probe });
  expect(after.stdout).toBe("A=a2\nC=c\n");
  const messages = await logMessages(h, box.id);
  expect(messages.some((m) => m.startsWith("updated: env set: A, C"))).toBe(true);
  expect(messages.some((m) => m.startsWith("updated: env unset: B"))).toBe(true);
  const updates = messages.filter((m) => m.startsWith("updated:"));
  expect(updates.join("\n")).not.toContain("a2"); // values stay out of the log
  await h.callOk("box_delete", { box: box.id });
}

describe("box_update", () => {
  let h: Harness;
  const get = (box: string) => h.callOk<BoxView>("box_get", { box });

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "100", BOXD_STOP_AFTER_PAUSED_SECONDS: "1" } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("env: set and unset apply to new commands (resident executor path)", async () => {
    await checkEnvUpdate(h);
  });

  it("env: set and unset apply to new commands (Docker exec path)", async () => {
    const slow = await startHarness({ env: { BOXD_FAST_EXEC: "off" } });
    try {
      await checkEnvUpdate(slow);
    } finally {
      await slow.close();
    }
  });

  it("a shorter idle timeout pauses the box soon; keepAlive holds it up, and lets it go once false", async () => {
    const box = await h.callOk<BoxView>("box_create", { keepAlive: true, idleTimeoutSeconds: 1 });
    await sleep(3000);
    expect((await get(box.id)).status).toBe("idle"); // keepAlive: past its idle timeout, still up
    const off = await h.callOk<BoxView>("box_update", { box: box.id, keepAlive: false, idleTimeoutSeconds: 3600 });
    expect(off).toMatchObject({ keepAlive: false, idleTimeoutSeconds: 3600, status: "idle" });
    await sleep(1500);
    expect((await get(box.id)).status).toBe("idle"); // the longer timeout holds
    await h.callOk("box_update", { box: box.id, idleTimeoutSeconds: 2 });
    await waitFor(
      "the box pausing",
      () => get(box.id),
      (b) => b.status === "paused",
    );
    const messages = await logMessages(h, box.id);
    expect(messages.some((m) => m.startsWith("updated: keepAlive true -> false"))).toBe(true);
    expect(messages.some((m) => m.startsWith("updated: idleTimeoutSeconds 3600 -> 2"))).toBe(true);
    expect(messages.some((m) => m.startsWith("paused after 2 s idle"))).toBe(true);
    // keepAlive on a paused box: it stays paused (no wake), and box_pause is refused from then on.
    expect((await h.callOk<BoxView>("box_update", { box: box.id, keepAlive: true })).status).toBe("paused");
    await h.callOk("box_resume", { box: box.id });
    expect((await h.callErr("box_pause", { box: box.id })).code).toBe("CONFLICT");
    await h.callOk("box_delete", { box: box.id });
  });

  it("labels: set/remove and replace change the box and box_list's filter at once", async () => {
    const box = await h.callOk<BoxView>("box_create", { labels: { team: "a", tier: "x" } });
    const ids = async (label: string) =>
      (await h.callOk<{ boxes: BoxView[] }>("box_list", { label })).boxes.map((b) => b.id);
    expect(await ids("team=a")).toContain(box.id);
    const edited = await h.callOk<BoxView>("box_update", {
      box: box.id,
      labels: { set: { team: "b" }, remove: ["tier"] },
    });
    expect(edited.labels).toEqual({ team: "b" });
    expect(await ids("team=a")).not.toContain(box.id);
    expect(await ids("team=b")).toContain(box.id);
    expect(await ids("tier")).not.toContain(box.id);
    const replaced = await h.callOk<BoxView>("box_update", { box: box.id, labels: { replace: { env: "prod" } } });
    expect(replaced.labels).toEqual({ env: "prod" });
    expect(await ids("env=prod")).toContain(box.id);
    expect(await ids("team")).not.toContain(box.id);
    const six = Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`k${i}`, "v"]));
    expect((await h.callErr("box_update", { box: box.id, labels: { set: six } })).code).toBe("INVALID_ARGUMENT");
    expect((await get(box.id)).labels).toEqual({ env: "prod" }); // a refused update changes nothing
    const messages = await logMessages(h, box.id);
    expect(messages).toContain("updated: labels set: team=b");
    expect(messages).toContain("updated: labels removed: tier");
    expect(messages).toContain("updated: labels replaced: env=prod");
    await h.callOk("box_delete", { box: box.id });
  });

  it("initCommand runs at the next start of the container (after a stopped pause), not before", async () => {
    const box = await h.callOk<BoxView>("box_create", {});
    const updated = await h.callOk<BoxView>("box_update", {
      box: box.id,
      initCommand: "echo started >> /workspace/home/init.log",
    });
    expect(updated.initCommand).toBe("echo started >> /workspace/home/init.log");
    const cat = () =>
      h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat init.log 2>/dev/null; true" });
    expect((await cat()).stdout).toBe(""); // not run by the update itself
    await h.callOk("box_pause", { box: box.id });
    await waitFor(
      "a stopped pause",
      () => get(box.id),
      (b) => b.pauseKind === "stopped",
    );
    await waitFor("initCommand's output", cat, (r) => r.stdout === "started\n");
    const cleared = await h.callOk<BoxView>("box_update", { box: box.id, initCommand: null });
    expect(cleared.initCommand).toBeUndefined();
    expect(await logMessages(h, box.id)).toContain("updated: initCommand removed");
    await h.callOk("box_delete", { box: box.id });
  });

  it("ttlSeconds: set (counted from now) and cleared (null: the box lives on)", async () => {
    const box = await h.callOk<BoxView>("box_create", {});
    expect(box.expiresAt).toBeNull();
    const t0 = Date.now();
    const set = await h.callOk<BoxView>("box_update", { box: box.id, ttlSeconds: 4 });
    const at = Date.parse(set.expiresAt as string);
    expect(at).toBeGreaterThanOrEqual(t0 + 4000);
    expect(at).toBeLessThanOrEqual(Date.now() + 4000);
    const cleared = await h.callOk<BoxView>("box_update", { box: box.id, ttlSeconds: null });
    expect(cleared.expiresAt).toBeNull();
    await sleep(Math.max(0, at - Date.now()) + 3000);
    expect((await get(box.id)).status).not.toBe("deleted"); // past the cleared expiry, still there
    const messages = await logMessages(h, box.id);
    expect(messages.some((m) => m.startsWith("updated: ttlSeconds 4: the box is deleted at"))).toBe(true);
    expect(messages).toContain("updated: ttlSeconds removed: the box lives until deleted");
    await h.callOk("box_delete", { box: box.id });
  });

  it("refuses bad updates with coded errors and changes nothing", async () => {
    const box = await h.callOk<BoxView>("box_create", { env: { KEEP: "1" }, labels: { a: "1" } });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{}, /nothing to update/],
      [{ labels: {} }, /set, remove or replace/],
      [{ labels: { replace: { b: "2" }, set: { c: "3" } } }, /replace alone/],
      [{ env: {} }, /set and\/or unset/],
      [{ env: { set: { LD_PRELOAD: "/x.so" } } }, /LD_PRELOAD/],
      [{ env: { set: { PATH: "/x" } } }, /PATH/],
      [{ env: { set: { X: "1" }, unset: ["X"] } }, /both in set and in unset/],
      [{ ttlSeconds: 0 }, /from 1 to 259200/],
    ];
    for (const [args, message] of bad) {
      const err = await h.callErr("box_update", { box: box.id, ...args });
      expect(err.code, JSON.stringify(args)).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(message);
    }
    expect(await get(box.id)).toMatchObject({ envKeys: ["KEEP"], labels: { a: "1" }, expiresAt: null });

    const theirs = await h.services.boxes.create("someone-else", {});
    expect((await h.callErr("box_update", { box: theirs.id, keepAlive: true })).code).toBe("NOT_FOUND");
    expect(h.services.boxes.mustGet(theirs.id).keepAlive).toBe(false);
    await h.callOk("box_delete", { box: box.id });
    const gone = await h.callErr("box_update", { box: box.id, keepAlive: true });
    expect(gone.code).toBe("NOT_FOUND");
    expect((await h.callErr("box_update", { box: "no-such-box", keepAlive: true })).code).toBe("NOT_FOUND");
  });
});
