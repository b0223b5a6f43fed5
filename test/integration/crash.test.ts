// kill -9 of a real `boxd serve` process mid-work, then a new server on the same data dir: nothing lost,
// nothing stuck, nothing left behind.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { DockerEngine } from "../../src/docker/engine.js";
import { silentLogger } from "../../src/log.js";
import { startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";

const CLI = path.resolve(import.meta.dirname, "../../dist/cli.js");

async function spawnServer(dataDir: string) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve"],
    env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_LOG_LEVEL: "error" } as Record<string, string>,
    stderr: "ignore",
  });
  const client = new Client({ name: "crash-test", version: "0" });
  await client.connect(transport);
  const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
  const instance = (db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string }).value;
  db.close();
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", instance), dataDir);
  const kill9 = () => {
    process.kill(transport.pid as number, "SIGKILL");
  };
  return { client, kill9, instance };
}

describe("kill -9 of the server", () => {
  it("keeps boxes, files and timers; interrupted runs and snapshots end in a clear state", async () => {
    const dataDir = mkdtempSync(path.join(testRoot(), "crash-"));
    const { client, kill9, instance } = await spawnServer(dataDir);
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      if (r.isError) throw new Error(JSON.stringify(r.content));
      return r.structuredContent as Record<string, unknown>;
    };
    const box = await call("box_create", { name: "survivor", idleTimeoutSeconds: 3600 });
    await call("box_write_file", { box: "survivor", path: "data/keep.txt", content: "precious" });
    const bg = await call("box_exec", { box: "survivor", command: "sleep 300", background: true });
    const pausedBox = await call("box_create", { name: "napper", idleTimeoutSeconds: 3600 });
    await call("box_pause", { box: "napper" });
    // A snapshot in flight when the server dies.
    const snapshotCall = client
      .callTool({ name: "box_snapshot", arguments: { box: "survivor", name: "inflight" } })
      .catch(() => null);
    await new Promise((r) => setTimeout(r, 30));
    kill9();
    await snapshotCall;
    // Its network helper goes too: the engine ends the helper's stdin when the dead server's attach goes.
    const engine = new DockerEngine(silentLogger);
    const helperLeft = () => engine.containers.list({ "boxd.instance": instance, "boxd.kind": "netd" });
    for (let i = 0; i < 100 && (await helperLeft()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await helperLeft()).toEqual([]);

    const h = await startHarness({ dataDir });
    try {
      const got = await h.callOk<{ status: string }>("box_get", { box: box.id as string });
      expect(got.status).toBe("idle");
      expect((await h.callOk<{ status: string }>("box_get", { box: pausedBox.id as string })).status).toBe("paused");
      const read = await h.callOk<{ content: string }>("box_read_file", { box: "survivor", path: "data/keep.txt" });
      expect(read.content).toBe("precious");
      const run = await h.callOk<{ status: string; reason: string }>("box_run_get", {
        box: "survivor",
        runId: bg.runId as string,
      });
      expect(run.status).toBe("failed");
      expect(run.reason).toMatch(/interrupted/);
      const snaps = await h.callOk<{ snapshots: { name: string; status: string }[] }>("box_snapshot_list", {});
      for (const s of snaps.snapshots) expect(["ready", "error"]).toContain(s.status);
      const r = await h.callOk<{ stdout: string; resumed: boolean }>("box_exec", {
        box: "napper",
        command: "echo awake",
      });
      expect(r).toMatchObject({ stdout: "awake\n", resumed: true });
    } finally {
      await h.close();
    }
  });
});

describe("kill -9 mid-operation", () => {
  it("leaves a consistent state after dying during create, upload and pause", async () => {
    let tried = 0;
    let survived = 0;
    for (const op of ["create", "upload", "pause"] as const) {
      for (const delayMs of [5, 60, 250]) {
        tried++;
        const dataDir = mkdtempSync(path.join(testRoot(), `crash-${op}-`));
        const { client, kill9 } = await spawnServer(dataDir);
        const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });
        await call("box_create", { name: "base", idleTimeoutSeconds: 3600 });
        await call("box_write_file", { box: "base", path: "old.txt", content: "old" });
        const big = Buffer.alloc(4 * 1024 * 1024, 7).toString("base64");
        const inflight =
          op === "create"
            ? call("box_create", { name: "half" })
            : op === "upload"
              ? call("box_write_file", { box: "base", path: "old.txt", content: big, encoding: "base64" })
              : call("box_pause", { box: "base" });
        inflight.catch(() => null);
        await new Promise((r) => setTimeout(r, delayMs));
        kill9();
        await inflight.catch(() => null);

        const h = await startHarness({ dataDir });
        try {
          const boxes = await h.callOk<{ boxes: { name: string; status: string }[] }>("box_list", {});
          for (const b of boxes.boxes) expect(["idle", "paused"]).toContain(b.status);
          // Nothing orphaned: every container of this instance belongs to a listed box.
          const containers = await h.services.engine.containers.list({
            "boxd.instance": h.app.instanceId,
            "boxd.kind": "box",
          });
          expect(containers.length).toBe(boxes.boxes.length);
          // The file is either the old one or the whole new one, never torn.
          const read = await h.callOk<{ bytes: number }>("box_read_file", {
            box: "base",
            path: "old.txt",
            encoding: "base64",
          });
          expect([3, 4 * 1024 * 1024]).toContain(read.bytes);
          const r = await h.callOk<{ stdout: string }>("box_exec", { box: "base", command: "echo ok" });
          expect(r.stdout).toBe("ok\n");
          if (boxes.boxes.some((b) => b.name === "half")) {
            expect((await h.callOk<{ stdout: string }>("box_exec", { box: "half", command: "echo ok" })).stdout).toBe(
              "ok\n",
            );
          }
          survived++;
        } finally {
          await h.close();
        }
      }
    }
    process.stderr.write(
      `[crash] ${tried} kill -9 cases tried, ${survived} consistent after restart, ${tried - survived} lost\n`,
    );
    expect(survived).toBe(tried);
  }, 600_000);
});
