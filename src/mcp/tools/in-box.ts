// What every tool that works inside one box shares: resolve (and wake) the box, do the work on its
// container, and count the call as activity.
import type { Services } from "../../services.js";
import type { ToolContext } from "../define-tool.js";

/** Resolves the box, runs `work` on its container, and counts the call as activity (even when it failed). */
export async function inBox<T>(s: Services, ctx: ToolContext, ref: string, work: (containerId: string) => Promise<T>) {
  const box = await s.liveBox(ctx.tenant, ref);
  try {
    return { ...box, result: await work(box.containerId) };
  } finally {
    s.boxes.touch(box.boxId);
  }
}

/** The text-block suffix for a call that had to wake the box. */
export const resumedNote = (r: { resumed: boolean }) => (r.resumed ? " (box resumed)" : "");
