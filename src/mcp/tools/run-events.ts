// box_run_events: an agent run's structured events from a cursor, long-polling for more while it goes on,
// so a client that started it in the background (or reconnects tomorrow) reads what it missed. A plain
// defineTool: reading a run must not wake its box.
import { z } from "zod";
import { RUN_STATUSES } from "../../model/box.js";
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { boxRef } from "../schemas.js";

const eventShape = z.object({
  seq: z.number().describe("The event's number in the run (1, 2, ...)"),
  type: z
    .string()
    .describe("session, text, thinking, tool, tool_result, done, error, or truncated (the per-run cap was reached)"),
  at: z.string().describe("When the server received it (ISO time)"),
  data: z.record(z.string(), z.unknown()).describe("The event's fields (text, name/input, output, usage, ...)"),
});

export const boxRunEvents = defineTool({
  name: "box_run_events",
  title: "Read a run's events",
  description:
    "Read an agent run's structured events (text, thinking, tool, tool_result, done, error) in order, from a cursor. " +
    "Omit after for the first call; then pass the nextCursor you got. With wait (seconds), the call waits for new " +
    "events while the run is still going. done: true means the run has ended and you have read every event. " +
    "Events are kept durably (BOXD_RUN_EVENTS_MAX_BYTES per run), so a client can come back much later.",
  input: {
    box: boxRef,
    runId: z.string().describe("The run id from box_agent_run or box_runs"),
    after: z.string().max(20).optional().describe("nextCursor from the previous call (omit to start at the beginning)"),
    wait: z
      .number()
      .int()
      .min(0)
      .max(300)
      .optional()
      .describe("Seconds to wait for new events when there are none yet (default 0: answer at once)"),
  },
  output: {
    events: z.array(eventShape),
    nextCursor: z.string().describe("Pass as after in the next call"),
    done: z.boolean().describe("The run has ended and no events are left to read"),
    status: z.enum(RUN_STATUSES).describe("The run's status now"),
  },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const page = await s.runEvents.read(box.id, args.runId, args.after, args.wait ?? 0, ctx.signal);
    const lines = page.events.map((e) => `#${e.seq} ${e.type} ${JSON.stringify(e.data).slice(0, 300)}`);
    const head = `${page.events.length} events of ${args.runId} (${page.status}${page.done ? ", all read" : ""}); nextCursor ${page.nextCursor}`;
    return { text: [head, ...lines].join("\n"), structured: page };
  },
});

export const runEventTools = [boxRunEvents];
