// The web console's HTTP side, from a client's view (the browser test drives the page): sign-in with a
// bearer token for an HttpOnly SameSite=Strict session, a tenant's boxes only, the actions, the live log
// as server-sent events; wrong or missing credentials, another tenant's box, cross-site writes, floods of
// wrong tokens and hostile text are refused or carried as data.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, type HttpClient, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

describe("web console API", () => {
  let fx: HttpFixture;
  let alice: HttpClient;
  let bob: HttpClient;
  let base = "";

  /** What the API answers, loosely (each test reads the fields it expects). */
  interface Answer {
    error: { code: string; message: string };
    tenant: string;
    boxes: { id: string }[];
    box: { name: string; status: string };
    runs: unknown[];
  }
  const json = async (r: Response) => (await r.json()) as Answer;
  const api = (path: string, init: RequestInit & { cookie?: string } = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { ...(init.cookie ? { cookie: init.cookie } : {}), ...(init.headers as Record<string, string>) },
    });
  const signIn = async (token: string) => {
    const r = await api("/console/api/session", {
      method: "POST",
      headers: { "content-type": "application/json", "x-boxd-console": "1" },
      body: JSON.stringify({ token }),
    });
    return { r, cookie: (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "" };
  };
  const write = (path: string, cookie: string, method = "POST") =>
    api(path, {
      method,
      cookie,
      headers: { "content-type": "application/json", "x-boxd-console": "1" },
      body: method === "POST" ? "{}" : undefined,
    });

  beforeAll(async () => {
    fx = await startHttp();
    base = fx.url.replace(/\/mcp$/, "");
    alice = await connectHttp(fx.url, TOKEN_A);
    bob = await connectHttp(fx.url, TOKEN_B);
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await fx?.close();
  });

  it("signs in with a tenant's token for an HttpOnly, SameSite=Strict session; a wrong token gets nothing", async () => {
    const bad = await signIn("not-a-token");
    expect(bad.r.status).toBe(401);
    expect(bad.r.headers.get("set-cookie")).toBeNull();
    expect((await json(bad.r)).error.code).toBe("UNAUTHENTICATED");
    const { r, cookie } = await signIn(TOKEN_A);
    expect(r.status).toBe(200);
    expect(await json(r)).toEqual({ tenant: "alice" });
    expect(r.headers.get("set-cookie")).toMatch(
      /^boxd_console=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(await json(await api("/console/api/session", { cookie }))).toEqual({ tenant: "alice" });
    // Without the cookie, or with a made-up one: signed out.
    expect((await api("/console/api/boxes")).status).toBe(401);
    expect((await api("/console/api/boxes", { cookie: `boxd_console=${"A".repeat(43)}` })).status).toBe(401);
    // A bearer token is no session: the API takes only the cookie.
    expect((await api("/console/api/boxes", { headers: { authorization: `Bearer ${TOKEN_A}` } })).status).toBe(401);
    // Sign-out ends the session server-side (the old cookie is worthless).
    expect((await write("/console/api/session", cookie, "DELETE")).status).toBe(204);
    expect((await api("/console/api/boxes", { cookie })).status).toBe(401);
  });

  it("shows a tenant its own boxes only: another tenant's box is not found, by id or name", async () => {
    const mine = await alice.callOk<{ id: string }>("box_create", { name: "alice-box" });
    const theirs = await bob.callOk<{ id: string }>("box_create", { name: "bob-box" });
    const { cookie } = await signIn(TOKEN_A);
    const list = await json(await api("/console/api/boxes", { cookie }));
    expect(list.boxes.map((b: { id: string }) => b.id)).toEqual([mine.id]);
    for (const ref of [theirs.id, "bob-box"]) {
      const r = await api(`/console/api/boxes/${ref}`, { cookie });
      expect(r.status).toBe(404);
      expect((await write(`/console/api/boxes/${ref}/pause`, cookie)).status).toBe(404);
      expect((await write(`/console/api/boxes/${ref}`, cookie, "DELETE")).status).toBe(404);
    }
    expect((await bob.callOk<{ status: string }>("box_get", { box: theirs.id })).status).not.toBe("deleted");
    const one = await json(await api(`/console/api/boxes/${mine.id}`, { cookie }));
    expect(one.box.name).toBe("alice-box");
    expect(Array.isArray(one.runs)).toBe(true);
    expect((await api("/console/api/boxes/%E0%A4%A", { cookie })).status).toBe(400);
  });

  it("refuses writes without the console's header or from another origin; pause, resume and delete work", async () => {
    const box = await alice.callOk<{ id: string }>("box_create", { name: "acted-on" });
    const { cookie } = await signIn(TOKEN_A);
    const plain = await api(`/console/api/boxes/${box.id}/pause`, { method: "POST", cookie });
    expect(plain.status).toBe(403); // a cross-site form can send the cookie-less POST only; no header either
    const foreign = await api(`/console/api/boxes/${box.id}/pause`, {
      method: "POST",
      cookie,
      headers: { origin: "https://evil.example", "x-boxd-console": "1" },
    });
    expect(foreign.status).toBe(403);
    expect((await alice.callOk<{ status: string }>("box_get", { box: box.id })).status).not.toBe("paused");
    const paused = await write(`/console/api/boxes/${box.id}/pause`, cookie);
    expect((await json(paused)).box.status).toBe("paused");
    const resumed = await write(`/console/api/boxes/${box.id}/resume`, cookie);
    expect((await json(resumed)).box.status).not.toBe("paused");
    expect((await write(`/console/api/boxes/${box.id}`, cookie, "DELETE")).status).toBe(200);
    expect((await alice.callErr("box_get", { box: box.id })).code).toBe("NOT_FOUND");
  });

  it("streams a box's log live: the backlog, then each new line, hostile text carried as JSON data", async () => {
    const box = await alice.callOk<{ id: string }>("box_create", {
      name: "hostile",
      labels: { note: "<img src=x onerror=alert(1)>" },
    });
    const { cookie } = await signIn(TOKEN_A);
    const ac = new AbortController();
    const r = await api(`/console/api/boxes/${box.id}/log`, { cookie, signal: ac.signal });
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const until = async (needle: string) => {
      const deadline = Date.now() + 30_000;
      while (!text.includes(needle) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString("utf8");
      }
      return text.includes(needle);
    };
    expect(await until("event: entry")).toBe(true);
    await alice.callOk("box_exec", { box: box.id, command: "echo '</script><script>alert(1)</script>'\necho second" });
    expect(await until("alert(1)")).toBe(true);
    ac.abort();
    // Every event's data is one line of JSON: the payload cannot end the event or forge another.
    for (const line of text.split("\n").filter((l) => l.startsWith("data: "))) {
      expect(() => JSON.parse(line.slice(6))).not.toThrow();
    }
  });

  it("serves the page with a strict CSP; unknown API paths are coded errors", async () => {
    const page = await api("/boxes/anything");
    expect(page.headers.get("content-security-policy")).toMatch(
      /default-src 'self'; script-src 'self'; style-src 'self'/,
    );
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const { cookie } = await signIn(TOKEN_A);
    const unknown = await api("/console/api/nope", { cookie });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe("NOT_FOUND");
    expect((await api("/somewhere", { method: "PUT" })).status).toBe(404);
    // A foreign Host (DNS rebinding) gets nothing, the page included (fetch cannot set Host: node:http can).
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(base);
      http
        .get({ host: u.hostname, port: u.port, path: "/", headers: { host: "evil.example" } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on("error", reject);
    });
    expect(status).toBe(403);
  });

  it("shows a run's output and exit code; another box's run is not found", async () => {
    const box = await alice.callOk<{ id: string }>("box_create", { name: "runner" });
    const other = await alice.callOk<{ id: string }>("box_create", { name: "other-runner" });
    const run = await alice.callOk<{ runId: string }>("box_exec", {
      box: box.id,
      command: "echo out-1; echo err-1 >&2; exit 4",
    });
    const { cookie } = await signIn(TOKEN_A);
    const r = await json(await api(`/console/api/boxes/${box.id}/runs/${run.runId}`, { cookie }));
    expect((r as unknown as { run: Record<string, unknown> }).run).toMatchObject({
      stdout: "out-1\n",
      stderr: "err-1\n",
      exitCode: 4,
    });
    expect((await api(`/console/api/boxes/${other.id}/runs/${run.runId}`, { cookie })).status).toBe(404);
    expect((await write(`/console/api/boxes/${box.id}/pause/extra`, cookie)).status).toBe(404);
  });

  it("sends a huge log's newest 500 entries, not all of it", async () => {
    const box = await alice.callOk<{ id: string }>("box_create", { name: "chatty" });
    for (let i = 0; i < 5000; i++) fx.h.services.boxLog.append(box.id, "info", "user", `line ${i} ${"x".repeat(200)}`);
    const { cookie } = await signIn(TOKEN_A);
    const ac = new AbortController();
    const r = await api(`/console/api/boxes/${box.id}/log`, { cookie, signal: ac.signal });
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("line 4999 ")) text += Buffer.from((await reader.read()).value ?? []).toString("utf8");
    ac.abort();
    const entries = text.split("\n").filter((l) => l.startsWith("data: "));
    expect(entries.length).toBe(500);
    expect(entries[0]).toContain('"line 4500 ');
  });

  it("slows down a flood of wrong tokens from one address", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await signIn(`guess-${i}`)).r.status);
    expect(codes.slice(0, 5).every((c) => c === 401 || c === 429)).toBe(true);
    expect(codes.at(-1)).toBe(429);
    // Even the right token waits now (nothing tells a guesser which of its tries was right).
    expect((await signIn(TOKEN_B)).r.status).toBe(429);
  });
});
