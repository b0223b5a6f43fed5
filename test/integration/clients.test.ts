// Clients a new user reaches for, against a real boxd served over Streamable HTTP. The Vercel AI SDK's MCP
// client (`@ai-sdk/mcp`, driven by `ai`'s generateText with a scripted model, as an application would use it)
// negotiates 2025-11-25 yet JSON-parses the data of every SSE event, so the priming event each POST stream
// used to open with was reported as "Failed to parse message"; its GET before initialize was answered 400,
// reported as "GET SSE failed". Both must stay quiet. Clients that resume (the MCP SDK's, see
// http-resume.test.ts) keep their priming events.
import { createMCPClient, type MCPClient } from "@ai-sdk/mcp";
import { generateText, stepCountIs } from "ai";
import { MockLanguageModelV3 } from "ai/test";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type HttpFixture, rawPost, startHttp, TOKEN_A } from "./http-helpers.js";

const auth = { Authorization: `Bearer ${TOKEN_A}` };
/** An SSE event whose data is empty: what a priming event is (`id: 1\nretry: 1000\ndata: \n\n`). */
const PRIMING = /(?:^|\n\n)id: [^\n]+\n(?:retry: \d+\n)?data: \n\n/;

interface Received {
  id?: string;
  data: string;
}

/** A fetch that records every SSE event the client is handed (the client still reads the whole stream). */
function tapping(events: Received[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body || !res.headers.get("content-type")?.includes("text/event-stream")) return res;
    const [mine, theirs] = res.body.tee();
    void (async () => {
      let text = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of mine) text += decoder.decode(chunk, { stream: true });
      } catch {
        // The client closed the stream (its GET stream at close): what arrived is recorded below.
      }
      for (const block of text.split("\n\n").filter((b) => b.trim())) {
        const field = (name: string) =>
          block
            .split("\n")
            .find((l) => l.startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        events.push({ id: field("id"), data: field("data") ?? "" });
      }
    })();
    return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/** A model that asks for one tool call, then answers with text once it has the result. */
function scriptedModel(toolName: string, input: Record<string, unknown>): MockLanguageModelV3 {
  const usage = {
    inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: 1, text: 1, reasoning: 0 },
  };
  let step = 0;
  return new MockLanguageModelV3({
    doGenerate: async () => {
      step += 1;
      if (step === 1) {
        return {
          content: [{ type: "tool-call", toolCallId: "call-1", toolName, input: JSON.stringify(input) }],
          finishReason: { unified: "tool-calls", raw: "tool_calls" },
          usage,
          warnings: [],
        };
      }
      return {
        content: [{ type: "text", text: "done" }],
        finishReason: { unified: "stop", raw: "stop" },
        usage,
        warnings: [],
      };
    },
  });
}

describe("the Vercel AI SDK's MCP client over Streamable HTTP", () => {
  let f: HttpFixture;
  const consoleSpies: ReturnType<typeof vi.spyOn>[] = [];

  beforeAll(async () => {
    f = await startHttp();
  });
  afterAll(async () => {
    await f?.close();
  });
  afterEach(() => {
    for (const s of consoleSpies.splice(0)) s.mockRestore();
  });

  it("lists the tools, creates a box and runs a command without any transport error", async () => {
    const errors: unknown[] = [];
    const events: Received[] = [];
    consoleSpies.push(vi.spyOn(console, "error"), vi.spyOn(console, "warn"));
    const client: MCPClient = await createMCPClient({
      transport: { type: "http", url: f.url, headers: auth, fetch: tapping(events) },
      onUncaughtError: (e) => errors.push(e),
    });
    let boxId = "";
    try {
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toEqual(expect.arrayContaining(["box_create", "box_exec"]));

      const tools = await client.tools();
      const created = (await tools.box_create?.execute?.(
        { name: "ai-sdk" },
        { toolCallId: "create-1", messages: [] },
      )) as { isError?: boolean; structuredContent?: { id: string } };
      expect(created.isError).toBeFalsy();
      boxId = created.structuredContent?.id ?? "";
      expect(boxId).not.toBe("");

      const result = await generateText({
        model: scriptedModel("box_exec", { box: boxId, command: "echo hello-from-the-ai-sdk" }),
        tools,
        prompt: "say hello from the box",
        stopWhen: stepCountIs(3),
      });
      const output = result.steps[0]?.toolResults[0]?.output as {
        structuredContent?: { exitCode: number; stdout: string };
      };
      expect(output.structuredContent?.exitCode).toBe(0);
      expect(output.structuredContent?.stdout).toContain("hello-from-the-ai-sdk");
      expect(result.text).toBe("done");
    } finally {
      if (boxId) await f.h.callOk("box_delete", { box: boxId }).catch(() => {});
      await client.close();
    }
    // Let the tapped streams finish recording before looking.
    await new Promise((r) => setTimeout(r, 200));
    expect(errors.map((e) => String((e as Error).message ?? e))).toEqual([]);
    for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
    // What the client was sent: no event it cannot parse, and every message still has an id to resume from.
    expect(events.length).toBeGreaterThanOrEqual(4);
    for (const e of events) {
      expect(e.data).not.toBe("");
      expect(e.id).toMatch(/^\d+$/);
    }
  });

  it("priming events are left out only for the AI SDK (by client name or User-Agent), kept for others", async () => {
    const init = (name: string) =>
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name, version: "1.0.0" } },
      });
    const other = await rawPost(f.url, init("some-client"), auth);
    expect(other.status).toBe(200);
    expect(other.text).toMatch(PRIMING);
    const byName = await rawPost(f.url, init("ai-sdk-mcp-client"), auth);
    expect(byName.status).toBe(200);
    expect(byName.text).toContain('"protocolVersion":"2025-11-25"');
    expect(byName.text).not.toMatch(PRIMING);
    const byAgent = await rawPost(f.url, init("my-app"), {
      ...auth,
      "User-Agent": "ai-sdk/6.0.325 runtime/node.js/v20",
    });
    expect(byAgent.status).toBe(200);
    expect(byAgent.text).not.toMatch(PRIMING);

    // Later POSTs of that session are answered without priming too; the other session's keep it.
    const call = (sessionId: string | null) =>
      rawPost(f.url, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), {
        ...auth,
        "Mcp-Session-Id": sessionId ?? "",
        "MCP-Protocol-Version": "2025-11-25",
      });
    const later = await call(byName.headers.get("mcp-session-id"));
    expect(later.text).toContain("box_create");
    expect(later.text).not.toMatch(PRIMING);
    expect((await call(other.headers.get("mcp-session-id"))).text).toMatch(PRIMING);
  });

  it("a GET without a session is 405 (no stream to offer), which clients read as no stream", async () => {
    const res = await fetch(f.url, { headers: { ...auth, Accept: "text/event-stream" } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/POST initialize first/);
    // Other requests without a session keep the spec's 400.
    const del = await fetch(f.url, { method: "DELETE", headers: auth });
    expect(del.status).toBe(400);
  });
});
