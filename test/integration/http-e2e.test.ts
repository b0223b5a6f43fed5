// End to end over HTTP with the built CLI: `node dist/cli.js serve --http` as a child process, SIGTERM in
// the middle of a run (nothing is lost), and the MCP Inspector CLI (a real third-party client) listing tools
// and calling box_create and box_exec over HTTP and over stdio.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testRoot } from "../helpers/test-root.js";
import { connectHttp, TOKEN_A, TOKENS } from "./http-helpers.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/cli.js");
const INSPECTOR_PKG = path.join(ROOT, "node_modules/@modelcontextprotocol/inspector-cli");
const INSPECTOR = path.join(ROOT, "node_modules/.bin/mcp-inspector-cli");
const run = promisify(execFile);

/** Records a data dir's instance for the suite's leak check (as stdio.test.ts does). */
function registerInstance(dataDir: string): void {
  const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
  const row = db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string };
  db.close();
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", row.value), dataDir);
}

interface Served {
  child: ChildProcess;
  url: string;
  log: () => string;
  exited: Promise<number | null>;
}

/** `boxd serve --http --port 0` on a data dir; resolves once it says where it listens. */
async function serveHttp(dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [CLI, "serve", "--http", "--port", "0"], {
    env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_TOKENS: TOKENS, BOXD_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (c) => {
    log += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60_000);
    child.stderr?.on("data", (c) => {
      log += c;
      const m = /serving MCP over HTTP at (http:\/\/\S+\/mcp)/.exec(log);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${log}`)));
  });
  registerInstance(dataDir);
  return { child, url, log: () => log, exited };
}

/** The Inspector CLI in --cli mode; returns its parsed JSON output. */
async function inspector(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  if (!existsSync(INSPECTOR)) throw new Error("@modelcontextprotocol/inspector-cli is not installed: run npm ci");
  // inspector-cli 1.0.3 finds its own package.json through a path relative to the working directory
  // (fs.existsSync("../package.json")), so it must run from a folder one level inside its package.
  const { stdout } = await run(INSPECTOR, ["--cli", ...args], {
    cwd: path.join(INSPECTOR_PKG, "build"),
    env: { ...process.env, ...env },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("HTTP end to end (built CLI)", () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
  });

  it("loses nothing on SIGTERM during a run: the call finishes, the box and its files stay", async () => {
    const dataDir = mkdtempSync(path.join(testRoot(), "http-e2e-"));
    let served = await serveHttp(dataDir);
    try {
      const c = await connectHttp(served.url, TOKEN_A);
      const box = await c.callOk<{ id: string }>("box_create", { name: "durable" });
      let stopped!: () => void;
      const signalled = new Promise<void>((r) => {
        stopped = r;
      });
      const call = c.call(
        "box_exec",
        { box: box.id, command: "echo started; sleep 3; echo done > marker; echo finished" },
        (m) => {
          if (m.includes("started")) stopped();
        },
      );
      await signalled;
      served.child.kill("SIGTERM");
      // New connections are refused at once (a kept-alive one hears "draining"); the call in flight goes on.
      await sleep(300);
      const health = await fetch(new URL("/healthz", served.url)).then(
        (r) => r.status,
        () => "refused",
      );
      expect([503, "refused"]).toContain(health);
      const res = await call;
      expect(res.structuredContent).toMatchObject({ exitCode: 0, stdout: "started\nfinished\n", timedOut: false });
      expect(await served.exited).toBe(0);
      expect(served.log()).toMatch(/shutting down \(SIGTERM\)/);
      await c.client.close().catch(() => {});

      // A new server on the same data dir finds everything as it was.
      served = await serveHttp(dataDir);
      const again = await connectHttp(served.url, TOKEN_A);
      const got = await again.callOk<{ id: string; status: string }>("box_get", { box: "durable" });
      expect(got.id).toBe(box.id);
      expect(["idle", "paused"]).toContain(got.status);
      const runs = await again.callOk<{ runs: { status: string; exitCode: number }[] }>("box_runs", { box: box.id });
      expect(runs.runs[0]).toMatchObject({ status: "completed", exitCode: 0 });
      const marker = await again.callOk<{ content: string }>("box_read_file", { box: box.id, path: "marker" });
      expect(marker.content).toBe("done\n");
      await again.callOk("box_delete", { box: box.id });
      await again.close();
    } finally {
      served.child.kill("SIGTERM");
      await served.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe("MCP Inspector CLI", () => {
    let dataDir: string;
    let served: Served;

    beforeAll(async () => {
      dataDir = mkdtempSync(path.join(testRoot(), "inspector-"));
      served = await serveHttp(dataDir);
    });
    afterAll(async () => {
      served?.child.kill("SIGTERM");
      await served?.exited;
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it("lists tools and calls box_create and box_exec over HTTP", async () => {
      const http = ["--transport", "http", "--header", `Authorization: Bearer ${TOKEN_A}`];
      const listed = (await inspector([served.url, ...http, "--method", "tools/list"])) as {
        tools: { name: string }[];
      };
      const names = listed.tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(["box_create", "box_exec", "box_delete"]));
      const call = (tool: string, ...args: string[]) =>
        inspector([
          served.url,
          ...http,
          "--method",
          "tools/call",
          "--tool-name",
          tool,
          ...args.flatMap((a) => ["--tool-arg", a]),
        ]);
      const created = (await call("box_create", "name=inspected")) as { structuredContent: { id: string } };
      expect(created.structuredContent.id).toMatch(/^box_/);
      const ran = (await call("box_exec", "box=inspected", "command=echo via-inspector; whoami")) as {
        structuredContent: { exitCode: number; stdout: string };
      };
      expect(ran.structuredContent).toMatchObject({ exitCode: 0, stdout: "via-inspector\nboxuser\n" });
      // Without the token the Inspector is turned away.
      await expect(inspector([served.url, "--transport", "http", "--method", "tools/list"])).rejects.toThrow(
        /UNAUTHENTICATED/,
      );
      const deleted = (await call("box_delete", "box=inspected")) as { structuredContent: { deleted: boolean } };
      expect(deleted.structuredContent.deleted).toBe(true);
    });

    it("lists tools and calls box_create and box_exec over stdio", async () => {
      const stdioDir = mkdtempSync(path.join(testRoot(), "inspector-stdio-"));
      const env = { BOXD_DATA_DIR: stdioDir, BOXD_LOG_LEVEL: "warn" };
      const server = [process.execPath, CLI, "serve"];
      try {
        const listed = (await inspector([...server, "--method", "tools/list"], env)) as { tools: { name: string }[] };
        expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(["box_create", "box_exec"]));
        registerInstance(stdioDir);
        const call = (tool: string, ...args: string[]) =>
          inspector(
            [...server, "--method", "tools/call", "--tool-name", tool, ...args.flatMap((a) => ["--tool-arg", a])],
            env,
          );
        const created = (await call("box_create", "name=inspected-stdio")) as { structuredContent: { id: string } };
        expect(created.structuredContent.id).toMatch(/^box_/);
        const ran = (await call("box_exec", "box=inspected-stdio", "command=echo over-stdio")) as {
          structuredContent: { exitCode: number; stdout: string };
        };
        expect(ran.structuredContent).toMatchObject({ exitCode: 0, stdout: "over-stdio\n" });
        const deleted = (await call("box_delete", "box=inspected-stdio")) as {
          structuredContent: { deleted: boolean };
        };
        expect(deleted.structuredContent.deleted).toBe(true);
      } finally {
        rmSync(stdioDir, { recursive: true, force: true });
      }
    });
  });
});
