// Pure pieces of issue 18: cron checking for schedules (croner; UTC default, time zones, the minimum
// interval) and the mapping of agent options per harness.
import { describe, expect, it } from "vitest";
import { mapOptions } from "../../src/agent/agent-options.js";
import { checkCron, nextFire } from "../../src/schedules/cron.js";

const at = new Date("2026-03-02T08:59:30Z");

describe("schedule cron expressions", () => {
  it("reads five-field expressions in UTC by default and in a named time zone", () => {
    expect(checkCron("0 9 * * *", "UTC", 60, at).toISOString()).toBe("2026-03-02T09:00:00.000Z");
    expect(checkCron("0 9 * * *", "Europe/Berlin", 60, at).toISOString()).toBe("2026-03-03T08:00:00.000Z");
    expect(nextFire("*/15 * * * *", "UTC", at)?.toISOString()).toBe("2026-03-02T09:00:00.000Z");
  });

  it("refuses expressions that fire more often than the minimum interval, never fire, or do not parse", () => {
    expect(() => checkCron("* * * * *", "UTC", 120, at)).toThrow(
      /every 60 s, more often than the minimum interval of 120 s/,
    );
    expect(() => checkCron("*/2 * * * * *", "UTC", 60, at)).toThrow(/minimum interval/);
    expect(() => checkCron("0,1 9 * * *", "UTC", 3600, at)).toThrow(/every 60 s/);
    expect(() => checkCron("0 0 31 2 *", "UTC", 60, at)).toThrow(/never fires/);
    expect(() => checkCron("61 * * * *", "UTC", 60, at)).toThrow(/not a valid cron expression/);
    expect(() => checkCron("0 9 * * *", "Not/AZone", 60, at)).toThrow(/IANA/);
  });
});

describe("agent options", () => {
  it("maps claude-code options to flags, text through env vars", () => {
    const m = mapOptions("claude-code", { maxTurns: 4, systemPrompt: "$(rm -rf /)", disallowedTools: ["Bash"] });
    expect(m.args).toEqual([
      "--max-turns 4",
      '--system-prompt "$BOXD_AGENT_SYSTEM_PROMPT"',
      '--disallowedTools "$BOXD_AGENT_DISALLOWED_TOOLS"',
    ]);
    expect(m.env).toEqual({ BOXD_AGENT_SYSTEM_PROMPT: "$(rm -rf /)", BOXD_AGENT_DISALLOWED_TOOLS: "Bash" });
  });

  it("maps codex's reasoning effort, gives custom everything as JSON, and names the harness in refusals", () => {
    expect(mapOptions("codex", { reasoningEffort: "low" }).args).toEqual(["-c model_reasoning_effort=low"]);
    expect(mapOptions("custom", { maxTurns: 2, reasoningEffort: "high" }).env).toEqual({
      BOXD_AGENT_OPTIONS: '{"maxTurns":2,"reasoningEffort":"high"}',
    });
    expect(mapOptions("custom", undefined)).toEqual({ args: [], env: {} });
    expect(() => mapOptions("codex", { systemPrompt: "x" })).toThrow(
      /harness codex does not support option systemPrompt/,
    );
    expect(() => mapOptions("claude-code", { maxTurns: 1.5 })).toThrow(/whole number/);
    expect(() => mapOptions("codex", { reasoningEffort: "extreme" })).toThrow(/minimal, low, medium, high/);
    expect(() => mapOptions("custom", { temperature: 1 })).toThrow(/unknown agent option "temperature"/);
  });
});
