// Streaming over HTTP: a long box_exec's output arrives as progress notifications, and a client that loses
// its connection mid-run gets what it missed by reconnecting with Last-Event-ID, both when the SDK client
// reconnects by itself and when a new client picks up the session. The replay buffer stays bounded.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, type HttpFixture, startHttp, TOKEN_A } from "./http-helpers.js";

const LINES = 40;
// One line every 0.1 s: ~4 s in all, long enough to drop and come back in the middle.
const COUNTING = `for i in $(seq 1 ${LINES}); do echo line-$i; sleep 0.1; done`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linesIn = (text: string) => text.split("\n").filter(Boolean);
const expected = Array.from({ length: LINES }, (_, i) => `line-${i + 1}`);

describe("HTTP streaming and resumability", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    // 1 MiB of replay buffer in all, so one session keeps at most 128 KiB: small enough to test the bound.
    f = await startHttp({ BOXD_HTTP_EVENT_BUFFER_BYTES: String(1024 * 1024) });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("streams a long box_exec's output as progress notifications", async () => {
    const c = await connectHttp(f.url, TOKEN_A);
    try {
      const box = await c.callOk<{ id: string }>("box_create", { name: "progress" });
      const messages: { at: number; text: string }[] = [];
      const started = Date.now();
      const res = await c.call("box_exec", { box: box.id, command: COUNTING }, (m) =>
        messages.push({ at: Date.now() - started, text: m }),
      );
      const out = res.structuredContent as { exitCode: number; stdout: string };
      expect(out.exitCode).toBe(0);
      expect(linesIn(out.stdout)).toEqual(expected);
      expect(linesIn(messages.map((m) => m.text).join(""))).toEqual(expected);
      // Streamed while running, not all at the end.
      expect(messages.length).toBeGreaterThan(10);
      expect(messages[0]?.at ?? 0).toBeLessThan((messages.at(-1)?.at ?? 0) - 2000);
      await c.callOk("box_delete", { box: box.id });
    } finally {
      await c.close();
    }
  });

  it("a client whose stream drops mid-run reconnects with Last-Event-ID and gets what it missed", async () => {
    const requests: { method: string; lastEventId: string | null }[] = [];
    let drop: (() => void) | null = null;
    let seenAtDrop = -1;
    let seenAtReconnect = -1;
    const progress: string[] = [];
    const seen = () => linesIn(progress.join("")).length;
    // The network between client and server: it can cut the tool call's response stream, and holds the
    // client's reconnection back for 1.5 s (an outage) while the command goes on writing.
    const network: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      const method = init?.method ?? "GET";
      requests.push({ method, lastEventId: headers.get("last-event-id") });
      if (method === "GET" && headers.get("last-event-id")) {
        await sleep(1500);
        seenAtReconnect = seen();
      }
      if (method === "POST" && String(init?.body).includes('"box_exec"')) {
        const cut = new AbortController();
        const signal = init?.signal ? AbortSignal.any([init.signal, cut.signal]) : cut.signal;
        drop = () => cut.abort(new Error("network cut"));
        return fetch(input, { ...init, signal });
      }
      return fetch(input, init);
    };
    const c = await connectHttp(f.url, TOKEN_A, { fetch: network });
    try {
      const box = await c.callOk<{ id: string }>("box_create", { name: "resume-auto" });
      const res = await c.call("box_exec", { box: box.id, command: COUNTING }, (m) => {
        progress.push(m);
        if (drop && seen() >= 3 && seenAtDrop < 0) {
          seenAtDrop = seen();
          drop();
        }
      });
      const out = res.structuredContent as { exitCode: number; stdout: string };
      expect(out.exitCode).toBe(0);
      expect(linesIn(out.stdout)).toEqual(expected);
      // The stream was cut early, nothing arrived while it was down, and in the end every line arrived
      // exactly once and in order: the ones written during the outage were replayed from the event store.
      expect(seenAtDrop).toBeGreaterThanOrEqual(3);
      expect(seenAtDrop).toBeLessThan(LINES - 15);
      expect(seenAtReconnect).toBe(seenAtDrop);
      expect(linesIn(progress.join(""))).toEqual(expected);
      const resumed = requests.filter((r) => r.method === "GET" && r.lastEventId);
      expect(resumed.length).toBeGreaterThanOrEqual(1);
      await c.callOk("box_delete", { box: box.id });
    } finally {
      await c.close();
    }
  });

  it("a new client picks up the session of one that went away, from its last event id", async () => {
    const headers = { Authorization: `Bearer ${TOKEN_A}` };
    const a = await connectHttp(f.url, TOKEN_A);
    const box = await a.callOk<{ id: string }>("box_create", { name: "resume-new" });
    const sessionId = a.transport.sessionId ?? "";
    let lastEventId = "";
    const before: string[] = [];
    let gone!: () => void;
    const wentAway = new Promise<void>((r) => {
      gone = r;
    });
    const pending = a.client
      .request(
        { method: "tools/call", params: { name: "box_exec", arguments: { box: box.id, command: COUNTING } } },
        CallToolResultSchema,
        {
          timeout: 60_000,
          onresumptiontoken: (t) => {
            lastEventId = t;
          },
          onprogress: (p) => {
            before.push(p.message ?? "");
            if (linesIn(before.join("")).length >= 5) gone();
          },
        },
      )
      .catch((e: unknown) => e);
    await wentAway;
    // The client disappears at once (process killed, laptop closed): no DELETE, its connections just end.
    await a.transport.close();
    expect(await pending).toBeInstanceOf(Error);
    await sleep(1500);

    const transport = new StreamableHTTPClientTransport(new URL(f.url), { sessionId, requestInit: { headers } });
    const b = new Client({ name: "boxd-http-test-b", version: "0.0.0" });
    await b.connect(transport); // a known session id: no new initialize
    const after: string[] = [];
    const deliver = transport.onmessage;
    transport.onmessage = (m: JSONRPCMessage) => {
      if ("method" in m && m.method === "notifications/progress") {
        after.push(String((m.params as { message?: string }).message ?? ""));
      }
      deliver?.(m);
    };
    try {
      const result = await b.request(
        { method: "tools/call", params: { name: "box_exec", arguments: { box: box.id, command: "unused" } } },
        CallToolResultSchema,
        { timeout: 60_000, resumptionToken: lastEventId },
      );
      const out = result.structuredContent as { exitCode: number; stdout: string };
      expect(out.exitCode).toBe(0);
      expect(linesIn(out.stdout)).toEqual(expected);
      // What A saw up to its last event, then what B was sent after it: everything, once, in order.
      expect(linesIn(before.join("") + after.join(""))).toEqual(expected);
      expect(after.length).toBeGreaterThan(0);
      // The replay did not run the command again.
      const runs = await connectHttp(f.url, TOKEN_A);
      const list = await runs.callOk<{ runs: unknown[] }>("box_runs", { box: box.id });
      expect(list.runs).toHaveLength(1);
      await runs.callOk("box_delete", { box: box.id });
      await runs.close();
    } finally {
      await transport.terminateSession().catch(() => {});
      await b.close();
    }
  });

  it("keeps the replay buffer bounded: a resume from an event pushed out is refused plainly", async () => {
    const a = await connectHttp(f.url, TOKEN_A);
    const box = await a.callOk<{ id: string }>("box_create", { name: "flood" });
    const sessionId = a.transport.sessionId ?? "";
    let firstEventId = "";
    let gone!: () => void;
    const wentAway = new Promise<void>((r) => {
      gone = r;
    });
    const pending = a.client
      .request(
        {
          method: "tools/call",
          // ~2.5 MB of output, well over the session's 128 KiB share of the buffer.
          params: { name: "box_exec", arguments: { box: box.id, command: "sleep 0.5; seq 1 400000; sleep 1" } },
        },
        CallToolResultSchema,
        {
          timeout: 60_000,
          onresumptiontoken: (t) => {
            if (!firstEventId) {
              firstEventId = t;
              gone();
            }
          },
        },
      )
      .catch((e: unknown) => e);
    await wentAway;
    await a.transport.close();
    await pending;
    await sleep(4000);
    expect(f.server.events.totalBytes).toBeLessThanOrEqual(1024 * 1024);
    const res = await fetch(f.url, {
      headers: {
        Authorization: `Bearer ${TOKEN_A}`,
        Accept: "text/event-stream",
        "Mcp-Session-Id": sessionId,
        "Last-Event-ID": firstEventId,
      },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/^INVALID_ARGUMENT: event .* is no longer kept/);
    await fetch(f.url, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${TOKEN_A}`, "Mcp-Session-Id": sessionId },
    });
    const c = await connectHttp(f.url, TOKEN_A);
    await c.callOk("box_delete", { box: box.id });
    await c.close();
  });
});
