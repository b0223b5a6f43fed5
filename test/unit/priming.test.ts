// Which clients get no priming event, and that turning it off still works with the installed MCP SDK (it is
// done through the SDK transport's internals, so an SDK upgrade that moves them must fail here, loudly).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { EventBuffer } from "../../src/http/event-store.js";
import { rejectsPriming, withoutPriming } from "../../src/http/priming.js";

const initialize = (name: string) => ({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name, version: "1.0.0" } },
});

describe("rejectsPriming", () => {
  it("knows the AI SDK by its default client name or its User-Agent, in a batch too", () => {
    expect(rejectsPriming(initialize("ai-sdk-mcp-client"), undefined)).toBe(true);
    expect(rejectsPriming([initialize("ai-sdk-mcp-client")], undefined)).toBe(true);
    expect(rejectsPriming(initialize("my-app"), "ai-sdk/6.0.325 runtime/node.js/v20")).toBe(true);
    expect(rejectsPriming(initialize("my-app"), "my-app/1 ai-sdk/0.0.0-test")).toBe(true);
  });

  it("leaves every other client, and malformed input, with priming events", () => {
    expect(rejectsPriming(initialize("boxd-http-test"), "node")).toBe(false);
    expect(rejectsPriming(initialize("my-ai-sdk-mcp-client"), "not-ai-sdk/1")).toBe(false);
    for (const junk of [null, 7, "x", [], [null], { params: { clientInfo: { name: 3 } } }]) {
      expect(rejectsPriming(junk, undefined)).toBe(false);
    }
  });
});

describe("withoutPriming", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
  });

  /** The first SSE bytes an initialize gets from a real SDK transport with an event store. */
  async function firstEvent(prime: boolean): Promise<string> {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => "s1",
      eventStore: new EventBuffer(1024 * 1024).forSession(),
      retryInterval: 1000,
    });
    if (!prime) expect(withoutPriming(transport)).toBe(true);
    const mcp = new McpServer({ name: "t", version: "0" });
    await mcp.connect(transport);
    server = createServer((req, res) => void transport.handleRequest(req, res));
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify(initialize("x")),
    });
    const text = await res.text();
    await mcp.close();
    return text;
  }

  it("removes the empty-data event and keeps the id on the real message", async () => {
    expect(await firstEvent(true)).toMatch(/^id: 1\nretry: 1000\ndata: \n\nevent: message\nid: 2\ndata: \{/);
    expect(await firstEvent(false)).toMatch(/^event: message\nid: 1\ndata: \{/);
  });
});
