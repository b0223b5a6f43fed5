// Box logs: the box_logs tool (the resource box://{boxId}/logs is in src/mcp/resources/box-logs.ts).
import { z } from "zod";
import type { ToolServices } from "../../services.js";
import { LOG_LEVELS, LOG_SOURCES } from "../../state/log-store.js";
import { defineTool } from "../define-tool.js";
import { jsonBytes, PAGE_BUDGET_BYTES } from "../fit.js";
import { boxRef } from "../schemas.js";

const entrySchema = z.object({
  seq: z.number(),
  timestamp: z.string(),
  level: z.enum(LOG_LEVELS),
  source: z.enum(LOG_SOURCES),
  message: z.string(),
});

export const boxLogs = defineTool({
  name: "box_logs",
  title: "Read a box's log",
  description:
    "Read the box's log: lifecycle events and every command with its output, oldest first. Page with offset/limit, or pass since (ISO time). " +
    "Clients with resource support can read and subscribe to box://{boxId}/logs instead.",
  input: {
    box: boxRef,
    offset: z.number().int().min(0).optional().describe("Skip this many entries (from the oldest kept)"),
    limit: z.number().int().min(1).max(5000).optional().describe("At most this many entries (default 200)"),
    since: z.string().datetime().optional().describe("Only entries at or after this ISO 8601 time"),
  },
  output: {
    entries: z.array(entrySchema),
    nextOffset: z
      .number()
      .optional()
      .describe("Set when fewer entries than asked fit in one answer: pass it as offset for the next ones"),
  },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = s.boxes.resolveAny(ctx.tenant, args.box);
    const asked = s.boxLog.entries(box.id, { offset: args.offset, limit: args.limit ?? 200, since: args.since });
    // Each entry travels twice (text and structured): stop at what fits one answer; nextOffset has the rest.
    let used = 0;
    let n = 0;
    while (n < asked.length && (n === 0 || used + 2 * jsonBytes(asked[n]) <= PAGE_BUDGET_BYTES)) {
      used += 2 * jsonBytes(asked[n]);
      n += 1;
    }
    const entries = asked.slice(0, n);
    const nextOffset = n < asked.length ? (args.offset ?? 0) + n : undefined;
    const lines = entries.map((e) => `${e.timestamp} ${e.level} [${e.source}] ${e.message}`);
    if (nextOffset !== undefined) lines.push(`(more entries: call box_logs with offset ${nextOffset})`);
    return { text: lines.length ? lines.join("\n") : "no log entries", structured: { entries, nextOffset } };
  },
});

export const logTools = [boxLogs];
