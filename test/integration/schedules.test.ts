// Schedules on the real engine, with a short test interval (BOXD_SCHEDULE_MIN_INTERVAL_SECONDS=2 and
// six-field cron expressions with seconds): a schedule fires on time and its runs carry its id, a prompt
// schedule runs the custom harness (a fake agent, no hosted LLM), a fire while the last run goes on is
// skipped, a due schedule wakes a paused box, pausing and deleting stop it, a deleted box takes its
// schedules along, and bad input is a coded error.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/agent/harness.mjs");
const EVERY_2S = "*/2 * * * * *";

interface Schedule {
  id: string;
  boxId: string;
  status: string;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastRunStatus: string | null;
  lastRunId: string | null;
  totalRuns: number;
  totalFailures: number;
}

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, seconds = 60) {
  let v = await get();
  for (let i = 0; i < seconds * 2 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 500));
    v = await get();
  }
  if (!ok(v)) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
  return v;
}

const pause = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

describe("schedules (short test interval)", () => {
  let h: Harness;
  let box: BoxResult;
  const get = (id: string) => () => h.callOk<Schedule>("box_schedule_get", { schedule: id });
  const create = (args: Record<string, unknown>) =>
    h.callOk<Schedule>("box_schedule_create", { box: box.id, cron: EVERY_2S, ...args });

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_SCHEDULE_MIN_INTERVAL_SECONDS: "2" } });
    box = await h.createBox({ name: "sched", runtime: "node" });
    await h.callOk("box_write_file", { box: box.id, path: "harness.mjs", content: readFileSync(FIXTURE, "utf8") });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("fires on time, its runs carry its id, and it stops while paused and after delete", async () => {
    const s = await create({ command: "date +%s.%N >> fires.txt" });
    expect(s).toMatchObject({ status: "active", timezone: "UTC", totalRuns: 0, lastRunStatus: null });
    const due = Date.parse(s.nextRunAt as string);
    expect(due).toBeGreaterThan(Date.now() - 1000);
    expect(due).toBeLessThanOrEqual(Date.now() + 2500);
    const fired = await waitFor("3 fires", get(s.id), (x) => x.totalRuns >= 3 && x.lastRunStatus === "completed");
    expect(fired.totalFailures).toBe(0);
    const runs = (
      await h.callOk<{ runs: { id: string; scheduleId?: string; status: string }[] }>("box_runs", { box: box.id })
    ).runs.filter((r) => r.scheduleId === s.id);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.map((r) => r.id)).toContain(fired.lastRunId);
    // On time: the recorded fires are about 2 s apart.
    const times = (await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat fires.txt" })).stdout
      .trim()
      .split("\n")
      .map(Number);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // (Generous bounds: each run starts through the engine on a busy machine; the mean is the 2 s period.)
    expect(gaps.every((g) => g > 0.5 && g < 6)).toBe(true);
    const mean = ((times.at(-1) as number) - (times[0] as number)) / gaps.length;
    expect(mean).toBeGreaterThan(1.5);
    expect(mean).toBeLessThan(3.5);

    const paused = await h.callOk<Schedule>("box_schedule_pause", { schedule: s.id });
    expect(paused).toMatchObject({ status: "paused", nextRunAt: null });
    await pause(1);
    const before = (await get(s.id)()).totalRuns;
    await pause(5);
    expect((await get(s.id)()).totalRuns).toBe(before);

    const resumed = await h.callOk<Schedule>("box_schedule_resume", { schedule: s.id });
    expect(resumed.status).toBe("active");
    await waitFor("a fire after resume", get(s.id), (x) => x.totalRuns > before);

    await h.callOk("box_schedule_delete", { schedule: s.id });
    expect((await h.callErr("box_schedule_get", { schedule: s.id })).code).toBe("NOT_FOUND");
    const count = async () =>
      (await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "wc -l < fires.txt" })).stdout;
    await pause(1);
    const n = await count();
    await pause(5);
    expect(await count()).toBe(n);
  });

  it("skips a fire while its previous run is still going", async () => {
    const s = await create({ command: "sleep 7" });
    const skipped = await waitFor("a skipped fire", get(s.id), (x) => x.lastRunStatus === "skipped");
    expect(skipped.totalRuns).toBe(1);
    const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 500 });
    expect(log.entries.some((e) => e.message.includes(`schedule ${s.id}: skipped`))).toBe(true);
    await h.callOk("box_schedule_delete", { schedule: s.id });
    await h.callOk("box_run_kill", { box: box.id, runId: skipped.lastRunId });
  });

  it("runs a prompt with the box's custom harness, and wakes a paused box", async () => {
    await h.callOk("box_pause", { box: box.id });
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).toBe("paused");
    const s = await create({
      prompt: "scheduled report",
      harness: "custom",
      harnessCommand: "node /workspace/home/harness.mjs --reply scheduled-answer",
      cron: "*/3 * * * * *",
    });
    const done = await waitFor("an agent run", get(s.id), (x) => x.lastRunStatus === "completed");
    await h.callOk("box_schedule_pause", { schedule: s.id });
    const run = await h.callOk<{ type: string; scheduleId: string; agent: { output: string } }>("box_run_get", {
      box: box.id,
      runId: done.lastRunId,
    });
    expect(run).toMatchObject({ type: "agent", scheduleId: s.id, agent: { output: "scheduled-answer" } });
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).not.toBe("paused");
    await h.callOk("box_schedule_delete", { schedule: s.id });
  });

  it("goes with its box, and refuses bad input with coded errors", async () => {
    const other = await h.createBox({ name: "sched-doomed", runtime: "node" });
    const s = await h.callOk<Schedule>("box_schedule_create", { box: other.id, cron: "0 * * * *", command: "true" });
    const listed = await h.callOk<{ schedules: Schedule[] }>("box_schedule_list", { box: other.id });
    expect(listed.schedules.map((x) => x.id)).toEqual([s.id]);
    await h.callOk("box_delete", { box: other.id });
    expect((await h.callErr("box_schedule_get", { schedule: s.id })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_schedule_create", { box: other.id, cron: "0 * * * *", command: "true" })).code).toBe(
      "NOT_FOUND",
    );

    const bad: [Record<string, unknown>, string, string][] = [
      [{ cron: "bogus", command: "true" }, "INVALID_ARGUMENT", "not a valid cron"],
      [{ cron: "* * * * * *", command: "true" }, "INVALID_ARGUMENT", "minimum interval"],
      [{ cron: "0 0 30 2 *", command: "true" }, "INVALID_ARGUMENT", "never fires"],
      [{ cron: "0 9 * * *", command: "true", timezone: "Mars/Olympus" }, "INVALID_ARGUMENT", "IANA"],
      [{ cron: "0 9 * * *", command: "true", prompt: "x" }, "INVALID_ARGUMENT", "exactly one"],
      [{ cron: "0 9 * * *" }, "INVALID_ARGUMENT", "exactly one"],
      [{ cron: "0 9 * * *", command: "true", model: "m" }, "INVALID_ARGUMENT", "go with prompt"],
      [{ cron: "0 9 * * *", prompt: "x", harness: "custom" }, "INVALID_ARGUMENT", "needs a command"],
      [
        { cron: "0 9 * * *", command: "true", webhookUrl: "http://169.254.169.254/" },
        "INVALID_ARGUMENT",
        "BOXD_WEBHOOK_ALLOWED_HOSTS",
      ],
    ];
    for (const [args, code, says] of bad) {
      const e = await h.callErr("box_schedule_create", { box: box.id, ...args });
      expect(e.code, JSON.stringify(args)).toBe(code);
      expect(e.message).toContain(says);
    }
    expect((await h.callErr("box_schedule_pause", { schedule: "sched_nope" })).code).toBe("NOT_FOUND");
    const mine = await h.callOk<{ schedules: Schedule[] }>("box_schedule_list", {});
    expect(mine.schedules).toEqual([]);
  });
});
