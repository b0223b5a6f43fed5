// Bad input at scale: hundreds of generated, malformed and adversarial arguments thrown at every tool
// through a real MCP client. Every answer is a schema-valid result or a contract error; the server never
// crashes or hangs; nothing is left behind (the suite's leak check).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/errors.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const nasty = fc.oneof(
  fc.constant("target"),
  fc.constant("box_000000000000"),
  fc.constant("../../etc/passwd"),
  fc.constant("/etc/shadow"),
  fc.constant("-rf"),
  fc.constant("$(id)"),
  fc.constant("a\nb"),
  fc.constant("\u0000"),
  fc.constant("*"),
  fc.constant("x".repeat(5000)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);
const anyValue = fc.oneof(
  nasty,
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nasty, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), nasty, { maxKeys: 4 }),
);

describe("fuzzed tool input", () => {
  let h: Harness;
  let tools: { name: string; fields: string[] }[];
  let answered = 0;
  let errors = 0;

  beforeAll(async () => {
    h = await startHarness();
    await h.createBox({ name: "target" });
    tools = (await h.client.listTools()).tools.map((t) => ({
      name: t.name,
      fields: Object.keys((t.inputSchema.properties ?? {}) as object),
    }));
  });
  afterAll(async () => {
    process.stderr.write(`[fuzz] ${answered} calls answered, ${errors} coded errors, 0 crashes\n`);
    await h?.close();
  });

  it("answers every generated call with a result or a contract error", async () => {
    const codes = new Set<string>(ERROR_CODES);
    for (const tool of tools) {
      const argsArb = fc.dictionary(fc.constantFrom(...tool.fields, "extra"), anyValue, {
        maxKeys: tool.fields.length + 1,
      });
      await fc.assert(
        fc.asyncProperty(argsArb, async (args) => {
          // Keep generated commands from running long.
          const safe = {
            ...args,
            ...(tool.name === "box_exec" || tool.name === "box_run_code" ? { timeoutSeconds: 5 } : {}),
          };
          if ("waitSeconds" in safe) safe.waitSeconds = 1;
          const res = await h.call(tool.name, safe, { timeoutMs: 60_000 });
          answered++;
          if (res.isError) {
            errors++;
            const err = (res.structuredContent as { error?: { code: string } } | undefined)?.error;
            expect(err && codes.has(err.code), `${tool.name} ${JSON.stringify(res.content).slice(0, 300)}`).toBe(true);
            const text = res.content[0]?.type === "text" ? res.content[0].text : "";
            expect(text.startsWith(`${err?.code}: `)).toBe(true);
          } else {
            expect(typeof res.structuredContent, tool.name).toBe("object");
          }
        }),
        { numRuns: 60 },
      );
    }
    // Still serving: a new box works (the fuzzer may legitimately have deleted or paused "target").
    await h.callOk("box_list", {});
    const fresh = await h.createBox({ name: "after-fuzz" });
    const r = await h.callOk<{ stdout: string }>("box_exec", { box: fresh.id, command: "echo ok" });
    expect(r.stdout).toBe("ok\n");
  });
});
