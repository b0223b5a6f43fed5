// Background agent runs with the custom harness (a fake agent: test/fixtures/agent/harness.mjs speaking
// box-sse-v1 in the box, no hosted LLM): the run outlives the client that started it, its durable events
// are read back from a cursor by another client, box_run_kill ends it with children that left its process
// group, and the per-run event cap holds.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "../../src/mcp/server.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/agent/harness.mjs");
const HARNESS = "node /workspace/home/harness.mjs";

interface EventPage {
  events: { seq: number; type: string; data: Record<string, unknown> }[];
  nextCursor: string;
  done: boolean;
  status: string;
}

/** Another MCP client of the same server (a new session), as a client that reconnects would be. */
async function secondClient(h: Harness) {
  const { server, close } = createServer(h.app.services);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(b);
  const client = new Client({ name: "boxd-test-2", version: "0.0.0" });
  await client.connect(a);
  const callOk = async <T>(name: string, args: Record<string, unknown>) => {
    const res = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;
    if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
    return res.structuredContent as T;
  };
  return {
    client,
    callOk,
    close: async () => {
      await client.close().catch(() => {});
      await close().catch(() => {});
    },
  };
}

describe("background agent runs (fake custom harness)", () => {
  let h: Harness;
  let box: BoxResult;
  const sh = async (command: string) =>
    (await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command })).stdout.trim();

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_RUN_EVENTS_MAX_BYTES: String(32 * 1024) } });
    box = await h.createBox({ name: "agent-bg", runtime: "node" });
    await h.callOk("box_write_file", { box: box.id, path: "harness.mjs", content: readFileSync(FIXTURE, "utf8") });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("outlives the client that started it; a new client reads its events from a cursor and its result", async () => {
    const first = await secondClient(h);
    const started = await first.callOk<{ runId: string; status: string }>("box_agent_run", {
      box: box.id,
      harness: "custom",
      command: `${HARNESS} --slow 1`,
      prompt: "summarise the weather",
      model: "fixture-bg",
      background: true,
    });
    expect(started.status).toBe("running");
    await first.close();

    const second = await secondClient(h);
    try {
      const seen: EventPage["events"] = [];
      let cursor: string | undefined;
      let firstPageCursor = "";
      for (let i = 0; i < 60; i++) {
        const page = await second.callOk<EventPage>("box_run_events", {
          box: box.id,
          runId: started.runId,
          ...(cursor ? { after: cursor } : {}),
          wait: 10,
        });
        seen.push(...page.events);
        if (!firstPageCursor && page.events.length) firstPageCursor = page.nextCursor;
        cursor = page.nextCursor;
        if (page.done) break;
      }
      const types = seen.map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(["thinking", "tool", "tool_result", "text", "done"]));
      expect(types.at(-1)).toBe("done");
      expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
      expect(seen.find((e) => e.type === "tool")?.data).toMatchObject({ name: "write_file" });
      expect(
        seen
          .filter((e) => e.type === "text")
          .map((e) => e.data.text)
          .join(""),
      ).toContain("Working on it.");

      // Read again from the middle: the rest, the same events.
      const rest = await second.callOk<EventPage>("box_run_events", {
        box: box.id,
        runId: started.runId,
        after: firstPageCursor,
      });
      expect(rest.events.map((e) => e.seq)).toEqual(
        seen.filter((e) => e.seq > Number(firstPageCursor)).map((e) => e.seq),
      );
      expect(rest.done).toBe(true);

      const run = await second.callOk<{ status: string; agent: Record<string, unknown> }>("box_run_get", {
        box: box.id,
        runId: started.runId,
        wait: true,
      });
      expect(run.status).toBe("completed");
      expect(run.agent).toMatchObject({
        harness: "custom",
        model: "fixture-bg",
        usage: { inputTokens: 1200, outputTokens: 34, cachedInputTokens: 1000 },
        costUsd: 0.0042,
      });
      expect(String(run.agent.output)).toMatch(/^turn 1 of session sess-/);
    } finally {
      await second.close();
    }
  });

  it("box_run_kill ends a background run and the children it started with setsid", async () => {
    const { runId } = await h.callOk<{ runId: string }>("box_agent_run", {
      box: box.id,
      harness: "custom",
      command: `setsid -f sleep 777 </dev/null >/dev/null 2>&1; ${HARNESS} --hang`,
      prompt: "never finish",
      background: true,
    });
    // The detached sleep is in a session of its own: not in the run's process group.
    const count = "ps -eo args | grep -cE '^(sleep 777|node /workspace/home/harness)' || true";
    for (let i = 0; i < 100 && (await sh(count)) !== "2"; i++) await sleep(200);
    expect(await sh(count)).toBe("2");
    const killed = await h.callOk<{ status: string }>("box_run_kill", { box: box.id, runId });
    expect(killed.status).toBe("cancelled");
    expect(await sh(count)).toBe("0");
    const page = await h.callOk<EventPage>("box_run_events", { box: box.id, runId });
    expect(page.done).toBe(true);
    expect(page.status).toBe("cancelled");
  });

  it("bounds a run's stored events at the cap and still records its end", async () => {
    const r = await h.callOk<{ runId: string; status: string }>("box_agent_run", {
      box: box.id,
      harness: "custom",
      command: `${HARNESS} --flood 1`,
      prompt: "flood",
    });
    expect(r.status).toBe("completed");
    const page = await h.callOk<EventPage>("box_run_events", { box: box.id, runId: r.runId });
    const types = page.events.map((e) => e.type);
    expect(types).toContain("truncated");
    expect(types.at(-1)).toBe("done");
    const bytes = page.events.reduce((n, e) => n + JSON.stringify(e.data).length, 0);
    expect(bytes).toBeLessThan(32 * 1024 + 8 * 1024);
    expect(page.done).toBe(true);
  });

  it("refuses a bad cursor and an unknown run with coded errors", async () => {
    const r = await h.callOk<{ runId: string }>("box_exec", { box: box.id, command: "true" });
    const bad = await h.callErr("box_run_events", { box: box.id, runId: r.runId, after: "abc" });
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toContain("nextCursor");
    const none = await h.callErr("box_run_events", { box: box.id, runId: "run_nope" });
    expect(none.code).toBe("NOT_FOUND");
    // A command run has no agent events: an empty, finished page.
    const empty = await h.callOk<EventPage>("box_run_events", { box: box.id, runId: r.runId });
    expect(empty).toMatchObject({ events: [], done: true, status: "completed", nextCursor: "0" });
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
