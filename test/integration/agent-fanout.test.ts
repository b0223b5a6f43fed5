// Fan-out over HTTP: 10 background agent runs (the custom harness, a fake agent in the box, no hosted
// LLM) in 10 boxes at once, each ending with its own result, read back by box_run_get and box_run_events
// from a new HTTP session after the one that started them has ended.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, type HttpClient, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/agent/harness.mjs");
const N = 10;

describe("10 parallel background agent runs over HTTP (fake custom harness)", () => {
  let fx: HttpFixture;
  let c: HttpClient;

  beforeAll(async () => {
    fx = await startHttp();
    c = await connectHttp(fx.url, TOKEN_A);
  });
  afterAll(async () => {
    await c?.close();
    await fx?.close();
  });

  it("each run finishes with its own result", { timeout: 900_000 }, async () => {
    const script = readFileSync(FIXTURE, "utf8");
    const boxes = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const box = await c.callOk<{ id: string }>("box_create", { name: `fan-${i}`, runtime: "node" });
        await c.callOk("box_write_file", { box: box.id, path: "harness.mjs", content: script });
        return box.id;
      }),
    );
    const started = await Promise.all(
      boxes.map((box, i) =>
        c.callOk<{ runId: string; status: string }>("box_agent_run", {
          box,
          harness: "custom",
          command: `node /workspace/home/harness.mjs --slow 1 --reply answer-${i}`,
          prompt: `task ${i}`,
          background: true,
        }),
      ),
    );
    expect(started.every((s) => s.status === "running")).toBe(true);
    expect(new Set(started.map((s) => s.runId)).size).toBe(N);
    // The client that started them ends its session; a new one follows the runs.
    await c.close();
    c = await connectHttp(fx.url, TOKEN_A);

    const results = await Promise.all(
      boxes.map(async (box, i) => {
        const runId = started[i]?.runId as string;
        let run = await c.callOk<{ status: string; agent?: { output?: string } }>("box_run_get", { box, runId });
        for (let k = 0; k < 20 && run.status === "running"; k++) {
          run = await c.callOk("box_run_get", { box, runId, wait: true, waitSeconds: 30 });
        }
        const events = await c.callOk<{ events: { type: string; data: { output?: string } }[]; done: boolean }>(
          "box_run_events",
          { box, runId },
        );
        return { run, events };
      }),
    );
    results.forEach(({ run, events }, i) => {
      expect(run.status).toBe("completed");
      expect(run.agent?.output).toBe(`answer-${i}`);
      expect(events.done).toBe(true);
      expect(events.events.at(-1)).toMatchObject({ type: "done", data: { output: `answer-${i}` } });
    });

    // Another tenant sees none of it: not the runs' events, not the schedules.
    const sched = await c.callOk<{ id: string }>("box_schedule_create", {
      box: boxes[0],
      cron: "0 0 1 1 *",
      command: "true",
    });
    const bob = await connectHttp(fx.url, TOKEN_B);
    try {
      const runId = started[0]?.runId as string;
      expect((await bob.callErr("box_run_events", { box: boxes[0], runId })).code).toBe("NOT_FOUND");
      expect((await bob.callErr("box_schedule_get", { schedule: sched.id })).code).toBe("NOT_FOUND");
      expect((await bob.callErr("box_schedule_delete", { schedule: sched.id })).code).toBe("NOT_FOUND");
      expect((await bob.callOk<{ schedules: unknown[] }>("box_schedule_list", {})).schedules).toEqual([]);
    } finally {
      await bob.close();
    }
  });
});
