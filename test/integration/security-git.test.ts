// Server-side git as a way into the server's own network (issue 13 item 5). git runs on the server,
// outside every box's firewall, so a remote URL must not make the server connect to its loopback, private
// ranges or its own addresses, however the address is spelled (dotted, hex, decimal, IPv6, a name that
// resolves there) or reached (an HTTP redirect from an allowed host), for clone and push, from a deny-all
// and an allow-all box. Each refusal looks the same whether a listener waits on that port or not, and the
// listeners prove the server never connected. With the host in BOXD_GIT_ALLOWED_HOSTS the clone works.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitCredentials } from "../../src/git/credentials.js";
import { parseAllowedHost, RemoteGuard } from "../../src/git/remote-guard.js";
import { RemoteGit } from "../../src/git/remote-ops.js";
import { parseRemoteUrl } from "../../src/git/remote-url.js";
import { silentLogger } from "../../src/log.js";
import { attack } from "../helpers/abuse-tally.js";
import { type GitServer, startGitServer } from "../helpers/git-server.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";

const FILE = "security-git";
const T = 300_000;
const TOKEN = `boxd-test-token-${randomBytes(12).toString("hex")}`;
const REPO = "acme/app.git";

/** A TCP listener that counts connections: an open port the server must never reach. */
interface Listener {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function listen(host: string): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const l = { port: 0, connections: 0, close: async () => {} };
  const server = net.createServer((s) => {
    l.connections += 1;
    sockets.add(s);
    s.on("error", () => {});
    // Looks like a web server, so that a connection, if one happened, would not fail like a closed port.
    s.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  l.port = (server.address() as net.AddressInfo).port;
  l.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return l;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(host: string): Promise<number> {
  const l = await listen(host);
  await l.close();
  return l.port;
}

/** The server's own first non-loopback IPv4 address (the host's interface, not a loopback one). */
function ownAddress(): string | null {
  for (const infos of Object.values(os.networkInterfaces())) {
    for (const i of infos ?? []) if (i.family === "IPv4" && !i.internal) return i.address;
  }
  return null;
}

let h: Harness;
let srv: GitServer;
let redirector: http.Server;
let redirectPort = 0;
const listeners: Listener[] = [];
const boxes: Record<string, string> = {};

/**
 * Redirects /to/<host:port>/<path> to http://<host:port>/<path>, and /file/<path> to file:///<path> (the
 * smart-HTTP suffix kept, as a real server's redirect would).
 */
function startRedirector(): Promise<void> {
  redirector = http.createServer((req, res) => {
    const url = req.url ?? "";
    const m = /^\/to\/([^/]+)(\/.*)$/.exec(url);
    const f = /^\/file(\/.*)$/.exec(url);
    const location = m ? `http://${m[1]}${m[2]}` : f ? `file://${f[1]}` : undefined;
    res.writeHead(location ? 301 : 404, location ? { location } : {});
    res.end();
  });
  return new Promise<void>((resolve) =>
    redirector.listen(0, "127.0.0.1", () => {
      redirectPort = (redirector.address() as net.AddressInfo).port;
      resolve();
    }),
  );
}

beforeAll(async () => {
  srv = await startGitServer({ token: TOKEN, publicRepos: [REPO] });
  srv.createRepo(REPO, { "README.md": "# app\n" });
  await startRedirector();
  const srvHost = new URL(srv.url).host;
  h = await startHarness({
    env: {
      // The git server and the redirector are the operator's self-hosted services; nothing else local is.
      BOXD_GIT_ALLOWED_HOSTS: `${srvHost},127.0.0.1:${redirectPort}`,
      BOXD_GIT_TOKENS: `${srvHost}=${TOKEN}`,
    },
  });
  boxes["deny-all"] = (await h.createBox({ name: "git-sec-deny", networkPolicy: { mode: "deny-all" } })).id;
  boxes["allow-all"] = (await h.createBox({ name: "git-sec-allow", networkPolicy: { mode: "allow-all" } })).id;
  for (const box of Object.values(boxes)) {
    await h.callOk("box_exec", {
      box,
      command:
        "git init -q -b main r && cd r && git commit -q --allow-empty -m x && git remote add origin http://x.invalid/a/b.git",
    });
  }
}, T);

afterAll(async () => {
  await h?.close();
  await srv?.close();
  for (const l of listeners) await l.close();
  await new Promise<void>((resolve) => (redirector ? redirector.close(() => resolve()) : resolve()));
}, T);

/** A URL shape for a port: the same loopback target spelled many ways. */
interface Target {
  name: string;
  /** Where the listener binds. */
  bind: string;
  url: (port: number) => string;
}

const own = ownAddress();
const TARGETS: Target[] = [
  { name: "http://127.0.0.1", bind: "127.0.0.1", url: (p) => `http://127.0.0.1:${p}/${REPO}` },
  { name: "git://127.0.0.1", bind: "127.0.0.1", url: (p) => `git://127.0.0.1:${p}/${REPO}` },
  { name: "hex http://0x7f000001", bind: "127.0.0.1", url: (p) => `http://0x7f000001:${p}/${REPO}` },
  { name: "decimal http://2130706433", bind: "127.0.0.1", url: (p) => `http://2130706433:${p}/${REPO}` },
  { name: "git://0x7f.1 (not normalised by URL parsing)", bind: "127.0.0.1", url: (p) => `git://0x7f.1:${p}/${REPO}` },
  { name: "http://[::1]", bind: "::1", url: (p) => `http://[::1]:${p}/${REPO}` },
  { name: "http://[::ffff:127.0.0.1]", bind: "127.0.0.1", url: (p) => `http://[::ffff:127.0.0.1]:${p}/${REPO}` },
  { name: "a name for loopback: http://localhost", bind: "127.0.0.1", url: (p) => `http://localhost:${p}/${REPO}` },
  { name: "git://localhost", bind: "127.0.0.1", url: (p) => `git://localhost:${p}/${REPO}` },
  {
    name: "a redirect from an allowed host to loopback",
    bind: "127.0.0.1",
    url: (p) => `http://127.0.0.1:${redirectPort}/to/127.0.0.1:${p}/${REPO}`,
  },
  ...(own
    ? [{ name: `the server's own address ${own}`, bind: own, url: (p: number) => `http://${own}:${p}/${REPO}` }]
    : []),
];

/** The message with every port and the target's spelling replaced, to compare open and closed ports. */
const shape = (message: string, ports: number[]) => ports.reduce((m, p) => m.split(String(p)).join("<port>"), message);

/** Clones or pushes `url` from `box`; returns the refusal. */
async function tryRemote(op: "clone" | "push", box: string, url: string, dir: string) {
  if (op === "clone") return h.callErr("box_git_clone", { box, repo: url, directory: dir });
  await h.callOk("box_exec", { box, command: `cd r && git remote set-url origin '${url}'` });
  return h.callErr("box_git_push", { box, directory: "r" });
}

describe("server-side git never reaches loopback, private or the server's own addresses", () => {
  for (const [i, target] of TARGETS.entries()) {
    it(
      `refuses ${target.name} the same way whether the port is open or closed (clone and push, both boxes)`,
      async () => {
        await attack(FILE, `git to ${target.name}`, async () => {
          const open = await listen(target.bind);
          listeners.push(open);
          const closed = await closedPort(target.bind);
          const shapes = new Set<string>();
          for (const [policy, box] of Object.entries(boxes)) {
            for (const op of ["clone", "push"] as const) {
              for (const port of [open.port, closed]) {
                const err = await tryRemote(op, box, target.url(port), `landed-${i}`);
                expect(err.code, `${op} ${policy} ${port}`).toBe("NOT_FOUND");
                expect(err.message).toMatch(/cannot reach .* from the server: the connection was refused or the host/);
                expect(err.message).not.toMatch(/\(git: |errno|Couldn't connect|Failed to connect/);
                shapes.add(`${op}:${shape(err.message, [open.port, closed])}`);
              }
            }
          }
          // One shape per operation: open and closed ports, both boxes, gave the same message.
          expect([...shapes].length, [...shapes].join("\n")).toBe(2);
          expect(open.connections).toBe(0);
          for (const box of Object.values(boxes)) {
            const there = await h.callOk<{ stdout: string }>("box_exec", { box, command: "ls -A /workspace/home" });
            expect(there.stdout).not.toMatch(/^landed/m);
          }
        });
      },
      T,
    );
  }

  it(
    "refuses ssh://, ext::, file:// and local paths, also as a redirect's target",
    async () => {
      await attack(FILE, "git transports other than http(s) and git://", async () => {
        const marker = path.join(os.tmpdir(), `boxd-git-sec-${randomBytes(4).toString("hex")}`);
        const box = boxes["deny-all"] as string;
        for (const url of [
          "ssh://git@127.0.0.1/acme/app.git",
          `ext::sh -c touch% ${marker}`,
          "file:///etc",
          "/srv/repo.git",
        ]) {
          for (const op of ["clone", "push"] as const) {
            expect((await tryRemote(op, box, url, "landed-t")).code, `${op} ${url}`).toBe("INVALID_ARGUMENT");
          }
        }
        // A redirect to file:// is checked like the original: refused with the one unreachable message.
        const viaRedirect = await h.callErr("box_git_clone", {
          box,
          repo: `http://127.0.0.1:${redirectPort}/file${path.dirname(srv.bare(REPO))}/app.git`,
          directory: "landed-r",
        });
        expect(viaRedirect.code).toBe("NOT_FOUND");
        expect(viaRedirect.message).toMatch(/cannot reach 127\.0\.0\.1:\d+ from the server/);
        expect(existsSync(marker)).toBe(false);
      });
    },
    T,
  );
});

describe("an operator's self-hosted git server (BOXD_GIT_ALLOWED_HOSTS)", () => {
  it(
    "clones from an allowed host by address and by a name that resolves to it, and follows its redirect",
    async () => {
      const port = new URL(srv.url).port;
      const box = boxes["deny-all"] as string;
      const direct = await h.callOk("box_git_clone", { box, repo: `${srv.url}/${REPO}`, directory: "direct" });
      expect(direct).toMatchObject({ branch: "main", commit: srv.git(REPO, "rev-parse", "main") });
      const byName = await h.callOk("box_git_clone", {
        box,
        repo: `http://localhost:${port}/${REPO}`,
        directory: "by-name",
      });
      expect(byName).toMatchObject({ branch: "main", url: `http://localhost:${port}/${REPO}` });
      const redirected = await h.callOk("box_git_clone", {
        box,
        repo: `http://127.0.0.1:${redirectPort}/to/127.0.0.1:${port}/${REPO}`,
        directory: "redirected",
      });
      expect(redirected).toMatchObject({ branch: "main", commit: srv.git(REPO, "rev-parse", "main") });
      // Push to an allowed host works too (the token for that host, sent by the server).
      await h.callOk("box_exec", {
        box,
        command: `cd direct && git checkout -q -b sec && echo x > x && git add x && git -c user.name=t -c user.email=t@t commit -q -m x`,
      });
      await h.callOk("box_git_push", { box, directory: "direct" });
      expect(srv.git(REPO, "rev-parse", "--verify", "refs/heads/sec")).toMatch(/^[0-9a-f]{40}$/);
    },
    T,
  );

  it(
    "pins git to the address it checked: git never resolves the name itself (DNS rebinding)",
    async () => {
      await attack(FILE, "git DNS rebinding between the check and git's own lookup", async () => {
        // The check's resolver says "rebind.invalid" is the allowed git server; the system resolver (git's)
        // knows no such name. The clone works only if git connects where the check said.
        const port = Number(new URL(srv.url).port);
        const guard = new RemoteGuard([parseAllowedHost(`127.0.0.1:${port}`) as never], async () => [
          { address: "127.0.0.1", family: 4 },
        ]);
        const creds = new GitCredentials(
          { defaultToken: "", perHost: {}, defaultHosts: [] },
          { PATH: process.env.PATH ?? "" },
        );
        const remote = new RemoteGit(creds, guard, silentLogger);
        const work = mkdtempSync(path.join(testRoot(), "git-pin-"));
        try {
          const url = parseRemoteUrl(`http://rebind.invalid:${port}/${REPO}`);
          const c = await remote.clone(url, work, {}, () => {});
          expect(c.commit).toBe(srv.git(REPO, "rev-parse", "main"));
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
      });
    },
    T,
  );

  it("matches entries by name, address, port and range, and refuses everything else local", async () => {
    const guard = (entries: string[]) => new RemoteGuard(entries.map((e) => parseAllowedHost(e) as never));
    const ok = async (entries: string[], url: string) =>
      guard(entries)
        .check(parseRemoteUrl(url), "op")
        .then(
          () => true,
          () => false,
        );
    expect(await ok(["127.0.0.1:8080"], "http://localhost:8080/a.git")).toBe(true);
    expect(await ok(["127.0.0.1:8080"], "http://127.0.0.1:8081/a.git")).toBe(false);
    expect(await ok(["localhost"], "git://localhost:1234/a.git")).toBe(true);
    expect(await ok(["localhost"], "http://127.0.0.1/a.git")).toBe(false);
    expect(await ok(["127.0.0.0/8"], "http://0x7f000002/a.git")).toBe(true);
    expect(await ok(["[::1]:80"], "http://[::1]/a.git")).toBe(true);
    expect(await ok([], "http://169.254.169.254/a.git")).toBe(false);
    expect(await ok([], "http://10.1.2.3/a.git")).toBe(false);
    expect(await ok([], "http://[fd00::1]/a.git")).toBe(false);
    expect(await ok([], "http://[fe80::1]/a.git")).toBe(false);
    for (const bad of ["a..b", "2130706433", "x:0", "1.2.3.4/33", "-x", "host/path"]) {
      expect(parseAllowedHost(bad), bad).toBeNull();
    }
  });
});
