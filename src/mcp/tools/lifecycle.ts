// Lifecycle tools: box_pause, box_resume.
import type { ToolServices } from "../../services.js";
import { defineTool } from "../define-tool.js";
import { boxRef, boxSchema } from "../schemas.js";

export const boxPause = defineTool({
  name: "box_pause",
  title: "Pause a box",
  description:
    "Pause a box now: its processes are frozen (CPU freed at once, memory and files kept); after a long pause it is also stopped to free memory. " +
    "Any later call that needs the box wakes it. Boxes with keepAlive: true refuse (CONFLICT); so does a box with a run in progress.",
  input: { box: boxRef },
  output: boxSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = await s.lifecycle.pause(ctx.tenant, args.box);
    return { text: `paused ${box.name} (${box.id})`, structured: box };
  },
});

export const boxResume = defineTool({
  name: "box_resume",
  title: "Resume a box",
  description: "Wake a paused box (frozen or stopped) so it is ready at once. A box that is up is returned unchanged.",
  input: { box: boxRef },
  output: boxSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const { box, resumed } = await s.lifecycle.resume(ctx.tenant, args.box);
    return { text: `${resumed ? "resumed" : "already up:"} ${box.name} (${box.id})`, structured: box };
  },
});

export const lifecycleTools = [boxPause, boxResume];
