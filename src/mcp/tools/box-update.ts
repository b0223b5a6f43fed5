// box_update: change a box's settings after create (idle timeout, keepAlive, labels, env, initCommand, TTL).
import { z } from "zod";
import { MAX_TTL_SECONDS } from "../../box/ttl.js";
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { attachHeadersInput, boxRef, boxSchema, envMap } from "../schemas.js";
import { strictInput } from "../strict-input.js";

const stringMap = z.record(z.string(), z.string());

/** box_create's and box_update's ttlSeconds (checked by the box layer, whose error names the range). */
export const ttlDescription = `Seconds until the box is deleted whatever its state (paused, mid-run: runs end), 1 to ${MAX_TTL_SECONDS} (3 days); its snapshots are kept. The box shows the time as expiresAt`;

export const boxUpdate = defineTool({
  name: "box_update",
  title: "Change a box's settings",
  description:
    "Change settings of an existing box without recreating it; pass only what changes (at least one field). " +
    "Each change is written to the box's log and returns the updated box. Takes effect: idleTimeoutSeconds and keepAlive at once " +
    "(the idle timer counts from the last activity; a paused box stays paused), labels at once (box_list filters), " +
    "env for commands started from now on (running ones keep theirs), initCommand at the next start of the box's container " +
    "(create, wake from a stopped pause, restart), ttlSeconds counted from now (null: the box lives until deleted), " +
    "attachHeaders from the box's next connection (replaces the whole set).",
  input: {
    box: boxRef,
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional()
      .describe("Seconds without activity before the box pauses itself"),
    keepAlive: z.boolean().optional().describe("true: never pause automatically when idle"),
    labels: strictInput({
      set: stringMap.optional().describe("Labels to add or overwrite"),
      remove: z.array(z.string()).optional().describe("Label keys to remove"),
      replace: stringMap.optional().describe("The whole new label set (alone, not with set or remove); {} clears"),
    })
      .optional()
      .describe("Label changes: set and/or remove, or replace; at most 5 labels after the change"),
    env: strictInput({
      set: envMap.optional().describe("Variables to add or overwrite (the same names as box_create's env are refused)"),
      unset: z.array(z.string()).optional().describe("Variable names to remove"),
    })
      .optional()
      .describe("Env changes for commands started from now on: set and/or unset"),
    initCommand: z
      .string()
      .max(64 * 1024)
      .nullable()
      .optional()
      .describe('Shell command run in the background at every start of the box\'s container; null or "" removes it'),
    ttlSeconds: z.number().nullable().optional().describe(`${ttlDescription}. Counted from now; null removes the TTL`),
    attachHeaders: attachHeadersInput
      .nullable()
      .optional()
      .describe(
        "The box's whole new attachHeaders (see box_create), from its next connection on; null or {} removes them",
      ),
  },
  output: boxSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const { box: ref, ...changes } = args;
    const box = await s.boxes.update(ctx.tenant, ref, changes);
    const expiry = box.expiresAt ? `, expires at ${box.expiresAt}` : "";
    return { text: `updated box ${box.name} (${box.id})${expiry}`, structured: box };
  },
});
