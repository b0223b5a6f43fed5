// The warm pool: box_create claims a pre-made running box (its executor's connection already open),
// personalised exactly like a fresh one; the pool refills itself and leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

const PROBE =
  "id -un; pwd; echo \"$FOO\"; grep NoNewPrivs /proc/self/status | tr -d '\\t'; cat /sys/fs/cgroup/pids/pids.max";

describe("warm pool", () => {
  let h: Harness;
  const pooled = () =>
    h.services.boxes.listAll().filter((b) => b.status === "pooled" && b.runtime === "node" && b.size === "small");

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_POOL: "node:small:2" } });
    await h.services.pool.settled();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("keeps running boxes ready, hidden from clients, their executors idle", async () => {
    expect(pooled()).toHaveLength(2);
    for (const b of pooled()) {
      const state = await h.services.engine.containers.inspect(b.containerId as string);
      expect(state).toMatchObject({ running: true, paused: false });
      // Nothing runs in a pooled box: every process but this probe's own sleeps.
      let out = "";
      await h.services.engine.execs.run({
        containerId: b.containerId as string,
        cmd: ["sh", "-c", "cat /proc/[0-9]*/stat"],
        user: "0:0",
        onStdout: (c) => {
          out += c.toString();
        },
      });
      const states = out
        .trim()
        .split("\n")
        .filter((l) => !/ \((cat|sh)\) /.test(l))
        .map((l) => l.slice(l.lastIndexOf(")") + 2, l.lastIndexOf(")") + 3));
      expect(states.length, out).toBeGreaterThan(0);
      expect(
        states.every((st) => st === "S"),
        out,
      ).toBe(true);
    }
    expect((await h.callOk<{ boxes: unknown[] }>("box_list", {})).boxes).toHaveLength(0);
  });

  it("claims one on create, personalised like a fresh box, and refills", async () => {
    const ready = pooled().map((b) => b.id);
    const box = await h.createBox({
      name: "warm",
      env: { FOO: "bar" },
      labels: { team: "x" },
      networkPolicy: { mode: "deny-all" },
    });
    expect(ready).toContain(box.id);
    expect(box).toMatchObject({
      name: "warm",
      status: "idle",
      runtime: "node",
      labels: { team: "x" },
      envKeys: ["FOO"],
    });
    expect((box.networkPolicy as { mode: string }).mode).toBe("deny-all");

    // Same semantics as a box made from scratch (medium is not pooled).
    const fresh = await h.createBox({ name: "cold", size: "medium", env: { FOO: "bar" } });
    expect(ready).not.toContain(fresh.id);
    const a = await h.callOk<{ stdout: string }>("box_exec", { box: "warm", command: PROBE });
    const b = await h.callOk<{ stdout: string }>("box_exec", { box: "cold", command: PROBE });
    expect(a.stdout.split("\n").slice(0, 4)).toEqual(b.stdout.split("\n").slice(0, 4));
    expect(a.stdout).toContain("boxuser\n/workspace/home\nbar\nNoNewPrivs:1");

    // Its policy is in force: deny-all rules, nothing accepted.
    const rules = (await h.services.network.instanceRules()).filter(
      (l) => l.includes(box.id.slice(4)) && l.startsWith("-A BF"),
    );
    expect(rules.some((l) => l.includes("REJECT"))).toBe(true);
    expect(rules.some((l) => l.includes("ACCEPT"))).toBe(false);

    await h.services.pool.settled();
    expect(pooled()).toHaveLength(2);
    expect(pooled().map((p) => p.id)).not.toContain(box.id);
  });

  it("removes every pooled box when it stops", async () => {
    const ids = pooled().map((b) => b.containerId as string);
    await h.services.pool.stop();
    expect(pooled()).toHaveLength(0);
    for (const id of ids) expect(await h.services.engine.containers.inspect(id)).toBeNull();
  });
});
