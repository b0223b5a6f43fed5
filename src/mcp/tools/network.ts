// Network tool: box_set_network_policy.
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { boxRef, boxSchema, networkPolicySchema } from "../schemas.js";

export const boxSetNetworkPolicy = defineTool({
  name: "box_set_network_policy",
  title: "Change a box's network policy",
  description:
    "Change what the box may reach, at once and without recreating it (takes effect on its next connection). " +
    'Modes: allow-all (default), deny-all, or custom with allowedDomains (exact or "*.suffix"; HTTP/HTTPS on ports 80/443, every request checked; DNS answers only these names), ' +
    "allowedCidrs and deniedCidrs (deny wins). In every mode a box never reaches other boxes, this host's services on any of its addresses, private ranges or metadata addresses.",
  input: { box: boxRef, networkPolicy: networkPolicySchema },
  output: boxSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = await s.boxes.setNetworkPolicy(ctx.tenant, args.box, args.networkPolicy);
    const notes = box.notes?.length ? `\n${box.notes.join("\n")}` : "";
    return { text: `network policy of ${box.name} is now ${box.networkPolicy.mode}${notes}`, structured: box };
  },
});

export const networkTools = [boxSetNetworkPolicy];
