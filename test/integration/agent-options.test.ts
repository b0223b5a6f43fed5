import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, installAgentStubs } from "../helpers/agent-stubs.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const CUSTOM = 'echo "$BOXD_AGENT_OPTIONS" > opts.json; node /workspace/home/harness.mjs';

interface Usage {
  runs: number;
  prompts?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

describe("agent defaults and options (stub CLIs and the fake custom harness)", () => {
  let h: Harness;
  let box: BoxResult;
  const sh = async (command: string) =>
    (await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command })).stdout.trim();

  beforeAll(async () => {
    h = await startHarness({
      env: {
        BOXD_ANTHROPIC_API_KEY: "sk-ant-test-options-0123456789",
        BOXD_OPENAI_API_KEY: "sk-test-options-0123456789",
      },
    });
    box = await h.createBox({
      name: "agent-defaults",
      runtime: "node",
      agent: { harness: "custom", model: "box-default-model", options: { maxTurns: 3, systemPrompt: "be brief" } },
    });
    await installAgentStubs(h, box.id, [{ path: "harness.mjs", content: fixture("agent/harness.mjs") }]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("uses the box's defaults when a run names none, merging the run's options over them", async () => {
    expect(box.agent).toEqual({
      harness: "custom",
      model: "box-default-model",
      options: { maxTurns: 3, systemPrompt: "be brief" },
    });
    const got = await h.callOk<{ agent?: unknown }>("box_get", { box: box.id });
    expect(got.agent).toEqual(box.agent);

    const r = await h.callOk<{ status: string; harness: string; model: string }>("box_agent_run", {
      box: box.id,
      command: CUSTOM,
      prompt: "with defaults",
      options: { maxTurns: 5 },
    });
    expect(r).toMatchObject({ status: "completed", harness: "custom", model: "box-default-model" });
    expect(JSON.parse(await sh("cat opts.json"))).toEqual({ maxTurns: 5, systemPrompt: "be brief" });
    expect(await sh("cat agent-work/notes.txt")).toContain("model: box-default-model");
  });

  it("maps options onto the claude and codex flags", async () => {
    const progress: string[] = [];
    const claude = await h.callOk<{ status: string }>(
      "box_agent_run",
      {
        box: box.id,
        harness: "claude-code",
        prompt: "with options",
        options: {
          maxTurns: 2,
          appendSystemPrompt: "be kind",
          allowedTools: ["Read", "Bash(git:*)"],
          maxBudgetUsd: 0.5,
        },
      },
      { onProgress: (m) => progress.push(m) },
    );
    expect(claude.status).toBe("completed");
    expect(progress.join("")).toContain(
      '"--max-turns","2","--append-system-prompt","be kind","--allowedTools","Read,Bash(git:*)","--max-budget-usd","0.5","--","with options"',
    );
    const codexProgress: string[] = [];
    await h.callOk(
      "box_agent_run",
      { box: box.id, harness: "codex", prompt: "think hard", options: { reasoningEffort: "high" } },
      { onProgress: (m) => codexProgress.push(m) },
    );
    expect(codexProgress.join("")).toContain('"-c","model_reasoning_effort=high","--","think hard"');
  });

  it("refuses options a harness does not support, naming it, and bad defaults without making a box", async () => {
    const codex = await h.callErr("box_agent_run", {
      box: box.id,
      harness: "codex",
      prompt: "x",
      options: { maxTurns: 3 },
    });
    expect(codex.code).toBe("INVALID_ARGUMENT");
    expect(codex.message).toContain("harness codex does not support option maxTurns");
    const claude = await h.callErr("box_agent_run", {
      box: box.id,
      harness: "claude-code",
      prompt: "x",
      options: { reasoningEffort: "high" },
    });
    expect(claude.message).toContain("harness claude-code does not support option reasoningEffort");
    for (const options of [{ maxTurns: 0 }, { bogus: 1 }, { allowedTools: "Read" }, { maxBudgetUsd: -1 }]) {
      const e = await h.callErr("box_agent_run", { box: box.id, command: CUSTOM, prompt: "x", options });
      expect(e.code, JSON.stringify(options)).toBe("INVALID_ARGUMENT");
    }
    const before = (await h.callOk<{ boxes: unknown[] }>("box_list", {})).boxes.length;
    const bad = await h.callErr("box_create", {
      name: "bad-agent",
      agent: { harness: "codex", options: { maxTurns: 1 } },
    });
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toContain("codex");
    expect((await h.callOk<{ boxes: unknown[] }>("box_list", {})).boxes.length).toBe(before);
  });

  it("adds each agent run's tokens and cost into the box's usage", async () => {
    const usage = async () => (await h.callOk<{ usage: Usage }>("box_get", { box: box.id })).usage;
    const u0 = await usage();
    await h.callOk("box_agent_run", { box: box.id, command: CUSTOM, prompt: "count me" });
    const u1 = await usage();
    expect(u1.prompts).toBe((u0.prompts ?? 0) + 1);
    expect(u1.inputTokens).toBe((u0.inputTokens ?? 0) + 1200);
    expect(u1.outputTokens).toBe((u0.outputTokens ?? 0) + 34);
    expect(u1.costUsd).toBeCloseTo((u0.costUsd ?? 0) + 0.0042, 6);
    const fresh = await h.createBox({ name: "no-agent-runs" });
    expect((fresh as unknown as { usage: Usage }).usage).toMatchObject({ prompts: 0, inputTokens: 0, costUsd: 0 });
  });
});
