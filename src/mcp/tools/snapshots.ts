// Snapshot tools: box_snapshot, box_snapshot_list, box_snapshot_delete.
import { z } from "zod";
import type { ToolServices } from "../../services.js";
import { SNAPSHOT_STATUSES } from "../../state/snapshot-store.js";
import { defineTool } from "../define-tool.js";
import { boxRef, moreLine, nextCursorOutput, pageInput } from "../schemas.js";

const snapshotSchema = {
  id: z.string(),
  name: z.string(),
  boxId: z.string(),
  runtime: z.string(),
  sizeBytes: z.number(),
  status: z.enum(SNAPSHOT_STATUSES),
  createdAt: z.string(),
  reason: z.string().optional().describe("Why the snapshot is in error"),
};

export const boxSnapshot = defineTool({
  name: "box_snapshot",
  title: "Snapshot a box",
  description:
    "Capture the box's whole filesystem as a snapshot (the box is frozen for the moment of capture; a paused box works too). " +
    "Start new boxes from it with box_create { fromSnapshot }.",
  input: {
    box: boxRef,
    name: z.string().optional().describe("Unique snapshot name (a-z 0-9 . _ -); default derived from its id"),
  },
  output: snapshotSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    ctx.progress("capturing the box's filesystem");
    const snap = await s.snapshots.create(ctx.tenant, args.box, args.name);
    return { text: `snapshot ${snap.name} (${snap.id}) ${snap.status}, ${snap.sizeBytes} bytes`, structured: snap };
  },
});

export const boxSnapshotList = defineTool({
  name: "box_snapshot_list",
  title: "List snapshots",
  description: "List your snapshots, oldest first, optionally only those of one box (also of a deleted box).",
  input: { box: boxRef.optional(), ...pageInput(100) },
  output: { snapshots: z.array(z.object(snapshotSchema)), nextCursor: nextCursorOutput },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const page = s.snapshots.page(ctx.tenant, args.box, { limit: args.limit ?? 100, cursor: args.cursor });
    const snapshots = page.items;
    const text = snapshots.length
      ? snapshots.map((x) => `${x.name} (${x.id}) of ${x.boxId} ${x.status}`).join("\n")
      : "no snapshots";
    return { text: text + moreLine(page.nextCursor), structured: { snapshots, nextCursor: page.nextCursor } };
  },
});

export const boxSnapshotDelete = defineTool({
  name: "box_snapshot_delete",
  title: "Delete a snapshot",
  description: "Delete a snapshot. Boxes already started from it keep working.",
  input: { snapshot: z.string().min(1).describe("The snapshot's id (snap_…) or name") },
  output: { id: z.string(), deleted: z.literal(true) },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const res = await s.snapshots.delete(ctx.tenant, args.snapshot);
    return { text: `deleted snapshot ${res.id}`, structured: res };
  },
});

export const snapshotTools = [boxSnapshot, boxSnapshotList, boxSnapshotDelete];
