// defineBoxTool(): defineTool for the tools that work inside one live box (files, git, commands, agents).
// It does the common part once: `box` in the input, the box resolved for the caller's tenant and woken if
// paused, the call counted as activity (also when it fails), and `resumed` in the output schema, the
// structured result and the text. Each tool states only its own work on the box's container.
//
// Tools that must NOT wake a box stay plain defineTool, each resolving the box itself: box_get, box_list,
// box_delete, box_pause, box_resume (its own wake), box_set_network_policy, box_snapshot (a paused box is
// captured as it is), box_logs (deleted boxes too), box_runs, box_run_get and box_run_kill (reading or
// ending a run of a paused box must not start it).
import { z } from "zod";
import type { LiveBox, ToolServices } from "../services.js";
import type { ToolContext, ToolDefinition, ToolResult } from "./define-tool.js";
import { boxRef } from "./schemas.js";

export const resumedField = z
  .boolean()
  .optional()
  .describe("true when the box was paused and was resumed for this call");

type WithBox<I extends z.ZodRawShape> = { box: typeof boxRef } & I;
type WithResumed<O extends z.ZodRawShape> = O & { resumed: typeof resumedField };

export interface BoxToolDefinition<I extends z.ZodRawShape, O extends z.ZodRawShape>
  extends Omit<ToolDefinition<I, O, ToolServices>, "handler"> {
  /** `input` without `box` and `output` without `resumed`: defineBoxTool adds both. */
  handler: (
    args: z.output<z.ZodObject<WithBox<I>>>,
    ctx: ToolContext,
    box: LiveBox,
    s: ToolServices,
  ) => Promise<ToolResult<z.output<z.ZodObject<O>>>>;
}

export function defineBoxTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  def: BoxToolDefinition<I, O>,
): ToolDefinition<WithBox<I>, WithResumed<O>, ToolServices> {
  const { handler, input, output, ...rest } = def;
  return {
    ...rest,
    input: { box: boxRef, ...input },
    output: { ...output, resumed: resumedField },
    async handler(args, ctx, s) {
      const box = await s.liveBox(ctx.tenant, (args as { box: string }).box);
      try {
        const r = await handler(args, ctx, box, s);
        const structured = { ...r.structured, resumed: box.resumed };
        return { ...r, text: withResumedNote(r.text, box.resumed), structured } as ToolResult<
          z.output<z.ZodObject<WithResumed<O>>>
        >;
      } finally {
        s.boxes.touch(box.boxId);
      }
    },
  };
}

/** The note for a call that had to wake the box, at the end of the text's first line (its summary). */
export function withResumedNote(text: string, resumed: boolean): string {
  if (!resumed) return text;
  const eol = text.indexOf("\n");
  return eol < 0 ? `${text} (box resumed)` : `${text.slice(0, eol)} (box resumed)${text.slice(eol)}`;
}
