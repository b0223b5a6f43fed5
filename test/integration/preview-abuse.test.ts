// Preview URLs under attack and across restarts: tenants kept apart (over HTTP, two tokens), a server
// restart keeping URLs and credentials, and hostile clients (forged hosts, header injection, slowloris,
// huge headers, floods) or a hostile app in the box, none of which crashes the listener or stalls
// another preview. Every attack is in the suite's abuse summary.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attack } from "../helpers/abuse-tally.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { connectHttp, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";
import { bearer, type Exposed, get, previewTarget, startServer } from "./preview-helpers.js";

const FILE = "preview";

/** Sends raw bytes to the listener and resolves with everything it answers (until it closes or 20 s pass). */
function raw(port: number, data: string, waitMs = 20_000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    let out = "";
    s.on("data", (d) => {
      out += d.toString();
    });
    const done = () => resolve(out);
    s.on("close", done);
    s.on("error", done);
    setTimeout(() => {
      s.destroy();
    }, waitMs);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("preview URLs: tenants", () => {
  let f: HttpFixture;
  beforeAll(async () => {
    f = await startHttp();
  }, 120_000);
  afterAll(async () => {
    await f?.close();
  });

  it("another tenant can neither expose, list nor unexpose a box, and its credentials open nothing", async () => {
    const alice = await connectHttp(f.url, TOKEN_A);
    const bob = await connectHttp(f.url, TOKEN_B);
    try {
      const box = await alice.callOk<{ id: string }>("box_create", { name: "alice-web", runtime: "python" });
      await startServer(alice, box.id, "python", 8000);
      const mine = await alice.callOk<Exposed>("box_expose_port", { box: box.id, port: 8000 });
      expect((await get(mine.url, { headers: bearer(mine) })).status).toBe(200);
      await attack(FILE, "another tenant exposes, lists or unexposes a box it does not own", async () => {
        const missing = await bob.callErr("box_expose_port", { box: "box_000000000000", port: 8000 });
        for (const [tool, args] of [
          ["box_expose_port", { box: box.id, port: 8000 }],
          ["box_expose_port", { box: "alice-web", port: 8001, auth: "none" }],
          ["box_list_exposed", { box: box.id }],
          ["box_unexpose_port", { box: box.id, port: 8000 }],
        ] as const) {
          const err = await bob.callErr(tool, args);
          expect(err.code).toBe("NOT_FOUND");
          // The same answer as for a box that does not exist at all.
          expect(err.message.replace(/"[^"]*"/, "X")).toBe(missing.message.replace(/"[^"]*"/, "X"));
        }
        // Alice's URL still works: nothing of bob's calls changed it.
        expect((await get(mine.url, { headers: bearer(mine) })).status).toBe(200);
      });
      await attack(FILE, "a tenant's preview token used on another tenant's preview URL", async () => {
        const bobBox = await bob.callOk<{ id: string }>("box_create", { name: "bob-web", runtime: "python" });
        const his = await bob.callOk<Exposed>("box_expose_port", { box: bobBox.id, port: 8000 });
        expect((await get(mine.url, { headers: bearer(his) })).status).toBe(401);
        expect((await get(mine.url, { path: `/?token=${his.token}` })).status).toBe(401);
      });
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe("preview URLs: restart", () => {
  it("a server restart on the same data dir keeps every URL and its credentials working", async () => {
    const port = await freePort();
    const env = { BOXD_PREVIEW_PORT: String(port) };
    const first = await startHarness({ keepData: true, keepBoxes: true, env });
    const box = await first.createBox({ name: "durable-web", runtime: "node" });
    await startServer(first, box.id, "node", 3000);
    const token = await first.callOk<Exposed>("box_expose_port", { box: box.id, port: 3000 });
    const basic = await first.callOk<Exposed>("box_expose_port", { box: box.id, port: 3000 + 1, auth: "basic" });
    expect(token.url).toContain(`:${port}/`);
    await first.close();
    // Nothing answers while no server runs.
    await expect(get(token.url, { headers: bearer(token) })).rejects.toThrow(/ECONNREFUSED/);

    const second = await startHarness({ dataDir: first.dataDir, env });
    try {
      const r = await get(token.url, { headers: bearer(token) });
      expect(r).toMatchObject({ status: 200, body: "hello from node" });
      const listed = await second.callOk<{ exposed: Exposed[] }>("box_list_exposed", { box: box.id });
      expect(listed.exposed.map((e) => [e.url, e.token ?? e.password])).toEqual([
        [token.url, token.token],
        [basic.url, basic.password],
      ]);
      expect(await second.callOk<Exposed>("box_expose_port", { box: box.id, port: 3000 })).toMatchObject({
        url: token.url,
        token: token.token,
        created: false,
      });
    } finally {
      await second.close();
    }
  });
});

describe("preview URLs: no listener", () => {
  it("says why when previews are off or their port is taken, and the server serves the rest", async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      for (const [port, why] of [
        ["off", /previews are off on this server \(BOXD_PREVIEW_PORT=off\)/],
        [String(taken), new RegExp(`could not listen on 127\\.0\\.0\\.1:${taken} .*set BOXD_PREVIEW_PORT`)],
      ] as const) {
        await using h = await startHarness({ env: { BOXD_PREVIEW_PORT: port } });
        const box = await h.createBox({ name: "no-previews" });
        const err = await h.callErr("box_expose_port", { box: box.id, port: 3000 });
        expect(err.code).toBe("CONFLICT");
        expect(err.message).toMatch(why);
        expect((await h.callErr("box_expose_port", { box: "missing", port: 3000 })).code).toBe("NOT_FOUND");
        expect(await h.callOk("box_list_exposed", { box: box.id })).toMatchObject({ exposed: [] });
      }
    } finally {
      holder.close();
    }
  });
});

describe("preview URLs: hostile clients and apps", () => {
  let h: Harness;
  let good: Exposed;
  let box: string;
  let listenPort = 0;
  /** The bystander: a preview that must keep answering during every attack. */
  const bystanderOk = async () => {
    const r = await get(good.url, { headers: bearer(good) });
    expect(r).toMatchObject({ status: 200, body: "hello from node" });
  };

  beforeAll(async () => {
    h = await startHarness();
    box = (await h.createBox({ name: "target", runtime: "node" })).id;
    await startServer(h, box, "node", 3000);
    good = await h.callOk<Exposed>("box_expose_port", { box, port: 3000 });
    listenPort = previewTarget(good.url).port;
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  it("forged host names and request targets are refused, never routed elsewhere", async () => {
    await attack(FILE, "forged Host headers and absolute-URI targets", async () => {
      const short = box.replace(/^box_/, "");
      const forged = [
        "evil.example",
        `3000-${short}.localhost.evil.example`,
        `3000-${short}.evil.example`,
        `x3000-${short}.localhost`,
        `03000-${short}.localhost`,
        `99999-${short}.localhost`,
        `3000-${short}x.localhost`,
        `3000-${short}.localhost@evil.example`,
        `3000-${short.toUpperCase()}.LOCALHOST.evil`,
        "localhost",
        "",
      ];
      for (const host of forged) {
        const r = await get(good.url, { host, headers: bearer(good) });
        expect([400, 404]).toContain(r.status);
        expect(r.body).not.toContain("hello from node");
      }
      // Case and a trailing dot do not matter: the same preview.
      expect((await get(good.url, { host: `3000-${short}.LOCALHOST.`, headers: bearer(good) })).status).toBe(200);
      const target = previewTarget(good.url).host;
      const absolute = await raw(
        listenPort,
        `GET http://${target}/ HTTP/1.1\r\nHost: ${target}\r\nAuthorization: Bearer ${good.token}\r\nConnection: close\r\n\r\n`,
      );
      expect(absolute).toMatch(/^HTTP\/1\.1 400/);
      const noHost = await raw(listenPort, "GET / HTTP/1.0\r\n\r\n");
      expect(noHost).toMatch(/^HTTP\/1\.1 404/);
      await bystanderOk();
    });
  });

  it("header injection and malformed requests get 4xx and no forwarding", async () => {
    await attack(FILE, "header injection: CR/LF in a header, bare CR, a request line with spaces", async () => {
      const target = previewTarget(good.url).host;
      for (const bad of [
        `GET / HTTP/1.1\r\nHost: ${target}\r\nX-A: a\rX-Injected: 1\r\n\r\n`,
        `GET /a b HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: ${target}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: ${target}\r\nHost: evil.example\r\n\r\n`,
      ]) {
        const r = await raw(listenPort, bad);
        expect(r).toMatch(/^HTTP\/1\.1 4\d\d/);
        expect(r).not.toContain("hello from node");
      }
      // An injected header in the token query goes nowhere: it is a value, checked and refused.
      const r = await get(good.url, { path: "/echo?token=x%0d%0aX-Injected:%201" });
      expect(r.status).toBe(401);
      await bystanderOk();
    });
  });

  it("huge headers get 431; slowloris clients are cut off while other previews answer", async () => {
    await attack(FILE, "huge request headers", async () => {
      const r = await get(good.url, { headers: { ...bearer(good), "x-big": "a".repeat(64 * 1024) } }).catch(
        (e: Error) => ({ status: 0, body: e.message }),
      );
      expect(r.status).toBe(431);
      await bystanderOk();
    });
    await attack(FILE, "slowloris: 50 connections sending their request head a byte at a time", async () => {
      const target = previewTarget(good.url).host;
      const sockets = Array.from({ length: 50 }, () => net.connect(listenPort, "127.0.0.1"));
      const closed = sockets.map((s) => new Promise<void>((r) => s.on("close", () => r()).on("error", () => {})));
      const head = `GET / HTTP/1.1\r\nHost: ${target}\r\nX-Slow: `;
      let i = 0;
      const drip = setInterval(() => {
        for (const s of sockets) if (!s.destroyed) s.write(head[i % head.length] as string);
        i++;
      }, 500);
      try {
        // Other requests go through meanwhile, and the slow ones are closed by the listener's head timeout.
        await bystanderOk();
        await Promise.all(closed);
      } finally {
        clearInterval(drip);
        for (const s of sockets) s.destroy();
      }
      await bystanderOk();
    });
  });

  it("a flood of requests to a dead port and a hostile app in the box do not stall other previews", async () => {
    await attack(FILE, "flood: 300 concurrent requests to a port where nothing listens", async () => {
      const dead = await h.callOk<Exposed>("box_expose_port", { box, port: 4000, auth: "none" });
      const answers = await Promise.all(Array.from({ length: 300 }, () => get(dead.url).then((r) => r.status)));
      expect(new Set(answers)).toEqual(new Set([502]));
      await bystanderOk();
    });
    await attack(FILE, "the app answers with a malformed response or never answers", async () => {
      await h.callOk("box_write_file", {
        box,
        path: "bad.js",
        content: `require("net").createServer((c) => { c.on("error", () => {}); c.once("data", (d) => {
          if (String(d).includes("/hang")) return;
          c.end("HTTP/1.1 200 OK\\r\\nX-A: a\\rb\\r\\nContent-Length: 5\\r\\nContent-Length: 7\\r\\n\\r\\nhello"); }); }).listen(4100, "0.0.0.0");`,
      });
      await h.callOk("box_exec", { box, command: `setsid node bad.js >/dev/null 2>&1 </dev/null & sleep 1` });
      const bad = await h.callOk<Exposed>("box_expose_port", { box, port: 4100, auth: "none" });
      const r = await get(bad.url);
      expect(r.status).toBe(502);
      // A request the app never answers holds only its own connection: others go on.
      const hanging = get(bad.url, { path: "/hang" }).catch(() => null);
      await bystanderOk();
      void hanging;
    });
  });
});
