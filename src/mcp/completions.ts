// completion/complete: argument suggestions for boxd's prompts and for the box://{boxId}/logs template.
// The SDK's own completion handler calls completers with the typed value only, not the request's auth info,
// so it cannot tell whose boxes to suggest; boxd answers completion/complete itself, with the caller's
// tenant, and never registers SDK completers (that would install the SDK's handler beside this one).
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CompleteRequestSchema, type CompleteResult } from "@modelcontextprotocol/sdk/types.js";
import type { BoxView } from "../model/box.js";

/**
 * At most this many values per answer: a client shows a short list under what is typed, and the caller
 * narrows it by typing more (`total` and `hasMore` say how many matched). The protocol allows up to 100.
 */
export const COMPLETION_CAP = 20;

/** What the caller typed so far, the other arguments already filled in, and whose request it is. */
export interface CompletionInput {
  value: string;
  tenant: string;
  context: Record<string, string>;
}

/** Every candidate for one argument, best first; the handler filters by prefix and caps. */
export type Completer = (input: CompletionInput) => readonly string[];

/** Completers by prompt name (ref/prompt) or URI template (ref/resource), then by argument name. */
export interface CompletionTable {
  prompts: Record<string, Record<string, Completer>>;
  templates: Record<string, Record<string, Completer>>;
}

/** Candidates that start with what was typed (case-insensitive), deduplicated, capped at COMPLETION_CAP. */
export function completionResult(candidates: readonly string[], typed: string): CompleteResult {
  const prefix = typed.toLowerCase();
  const matches = [...new Set(candidates)].filter((c) => c.toLowerCase().startsWith(prefix));
  const values = matches.slice(0, COMPLETION_CAP);
  return { completion: { values, total: matches.length, hasMore: matches.length > values.length } };
}

/**
 * A tenant's boxes as `box` values, most recently active first: each box's name, then its id (both work
 * wherever a box is asked for). Deleted boxes are not offered.
 */
export function boxCandidates(boxes: readonly Pick<BoxView, "id" | "name" | "lastActiveAt">[]): string[] {
  return [...boxes].sort((a, b) => b.lastActiveAt.localeCompare(a.lastActiveAt)).flatMap((b) => [b.name, b.id]);
}

/** A table's own entry only: a name such as "__proto__" or "toString" finds nothing. */
const own = <T>(table: Record<string, T>, key: string): T | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined;

/**
 * Declares the completions capability and answers completion/complete from `table`. A reference boxd does
 * not have (another server's prompt or template) or an argument without suggestions gets an empty list,
 * not an error: completion only helps typing, and the prompt or read that follows reports what is wrong.
 */
export function registerCompletions(
  server: McpServer,
  table: CompletionTable,
  tenantOf: (extra: unknown) => string,
): void {
  server.server.registerCapabilities({ completions: {} });
  server.server.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
    const { ref, argument } = req.params;
    const byArgument = ref.type === "ref/prompt" ? own(table.prompts, ref.name) : own(table.templates, ref.uri);
    const completer = byArgument && own(byArgument, argument.name);
    if (!completer) return completionResult([], argument.value);
    const input = { value: argument.value, tenant: tenantOf(extra), context: req.params.context?.arguments ?? {} };
    return completionResult(completer(input), argument.value);
  });
}
