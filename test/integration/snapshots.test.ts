// Snapshots: capture, start several boxes from one, independence, deletion, and bad input.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

interface Snap {
  id: string;
  name: string;
  boxId: string;
  status: string;
  sizeBytes: number;
}

describe("snapshots", () => {
  let h: Harness;
  const exec = (box: string, command: string) =>
    h.callOk<{ stdout: string; exitCode: number }>("box_exec", { box, command });

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("starts two boxes from one snapshot; they see its files and diverge; the source is untouched", async () => {
    const src = await h.createBox({ name: "source", runtime: "python", idleTimeoutSeconds: 3600 });
    await exec(src.id, "mkdir -p app && echo v1 > app/version && pip --version > /dev/null");
    const snap = await h.callOk<Snap>("box_snapshot", { box: src.id, name: "v1" });
    expect(snap).toMatchObject({ name: "v1", boxId: src.id, status: "ready" });
    expect(snap.sizeBytes).toBeGreaterThan(0);

    const a = await h.createBox({ name: "clone-a", fromSnapshot: "v1" });
    const b = await h.createBox({ name: "clone-b", fromSnapshot: snap.id });
    expect(a).toMatchObject({ runtime: "python", fromSnapshot: snap.id });
    expect((await exec(a.id, "cat app/version; id -un")).stdout).toBe("v1\nboxuser\n");
    await exec(a.id, "echo a > app/version");
    await exec(b.id, "echo b > app/version");
    await exec(src.id, "echo src > app/version");
    expect((await exec(a.id, "cat app/version")).stdout).toBe("a\n");
    expect((await exec(b.id, "cat app/version")).stdout).toBe("b\n");

    const listed = await h.callOk<{ snapshots: Snap[] }>("box_snapshot_list", { box: src.id });
    expect(listed.snapshots.map((s) => s.id)).toEqual([snap.id]);

    // Deleting the source keeps its snapshot; deleting the snapshot keeps boxes made from it working.
    await h.callOk("box_delete", { box: src.id });
    expect((await h.callOk<{ snapshots: Snap[] }>("box_snapshot_list", {})).snapshots.map((s) => s.id)).toContain(
      snap.id,
    );
    expect(await h.callOk("box_snapshot_delete", { snapshot: "v1" })).toEqual({ id: snap.id, deleted: true });
    expect((await exec(a.id, "cat app/version")).stdout).toBe("a\n");
    expect(await h.services.engine.images.inspect(`boxd/snapshot-${h.app.instanceId}:${snap.id.slice(5)}`)).toBeNull();
  });

  it("snapshots a paused box and leaves it paused", async () => {
    const box = await h.createBox({ name: "frozen-src", idleTimeoutSeconds: 3600 });
    await exec(box.id, "echo cold > cold.txt");
    await h.callOk("box_pause", { box: box.id });
    const snap = await h.callOk<Snap>("box_snapshot", { box: box.id });
    expect(snap.status).toBe("ready");
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).toBe("paused");
    const copy = await h.createBox({ fromSnapshot: snap.id });
    expect((await exec(copy.id, "cat cold.txt")).stdout).toBe("cold\n");
  });

  it("answers bad input with coded errors", async () => {
    expect((await h.callErr("box_create", { fromSnapshot: "nope" })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_snapshot", { box: "ghost" })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_snapshot_delete", { snapshot: "snap_000000000000" })).code).toBe("NOT_FOUND");
    const box = await h.createBox({ name: "dup-src" });
    await h.callOk("box_snapshot", { box: box.id, name: "same" });
    expect((await h.callErr("box_snapshot", { box: box.id, name: "same" })).code).toBe("ALREADY_EXISTS");
    expect((await h.callErr("box_create", { fromSnapshot: "same", runtime: "rust" })).code).toBe("INVALID_ARGUMENT");
    await h.callOk("box_delete", { box: box.id });
    expect((await h.callErr("box_snapshot", { box: box.id })).code).toBe("NOT_FOUND");
  });
});
