// Tenant secrets: secret_set, secret_list, secret_delete. Values go in and never come out: results, texts
// and errors name secrets only; boxes use them through attachHeaders placeholders, filled in outside the box.
import { z } from "zod";
import { MAX_SECRET_BYTES } from "../../secrets/secret-service.js";
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";

const secretName = z
  .string()
  .describe('Secret name: 1-64 letters, digits and "_", not starting with a digit (e.g. GITHUB_TOKEN)');

const secretInfo = {
  name: z.string(),
  createdAt: z.string().describe("When the secret was first set (ISO time)"),
  updatedAt: z.string().describe("When its value was last set (ISO time)"),
};

export const secretSet = defineTool({
  name: "secret_set",
  title: "Set a secret",
  description:
    "Store a secret for your tenant (encrypted at rest), or replace its value. It never enters a box and is never shown again: " +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder syntax agents must write
    'use it in box_create/box_update attachHeaders as "${secret:NAME}", e.g. { "api.example.com": { "Authorization": "Bearer ${secret:EXAMPLE_TOKEN}" } }, ' +
    "and the egress proxy adds the header to the box's requests to that host. A replaced value applies to the next request.",
  input: {
    name: secretName,
    value: z
      .string()
      .describe(
        `The secret's value: 1 to ${MAX_SECRET_BYTES} bytes of UTF-8, no CR, LF or NUL (it goes into header values)`,
      ),
  },
  output: { ...secretInfo, replaced: z.boolean().describe("true: an existing secret of that name was replaced") },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const info = s.secrets.set(ctx.tenant, args.name, args.value);
    return { text: `secret ${info.name} ${info.replaced ? "replaced" : "stored"}`, structured: info };
  },
});

export const secretList = defineTool({
  name: "secret_list",
  title: "List secrets",
  description: "List your tenant's secrets by name, with when each was set. Values are never shown.",
  input: {},
  output: { secrets: z.array(z.object(secretInfo)).describe("Your secrets, by name") },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(_args, ctx, s: ToolServices) {
    const secrets = s.secrets.list(ctx.tenant);
    const text = secrets.length ? secrets.map((x) => `${x.name} (updated ${x.updatedAt})`).join("\n") : "no secrets";
    return { text, structured: { secrets } };
  },
});

export const secretDelete = defineTool({
  name: "secret_delete",
  title: "Delete a secret",
  description:
    "Delete one of your secrets. Boxes whose attachHeaders name it get a 403 from the egress proxy for requests to those hosts until it is set again or their attachHeaders change.",
  input: { name: secretName },
  output: { name: z.string(), deleted: z.literal(true) },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const out = s.secrets.delete(ctx.tenant, args.name);
    return { text: `secret ${out.name} deleted`, structured: out };
  },
});

export const secretTools = [secretSet, secretList, secretDelete];
