// The resource template box://{boxId}/logs (a box's log as text, listed per tenant) and resources/subscribe
// for it: a subscribed client gets notifications/resources/updated whenever the box's log grows. Its
// {boxId} completes to the caller's boxes (logCompleters, answered by src/mcp/completions.ts).
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ToolServices } from "../../services.js";
import { boxCandidates, type Completer } from "../completions.js";

const LOG_URI = /^box:\/\/([^/]+)\/logs$/;
export const LOG_TEMPLATE = "box://{boxId}/logs";

/** {boxId} of the template: the caller's boxes, by name and by id (reading the log accepts either). */
export function logCompleters(s: Pick<ToolServices, "boxes">): Record<string, Completer> {
  return { boxId: ({ tenant }) => boxCandidates(s.boxes.list(tenant)) };
}

/** Registers the log resource template and resources/subscribe for this server (one per session). */
export function registerLogResources(
  server: McpServer,
  s: Pick<ToolServices, "boxes" | "boxLog">,
  tenantOf: (extra: unknown) => string,
): () => void {
  server.registerResource(
    "box-logs",
    new ResourceTemplate(LOG_TEMPLATE, {
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

  // By the URI the client subscribed to (a box's id or its name: both name the same log) -> the box's id.
  const subscribed = new Map<string, string>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
    const m = LOG_URI.exec(req.params.uri);
    if (!m) throw new Error(`cannot subscribe to ${req.params.uri}: only box://{boxId}/logs`);
    const box = s.boxes.resolveAny(tenantOf(extra), m[1] as string); // NOT_FOUND for other tenants' boxes
    subscribed.set(req.params.uri, box.id);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });
  return s.boxLog.subscribe((boxId) => {
    for (const [uri, id] of subscribed) {
      if (id === boxId) server.server.sendResourceUpdated({ uri }).catch(() => {});
    }
  });
}
