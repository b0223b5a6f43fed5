// The harnesses box_agent_run knows: how each one is started in the box, which server-side API key it
// needs (and under which env names the run gets it), and which decoder reads its output.
import type { Config } from "../config.js";
import { boxSseDecoder, customCommandLine } from "./box-sse.js";
import { CLAUDE_MISSING, claudeCommandLine, claudeDecoder } from "./claude-code.js";
import { CODEX_MISSING, codexCommandLine, codexDecoder } from "./codex.js";
import type { EventDecoder, EventSink, HarnessName, IssueSink } from "./events.js";

/** Env vars carrying the run's inputs to its command line (see each harness's command line). */
export const PROMPT_VAR = "BOXD_AGENT_PROMPT";
export const MODEL_VAR = "BOXD_AGENT_MODEL";
export const SESSION_VAR = "BOXD_AGENT_SESSION";

export interface HarnessKey {
  setting: "anthropicApiKey" | "openaiApiKey";
  /** The setting's env name, for error messages. */
  env: string;
  /** Env vars of the run that carry the key (what the CLI reads). */
  vars: string[];
}

export interface Harness {
  name: HarnessName;
  key: HarnessKey | null;
  /** What to tell the caller when the CLI is not in the box (exit 127 before any event). */
  missing: string;
  commandLine(o: { command: string | null; model: boolean; session: boolean; extra?: string[] }): string;
  decoder(emit: EventSink, issue: IssueSink, maxEventBytes: number): EventDecoder;
}

export const HARNESS: Record<HarnessName, Harness> = {
  "claude-code": {
    name: "claude-code",
    key: { setting: "anthropicApiKey", env: "BOXD_ANTHROPIC_API_KEY", vars: ["ANTHROPIC_API_KEY"] },
    missing: CLAUDE_MISSING,
    commandLine: (o) => claudeCommandLine(o),
    decoder: claudeDecoder,
  },
  codex: {
    name: "codex",
    // CODEX_API_KEY is what `codex exec` reads; OPENAI_API_KEY for older versions.
    key: { setting: "openaiApiKey", env: "BOXD_OPENAI_API_KEY", vars: ["CODEX_API_KEY", "OPENAI_API_KEY"] },
    missing: CODEX_MISSING,
    commandLine: (o) => codexCommandLine(o),
    decoder: codexDecoder,
  },
  custom: {
    name: "custom",
    // A custom harness is any program in the box: it gets no server credentials (put its own in the box env).
    key: null,
    missing: "the custom harness command was not found in the box: install it first (box_upload, box_write_file)",
    commandLine: (o) => customCommandLine(o.command ?? "", o),
    decoder: boxSseDecoder,
  },
};

/** The configured key of a harness ("" when none is set). */
export function harnessKey(config: Pick<Config, HarnessKey["setting"]>, key: HarnessKey): string {
  return config[key.setting].value;
}
