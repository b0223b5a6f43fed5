// Session bookkeeping of the HTTP transport: idle sessions expire and free their memory (also 1,000
// abandoned ones), a session with a call in flight is kept, a tenant at its cap recycles its own least
// recently used session, and the server's cap refuses new sessions with 503.
import v8 from "node:v8";
import vm from "node:vm";
import type { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectHttp,
  type HttpFixture,
  initializeBody,
  openRawSession,
  rawPost,
  startHttp,
  TOKEN_A,
  TOKEN_B,
} from "./http-helpers.js";

v8.setFlagsFromString("--expose_gc");
const gc = vm.runInNewContext("gc") as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listTools = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("HTTP sessions: expiry", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({
      BOXD_HTTP_SESSION_IDLE_SECONDS: "2",
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("expires an idle session: it leaves the map and its id then gets 404", async () => {
    const c = await connectHttp(f.url, TOKEN_A);
    const id = c.transport.sessionId ?? "";
    expect(f.server.sessions.get(id, "alice")).toBeDefined();
    await until("the idle session to expire", () => !f.server.sessions.get(id, "alice"), 10_000);
    const err = await c.client.listTools().catch((e: unknown) => e);
    expect((err as StreamableHTTPError).code).toBe(404);
    await c.client.close();
  });

  it("keeps a session whose call runs longer than the idle time", async () => {
    const c = await connectHttp(f.url, TOKEN_A);
    try {
      const box = await c.callOk<{ id: string }>("box_create", { name: "long-call" });
      const id = c.transport.sessionId ?? "";
      const res = await c.callOk<{ exitCode: number; stdout: string }>("box_exec", {
        box: box.id,
        command: "sleep 4; echo still-here",
      });
      expect(res).toMatchObject({ exitCode: 0, stdout: "still-here\n" });
      expect(f.server.sessions.get(id, "alice")).toBeDefined();
      await c.callOk("box_delete", { box: box.id });
    } finally {
      await c.close();
    }
  });
});

describe("HTTP sessions: 1,000 abandoned", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({
      BOXD_HTTP_SESSION_IDLE_SECONDS: "600",
      BOXD_HTTP_MAX_SESSIONS: "1500",
      BOXD_HTTP_MAX_SESSIONS_PER_TENANT: "1500",
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("expires 1,000 sessions opened and abandoned, and gives their memory back", async () => {
    const baseline = heapAfterGc();
    const openedFrom = Date.now();
    const ids: string[] = [];
    const queue = Array.from({ length: 1000 }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        while (queue.shift() !== undefined) ids.push(await openRawSession(f.url, TOKEN_A));
      }),
    );
    expect(new Set(ids).size).toBe(1000);
    // All held at once...
    expect(f.server.sessions.size).toBe(1000);
    const held = heapAfterGc() - baseline;
    // ...until they have been idle for the idle time: the sweeper's pass, as of 10 minutes later (the
    // timer itself is shown above, with a 2 s idle time). Just before that, nothing goes.
    expect(f.server.sessions.sweep(openedFrom + 590_000)).toBe(0);
    expect(f.server.sessions.sweep(Date.now() + 601_000)).toBe(1000);
    await until("1,000 abandoned sessions to close", () => f.server.sessions.size === 0, 10_000);
    expect(f.server.events.size).toBe(0);
    expect(f.server.events.totalBytes).toBe(0);
    // A sweep takes sessions out of the map at once; closing each one's server and transport finishes a
    // few event-loop turns later.
    await sleep(1000);
    const left = heapAfterGc() - baseline;
    process.stderr.write(
      `[http-sessions] heap: +${(held / 2 ** 20).toFixed(1)} MiB while held, +${(left / 2 ** 20).toFixed(1)} MiB after expiry\n`,
    );
    expect(left).toBeLessThan(32 * 2 ** 20);
    expect(held).toBeGreaterThan(left);
    for (const id of [ids[0], ids[500], ids[999]]) {
      const r = await rawPost(f.url, listTools, { Authorization: `Bearer ${TOKEN_A}`, "Mcp-Session-Id": id ?? "" });
      expect(r.status).toBe(404);
    }
    expect((await fetch(new URL("/healthz", f.url))).status).toBe(200);
  });
});

describe("HTTP sessions: caps", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({ BOXD_HTTP_MAX_SESSIONS: "4", BOXD_HTTP_MAX_SESSIONS_PER_TENANT: "3" });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("recycles a tenant's least recently used idle session at its cap, and refuses beyond the server's", async () => {
    const auth = (t: string, id?: string) => ({
      Authorization: `Bearer ${t}`,
      ...(id ? { "Mcp-Session-Id": id } : {}),
    });
    const a1 = await openRawSession(f.url, TOKEN_A);
    const a2 = await openRawSession(f.url, TOKEN_A);
    const a3 = await openRawSession(f.url, TOKEN_A);
    await sleep(20);
    expect((await rawPost(f.url, listTools, auth(TOKEN_A, a1))).status).toBe(200); // a1 is now the most recent
    const a4 = await openRawSession(f.url, TOKEN_A);
    expect(f.server.sessions.size).toBe(3);
    expect((await rawPost(f.url, listTools, auth(TOKEN_A, a2))).status).toBe(404); // the least recently used
    for (const id of [a1, a3, a4]) expect((await rawPost(f.url, listTools, auth(TOKEN_A, id))).status).toBe(200);

    // Bob is not touched by Alice's recycling, and gets the last place.
    await openRawSession(f.url, TOKEN_B);
    expect(f.server.sessions.size).toBe(4);
    const full = await rawPost(
      f.url,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
      }),
      auth(TOKEN_B),
    );
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBeTruthy();
    expect(JSON.parse(full.text).error.message).toMatch(/^LIMIT_EXCEEDED: .*BOXD_HTTP_MAX_SESSIONS/);
    // Ending a session makes room.
    await fetch(f.url, { method: "DELETE", headers: auth(TOKEN_A, a3) });
    await openRawSession(f.url, TOKEN_B);
  });

  it("holds the caps when many sessions are opened at once", async () => {
    await f.server.sessions.closeAll();
    const statuses = await Promise.all(
      Array.from({ length: 12 }, () =>
        rawPost(f.url, initializeBody(), { Authorization: `Bearer ${TOKEN_B}` }).then((r) => r.status),
      ),
    );
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(f.server.sessions.size).toBeLessThanOrEqual(3);
  });
});
