// The codex harness: `codex exec --json`, one JSON object per line (JSONL):
//   {"type":"thread.started","thread_id"}                    -> session (the id `codex exec resume` takes)
//   {"type":"item.started"|"item.updated"|"item.completed","item":{"id","type",...}}
//       agent_message {text} -> text · reasoning {text} -> thinking · command_execution {command,
//       aggregated_output, exit_code, status} / file_change {changes, status} / mcp_tool_call {server, tool,
//       arguments, result, error, status} / web_search {query} -> tool + tool_result · todo_list {items} ->
//       thinking · error {message} (not fatal) -> thinking
//   {"type":"turn.completed","usage":{input_tokens,cached_input_tokens,output_tokens}} -> done
//   {"type":"turn.failed","error":{message}} · {"type":"error","message"}                -> error
// Early codex versions spelled the item kind `item_type` and the final message `assistant_message`: both
// are accepted. Codex reports no cost. Top-level `error` events are also sent for retries ("Reconnecting...
// 2/5", seen from codex-cli 0.171): an error only decides the run when no turn.completed follows it.

import type { EventSink, IssueSink } from "./events.js";
import { type AgentEvent, addUsage, count, type EventDecoder, isObject, str, ZERO_USAGE } from "./events.js";
import { jsonLines } from "./lines.js";

export const CODEX_MISSING =
  "the codex CLI is not installed in this box: use a box of runtime node-agent, or install it first with box_exec `npm install -g @openai/codex`";

/** The command line; prompt, model and session come from env vars so they are never parsed by the shell. */
export function codexCommandLine(o: { model: boolean; session: boolean; extra?: string[] }): string {
  const args = [
    "exec",
    "--json",
    // A box is usually not a git repository, and it is the sandbox itself: codex's own sandbox (Landlock,
    // seccomp) is not available inside a container anyway.
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    // Codex otherwise saves a snapshot of its shell environment, API key included, under ~/.codex.
    "--disable shell_snapshot",
    ...(o.model ? ['--model "$BOXD_AGENT_MODEL"'] : []),
    // Mapped agent options (agent-options.ts), before the resume subcommand.
    ...(o.extra ?? []),
    ...(o.session ? ['resume "$BOXD_AGENT_SESSION"'] : []),
  ];
  return (
    `command -v codex >/dev/null 2>&1 || { echo "boxd: ${CODEX_MISSING}" >&2; exit 127; }; ` +
    `exec codex ${args.join(" ")} -- "$BOXD_AGENT_PROMPT" </dev/null`
  );
}

/** What codex has said so far in this run: its last message is the run's output. */
export interface CodexState {
  sessionId: string | null;
  lastMessage: string;
  usage: typeof ZERO_USAGE;
  /** Tool items announced (started) but not completed yet. */
  open: Set<string>;
}

export function newCodexState(): CodexState {
  return { sessionId: null, lastMessage: "", usage: ZERO_USAGE, open: new Set() };
}

export function codexDecoder(emit: EventSink, issue: IssueSink, maxLineBytes: number): EventDecoder {
  const state = newCodexState();
  return jsonLines(
    maxLineBytes,
    (line) => {
      for (const event of codexEvents(line, state)) emit(event);
    },
    issue,
  );
}

export function codexEvents(line: Record<string, unknown>, state: CodexState): AgentEvent[] {
  switch (line.type) {
    case "thread.started": {
      state.sessionId = str(line.thread_id);
      return state.sessionId ? [{ type: "session", sessionId: state.sessionId, model: null }] : [];
    }
    case "item.started":
    case "item.updated":
    case "item.completed":
      return isObject(line.item) ? item(line.type, line.item, state) : [];
    case "turn.completed": {
      const u = isObject(line.usage) ? line.usage : {};
      const turn = {
        inputTokens: count(u.input_tokens),
        outputTokens: count(u.output_tokens),
        cachedInputTokens: count(u.cached_input_tokens),
      };
      state.usage = addUsage(state.usage, turn);
      return [
        { type: "done", output: state.lastMessage, usage: state.usage, costUsd: null, sessionId: state.sessionId },
      ];
    }
    case "turn.failed": {
      const message = isObject(line.error) ? str(line.error.message) : null;
      return [failed(message ?? "codex reported a failed turn", state)];
    }
    case "error":
      return [failed(str(line.message) ?? "codex reported an error", state)];
    default:
      return [];
  }
}

function failed(message: string, state: CodexState): AgentEvent {
  const used = state.usage.inputTokens + state.usage.outputTokens > 0;
  return { type: "error", message, usage: used ? state.usage : null, sessionId: state.sessionId };
}

function item(phase: string, it: Record<string, unknown>, state: CodexState): AgentEvent[] {
  const kind = str(it.type) ?? str(it.item_type);
  const id = str(it.id);
  const completed = phase === "item.completed";
  switch (kind) {
    case "agent_message":
    case "assistant_message": {
      const text = str(it.text);
      if (!completed || text === null) return [];
      state.lastMessage = text;
      return [{ type: "text", text }];
    }
    case "reasoning": {
      const text = str(it.text);
      return completed && text ? [{ type: "thinking", text }] : [];
    }
    case "todo_list": {
      if (phase === "item.updated" || !Array.isArray(it.items)) return [];
      const lines = it.items
        .filter(isObject)
        .map((t) => `${t.completed === true ? "[x]" : "[ ]"} ${str(t.text) ?? ""}`);
      return [{ type: "thinking", text: `plan:\n${lines.join("\n")}` }];
    }
    case "error": {
      const text = str(it.message);
      return completed && text ? [{ type: "thinking", text: `warning: ${text}` }] : [];
    }
    case "command_execution":
      return tool(phase, id, state, "command", { command: it.command }, () => ({
        output: it.aggregated_output ?? "",
        isError: it.status === "failed" || (typeof it.exit_code === "number" && it.exit_code !== 0),
      }));
    case "file_change":
      return tool(phase, id, state, "file_change", { changes: it.changes ?? [] }, () => ({
        output: it.status ?? "completed",
        isError: it.status === "failed",
      }));
    case "mcp_tool_call":
      return tool(phase, id, state, `${str(it.server) ?? "mcp"}.${str(it.tool) ?? "tool"}`, it.arguments ?? {}, () => ({
        output: it.error ?? it.result ?? it.status ?? null,
        isError: it.status === "failed" || (it.error !== undefined && it.error !== null),
      }));
    case "web_search":
      return tool(phase, id, state, "web_search", { query: it.query }, () => ({
        output: it.action ?? it.query ?? null,
        isError: false,
      }));
    default:
      return [];
  }
}

/** A tool item: announced once (at its start, or at its end when codex sent no start), its result at its end. */
function tool(
  phase: string,
  id: string | null,
  state: CodexState,
  name: string,
  input: unknown,
  result: () => { output: unknown; isError: boolean },
): AgentEvent[] {
  const key = id ?? "";
  const out: AgentEvent[] = [];
  if (phase === "item.started" || (phase === "item.completed" && !state.open.has(key))) {
    if (phase === "item.started") state.open.add(key);
    out.push({ type: "tool", id, name, input });
  }
  if (phase === "item.completed") {
    state.open.delete(key);
    out.push({ type: "tool_result", id, ...result() });
  }
  return out;
}
