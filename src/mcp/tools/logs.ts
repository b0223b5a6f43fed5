// Box logs: the box_logs tool, and the resource template box://{boxId}/logs with subscriptions.
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { Services } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { jsonBytes, PAGE_BUDGET_BYTES } from "../fit.js";
import { boxRef } from "../schemas.js";

const entrySchema = z.object({
  seq: z.number(),
  timestamp: z.string(),
  level: z.enum(["info", "warn", "error"]),
  source: z.enum(["system", "agent", "user"]),
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
  async handler(args, ctx, s: Services) {
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

const LOG_URI = /^box:\/\/(box_[0-9a-z]{12})\/logs$/;

/** Registers the log resource template and resources/subscribe for this server (one per session). */
export function registerLogResources(server: McpServer, s: Services, tenantOf: (extra: unknown) => string): () => void {
  server.registerResource(
    "box-logs",
    new ResourceTemplate("box://{boxId}/logs", {
      list: async (extra) => ({
        resources: s.boxes.list(tenantOf(extra)).map((b) => ({
          uri: `box://${b.id}/logs`,
          name: `${b.name} logs`,
          mimeType: "text/plain",
          description: `Lifecycle events and runs of box ${b.name} (${b.id})`,
        })),
      }),
    }),
    {
      title: "Box log",
      description: "A box's lifecycle events and every command with its output",
      mimeType: "text/plain",
    },
    async (uri, variables, extra) => {
      const box = s.boxes.resolveAny(tenantOf(extra), String(variables.boxId));
      return { contents: [{ uri: uri.href, mimeType: "text/plain", text: s.boxLog.text(box.id) }] };
    },
  );

  const subscribed = new Set<string>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
    const m = LOG_URI.exec(req.params.uri);
    if (!m) throw new Error(`cannot subscribe to ${req.params.uri}: only box://{boxId}/logs`);
    s.boxes.resolveAny(tenantOf(extra), m[1] as string); // NOT_FOUND for other tenants' boxes
    subscribed.add(m[1] as string);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    const m = LOG_URI.exec(req.params.uri);
    if (m) subscribed.delete(m[1] as string);
    return {};
  });
  return s.boxLog.subscribe((boxId) => {
    if (!subscribed.has(boxId)) return;
    server.server.sendResourceUpdated({ uri: `box://${boxId}/logs` }).catch(() => {});
  });
}
