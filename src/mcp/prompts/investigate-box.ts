// The investigate_box prompt: "find out what is going on in this box", with the box's state and its log
// attached, so the agent starts from facts and knows which tools dig further. Reading it neither wakes the
// box nor counts as activity (a paused box stays paused); a deleted box can be investigated too, its log
// outlives it.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { GetPromptResult } from "@modelcontextprotocol/sdk/types.js";
import type { BoxView } from "../../model/box.js";
import type { ToolServices } from "../../services.js";
import { boxCandidates, type Completer } from "../completions.js";
import { boxRef } from "../schemas.js";
import { promptError } from "./prompt-error.js";

export const INVESTIGATE_BOX = "investigate_box";

function state(b: BoxView): string {
  const facts = [
    `Box ${b.name} (${b.id}): runtime ${b.runtime}, size ${b.size}, status ${b.status}${b.statusReason ? ` (${b.statusReason})` : ""}.`,
    `Created ${b.createdAt}, last active ${b.lastActiveAt}${b.pausedAt ? `, paused since ${b.pausedAt}` : ""}${b.expiresAt ? `, expires ${b.expiresAt}` : ""}.`,
    `Runs so far: ${b.usage.runs}; network policy: ${b.networkPolicy.mode}.`,
  ];
  return facts.join("\n");
}

function instructions(b: BoxView): string {
  const box = JSON.stringify(b.name);
  return [
    `Investigate what is happening in this boxd box and report what you find (what ran, what failed and why, what to do next).`,
    "",
    state(b),
    "",
    "Its log (lifecycle events and every command with its output, newest last) is attached below. To dig further:",
    `- box_runs { box: ${box} } lists its runs newest first; box_run_get { box: ${box}, runId } shows one with its output.`,
    `- box_get { box: ${box} } shows its limits and current usage (CPU, memory peak, disk).`,
    `- box_exec { box: ${box}, command } runs a read-only look inside (ps aux, df -h, tail of a file); it wakes a paused box.`,
    `- box_logs { box: ${box}, offset } pages through older log entries than the attached ones.`,
    "Change nothing in the box unless asked to: investigate first.",
  ].join("\n");
}

/** Registers the prompt; returns its argument completers (box: the caller's boxes). */
export function registerInvestigateBox(
  server: McpServer,
  s: Pick<ToolServices, "boxes" | "boxLog">,
  tenantOf: (extra: unknown) => string,
): Record<string, Completer> {
  server.registerPrompt(
    INVESTIGATE_BOX,
    {
      title: "Investigate a box",
      description: "What is going on in one of your boxes: its state and log, and the tools that dig further.",
      argsSchema: { box: boxRef },
    },
    ({ box }, extra): GetPromptResult => {
      let view: BoxView;
      try {
        view = s.boxes.view(s.boxes.resolveAny(tenantOf(extra), box));
      } catch (err) {
        throw promptError(err);
      }
      const uri = `box://${view.id}/logs`;
      return {
        description: `Investigate box ${view.name}`,
        messages: [
          { role: "user", content: { type: "text", text: instructions(view) } },
          {
            role: "user",
            content: { type: "resource", resource: { uri, mimeType: "text/plain", text: s.boxLog.text(view.id) } },
          },
        ],
      };
    },
  );
  return { box: ({ tenant }) => boxCandidates(s.boxes.list(tenant)) };
}
