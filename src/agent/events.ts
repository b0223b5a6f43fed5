// The one event model every harness adapter turns its CLI's output into (claude stream-json, codex JSONL,
// box-sse-v1), and the one-line summaries the progress stream and the box log show. Pure: no I/O.
import type { AgentUsage } from "../model/box.js";

export type { AgentUsage };

export const HARNESSES = ["claude-code", "codex", "custom"] as const;
export type HarnessName = (typeof HARNESSES)[number];

export type AgentEvent =
  /** Session and model as the harness announced them at its start (claude init, codex thread.started). */
  | { type: "session"; sessionId: string; model: string | null }
  | { type: "text"; text: string }
  | { type: "thinking"; text: string }
  | { type: "tool"; id: string | null; name: string; input: unknown }
  | { type: "tool_result"; id: string | null; output: unknown; isError: boolean }
  | {
      type: "done";
      output: string;
      usage: AgentUsage;
      costUsd: number | null;
      sessionId: string | null;
      /** Set when the harness itself returned parsed structured output (claude's structured_output). */
      structured?: unknown;
    }
  | { type: "error"; message: string; usage: AgentUsage | null; sessionId: string | null };

export type EventSink = (event: AgentEvent) => void;
/** Something in the stream that could not be understood: logged, then skipped. */
export type IssueSink = (problem: string) => void;

/** Turns a harness's stdout bytes into events, incrementally and with bounded memory. */
export interface EventDecoder {
  push(chunk: Buffer): void;
  /** The stream has ended: flush what is pending. */
  end(): void;
}

export const ZERO_USAGE: AgentUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

export function addUsage(a: AgentUsage, b: AgentUsage): AgentUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
  };
}

/** A non-negative integer token count from whatever the CLI printed (missing or odd values count as 0). */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** Cuts long text for one-line summaries, saying how much was left out. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more chars)`;
}

function brief(value: unknown, max: number): string {
  if (value === undefined || value === null) return "";
  return clip(typeof value === "string" ? value : JSON.stringify(value), max);
}

/** How an event reads in the progress stream and the box log; text events are their own text. */
export function describe(event: AgentEvent): string {
  switch (event.type) {
    case "text":
      return event.text;
    case "thinking":
      return `[thinking] ${clip(event.text, 2000)}`;
    case "tool":
      return `[tool] ${event.name} ${brief(event.input, 500)}`;
    case "tool_result":
      return `[tool ${event.isError ? "error" : "result"}] ${brief(event.output, 500)}`;
    case "session":
      return `[session] ${event.sessionId}${event.model ? ` (model ${event.model})` : ""}`;
    case "done": {
      const u = event.usage;
      const cost = event.costUsd !== null ? `, $${event.costUsd.toFixed(4)}` : "";
      return `[done] ${u.inputTokens} input tokens (${u.cachedInputTokens} cached), ${u.outputTokens} output tokens${cost}`;
    }
    case "error":
      return `[error] ${event.message}`;
  }
}
