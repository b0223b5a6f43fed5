// The Streamable HTTP transport against the real engine, through the SDK's StreamableHTTPClientTransport
// (and raw requests for what a well-behaved client never sends): authentication, Origin/Host checks,
// sessions, tenants, per-tenant limits and bad input.
import http from "node:http";
import net from "node:net";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectHttp,
  type HttpFixture,
  initializeBody,
  rawPost,
  startHttp,
  TOKEN_A,
  TOKEN_B,
  TOKENS,
} from "./http-helpers.js";

const TOKEN_C = "carol-token-0123456789abcdef";
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const listTools = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });

/** A request with headers fetch would not let us set (Host). */
function rawHttp(
  url: string,
  method: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("HTTP transport", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({
      BOXD_TOKENS: `${TOKENS},${TOKEN_C}:carol`,
      BOXD_TENANT_MAX_BOXES: "2",
      BOXD_TENANT_MAX_CONCURRENT_RUNS: "1",
      BOXD_HTTP_MAX_BODY_BYTES: String(64 * 1024),
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("answers /healthz without a token", async () => {
    const res = await fetch(new URL("/healthz", f.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", name: "boxd" });
  });

  it("answers 401 with WWW-Authenticate without a token and with a bad one, on every method", async () => {
    const none = await rawPost(f.url, initializeBody());
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="boxd"');
    expect(JSON.parse(none.text).error.message).toMatch(/^UNAUTHENTICATED: /);
    const bad = await rawPost(f.url, initializeBody(), auth("not-a-real-token-0123456789"));
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toBe('Bearer realm="boxd", error="invalid_token"');
    // A token that differs from a real one only in its last character is just as invalid.
    const near = await rawPost(f.url, initializeBody(), auth(`${TOKEN_A.slice(0, -1)}X`));
    expect(near.status).toBe(401);
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(f.url, { method, headers: { Accept: "text/event-stream", "Mcp-Session-Id": "x" } });
      expect(res.status, method).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    }
    // The real client sees the 401 too.
    const err = await connectHttp(f.url, null).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(401);
    const wrong = await connectHttp(f.url, "wrong-token-0123456789abcdef").catch((e: unknown) => e);
    expect((wrong as StreamableHTTPError).code).toBe(401);
  });

  it("answers 403 to a foreign Origin (before authentication) and to a rebound Host", async () => {
    const evil = await rawPost(f.url, initializeBody(), { ...auth(TOKEN_A), Origin: "http://evil.example" });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.text).error.message).toMatch(/^FORBIDDEN: Origin/);
    const noToken = await rawPost(f.url, initializeBody(), { Origin: "http://evil.example" });
    expect(noToken.status).toBe(403);
    const client = await connectHttp(f.url, TOKEN_A, {
      requestInit: { headers: { Origin: "https://attacker.example" } },
    }).catch((e: unknown) => e);
    expect((client as StreamableHTTPError).code).toBe(403);
    // The server's own loopback origin (a page it served itself) is fine.
    const own = await rawPost(f.url, initializeBody(), { ...auth(TOKEN_A), Origin: new URL(f.url).origin });
    expect(own.status).toBe(200);
    await fetch(f.url, {
      method: "DELETE",
      headers: { ...auth(TOKEN_A), "Mcp-Session-Id": own.headers.get("mcp-session-id") ?? "" },
    });
    // DNS rebinding: the attacker's name resolving to 127.0.0.1 arrives with the attacker's Host.
    const port = new URL(f.url).port;
    const rebound = await rawHttp(
      f.url,
      "POST",
      {
        Host: `attacker.example:${port}`,
        ...auth(TOKEN_A),
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
      },
      initializeBody(),
    );
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error.message).toMatch(/^FORBIDDEN: Host/);
  });

  it("handles sessions: 400 without an id, 404 unknown, protocol version checked, DELETE ends one", async () => {
    const noSession = await rawPost(f.url, listTools, auth(TOKEN_A));
    expect(noSession.status).toBe(400);
    expect(JSON.parse(noSession.text).error.message).toMatch(/Mcp-Session-Id/);
    const unknown = await rawPost(f.url, listTools, { ...auth(TOKEN_A), "Mcp-Session-Id": "no-such-session" });
    expect(unknown.status).toBe(404);

    const c = await connectHttp(f.url, TOKEN_A);
    const id = c.transport.sessionId ?? "";
    expect(id).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(f.server.sessions.get(id, "alice")).toBeDefined();
    expect((await c.client.listTools()).tools.length).toBeGreaterThan(10);
    const badVersion = await rawPost(f.url, listTools, {
      ...auth(TOKEN_A),
      "Mcp-Session-Id": id,
      "MCP-Protocol-Version": "1999-01-01",
    });
    expect(badVersion.status).toBe(400);
    expect(badVersion.text).toMatch(/Unsupported protocol version/);
    const goodVersion = await rawPost(f.url, listTools, {
      ...auth(TOKEN_A),
      "Mcp-Session-Id": id,
      "MCP-Protocol-Version": "2025-11-25",
    });
    expect(goodVersion.status).toBe(200);
    expect(goodVersion.text).toContain("box_create");

    const before = f.server.sessions.size;
    await c.close(); // DELETE /mcp
    expect(f.server.sessions.size).toBe(before - 1);
    const gone = await rawPost(f.url, listTools, { ...auth(TOKEN_A), "Mcp-Session-Id": id });
    expect(gone.status).toBe(404);
  });

  it("binds a session to its tenant: another tenant's token on it is 404", async () => {
    const a = await connectHttp(f.url, TOKEN_A);
    try {
      const id = a.transport.sessionId ?? "";
      const stolen = await rawPost(f.url, listTools, { ...auth(TOKEN_B), "Mcp-Session-Id": id });
      expect(stolen.status).toBe(404);
      const del = await fetch(f.url, { method: "DELETE", headers: { ...auth(TOKEN_B), "Mcp-Session-Id": id } });
      expect(del.status).toBe(404);
      // Still alive for its owner.
      expect((await a.client.listTools()).tools.length).toBeGreaterThan(10);
    } finally {
      await a.close();
    }
  });

  it("keeps tenants apart: B cannot see, exec, read or delete A's box, by id or by name", async () => {
    const a = await connectHttp(f.url, TOKEN_A);
    const b = await connectHttp(f.url, TOKEN_B);
    try {
      const box = await a.callOk<{ id: string; name: string }>("box_create", { name: "secret" });
      await a.callOk("box_write_file", { box: "secret", path: "plan.txt", content: "alice only" });
      for (const ref of [box.id, "secret"]) {
        for (const [tool, args] of [
          ["box_get", {}],
          ["box_exec", { command: "cat plan.txt" }],
          ["box_read_file", { path: "plan.txt" }],
          ["box_write_file", { path: "x", content: "y" }],
          ["box_runs", {}],
          ["box_logs", {}],
          ["box_pause", {}],
          ["box_delete", {}],
        ] as const) {
          const err = await b.callErr(tool, { box: ref, ...args });
          expect(err.code, `${tool} ${ref}`).toBe("NOT_FOUND");
        }
      }
      expect((await b.callOk<{ boxes: unknown[] }>("box_list")).boxes).toEqual([]);
      await expect(b.client.readResource({ uri: `box://${box.id}/logs` })).rejects.toThrow();
      const listed = await b.client.listResources();
      expect(listed.resources.map((r) => r.uri)).not.toContain(`box://${box.id}/logs`);
      // Names are per tenant: B may have its own "secret".
      const mine = await b.callOk<{ id: string }>("box_create", { name: "secret" });
      expect(mine.id).not.toBe(box.id);
      expect((await b.callOk<{ id: string }>("box_get", { box: "secret" })).id).toBe(mine.id);
      // A's box is untouched.
      const read = await a.callOk<{ content: string }>("box_read_file", { box: box.id, path: "plan.txt" });
      expect(read.content).toBe("alice only");
      await a.callOk("box_delete", { box: box.id });
      await b.callOk("box_delete", { box: mine.id });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("applies per-tenant limits: LIMIT_EXCEEDED from box_create, box_exec and box_run_code", async () => {
    const c = await connectHttp(f.url, TOKEN_C);
    const a = await connectHttp(f.url, TOKEN_A);
    try {
      const one = await c.callOk<{ id: string }>("box_create", { name: "c1" });
      await c.callOk("box_create", { name: "c2" });
      const third = await c.callErr("box_create", { name: "c3" });
      expect(third.code).toBe("LIMIT_EXCEEDED");
      expect(third.message).toContain("BOXD_TENANT_MAX_BOXES");
      // Another tenant is not affected by carol's boxes.
      const theirs = await a.callOk<{ id: string }>("box_create", { name: "a1" });

      const bg = await c.callOk<{ runId: string }>("box_exec", { box: "c1", command: "sleep 60", background: true });
      const busy = await c.callErr("box_exec", { box: "c2", command: "echo hi" });
      expect(busy.code).toBe("LIMIT_EXCEEDED");
      expect(busy.message).toContain("BOXD_TENANT_MAX_CONCURRENT_RUNS");
      expect((await c.callErr("box_run_code", { box: "c2", lang: "python", code: "print(1)" })).code).toBe(
        "LIMIT_EXCEEDED",
      );
      const other = await a.callOk<{ stdout: string }>("box_exec", { box: theirs.id, command: "echo free" });
      expect(other.stdout).toBe("free\n");

      await c.callOk("box_run_kill", { box: "c1", runId: bg.runId });
      expect((await c.callOk<{ stdout: string }>("box_exec", { box: "c2", command: "echo again" })).stdout).toBe(
        "again\n",
      );
      await c.callOk("box_delete", { box: one.id });
      await c.callOk("box_create", { name: "c3" });
    } finally {
      await c.close();
      await a.close();
    }
  });

  it("refuses bad input with a status and a code, and stays up", async () => {
    const c = await connectHttp(f.url, TOKEN_A);
    try {
      const id = c.transport.sessionId ?? "";
      const headers = { ...auth(TOKEN_A), "Mcp-Session-Id": id };
      const big = JSON.stringify({
        jsonrpc: "2.0",
        id: 9,
        method: "tools/call",
        params: { name: "box_list", arguments: { pad: "x".repeat(100 * 1024) } },
      });
      const tooBig = await rawPost(f.url, big, headers);
      expect(tooBig.status).toBe(413);
      expect(JSON.parse(tooBig.text).error.message).toMatch(/^LIMIT_EXCEEDED: .*BOXD_HTTP_MAX_BODY_BYTES/);
      // Without Content-Length (chunked), the limit holds while reading.
      const chunked = await fetch(f.url, {
        method: "POST",
        headers: { ...headers, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: new Blob([big]).stream(),
        duplex: "half",
      } as RequestInit);
      expect(chunked.status).toBe(413);

      const garbage = await rawPost(f.url, "{ not json", headers);
      expect(garbage.status).toBe(400);
      expect(JSON.parse(garbage.text).error.code).toBe(-32700);
      const notRpc = await rawPost(f.url, JSON.stringify({ hello: "world" }), headers);
      expect(notRpc.status).toBe(400);
      const text = await rawPost(f.url, "{}", { ...headers, "Content-Type": "text/plain" });
      expect(text.status).toBe(415);
      const batch = JSON.stringify(
        Array.from({ length: 21 }, (_, i) => ({ jsonrpc: "2.0", id: 100 + i, method: "tools/list" })),
      );
      const tooMany = await rawPost(f.url, batch, headers);
      expect(tooMany.status).toBe(400);
      expect(JSON.parse(tooMany.text).error.code).toBe(-32600);
      expect((await rawPost(f.url, "[]", headers)).status).toBe(400);
      const put = await fetch(f.url, { method: "PUT", headers });
      expect(put.status).toBe(405);

      // Still serving, on the same session.
      expect((await c.client.listTools()).tools.length).toBeGreaterThan(10);
      expect((await fetch(new URL("/healthz", f.url))).status).toBe(200);
    } finally {
      await c.close();
    }
  });

  it("does not let slow clients hold up others", async () => {
    const { port } = new URL(f.url);
    // Twenty clients that send a request's headers and a few bytes of body, then stall.
    const slow = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(Number(port), "127.0.0.1", () => {
              s.write(
                `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN_A}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"jsonrpc":`,
              );
              resolve(s);
            });
            s.on("error", reject);
          }),
      ),
    );
    try {
      const c = await connectHttp(f.url, TOKEN_B);
      const started = Date.now();
      expect((await c.client.listTools()).tools.length).toBeGreaterThan(10);
      expect(Date.now() - started).toBeLessThan(5000);
      await c.close();
    } finally {
      for (const s of slow) s.destroy();
    }
  });
});

describe("HTTP transport without tokens (--insecure-no-auth, loopback)", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({ BOXD_TOKENS: "" }, { insecureNoAuth: true });
  });
  afterAll(async () => {
    await f?.close();
  });

  it("serves everyone as the single local tenant, and still checks Origin", async () => {
    const c = await connectHttp(f.url, null);
    try {
      const box = await c.callOk<{ id: string }>("box_create", { name: "open-local" });
      // The same tenant as the stdio server's ("local"): the harness's own client sees the box.
      expect((await f.h.callOk<{ id: string }>("box_get", { box: "open-local" })).id).toBe(box.id);
      await c.callOk("box_delete", { box: box.id });
    } finally {
      await c.close();
    }
    const evil = await rawPost(f.url, initializeBody(), { Origin: "http://evil.example" });
    expect(evil.status).toBe(403);
  });
});

describe("HTTP transport: box limit with a warm pool", () => {
  let f: HttpFixture;

  beforeAll(async () => {
    f = await startHttp({ BOXD_POOL: "node:small:2", BOXD_TENANT_MAX_BOXES: "1" });
    await f.h.services.pool.settled();
  });
  afterAll(async () => {
    await f?.close();
  });

  it("counts a box claimed from the pool, and refuses the next though pooled boxes are ready", async () => {
    const pooled = () => f.h.services.boxes.listAll().filter((b) => b.status === "pooled");
    const ready = pooled().map((b) => b.id);
    expect(ready).toHaveLength(2);
    const c = await connectHttp(f.url, TOKEN_A);
    try {
      const box = await c.callOk<{ id: string }>("box_create", { name: "warm-1" });
      expect(ready).toContain(box.id);
      await f.h.services.pool.settled();
      expect(pooled().length).toBeGreaterThan(0);
      const err = await c.callErr("box_create", { name: "warm-2" });
      expect(err.code).toBe("LIMIT_EXCEEDED");
      expect((await c.callOk<{ boxes: unknown[] }>("box_list")).boxes).toHaveLength(1);
      await c.callOk("box_delete", { box: box.id });
    } finally {
      await c.close();
    }
  });
});
