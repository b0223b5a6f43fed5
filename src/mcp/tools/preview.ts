// Preview URL tools: box_expose_port, box_list_exposed, box_unexpose_port. Plain defineTools: exposing
// or listing does not wake a box (the first request to its URL does).
import { z } from "zod";
import { PREVIEW_AUTHS } from "../../model/exposure.js";
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { boxRef } from "../schemas.js";

const port = z.number().int().min(1).max(65535).describe("The TCP port in the box (1-65535)");

const exposureSchema = {
  url: z.string().describe("The preview URL (the app sees it at the root path /)"),
  port: z.number().int(),
  auth: z.enum(PREVIEW_AUTHS),
  token: z
    .string()
    .optional()
    .describe('auth "token": send Authorization: Bearer <token>, or open url?token=<token> once'),
  username: z.string().optional().describe('auth "basic": the HTTP basic user name'),
  password: z.string().optional().describe('auth "basic": the HTTP basic password'),
  createdAt: z.string(),
};

export const boxExposePort = defineTool({
  name: "box_expose_port",
  title: "Expose a box's port at a preview URL",
  description:
    "Give a port of the box an HTTP URL (WebSockets and server-sent events work too) that reaches a server listening on 0.0.0.0:<port> in the box. " +
    'auth: "token" (default: a bearer token, or ?token= once in a browser, which then keeps a cookie), "basic" (a username and password), or "none" (anyone who knows the URL). ' +
    "Exposing the same port again returns the same URL and credentials. A request to a paused box wakes it. The box's own network policy is unchanged.",
  input: {
    box: boxRef,
    port,
    auth: z.enum(PREVIEW_AUTHS).optional().describe('"token" (default), "basic" or "none"'),
  },
  output: { boxId: z.string(), created: z.boolean(), ...exposureSchema },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  async handler(args, ctx, s: ToolServices) {
    const e = s.previews.expose(ctx.tenant, args.box, args.port, args.auth);
    const how =
      e.auth === "token"
        ? `token ${e.token}`
        : e.auth === "basic"
          ? `basic auth ${e.username}:${e.password}`
          : "no auth: anyone with the URL";
    return { text: `${e.created ? "exposed" : "already exposed:"} port ${e.port} at ${e.url} (${how})`, structured: e };
  },
});

export const boxListExposed = defineTool({
  name: "box_list_exposed",
  title: "List a box's preview URLs",
  description: "List the box's exposed ports with their URLs and credentials.",
  input: { box: boxRef },
  output: { boxId: z.string(), exposed: z.array(z.object(exposureSchema)) },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const r = s.previews.list(ctx.tenant, args.box);
    const lines = r.exposed.map((e) => `${e.port}: ${e.url} (${e.auth})`);
    return { text: lines.length ? lines.join("\n") : "no exposed ports", structured: r };
  },
});

export const boxUnexposePort = defineTool({
  name: "box_unexpose_port",
  title: "Remove a preview URL",
  description:
    "Remove the preview URL of a box's port: its credentials stop working at once. A port that is not exposed is fine (removed: false).",
  input: { box: boxRef, port },
  output: { boxId: z.string(), port: z.number().int(), removed: z.boolean() },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const r = s.previews.unexpose(ctx.tenant, args.box, args.port);
    return {
      text: r.removed ? `port ${r.port} is no longer exposed` : `port ${r.port} was not exposed`,
      structured: r,
    };
  },
});

export const previewTools = [boxExposePort, boxListExposed, boxUnexposePort];
