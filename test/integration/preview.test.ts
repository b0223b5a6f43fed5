// Preview URLs end to end: real servers in boxes (Node and Python), a real HTTP and WebSocket client on the
// host, through the preview listener: GET, a 20 MiB POST, server-sent events arriving one by one, a
// WebSocket echo, each auth mode, credentials stripped before the app, X-Forwarded-*, waking a paused
// box, 502 when nothing listens, unexpose and box delete revoking, and egress left as it was.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";
import { bearer, type Exposed, get, previewTarget, startServer } from "./preview-helpers.js";

interface Exec {
  exitCode: number | null;
  stdout: string;
}

/** Opens an SSE stream and resolves with each event's text as it arrives; `next()` waits for one more. */
function openEvents(url: string, headers: Record<string, string>) {
  const t = previewTarget(url);
  const events: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  const req = http.request({ host: "127.0.0.1", port: t.port, path: "/sse", headers: { host: t.host, ...headers } });
  const opened = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on("response", (res) => {
      let buf = "";
      res.on("data", (c: Buffer) => {
        buf += c.toString();
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          events.push(buf.slice(0, i).replace(/^data: /, ""));
          buf = buf.slice(i + 2);
        }
        wake?.();
      });
      res.on("end", () => {
        ended = true;
        wake?.();
      });
      resolve(res);
    });
    req.on("error", reject);
  });
  req.end();
  const next = async (count: number) => {
    while (events.length < count && !ended) await new Promise<void>((r) => (wake = r));
    return [...events];
  };
  return { opened, next, isEnded: () => ended, close: () => req.destroy() };
}

function wsEcho(url: string, headers: Record<string, string>, message: string): Promise<string> {
  const t = previewTarget(url);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, { headers: { host: t.host, ...headers } });
    ws.on("open", () => ws.send(message));
    ws.on("message", (data) => {
      resolve(data.toString());
      ws.close();
    });
    ws.on("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on("error", reject);
  });
}

describe("preview URLs", () => {
  let h: Harness;
  let nodeBox: BoxResult;
  let pyBox: BoxResult;
  let nodeUrl: Exposed;
  let pyUrl: Exposed;

  beforeAll(async () => {
    h = await startHarness();
    [nodeBox, pyBox] = await Promise.all([
      h.createBox({ name: "web-node", runtime: "node" }),
      h.createBox({ name: "web-python", runtime: "python" }),
    ]);
    await Promise.all([startServer(h, nodeBox.id, "node", 3000), startServer(h, pyBox.id, "python", 8000)]);
    nodeUrl = await h.callOk<Exposed>("box_expose_port", { box: nodeBox.id, port: 3000 });
    pyUrl = await h.callOk<Exposed>("box_expose_port", { box: pyBox.id, port: 8000 });
  }, 300_000);

  afterAll(async () => {
    await h?.close();
  });

  it("exposes with a token by default, at <port>-<box>.localhost on the listener's port, idempotently", async () => {
    expect(nodeUrl.port).toBe(3000);
    expect(nodeUrl.auth).toBe("token");
    expect(nodeUrl.token?.length).toBeGreaterThanOrEqual(32);
    const short = nodeBox.id.replace(/^box_/, "");
    expect(nodeUrl.url).toMatch(new RegExp(`^http://3000-${short}\\.localhost:\\d+/$`));
    const again = await h.callOk<Exposed>("box_expose_port", { box: "web-node", port: 3000, auth: "token" });
    expect(again).toMatchObject({ url: nodeUrl.url, token: nodeUrl.token, created: false });
    const listed = await h.callOk<{ exposed: Exposed[] }>("box_list_exposed", { box: nodeBox.id });
    expect(listed.exposed).toEqual([expect.objectContaining({ url: nodeUrl.url, port: 3000, token: nodeUrl.token })]);
    // Another auth for an exposed port is a conflict; bad ports are refused before anything.
    expect((await h.callErr("box_expose_port", { box: nodeBox.id, port: 3000, auth: "none" })).code).toBe("CONFLICT");
    for (const bad of [0, 65536, -1, 80.5]) {
      expect((await h.callErr("box_expose_port", { box: nodeBox.id, port: bad })).code).toBe("INVALID_ARGUMENT");
    }
    expect((await h.callErr("box_expose_port", { box: "no-such-box", port: 80 })).code).toBe("NOT_FOUND");
  });

  it("serves GET and a 20 MiB POST from a Node and a Python server", async () => {
    const n = await get(nodeUrl.url, { headers: bearer(nodeUrl) });
    expect(n).toMatchObject({ status: 200, body: "hello from node" });
    expect(n.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    const p = await get(pyUrl.url, { headers: bearer(pyUrl) });
    expect(p.status).toBe(200);
    expect(p.body).toBe(`hello from python ${previewTarget(pyUrl.url).host}`);
    const body = randomBytes(20 * 1024 * 1024);
    const sha = createHash("sha256").update(body).digest("hex");
    for (const e of [nodeUrl, pyUrl]) {
      const r = await get(e.url, { path: "/upload", body, headers: bearer(e) });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ sha256: sha, bytes: body.length });
    }
  });

  it("streams server-sent events as they come (the second only after the first was received)", async () => {
    for (const e of [nodeUrl, pyUrl]) {
      const sse = openEvents(e.url, bearer(e));
      const res = await sse.opened;
      expect(res.headers["content-type"]).toContain("text/event-stream");
      // The first event arrives while the server still holds the rest back: nothing is buffered.
      expect(await sse.next(1)).toEqual(["first"]);
      expect(sse.isEnded()).toBe(false);
      expect((await get(e.url, { path: "/release", headers: bearer(e) })).body).toBe("released");
      expect(await sse.next(3)).toEqual(["first", "second", "last"]);
      sse.close();
    }
  });

  it("proxies a WebSocket echo, with the token in a header or as ?token=", async () => {
    expect(await wsEcho(nodeUrl.url, bearer(nodeUrl), "hi there")).toBe("echo:hi there");
    const t = previewTarget(nodeUrl.url);
    const viaQuery = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws?token=${nodeUrl.token}`, { headers: { host: t.host } });
      ws.on("open", () => ws.send("q"));
      ws.on("message", (d) => {
        resolve(d.toString());
        ws.close();
      });
      ws.on("error", reject);
    });
    expect(viaQuery).toBe("echo:q");
    await expect(wsEcho(nodeUrl.url, { authorization: "Bearer wrong" }, "x")).rejects.toThrow(/401/);
  });

  it("strips the preview's credentials, sets X-Forwarded-*, keeps the Host; ?token= sets a cookie", async () => {
    const t = previewTarget(nodeUrl.url);
    const seen = await get(nodeUrl.url, {
      path: "/echo?x=1",
      headers: { ...bearer(nodeUrl), cookie: "app=keep", "x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil" },
    });
    const echo = JSON.parse(seen.body) as { url: string; headers: Record<string, string> };
    expect(echo.url).toBe("/echo?x=1");
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers.cookie).toBe("app=keep");
    expect(echo.headers.host).toBe(t.host);
    expect(echo.headers["x-forwarded-host"]).toBe(t.host);
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
    expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
    // A browser's first visit: redirected without the token, with an HttpOnly cookie for this host only.
    const first = await get(nodeUrl.url, { path: `/echo?a=b&token=${nodeUrl.token}` });
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe("/echo?a=b");
    const cookie = String(first.headers["set-cookie"]?.[0]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Domain=/i);
    // The redirect stays on this host, whatever the path looks like.
    await attack("preview", "open redirect through the ?token= redirect (//host, /\\host)", async () => {
      for (const odd of ["//evil.example/x", "/\\evil.example/x"]) {
        const r = await get(nodeUrl.url, { path: `${odd}?token=${nodeUrl.token}` });
        expect(r.headers.location).toBe("/evil.example/x");
      }
    });
    const jar = cookie.split(";")[0] as string;
    const browsing = await get(nodeUrl.url, { path: "/echo?a=b", headers: { cookie: `${jar}; app=keep` } });
    expect(browsing.status).toBe(200);
    const app = JSON.parse(browsing.body) as { headers: Record<string, string> };
    expect(app.headers.cookie).toBe("app=keep");
    // A POST with ?token= is not redirected: the token is removed from what the app sees.
    const post = await get(nodeUrl.url, {
      path: `/echo?token=${nodeUrl.token}&k=v`,
      method: "POST",
      body: Buffer.from("x"),
    });
    expect(post.status).toBe(200);
    // The cookie of one preview is no key to another.
    expect((await get(pyUrl.url, { headers: { cookie: jar } })).status).toBe(401);
  });

  it("each auth mode accepts the right credentials and refuses wrong ones", async () => {
    const basic = await h.callOk<Exposed>("box_expose_port", { box: pyBox.id, port: 8001, auth: "basic" });
    const none = await h.callOk<Exposed>("box_expose_port", { box: pyBox.id, port: 8002, auth: "none" });
    expect(basic.username).toBeTruthy();
    expect(basic.password?.length).toBeGreaterThanOrEqual(32);
    expect(basic.token).toBeUndefined();
    expect(none).not.toHaveProperty("token");
    await startServer(h, pyBox.id, "python", 8001);
    await startServer(h, pyBox.id, "python", 8002);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    // token
    expect((await get(pyUrl.url, { headers: bearer(pyUrl) })).status).toBe(200);
    const noToken = await get(pyUrl.url);
    expect(noToken.status).toBe(401);
    expect(noToken.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect((await get(pyUrl.url, { headers: { authorization: `Bearer ${pyUrl.token}x` } })).status).toBe(401);
    expect((await get(pyUrl.url, { headers: { authorization: `Bearer ${nodeUrl.token}` } })).status).toBe(401);
    expect((await get(pyUrl.url, { path: "/?token=nope" })).status).toBe(401);
    // basic
    const right = { authorization: `Basic ${b64(`${basic.username}:${basic.password}`)}` };
    expect((await get(basic.url, { headers: right })).status).toBe(200);
    const refused = await get(basic.url, { headers: { authorization: `Basic ${b64(`${basic.username}:wrong`)}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toMatch(/^Basic/);
    expect((await get(basic.url)).status).toBe(401);
    expect((await get(basic.url, { headers: { authorization: `Bearer ${basic.password}` } })).status).toBe(401);
    // none
    expect((await get(none.url)).status).toBe(200);
  });

  it("answers 502 at once when nothing listens, and 404 for unexposed ports and unknown boxes", async () => {
    const idle = await h.callOk<Exposed>("box_expose_port", { box: nodeBox.id, port: 3999, auth: "none" });
    const r = await get(idle.url);
    expect(r.status).toBe(502);
    expect(r.body).toContain("nothing listens on port 3999");
    const short = nodeBox.id.replace(/^box_/, "");
    const notExposed = await get(idle.url, { host: `3001-${short}.localhost` });
    expect(notExposed.status).toBe(404);
    const unknown = await get(idle.url, { host: "3000-aaaaaaaaaaaa.localhost" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe(notExposed.body);
    // The full box id (with its underscore) names the same preview.
    expect((await get(idle.url, { host: `3999-${nodeBox.id}.localhost` })).status).toBe(502);
  });

  it("a WebSocket keeps the box awake; once idle it pauses, and a request wakes it", async () => {
    await h.callOk("box_update", { box: nodeBox.id, idleTimeoutSeconds: 2 });
    try {
      const t = previewTarget(nodeUrl.url);
      const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, { headers: { host: t.host, ...bearer(nodeUrl) } });
      await new Promise((r, j) => ws.on("open", r).on("error", j));
      await new Promise((r) => setTimeout(r, 5000));
      expect(h.services.boxes.mustGet(nodeBox.id).status).toBe("idle");
      ws.close();
      await expect
        .poll(() => h.services.boxes.mustGet(nodeBox.id).status, { timeout: 60_000, interval: 500 })
        .toBe("paused");
      const woke = await get(nodeUrl.url, { headers: bearer(nodeUrl) });
      expect(woke).toMatchObject({ status: 200, body: "hello from node" });
      expect(h.services.boxes.mustGet(nodeBox.id).status).toBe("idle");
    } finally {
      await h.callOk("box_update", { box: nodeBox.id, idleTimeoutSeconds: 900 });
    }
    // An explicit pause: the same.
    await h.callOk("box_pause", { box: pyBox.id });
    const p = await get(pyUrl.url, { headers: bearer(pyUrl) });
    expect(p.status).toBe(200);
    expect(p.body).toMatch(/^hello from python/);
  });

  it("leaves egress as it was: the box reaches neither the host nor another box's exposed port", async () => {
    const hostServer = net.createServer((c) => c.end("host-secret\n"));
    await new Promise<void>((r) => hostServer.listen(0, "0.0.0.0", () => r()));
    const hostPort = (hostServer.address() as net.AddressInfo).port;
    try {
      const rec = (id: string) => h.services.boxes.mustGet(id);
      const ipOf = async (id: string) =>
        (await h.services.engine.containers.address(
          rec(id).containerId as string,
          rec(id).networkName as string,
        )) as string;
      const pyIp = await ipOf(pyBox.id);
      const gateway = pyIp.replace(/\.(\d+)$/, (_m, d: string) => `.${Number(d) - 1}`);
      const tcp = (ip: string, port: number) =>
        h.callOk<Exec>("box_exec", {
          box: nodeBox.id,
          command: `node -e "const s=require('net').connect(${port},'${ip}');s.setTimeout(5000,()=>{console.log('timeout');process.exit(3)});s.on('connect',()=>{console.log('connected');s.on('data',d=>console.log(String(d)))});s.on('error',e=>{console.log(e.code);process.exit(2)})"`,
          timeoutSeconds: 30,
        });
      const nodeIp = await ipOf(nodeBox.id);
      const nodeGateway = nodeIp.replace(/\.(\d+)$/, (_m, d: string) => `.${Number(d) - 1}`);
      for (const [ip, port] of [
        [nodeGateway, hostPort],
        [gateway, hostPort],
        [pyIp, 8000],
      ] as const) {
        const r = await tcp(ip, port);
        expect(r.stdout).not.toContain("connected");
        expect(r.stdout).not.toContain("host-secret");
      }
      // The host reaches the exposed port meanwhile (through the listener).
      expect((await get(pyUrl.url, { headers: bearer(pyUrl) })).status).toBe(200);
    } finally {
      hostServer.close();
    }
  });

  it("unexpose revokes at once, and deleting the box removes its exposures", async () => {
    const extra = await h.callOk<Exposed>("box_expose_port", { box: nodeBox.id, port: 3000 });
    expect((await get(extra.url, { headers: bearer(extra) })).status).toBe(200);
    expect(await h.callOk("box_unexpose_port", { box: nodeBox.id, port: 3000 })).toMatchObject({ removed: true });
    expect((await get(extra.url, { headers: bearer(extra) })).status).toBe(404);
    expect(await h.callOk("box_unexpose_port", { box: nodeBox.id, port: 3000 })).toMatchObject({ removed: false });
    // Exposed again: new credentials (the old token stays dead).
    const fresh = await h.callOk<Exposed>("box_expose_port", { box: nodeBox.id, port: 3000 });
    expect(fresh.token).not.toBe(extra.token);
    expect((await get(fresh.url, { headers: bearer(extra) })).status).toBe(401);
    await h.callOk("box_delete", { box: nodeBox.id });
    expect((await get(fresh.url, { headers: bearer(fresh) })).status).toBe(404);
    expect((await h.callErr("box_list_exposed", { box: nodeBox.id })).code).toBe("NOT_FOUND");
  });
});
