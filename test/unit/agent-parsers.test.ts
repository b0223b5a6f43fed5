// The agent harness adapters: SSE framing, box-sse-v1, claude stream-json and codex JSONL, on the recorded
// samples in test/fixtures/agent-samples (written from the documented formats; see its README), fed in
// every chunking, with malformed input and floods.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { boxSseDecoder } from "../../src/agent/box-sse.js";
import { claudeCommandLine, claudeDecoder } from "../../src/agent/claude-code.js";
import { codexCommandLine, codexDecoder, codexEvents, newCodexState } from "../../src/agent/codex.js";
import { type AgentEvent, describe as describeEvent, type EventDecoder } from "../../src/agent/events.js";
import { LineSplitter, Tail } from "../../src/agent/lines.js";
import { SseParser } from "../../src/agent/sse-parser.js";

const SAMPLES = path.resolve(import.meta.dirname, "../fixtures/agent-samples");
const sample = (name: string) => readFileSync(path.join(SAMPLES, name));

type Factory = (emit: (e: AgentEvent) => void, issue: (p: string) => void, max: number) => EventDecoder;

/** Feeds `bytes` to a fresh decoder in pieces of `size` bytes; returns its events and issues. */
function decode(factory: Factory, bytes: Buffer, size = bytes.length, max = 1024 * 1024) {
  const events: AgentEvent[] = [];
  const issues: string[] = [];
  const d = factory(
    (e) => events.push(e),
    (p) => issues.push(p),
    max,
  );
  for (let i = 0; i < bytes.length; i += size) d.push(bytes.subarray(i, i + size));
  d.end();
  return { events, issues };
}

describe("line splitting", () => {
  it("keeps a UTF-8 character whole when a chunk boundary splits it, and drops an over-long line", () => {
    const lines: string[] = [];
    const dropped: number[] = [];
    const s = new LineSplitter(
      16,
      (l) => lines.push(l),
      (n) => dropped.push(n),
    );
    const bytes = Buffer.from("héllo ✓\r\n".concat("y".repeat(40), "\nlast"));
    for (const b of bytes) s.push(Buffer.from([b]));
    s.end();
    expect(lines).toEqual(["héllo ✓", "last"]);
    expect(dropped).toEqual([40]);
  });

  it("keeps only the tail of a stream", () => {
    const t = new Tail(8);
    t.push(Buffer.from("0123456789"));
    t.push(Buffer.from("ab"));
    expect(t.text()).toBe("456789ab");
  });
});

describe("SSE framing", () => {
  it("joins data lines, skips comments, ignores id/retry and dispatches an unfinished event at the end", () => {
    const got: { event: string; data: string }[] = [];
    const issues: string[] = [];
    const p = new SseParser(
      1024,
      (m) => got.push(m),
      (i) => issues.push(i),
    );
    p.push(Buffer.from(": hello\nevent: a\ndata: 1\ndata:2\nid: 7\nretry: 10\n\nevent: b\ndata: {}"));
    p.end();
    expect(got).toEqual([
      { event: "a", data: "1\n2" },
      { event: "b", data: "{}" },
    ]);
    expect(issues).toEqual([]);
  });

  it("drops an event over the size limit without keeping it, then carries on", () => {
    const got: string[] = [];
    const issues: string[] = [];
    const p = new SseParser(
      100,
      (m) => got.push(m.event),
      (i) => issues.push(i),
    );
    p.push(Buffer.from(`event: big\n${"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(10)}\nevent: ok\ndata: {}\n\n`));
    p.end();
    expect(got).toEqual(["ok"]);
    expect(issues.join()).toMatch(/100-byte limit/);
  });
});

describe("box-sse-v1 (custom harness)", () => {
  it("decodes @upstash/box's byte format in any chunking (recorded sample)", () => {
    const bytes = sample("box-sse-v1.txt");
    for (const size of [1, 3, 17, bytes.length]) {
      const { events, issues } = decode(boxSseDecoder, bytes, size);
      expect(issues).toEqual([]);
      expect(events).toEqual([
        { type: "tool", id: "tool-1", name: "custom", input: { model: "custom/demo", sessionId: "s1", stream: true } },
        { type: "tool_result", id: "tool-1", output: "ok", isError: false },
        { type: "thinking", text: "trace" },
        { type: "text", text: "CUSTOM_OK hello world" },
        {
          type: "done",
          output: "CUSTOM_OK hello world",
          usage: { inputTokens: 2, outputTokens: 3, cachedInputTokens: 0 },
          costUsd: 0,
          sessionId: "s1",
        },
      ]);
    }
  });

  it("reports malformed events and skips them; unknown event types are ignored quietly", () => {
    const bytes = Buffer.from(
      [
        "event: text\ndata: {not json\n\n",
        'event: tool\ndata: {"input":{}}\n\n',
        "event: text\ndata: [1,2]\n\n",
        'event: stats\ndata: {"x":1}\n\n',
        "data: untyped\n\n",
        "bogus line\n\n",
        'event: error\ndata: {"error":"boom","session_id":"s9"}\n\n',
      ].join(""),
    );
    const { events, issues } = decode(boxSseDecoder, bytes, 5);
    expect(events).toEqual([{ type: "error", message: "boom", usage: null, sessionId: "s9" }]);
    expect(issues).toHaveLength(5);
    expect(issues[0]).toMatch(/not JSON/);
    expect(issues[1]).toMatch(/without a `name`/);
  });

  it("survives a flood without newlines in bounded memory, then reads what follows", () => {
    const events: AgentEvent[] = [];
    const issues: string[] = [];
    const d = boxSseDecoder(
      (e) => events.push(e),
      (p) => issues.push(p),
      64 * 1024,
    );
    const junk = Buffer.alloc(1024 * 1024, "g");
    for (let i = 0; i < 64; i++) d.push(junk);
    d.push(Buffer.from('\nevent: done\ndata: {"output":"after"}\n\n'));
    d.end();
    expect(events.map((e) => e.type)).toEqual(["done"]);
    expect(issues).toEqual([`dropped a line of ${64 * 1024 * 1024} bytes (over the 65536-byte event limit)`]);
  });
});

describe("claude-code stream-json", () => {
  it("maps init, thinking, text, tool calls and results, and the result with usage and cost (recorded sample)", () => {
    const { events, issues } = decode(claudeDecoder, sample("claude-code-stream.jsonl"), 64);
    expect(issues).toEqual([]);
    expect(events.map((e) => e.type)).toEqual([
      "session",
      "thinking",
      "text",
      "tool",
      "tool_result",
      "tool",
      "tool_result",
      "text",
      "done",
    ]);
    expect(events[0]).toEqual({
      type: "session",
      sessionId: "8f0c2a4e-5b7d-4c1e-9a3f-2d6b1e0c7a55",
      model: "claude-sonnet-4-5-20250929",
    });
    expect(events[3]).toMatchObject({ type: "tool", id: "toolu_01A", name: "Write" });
    expect(events[6]).toEqual({ type: "tool_result", id: "toolu_01B", output: "hello", isError: false });
    expect(events[8]).toEqual({
      type: "done",
      output: "Created hello.py; running it prints hello.",
      usage: { inputTokens: 12 + 1520 + 44840, outputTokens: 310, cachedInputTokens: 44840 },
      costUsd: 0.0231,
      sessionId: "8f0c2a4e-5b7d-4c1e-9a3f-2d6b1e0c7a55",
    });
  });

  it("turns an error result into an error event with its usage (recorded sample)", () => {
    const { events } = decode(claudeDecoder, sample("claude-code-error.jsonl"));
    expect(events.at(-1)).toEqual({
      type: "error",
      message: "error_max_turns: claude ended with error_max_turns",
      usage: { inputTokens: 22426, outputTokens: 95, cachedInputTokens: 22420 },
      sessionId: "8f0c2a4e-5b7d-4c1e-9a3f-2d6b1e0c7a55",
    });
  });

  it("reads what the real claude CLI printed offline: init, then API retries (recorded from Claude Code 2.1.332)", () => {
    const { events, issues } = decode(claudeDecoder, sample("claude-code-offline.jsonl"), 500);
    expect(issues).toEqual([]);
    expect(events).toEqual([
      { type: "session", sessionId: "903b83e2-714c-4111-a78b-559ecd026d0b", model: "claude-opus-5-5" },
    ]);
  });

  it("skips lines that are not JSON objects and passes structured_output through", () => {
    const bytes = Buffer.from(
      'Warning: something\n[1]\n{"type":"result","subtype":"success","result":"{}","structured_output":{"a":1}}\n',
    );
    const { events, issues } = decode(claudeDecoder, bytes);
    expect(issues).toHaveLength(2);
    expect(events).toEqual([
      {
        type: "done",
        output: "{}",
        usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
        costUsd: null,
        sessionId: null,
        structured: { a: 1 },
      },
    ]);
  });

  it("builds a command line that never lets the shell see the prompt", () => {
    const line = claudeCommandLine({ model: true, session: true });
    expect(line).toContain(
      'claude -p --output-format stream-json --verbose --permission-mode bypassPermissions --model "$BOXD_AGENT_MODEL" --resume "$BOXD_AGENT_SESSION" -- "$BOXD_AGENT_PROMPT"',
    );
    expect(line).toMatch(/exit 127/);
  });
});

describe("codex exec --json", () => {
  it("maps thread, reasoning, commands, file changes, the final message and usage (recorded sample)", () => {
    const { events, issues } = decode(codexDecoder, sample("codex-exec.jsonl"), 100);
    expect(issues).toEqual([]);
    expect(events.map((e) => e.type)).toEqual([
      "session",
      "thinking",
      "tool",
      "tool_result",
      "tool",
      "tool_result",
      "tool",
      "tool_result",
      "text",
      "done",
    ]);
    expect(events[2]).toMatchObject({ type: "tool", id: "item_1", name: "command" });
    expect(events[4]).toMatchObject({ type: "tool", id: "item_2", name: "file_change" });
    expect(events[7]).toEqual({ type: "tool_result", id: "item_3", output: "1\n", isError: false });
    expect(events.at(-1)).toEqual({
      type: "done",
      output: "Created one.py; it prints 1.",
      usage: { inputTokens: 24763, outputTokens: 122, cachedInputTokens: 24448 },
      costUsd: null,
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
    });
  });

  it("reports a failed turn as an error (recorded sample)", () => {
    const { events } = decode(codexDecoder, sample("codex-failed.jsonl"));
    expect(events.filter((e) => e.type === "error").at(-1)).toEqual({
      type: "error",
      message: "unexpected status 401 Unauthorized: Incorrect API key provided",
      usage: null,
      sessionId: "0199a213-81c0-7800-8aa1-bbab2a035a53",
    });
  });

  it("accepts the early spelling (item_type, assistant_message) and failed commands", () => {
    const st = newCodexState();
    const ev = [
      { type: "item.completed", item: { id: "i0", item_type: "assistant_message", text: "hi" } },
      {
        type: "item.completed",
        item: { id: "i1", type: "command_execution", command: "false", aggregated_output: "", exit_code: 1 },
      },
    ].flatMap((l) => codexEvents(l, st));
    expect(ev).toEqual([
      { type: "text", text: "hi" },
      { type: "tool", id: "i1", name: "command", input: { command: "false" } },
      { type: "tool_result", id: "i1", output: "", isError: true },
    ]);
    expect(st.lastMessage).toBe("hi");
  });

  it("reads what the real codex CLI printed offline: a thread, then a retry error (recorded from codex-cli 0.171)", () => {
    const { events, issues } = decode(codexDecoder, sample("codex-offline.jsonl"));
    expect(issues).toEqual([]);
    expect(events).toEqual([
      { type: "session", sessionId: "01a22576-ab95-7ff2-a1e0-3da228435d99", model: null },
      {
        type: "error",
        message:
          "Reconnecting... 2/5 (stream disconnected before completion: failed to lookup address information: Try again)",
        usage: null,
        sessionId: "01a22576-ab95-7ff2-a1e0-3da228435d99",
      },
    ]);
  });

  it("builds exec and resume command lines", () => {
    expect(codexCommandLine({ model: false, session: false })).toContain(
      'codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox --disable shell_snapshot -- "$BOXD_AGENT_PROMPT"',
    );
    expect(codexCommandLine({ model: true, session: true })).toContain(
      '--model "$BOXD_AGENT_MODEL" resume "$BOXD_AGENT_SESSION" -- "$BOXD_AGENT_PROMPT"',
    );
  });
});

describe("event summaries", () => {
  it("reads well in the progress stream and the log", () => {
    expect(describeEvent({ type: "tool", id: null, name: "Bash", input: { command: "ls" } })).toBe(
      '[tool] Bash {"command":"ls"}',
    );
    expect(
      describeEvent({
        type: "done",
        output: "",
        usage: { inputTokens: 10, outputTokens: 2, cachedInputTokens: 4 },
        costUsd: 0.5,
        sessionId: null,
      }),
    ).toBe("[done] 10 input tokens (4 cached), 2 output tokens, $0.5000");
  });
});
