// responseSchema checks and the event relay's coalescing, caps and redaction: pure logic, no engine.
import { describe, expect, it } from "vitest";
import { EventRelay } from "../../src/agent/event-relay.js";
import { compileResponseSchema } from "../../src/agent/response-schema.js";
import { loadConfig } from "../../src/config.js";
import type { BoxdError } from "../../src/errors.js";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return `${(err as BoxdError).code}: ${(err as Error).message}`;
  }
  return "no error";
}

describe("responseSchema", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: { answer: { type: "integer", minimum: 0 }, tags: { type: "array", items: { type: "string" } } },
    required: ["answer"],
    additionalProperties: false,
  };

  it("accepts a schema and validates the output, also inside a ```json fence", () => {
    const s = compileResponseSchema(schema);
    expect(s.instruction).toContain('"required":["answer"]');
    expect(s.check('{"answer": 42, "tags": ["a"]}')).toEqual({ answer: 42, tags: ["a"] });
    expect(s.check('Here it is:\n```json\n{"answer": 1}\n```')).toEqual({ answer: 1 });
    expect(s.check("ignored", { answer: 3 })).toEqual({ answer: 3 });
  });

  it("refuses output that is not JSON or does not match, quoting the raw output", () => {
    const s = compileResponseSchema(schema);
    expect(codeOf(() => s.check("forty-two"))).toMatch(/^INVALID_ARGUMENT: .*not JSON.*Raw output:\nforty-two$/s);
    const mismatch = codeOf(() => s.check('{"answer": "many", "extra": true}'));
    expect(mismatch).toMatch(/^INVALID_ARGUMENT: the agent's final output does not match responseSchema/);
    expect(mismatch).toContain('Raw output:\n{"answer": "many", "extra": true}');
  });

  it("refuses what is not a JSON Schema, saying where", () => {
    for (const [bad, where] of [
      [{ type: "strnig" }, "responseSchema.type"],
      [{ properties: { a: { type: 5 } } }, "responseSchema.properties.a.type"],
      [{ required: "answer" }, "responseSchema.required"],
      [{ anyOf: [] }, "responseSchema.anyOf"],
      [{ minLength: -1 }, "responseSchema.minLength"],
      [{ pattern: "(" }, "responseSchema.pattern"],
      [{ items: "string" }, "responseSchema.items"],
      [[1, 2], "responseSchema must be an object"],
      [true, "responseSchema must be an object"],
      [{ $ref: "#/nowhere" }, "can't resolve reference"],
    ] as const) {
      const got = codeOf(() => compileResponseSchema(bad));
      expect(got, JSON.stringify(bad)).toMatch(/^INVALID_ARGUMENT: responseSchema is not a valid JSON Schema/);
      expect(got, JSON.stringify(bad)).toContain(where);
    }
  });
});

describe("event relay", () => {
  it("coalesces text, sends other events at once, caps per run and redacts secrets", async () => {
    const progress: string[] = [];
    const log: string[] = [];
    const relay = new EventRelay(
      { progress: (m) => progress.push(m), log: (_l, m) => log.push(m) },
      (t) => t.split("sk-secret").join("[redacted]"),
      { progressBytes: 200, logBytes: 1000, progressDelayMs: 20, logDelayMs: 20 },
    );
    relay.event({ type: "text", text: "Hello " });
    relay.event({ type: "text", text: "world, key sk-secret" });
    relay.event({ type: "tool", id: "1", name: "Bash", input: { command: "ls" } });
    expect(progress).toEqual(['Hello world, key [redacted]\n[tool] Bash {"command":"ls"}\n']);
    for (let i = 0; i < 50; i++) relay.event({ type: "text", text: "0123456789" });
    await new Promise((r) => setTimeout(r, 50));
    relay.close();
    const sent = progress.join("");
    expect(sent).not.toContain("sk-secret");
    expect(sent).toMatch(/\[boxd\] \d+ more characters of progress left out \(limit 200 per run\)/);
    expect(sent.length).toBeLessThan(300);
    expect(log.join("")).toContain("[redacted]");
  });
});

describe("agent settings", () => {
  it("loads the API keys and never prints them", () => {
    const c = loadConfig({ BOXD_ANTHROPIC_API_KEY: " sk-ant-1 ", BOXD_AGENT_TIMEOUT_SECONDS: "60" });
    expect(c.anthropicApiKey.value).toBe("sk-ant-1");
    expect(c.openaiApiKey.value).toBe("");
    expect(c.agentTimeoutSeconds).toBe(60);
    expect(JSON.stringify(c)).not.toContain("sk-ant-1");
    expect(JSON.stringify(c.anthropicApiKey)).toBe('"(hidden)"');
    expect(loadConfig({}).agentTimeoutSeconds).toBe(1800);
  });
});
