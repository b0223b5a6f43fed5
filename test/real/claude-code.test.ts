// The real hosted harness: claude-code in a box against the Anthropic API. Not part of `npm test` (these
// machines have no internet and no key): `npm run test:real` runs it, and it fails at once without
// ANTHROPIC_API_KEY rather than passing or skipping.
import { describe, expect, it } from "vitest";
import { startHarness } from "../helpers/harness.js";

interface AgentResult {
  status: string;
  usage: { outputTokens: number };
  sessionId: string | null;
}

const realKey = process.env.ANTHROPIC_API_KEY ?? "";

describe("real hosted harness", () => {
  it("claude-code against the Anthropic API", async () => {
    if (!realKey) throw new Error("set ANTHROPIC_API_KEY in the environment to run this test");
    await using h = await startHarness({ env: { BOXD_ANTHROPIC_API_KEY: realKey } });
    const box = await h.createBox({ name: "agent-real", runtime: "node" });
    const install = await h.callOk<{ exitCode: number; stderr: string }>("box_exec", {
      box: box.id,
      command: "npm install -g @anthropic-ai/claude-code",
      timeoutSeconds: 600,
    });
    expect(install.exitCode, install.stderr).toBe(0);
    const r = await h.callOk<AgentResult>("box_agent_run", {
      box: box.id,
      prompt: "Create a file named hello.txt containing exactly the word hi, then answer with that word.",
      responseSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
      timeoutSeconds: 600,
    });
    expect(r.status).toBe("completed");
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    expect(r.sessionId).toBeTruthy();
    const cat = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat hello.txt" });
    expect(cat.stdout.trim()).toBe("hi");
  });
});
