// Agent options that keep a run's cost and behaviour in check (box_agent_run options, box_create agent
// defaults), mapped onto each harness's CLI where it supports them. Values reach the command line as env
// vars ("$BOXD_AGENT_..."), or as validated numbers and enum words, never as caller text in shell syntax.
// An option a harness has no flag for is INVALID_ARGUMENT naming the harness; the custom harness gets all
// options as JSON in BOXD_AGENT_OPTIONS (its program decides).
import { invalidArgument } from "../errors.js";
import type { HarnessName } from "./events.js";

export const AGENT_OPTION_NAMES = [
  "maxTurns",
  "systemPrompt",
  "appendSystemPrompt",
  "allowedTools",
  "disallowedTools",
  "maxBudgetUsd",
  "reasoningEffort",
] as const;
export type AgentOptionName = (typeof AGENT_OPTION_NAMES)[number];
export const REASONING_EFFORTS = ["minimal", "low", "medium", "high"] as const;

export const OPTIONS_VAR = "BOXD_AGENT_OPTIONS";

/** What options add to a run: arguments for the CLI (before its prompt) and env vars they refer to. */
export interface MappedOptions {
  args: string[];
  env: Record<string, string>;
}

type Mapper = (value: unknown) => MappedOptions;

const envArg =
  (flag: string, name: string): Mapper =>
  (value) => ({ args: [`${flag} "$${name}"`], env: { [name]: value as string } });

/** Which options each hosted harness supports, and how. */
const SUPPORTED: Record<Exclude<HarnessName, "custom">, Partial<Record<AgentOptionName, Mapper>>> = {
  "claude-code": {
    maxTurns: (v) => ({ args: [`--max-turns ${v}`], env: {} }),
    systemPrompt: envArg("--system-prompt", "BOXD_AGENT_SYSTEM_PROMPT"),
    appendSystemPrompt: envArg("--append-system-prompt", "BOXD_AGENT_APPEND_SYSTEM_PROMPT"),
    allowedTools: (v) => envArg("--allowedTools", "BOXD_AGENT_ALLOWED_TOOLS")((v as string[]).join(",")),
    disallowedTools: (v) => envArg("--disallowedTools", "BOXD_AGENT_DISALLOWED_TOOLS")((v as string[]).join(",")),
    maxBudgetUsd: (v) => ({ args: [`--max-budget-usd ${v}`], env: {} }),
  },
  codex: {
    reasoningEffort: (v) => ({ args: [`-c model_reasoning_effort=${v}`], env: {} }),
  },
};

/** Checks each option's value; the message says what the option takes. */
function checkValue(name: AgentOptionName, v: unknown): void {
  const fail = (what: string) => {
    throw invalidArgument(`options.${name} must be ${what}`);
  };
  switch (name) {
    case "maxTurns":
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 10_000) fail("a whole number from 1 to 10000");
      return;
    case "maxBudgetUsd":
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > 100_000)
        fail("a positive number of US dollars");
      return;
    case "systemPrompt":
    case "appendSystemPrompt":
      if (typeof v !== "string" || !v.trim() || v.includes("\0") || v.length > 64 * 1024)
        fail("text of at most 64 KiB");
      return;
    case "allowedTools":
    case "disallowedTools":
      if (
        !Array.isArray(v) ||
        v.length > 100 ||
        !v.every((t) => typeof t === "string" && /^[\w.:*()\- /,]{1,200}$/.test(t))
      ) {
        fail('a list of tool names, e.g. ["Read", "Bash(git:*)"]');
      }
      return;
    case "reasoningEffort":
      if (!(REASONING_EFFORTS as readonly unknown[]).includes(v)) fail(REASONING_EFFORTS.join(", "));
  }
}

/** Maps the options for a harness, or throws INVALID_ARGUMENT naming the harness and the option. */
export function mapOptions(harness: HarnessName, options: Record<string, unknown> | undefined): MappedOptions {
  const out: MappedOptions = { args: [], env: {} };
  const entries = Object.entries(options ?? {}).filter(([, v]) => v !== undefined);
  for (const [name, value] of entries) {
    if (!(AGENT_OPTION_NAMES as readonly string[]).includes(name)) {
      throw invalidArgument(`unknown agent option "${name.slice(0, 40)}": use ${AGENT_OPTION_NAMES.join(", ")}`);
    }
    checkValue(name as AgentOptionName, value);
    if (harness === "custom") continue;
    const map = SUPPORTED[harness][name as AgentOptionName];
    if (!map) {
      const has = Object.keys(SUPPORTED[harness]).join(", ") || "none";
      throw invalidArgument(`harness ${harness} does not support option ${name} (it supports: ${has})`);
    }
    const m = map(value);
    out.args.push(...m.args);
    Object.assign(out.env, m.env);
  }
  if (harness === "custom" && entries.length > 0) out.env[OPTIONS_VAR] = JSON.stringify(Object.fromEntries(entries));
  return out;
}
