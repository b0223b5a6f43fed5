// Fixtures for the HTTP transport's tests: a real boxd (the harness: own data dir and instance, real engine)
// served over real HTTP on 127.0.0.1 and a random free port, and real MCP clients (the SDK's
// StreamableHTTPClientTransport) that carry a tenant's bearer token. Every box the tests make is deleted
// by the harness's close(), whatever tenant it belongs to.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type HttpServeOptions, type HttpServer, startHttpServer } from "../../src/transports/http.js";
import { type Harness, startHarness, testLogger } from "../helpers/harness.js";

export const TOKEN_A = "alice-token-0123456789abcdef";
export const TOKEN_B = "bob-token-0123456789abcdef01";
export const TOKENS = `${TOKEN_A}:alice,${TOKEN_B}:bob`;

export interface HttpFixture {
  h: Harness;
  server: HttpServer;
  url: string;
  close(): Promise<void>;
}

/** A harness served over HTTP; `env` adds BOXD_* settings (tokens default to alice and bob). */
export async function startHttp(env: Record<string, string> = {}, opts: HttpServeOptions = {}): Promise<HttpFixture> {
  const h = await startHarness({ env: { BOXD_TOKENS: TOKENS, BOXD_HTTP_PORT: "0", ...env } });
  const log = testLogger();
  let server: HttpServer;
  try {
    server = await startHttpServer(h.app, h.services.config, log, opts);
  } catch (err) {
    await h.close();
    throw err;
  }
  return {
    h,
    server,
    url: server.url,
    async close() {
      await server.close(0).catch(() => {});
      await h.close();
    },
  };
}

export interface HttpClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  call(name: string, args?: Record<string, unknown>, onProgress?: (m: string) => void): Promise<CallToolResult>;
  callOk<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  callErr(name: string, args?: Record<string, unknown>): Promise<{ code: string; message: string }>;
  close(): Promise<void>;
}

/** A connected MCP client (initialize done) sending `token` on every request. */
export async function connectHttp(
  url: string,
  token: string | null,
  opts: StreamableHTTPClientTransportOptions = {},
): Promise<HttpClient> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...opts,
    requestInit: { ...opts.requestInit, headers: { ...headers, ...(opts.requestInit?.headers as object) } },
  });
  const client = new Client({ name: "boxd-http-test", version: "0.0.0" });
  await client.connect(transport);
  const call: HttpClient["call"] = async (name, args = {}, onProgress) =>
    (await client.callTool({ name, arguments: args }, undefined, {
      timeout: 600_000,
      ...(onProgress ? { onprogress: (p: { message?: string }) => onProgress(p.message ?? "") } : {}),
    })) as CallToolResult;
  return {
    client,
    transport,
    call,
    async callOk<T>(name: string, args?: Record<string, unknown>) {
      const res = await call(name, args);
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
      return res.structuredContent as T;
    },
    async callErr(name, args) {
      const res = await call(name, args);
      if (!res.isError) throw new Error(`${name} should have failed: ${JSON.stringify(res.structuredContent)}`);
      const err = (res.structuredContent as { error?: { code: string; message: string } }).error;
      if (!err) throw new Error(`${name} failed without structuredContent.error`);
      return err;
    },
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

/** A raw request to the endpoint (for what a well-behaved client never sends). */
export async function rawPost(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export const initializeBody = (id = 1) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
  });

/** Opens a session by hand (initialize only, never used again): what an abandoning client leaves behind. */
export async function openRawSession(url: string, token: string): Promise<string> {
  const r = await rawPost(url, initializeBody(), { Authorization: `Bearer ${token}` });
  const id = r.headers.get("mcp-session-id");
  if (r.status !== 200 || !id) throw new Error(`initialize failed: ${r.status} ${r.text}`);
  return id;
}
