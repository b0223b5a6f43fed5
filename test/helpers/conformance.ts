// The official MCP conformance suite (@modelcontextprotocol/conformance) and the Node 22 it needs, as
// tools/test-deps.sh installs them into .cache/conformance (outside the project's own Node 20 and
// dependencies), plus `boxd serve --http --insecure-no-auth` as a child process for it to test.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { testRoot } from "./test-root.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CACHE = path.join(ROOT, ".cache/conformance/node_modules");
const NODE22 = path.join(CACHE, ".bin/node");
const SUITE = path.join(CACHE, "@modelcontextprotocol/conformance/dist/index.js");
const run = promisify(execFile);

/** Fails loudly (never skips) when the suite or its Node 22 is not installed. */
export function assertSuiteInstalled(): void {
  for (const [what, file] of [
    ["Node 22", NODE22],
    ["@modelcontextprotocol/conformance", SUITE],
  ] as const) {
    if (!existsSync(file))
      throw new Error(`${what} is missing (${file}): run \`bash tools/test-deps.sh\` (npm test does)`);
  }
}

/** The suite's server scenarios, as its `list --server` prints them. */
export async function listServerScenarios(): Promise<string[]> {
  const { stdout } = await run(NODE22, [SUITE, "list", "--server"], { timeout: 60_000 });
  return [...stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1] as string);
}

export interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
}

/** Runs one server scenario against `url`; returns its exit code and every check it recorded. */
export async function runScenario(url: string, scenario: string): Promise<{ exitCode: number; checks: Check[] }> {
  const out = mkdtempSync(path.join(testRoot(), "conformance-"));
  let exitCode = 0;
  let output = "";
  try {
    const r = await run(NODE22, [SUITE, "server", "--url", url, "--scenario", scenario, "-o", out], {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    exitCode = typeof e.code === "number" ? e.code : -1;
    output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
  const dirs = readdirSync(out).filter((d) => existsSync(path.join(out, d, "checks.json")));
  if (dirs.length !== 1) throw new Error(`scenario ${scenario} left no checks.json (exit ${exitCode}):\n${output}`);
  const checks = JSON.parse(readFileSync(path.join(out, dirs[0] as string, "checks.json"), "utf8")) as Check[];
  return { exitCode, checks };
}

export interface Served {
  child: ChildProcess;
  url: string;
  dataDir: string;
  log: () => string;
}

/**
 * `boxd serve --http --insecure-no-auth --port 0` from the sources (the CLI as `npm start` runs it, without
 * a build step) on a fresh data dir; resolves once it says where it listens. No BOXD_* setting of the
 * caller's environment leaks in (a BOXD_TOKENS would turn authentication on).
 */
export async function serveInsecureHttp(): Promise<Served> {
  const dataDir = mkdtempSync(path.join(testRoot(), "conformance-data-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BOXD_")));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "src/cli.ts"), "serve", "--http", "--insecure-no-auth", "--port", "0"],
    { cwd: ROOT, env: { ...env, BOXD_DATA_DIR: dataDir, BOXD_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout?.on("data", (c) => {
    log += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 120_000);
    child.stderr?.on("data", (c) => {
      log += c;
      const m = /serving MCP over HTTP at (http:\/\/\S+\/mcp)/.exec(log);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${log}`)));
  });
  registerInstance(dataDir);
  return { child, url, dataDir, log: () => log };
}

/** Records the data dir's instance for the suite's final leak check (as the other CLI tests do). */
function registerInstance(dataDir: string): void {
  const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
  const row = db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string };
  db.close();
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", row.value), dataDir);
}
