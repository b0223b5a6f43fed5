// The custom harness protocol, Upstash Box's "box-sse-v1": the harness is started as
// `<command> -p <prompt> --model <model> --stream [--session <id>]` and prints server-sent events on stdout:
//   text {text} · thinking {text} · tool {toolCallId, name, input} · tool_result {toolCallId, output}
//   done {output, input_tokens, output_tokens, cached_input_tokens, total_cost_usd, session_id}
//   error {error, ...the same counters}
// (field names as @upstash/box's runCustomHarness emits them; camelCase spellings are accepted too).
// Malformed events are reported and skipped; unknown event names are ignored (newer protocol versions).
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
import { type SseMessage, SseParser } from "./sse-parser.js";

export function boxSseDecoder(emit: EventSink, issue: IssueSink, maxEventBytes: number): EventDecoder {
  const parser = new SseParser(
    maxEventBytes,
    (message) => {
      const event = boxSseEvent(message, issue);
      if (event) emit(event);
    },
    issue,
  );
  return { push: (chunk) => parser.push(chunk), end: () => parser.end() };
}

const KNOWN = new Set(["text", "thinking", "tool", "tool_result", "done", "error"]);

export function boxSseEvent(message: SseMessage, issue: IssueSink): AgentEvent | null {
  if (!KNOWN.has(message.event)) {
    if (message.event === "message") issue(`an event without an "event:" type: ${snippet(message.data)}`);
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    issue(`"${message.event}" event whose data is not JSON: ${snippet(message.data)}`);
    return null;
  }
  if (!isObject(data)) {
    issue(`"${message.event}" event whose data is not a JSON object: ${snippet(message.data)}`);
    return null;
  }
  const bad = (what: string) => {
    issue(`"${message.event}" event without ${what}: ${snippet(message.data)}`);
    return null;
  };
  switch (message.event) {
    case "text":
    case "thinking": {
      const text = str(data.text);
      if (text === null) return bad("a string `text`");
      return { type: message.event, text };
    }
    case "tool": {
      const name = str(data.name);
      if (!name) return bad("a `name`");
      return { type: "tool", id: callId(data), name, input: data.input ?? {} };
    }
    case "tool_result":
      return { type: "tool_result", id: callId(data), output: data.output ?? null, isError: isError(data) };
    case "done":
      return {
        type: "done",
        output: str(data.output) ?? "",
        usage: usageOf(data),
        costUsd: costOf(data),
        sessionId: sessionOf(data),
      };
    default: {
      const text = str(data.error) ?? str(data.message);
      if (text === null) return bad("an `error` message");
      const usage = usageOf(data);
      const any = usage.inputTokens + usage.outputTokens > 0;
      return { type: "error", message: text, usage: any ? usage : null, sessionId: sessionOf(data) };
    }
  }
}

function snippet(data: string): string {
  return JSON.stringify(data.length > 200 ? `${data.slice(0, 200)}…` : data);
}

function callId(d: Record<string, unknown>): string | null {
  return str(d.toolCallId) ?? str(d.tool_call_id) ?? str(d.id);
}

function isError(d: Record<string, unknown>): boolean {
  return d.is_error === true || d.isError === true;
}

function usageOf(d: Record<string, unknown>): AgentUsage {
  return {
    inputTokens: count(d.input_tokens ?? d.inputTokens),
    outputTokens: count(d.output_tokens ?? d.outputTokens),
    cachedInputTokens: count(d.cached_input_tokens ?? d.cachedInputTokens),
  };
}

function costOf(d: Record<string, unknown>): number | null {
  const c = d.total_cost_usd ?? d.totalCostUsd ?? d.cost_usd;
  return typeof c === "number" && Number.isFinite(c) && c >= 0 ? c : null;
}

function sessionOf(d: Record<string, unknown>): string | null {
  return str(d.session_id) || str(d.sessionId) || null;
}

/**
 * The custom harness's command line: the caller's command (a shell command line, run as it is) followed by
 * the protocol's arguments. Prompt, model and session come from env vars so the shell never parses them.
 */
export function customCommandLine(command: string, o: { session: boolean }): string {
  const session = o.session ? ' --session "$BOXD_AGENT_SESSION"' : "";
  return `${command} -p "$BOXD_AGENT_PROMPT" --model "$BOXD_AGENT_MODEL" --stream${session} </dev/null`;
}
