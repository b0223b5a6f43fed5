// The Docker engine restarted under running and paused boxes, and down when calls arrive: calls answer
// ENGINE_UNAVAILABLE meanwhile, the server keeps serving, and once the engine is back everything is
// reconciled (containers started again, firewall rules in place), with no box or file lost.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startHarness } from "../helpers/harness.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopEngine(): void {
  const pidFile = "/var/run/docker.pid";
  if (!existsSync(pidFile)) throw new Error("dockerd pid file not found: these tests restart the local engine");
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  process.kill(pid, "SIGTERM");
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    spawnSync("sleep", ["0.2"]);
  }
  throw new Error("dockerd did not stop");
}

function startEngine(): void {
  execFileSync("bash", [path.join(ROOT, "tools/provision-engine.sh")], { stdio: "inherit" });
}

describe("engine faults", () => {
  let tried = 0;
  let survived = 0;
  afterEach((ctx) => {
    tried++;
    if (ctx.task.result?.state !== "fail") survived++;
  });
  afterAll(() => {
    process.stderr.write(`[engine faults] ${tried} cases tried, ${survived} survived, ${tried - survived} lost\n`);
  });

  it("survives an engine restart: ENGINE_UNAVAILABLE while down, everything back after", async () => {
    const h = await startHarness({ env: { BOXD_LIFECYCLE_TICK_MS: "200" } });
    try {
      const running = await h.createBox({ name: "runner", idleTimeoutSeconds: 3600 });
      await h.callOk("box_write_file", { box: running.id, path: "keep.txt", content: "kept" });
      const paused = await h.createBox({ name: "napper", idleTimeoutSeconds: 3600 });
      await h.callOk("box_write_file", { box: paused.id, path: "nap.txt", content: "zzz" });
      await h.callOk("box_pause", { box: paused.id });

      stopEngine();
      try {
        // Calls that need the engine say so with the contract's code; calls that don't still work.
        const down = await h.callErr("box_exec", { box: running.id, command: "true" });
        expect(down.code).toBe("ENGINE_UNAVAILABLE");
        expect(down.message).toMatch(/doctor|provision/);
        const listed = await h.callOk<{ boxes: unknown[] }>("box_list", {});
        expect(listed.boxes).toHaveLength(2);
      } finally {
        startEngine();
      }

      // Back: the watcher reconciles (the restart stopped every container) without a server restart.
      const until = Date.now() + 90_000;
      let out = "";
      while (Date.now() < until) {
        const r = await h.call("box_exec", { box: running.id, command: "cat keep.txt" });
        if (!r.isError) {
          out = (r.structuredContent as { stdout: string }).stdout;
          break;
        }
        await sleep(500);
      }
      expect(out).toBe("kept");
      const woke = await h.callOk<{ stdout: string; resumed: boolean }>("box_exec", {
        box: paused.id,
        command: "cat nap.txt",
      });
      expect(woke).toMatchObject({ stdout: "zzz", resumed: true });
      const rules = await h.services.network.instanceRules();
      expect(rules.some((l) => l.includes(running.id.slice(4)))).toBe(true);
      expect(execFileSync("iptables", ["-S", "DOCKER-USER"], { encoding: "utf8" })).toContain(
        `BOXD-F-${h.app.instanceId}`,
      );
    } finally {
      await h.close();
    }
  });

  it("starts while the engine is down and serves once it is back", async () => {
    stopEngine();
    let h: Awaited<ReturnType<typeof startHarness>> | null = null;
    try {
      h = await startHarness();
      const err = await h.callErr("box_create", {});
      expect(err.code).toBe("ENGINE_UNAVAILABLE");
    } finally {
      startEngine();
    }
    try {
      const until = Date.now() + 60_000;
      let created = false;
      while (!created && Date.now() < until) {
        created = !(await h.call("box_create", { name: "late" })).isError;
        if (!created) await sleep(500);
      }
      expect(created).toBe(true);
      expect((await h.callOk<{ stdout: string }>("box_exec", { box: "late", command: "echo up" })).stdout).toBe("up\n");
    } finally {
      await h.close();
    }
  });
});
