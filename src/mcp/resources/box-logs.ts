// The resource template box://{boxId}/logs (a box's log as text, listed per tenant) and resources/subscribe
// for it: a subscribed client gets notifications/resources/updated whenever the box's log grows.
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ToolServices } from "../../services.js";

const LOG_URI = /^box:\/\/(box_[0-9a-z]{12})\/logs$/;

/** Registers the log resource template and resources/subscribe for this server (one per session). */
export function registerLogResources(
  server: McpServer,
  s: Pick<ToolServices, "boxes" | "boxLog">,
  tenantOf: (extra: unknown) => string,
): () => void {
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
