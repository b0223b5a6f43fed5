// The state database locked by another process, and its disk full: coded errors, nothing half-made, and
// everything works again once the cause is gone.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";

describe("storage faults", () => {
  let tried = 0;
  let survived = 0;
  afterEach((ctx) => {
    tried++;
    if (ctx.task.result?.state !== "fail") survived++;
  });
  afterAll(() => {
    process.stderr.write(`[storage faults] ${tried} cases tried, ${survived} survived, ${tried - survived} lost\n`);
  });

  it("answers TIMEOUT while the database is locked, then recovers", async () => {
    const h = await startHarness();
    try {
      const box = await h.createBox({ name: "before-lock" });
      const other = new Database(path.join(h.dataDir, "boxd.db"));
      other.exec("BEGIN EXCLUSIVE");
      try {
        const err = await h.callErr("box_create", { name: "during-lock" });
        expect(err.code).toBe("TIMEOUT");
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
      const containers = await h.services.engine.containers.list({
        "boxd.instance": h.app.instanceId,
        "boxd.kind": "box",
      });
      expect(containers).toHaveLength(1);
      expect((await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "echo fine" })).stdout).toBe(
        "fine\n",
      );
      await h.createBox({ name: "after-lock" });
    } finally {
      await h.close();
    }
  });

  it("answers LIMIT_EXCEEDED when the data dir's disk is full, loses nothing, recovers when space is freed", async () => {
    const mount = mkdtempSync(path.join(testRoot(), "tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]);
    const h = await startHarness({ dataDir: mount, keepData: true });
    try {
      const box = await h.createBox({ name: "on-small-disk" });
      await h.callOk("box_exec", { box: box.id, command: "echo precious > p.txt" });
      const filler = path.join(mount, "filler");
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=64k", "count=200"], { stdio: "ignore" });
      } catch {
        // dd stops with "No space left on device": that is the point
      }
      const err = await h.callErr("box_create", { name: "no-room" });
      expect(["LIMIT_EXCEEDED", "INTERNAL"]).toContain(err.code);
      const containers = await h.services.engine.containers.list({
        "boxd.instance": h.app.instanceId,
        "boxd.kind": "box",
      });
      expect(containers).toHaveLength(1);
      writeFileSync(filler, "");
      rmSync(filler);
      const r = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat p.txt" });
      expect(r.stdout).toBe("precious\n");
      await h.createBox({ name: "room-again" });
    } finally {
      await h.close();
      execFileSync("umount", [mount]);
      rmSync(mount, { recursive: true, force: true });
    }
  });
});
