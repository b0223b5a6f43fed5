// Schedules survive a server restart: a second server on the same data dir fires them on, and a fire missed
// while no server ran (here: a yearly schedule whose fire time passed while the server was down) runs
// once at start, not once per missed fire.
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

interface Schedule {
  id: string;
  nextRunAt: string | null;
  lastRunStatus: string | null;
  totalRuns: number;
}

const env = { BOXD_SCHEDULE_MIN_INTERVAL_SECONDS: "2" };

async function until(h: Harness, id: string, ok: (s: Schedule) => boolean): Promise<Schedule> {
  for (let i = 0; i < 120; i++) {
    const s = await h.callOk<Schedule>("box_schedule_get", { schedule: id });
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`schedule ${id} did not get there`);
}

describe("schedules across a restart", () => {
  it("fire on after a restart, and a missed fire runs once at start", { timeout: 300_000 }, async () => {
    const first = await startHarness({ env, keepData: true, keepBoxes: true });
    const dataDir = first.dataDir;
    const box = await first.createBox({ name: "sched-restart", runtime: "node" });
    const often = await first.callOk<Schedule>("box_schedule_create", {
      box: box.id,
      cron: "*/2 * * * * *",
      command: "echo tick >> ticks.txt",
    });
    const yearly = await first.callOk<Schedule>("box_schedule_create", {
      box: box.id,
      cron: "0 0 1 1 *",
      command: "echo missed >> missed.txt",
    });
    const before = await until(first, often.id, (s) => s.totalRuns >= 1);
    await first.close();

    // While no server runs, the yearly schedule's fire time passes.
    const db = new Database(path.join(dataDir, "boxd.db"));
    db.prepare("UPDATE schedules SET next_run_at = ? WHERE id = ?").run(
      new Date(Date.now() - 3600_000).toISOString(),
      yearly.id,
    );
    db.close();

    const second = await startHarness({ env, dataDir });
    try {
      const after = await until(second, often.id, (s) => s.totalRuns >= before.totalRuns + 2);
      expect(after.lastRunStatus === "completed" || after.lastRunStatus === null).toBe(true);
      const missed = await until(second, yearly.id, (s) => s.lastRunStatus === "completed");
      expect(missed.totalRuns).toBe(1);
      expect(Date.parse(missed.nextRunAt as string)).toBeGreaterThan(Date.now() + 24 * 3600_000);
      const out = await second.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat missed.txt" });
      expect(out.stdout).toBe("missed\n");
      const log = await second.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 500 });
      expect(log.entries.some((e) => e.message.includes(`schedule ${yearly.id}: its fire at`))).toBe(true);
    } finally {
      await second.close();
    }
  });
});
