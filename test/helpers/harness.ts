// A real boxd for tests: its own data dir (so its own instance id and Docker objects), the real engine,
// and a real MCP Client talking to the server over the SDK's InMemoryTransport.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger, type Logger, silentLogger } from "../../src/log.js";
import { createServer } from "../../src/mcp/server.js";
import type { Services } from "../../src/services.js";
import { testRoot } from "./test-root.js";

export interface HarnessOptions {
  /** Reuse a data dir (a server restart); by default a new one. */
  dataDir?: string;
  /** Host folders allowed for hostPath (BOXD_ROOTS). */
  roots?: string[];
  /** Extra BOXD_* settings. */
  env?: Record<string, string>;
  /** Keep the data dir on close (to start another server on it). */
  keepData?: boolean;
  /** Leave the boxes in place on close (restart tests). */
  keepBoxes?: boolean;
}

export interface CallOptions {
  onProgress?: (message: string) => void;
  timeoutMs?: number;
}

export interface Harness {
  client: Client;
  app: App;
  services: Services;
  dataDir: string;
  call(name: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<CallToolResult>;
  /** Calls a tool and returns its structuredContent; throws with the error text when isError. */
  callOk<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<T>;
  /** Calls a tool that must fail; returns the error code and message. */
  callErr(name: string, args?: Record<string, unknown>): Promise<{ code: string; message: string }>;
  createBox(args?: Record<string, unknown>): Promise<BoxResult>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface BoxResult {
  id: string;
  name: string;
  status: string;
  runtime: string;
  [key: string]: unknown;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(testRoot(), "data-"));
  const config = loadConfig({
    BOXD_DATA_DIR: dataDir,
    BOXD_ROOTS: (opts.roots ?? []).join(","),
    BOXD_ORPHAN_GRACE_SECONDS: "0",
    // Preview listeners on a free port each: test files run side by side.
    BOXD_PREVIEW_PORT: "0",
    // The gVisor leg of the suite (vitest.gvisor.config.ts) runs the same tests on gVisor boxes.
    ...(process.env.BOXD_TEST_ISOLATION ? { BOXD_ISOLATION: process.env.BOXD_TEST_ISOLATION } : {}),
    ...opts.env,
  });
  const log = testLogger();
  const app = await createApp(config, log);
  // Recorded for the suite's final leak check (data dirs are removed on close).
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", app.instanceId), dataDir);
  const { server, close: closeServer } = createServer(app.services);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "boxd-test", version: "0.0.0" });
  await client.connect(clientSide);

  const call: Harness["call"] = async (name, args = {}, o = {}) =>
    (await client.callTool({ name, arguments: args }, undefined, {
      timeout: o.timeoutMs ?? 600_000,
      ...(o.onProgress ? { onprogress: (p: { message?: string }) => o.onProgress?.(p.message ?? "") } : {}),
    })) as CallToolResult;

  const callOk: Harness["callOk"] = async (name, args, o) => {
    const res = await call(name, args, o);
    if (res.isError) {
      const text = res.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      throw new Error(`${name} failed: ${text}`);
    }
    return res.structuredContent as never;
  };

  const callErr: Harness["callErr"] = async (name, args) => {
    const res = await call(name, args);
    if (!res.isError)
      throw new Error(`${name} was expected to fail but returned ${JSON.stringify(res.structuredContent)}`);
    const err = (res.structuredContent as { error?: { code: string; message: string } } | undefined)?.error;
    if (!err) throw new Error(`${name} failed without structuredContent.error: ${JSON.stringify(res.content)}`);
    const text = res.content[0]?.type === "text" ? res.content[0].text : "";
    if (!text.startsWith(`${err.code}: `)) throw new Error(`error text is not "CODE: message": ${text}`);
    return err;
  };

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (!opts.keepBoxes) {
      for (const box of app.services.boxes.list("local").concat(otherTenants(app))) {
        // Not fatal here (the suite's leak check fails the run), but said, so a leak has its cause.
        await app.services.boxes
          .delete(tenantOf(app, box.id), box.id)
          .catch((e) => process.stderr.write(`[harness] could not delete box ${box.id} on close: ${e}\n`));
      }
      for (const snap of app.services.snapshots.listAll()) {
        await app.services.snapshots.delete(snap.tenant, snap.id).catch(() => {});
      }
    }
    await client.close().catch(() => {});
    await closeServer().catch(() => {});
    await app.close();
    if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  return {
    client,
    app,
    services: app.services,
    dataDir,
    call,
    callOk,
    callErr,
    createBox: (args = {}) => callOk<BoxResult>("box_create", args),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** BOXD_TEST_LOG=<file>: the test servers' debug log, appended there (vitest does not pass workers' stderr on). */
export function testLogger(): Logger {
  const logFile = process.env.BOXD_TEST_LOG;
  return logFile ? createLogger("debug", "boxd", (line) => appendFileSync(logFile, line)) : silentLogger;
}

/** Boxes of tenants other than "local" (HTTP tests), so close() removes them too. */
function otherTenants(app: App) {
  return app.services.boxes
    .listAll()
    .filter((b) => b.tenant !== "local")
    .map((b) => app.services.boxes.view(b));
}

function tenantOf(app: App, boxId: string): string {
  return app.services.boxes.mustGet(boxId).tenant;
}
