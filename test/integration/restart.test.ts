// A server restart keeps every box and file: a second server on the same data dir adopts them.
import { describe, expect, it } from "vitest";
import { startHarness } from "../helpers/harness.js";

describe("restart", () => {
  it("keeps boxes, files and run history across a server restart", async () => {
    const first = await startHarness({ keepData: true, keepBoxes: true });
    const dataDir = first.dataDir;
    const box = await first.createBox({ name: "durable", runtime: "python" });
    const w = await first.callOk<{ exitCode: number; runId: string }>("box_exec", {
      box: box.id,
      command: "mkdir -p proj && echo 'kept across restarts' > proj/note.txt && sha256sum proj/note.txt",
    });
    expect(w.exitCode).toBe(0);
    await first.close();

    const second = await startHarness({ dataDir });
    try {
      const again = await second.callOk<{ id: string; status: string; runtime: string }>("box_get", { box: "durable" });
      expect(again).toMatchObject({ id: box.id, status: "idle", runtime: "python" });
      const r = await second.callOk<{ stdout: string }>("box_exec", { box: "durable", command: "cat proj/note.txt" });
      expect(r.stdout).toBe("kept across restarts\n");
      const runs = await second.callOk<{ runs: { id: string }[] }>("box_runs", { box: "durable" });
      expect(runs.runs.map((x) => x.id)).toContain(w.runId);
    } finally {
      await second.close();
    }
  });

  it("marks a box whose container was removed behind its back as error, and removes orphans", async () => {
    const first = await startHarness({ keepData: true, keepBoxes: true });
    const box = await first.createBox({ name: "victim" });
    const containerId = first.services.boxes.mustGet(box.id).containerId as string;
    const dataDir = first.dataDir;
    await first.close();
    await first.services.engine.containers.remove(containerId);

    const second = await startHarness({ dataDir });
    try {
      const got = await second.callOk<{ status: string; statusReason?: string }>("box_get", { box: "victim" });
      expect(got.status).toBe("error");
      expect(got.statusReason).toMatch(/removed/);
      const err = await second.callErr("box_exec", { box: "victim", command: "true" });
      expect(err.code).toBe("CONFLICT");
      await second.callOk("box_delete", { box: "victim" });
      const nets = await second.services.engine.networks.list({ "boxd.box-id": box.id });
      expect(nets).toHaveLength(0);
    } finally {
      await second.close();
    }
  });
});
