// The claude-code harness: the `claude` CLI in print mode with streamed JSON output
// (`claude -p --output-format stream-json --verbose`), one JSON object per line:
//   {"type":"system","subtype":"init","session_id","model",...}        -> session
//   {"type":"assistant","message":{"content":[text|thinking|tool_use]}} -> text / thinking / tool
//   {"type":"user","message":{"content":[tool_result]}}                 -> tool_result
//   {"type":"result","subtype":"success"|"error_…","is_error","result","session_id","total_cost_usd",
//    "usage":{input_tokens,cache_creation_input_tokens,cache_read_input_tokens,output_tokens},
//    "structured_output"?}                                              -> done / error
// Other lines (stream_event partials, other system subtypes) are ignored.
import {
  type AgentEvent,
  type AgentUsage,
  count,
  type EventDecoder,
  type EventSink,
  type IssueSink,
  isObject,
  str,
} from "./events.js";
import { jsonLines } from "./lines.js";

export const CLAUDE_MISSING =
  "the claude CLI is not installed in this box: use a box of runtime node-agent, or install it first with box_exec `npm install -g @anthropic-ai/claude-code`";

/** The command line; prompt, model and session come from env vars so they are never parsed by the shell. */
export function claudeCommandLine(o: { model: boolean; session: boolean; extra?: string[] }): string {
  const args = [
    "-p",
    "--output-format stream-json",
    "--verbose",
    // The box is the sandbox: nobody is there to answer permission prompts.
    "--permission-mode bypassPermissions",
    ...(o.model ? ['--model "$BOXD_AGENT_MODEL"'] : []),
    ...(o.session ? ['--resume "$BOXD_AGENT_SESSION"'] : []),
    // Mapped agent options (agent-options.ts): validated numbers or "$BOXD_AGENT_..." references.
    ...(o.extra ?? []),
  ];
  return (
    `command -v claude >/dev/null 2>&1 || { echo "boxd: ${CLAUDE_MISSING}" >&2; exit 127; }; ` +
    `exec claude ${args.join(" ")} -- "$BOXD_AGENT_PROMPT" </dev/null`
  );
}

export function claudeDecoder(emit: EventSink, issue: IssueSink, maxLineBytes: number): EventDecoder {
  return jsonLines(
    maxLineBytes,
    (line) => {
      for (const event of claudeEvents(line)) emit(event);
    },
    issue,
  );
}

/** The events of one stream-json line. */
export function claudeEvents(line: Record<string, unknown>): AgentEvent[] {
  switch (line.type) {
    case "system": {
      const sessionId = str(line.session_id);
      return line.subtype === "init" && sessionId ? [{ type: "session", sessionId, model: str(line.model) }] : [];
    }
    case "assistant":
      return blocks(line).flatMap(assistantBlock);
    case "user":
      return blocks(line).flatMap(toolResult);
    case "result":
      return [result(line)];
    default:
      return [];
  }
}

function blocks(line: Record<string, unknown>): Record<string, unknown>[] {
  const message = line.message;
  if (!isObject(message) || !Array.isArray(message.content)) return [];
  return message.content.filter(isObject);
}

function assistantBlock(b: Record<string, unknown>): AgentEvent[] {
  if (b.type === "text" && typeof b.text === "string") return [{ type: "text", text: b.text }];
  if (b.type === "thinking" && typeof b.thinking === "string") return [{ type: "thinking", text: b.thinking }];
  if ((b.type === "tool_use" || b.type === "server_tool_use") && typeof b.name === "string") {
    return [{ type: "tool", id: str(b.id), name: b.name, input: b.input ?? {} }];
  }
  return [];
}

function toolResult(b: Record<string, unknown>): AgentEvent[] {
  if (b.type !== "tool_result") return [];
  // content is a string or a list of blocks (text, image); only the text is kept.
  const output = Array.isArray(b.content)
    ? b.content
        .filter(isObject)
        .map((c) => (typeof c.text === "string" ? c.text : `[${String(c.type)}]`))
        .join("\n")
    : (b.content ?? null);
  return [{ type: "tool_result", id: str(b.tool_use_id), output, isError: b.is_error === true }];
}

/** Anthropic counts fresh, cache-written and cache-read input separately; boxd's inputTokens is their sum. */
export function claudeUsage(usage: unknown): AgentUsage {
  if (!isObject(usage)) return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  const cached = count(usage.cache_read_input_tokens);
  return {
    inputTokens: count(usage.input_tokens) + count(usage.cache_creation_input_tokens) + cached,
    outputTokens: count(usage.output_tokens),
    cachedInputTokens: cached,
  };
}

function result(line: Record<string, unknown>): AgentEvent {
  const usage = claudeUsage(line.usage);
  const sessionId = str(line.session_id);
  const subtype = str(line.subtype) ?? "success";
  if (line.is_error === true || subtype !== "success") {
    const errors = Array.isArray(line.errors)
      ? line.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e)))
      : [];
    const message = str(line.result) || errors.join("; ") || `claude ended with ${subtype}`;
    return { type: "error", message: subtype === "success" ? message : `${subtype}: ${message}`, usage, sessionId };
  }
  const cost = line.total_cost_usd ?? line.cost_usd;
  return {
    type: "done",
    output: str(line.result) ?? "",
    usage,
    costUsd: typeof cost === "number" && Number.isFinite(cost) ? cost : null,
    sessionId,
    ...(line.structured_output !== undefined ? { structured: line.structured_output } : {}),
  };
}
