// Hostile code inside a box: each case in its own box while a bystander box keeps working and the server
// keeps answering. Every case is an `attack` in the suite's abuse summary (tried, contained, lost: the
// global teardown prints it, with the cases of the security-*.test.ts files).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerEngine } from "../../src/docker/engine.js";
import { silentLogger } from "../../src/log.js";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FILE = "abuse";
/** The gVisor leg (vitest.gvisor.config.ts): where gVisor contains a case differently, both ways are checked. */
const gvisor = process.env.BOXD_TEST_ISOLATION === "gvisor";
/** A test that is one attack: counted as tried, and as contained when its assertions hold. */
const itAttack = (name: string, body: () => Promise<void>) => it(name, () => attack(FILE, name, body));

interface Exec {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
  runId: string;
}

describe("abuse from inside a box", () => {
  let h: Harness;
  let bystander: BoxResult;
  const sh = (box: string, command: string, timeoutSeconds = 60) =>
    h.callOk<Exec>("box_exec", { box, command, timeoutSeconds });

  /** After each case: the bystander still works, the server still answers, the box is still usable. */
  async function survived(box: string): Promise<void> {
    const b = await sh(bystander.id, "echo alive");
    expect(b.stdout).toBe("alive\n");
    await h.callOk("box_list", {});
    const again = await usable(box, "echo usable");
    expect(again.stdout).toBe("usable\n");
  }

  /**
   * A command in a box that may just have died as a whole: a gVisor box's sandbox ends when box code
   * exhausts the host limits it runs under (its threads, its memory), and a call in the second before boxd
   * notices is a CONFLICT ("not running"), or a run the sandbox's end cut off (exit code null); the next
   * starts the box again. runc boxes answer at once.
   */
  async function usable(box: string, command: string): Promise<Exec> {
    for (let i = 0; ; i++) {
      const r = await h.call("box_exec", { box, command, timeoutSeconds: 60 });
      const cutOff = gvisor && (r.structuredContent as { exitCode?: number | null } | undefined)?.exitCode === null;
      if (!r.isError && !cutOff) return r.structuredContent as unknown as Exec;
      if (i >= 3 || !gvisor) throw new Error(`box_exec failed: ${JSON.stringify(r.structuredContent)}`);
      await new Promise((res) => setTimeout(res, 1500));
    }
  }

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_MAX_DISK_BYTES: String(300 * 1024 * 1024), BOXD_DISK_CHECK_SECONDS: "1" } });
    bystander = await h.createBox({ name: "bystander" });
    await h.callOk("box_exec", {
      box: bystander.id,
      command: "while true; do echo tick >> /tmp/ticks; sleep 0.2; done",
      background: true,
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  itAttack("fork bomb: the pids limit holds, and the box is freed by a restart of its container", async () => {
    const box = await h.createBox({ name: "forkbomb" });
    await h.callOk("box_write_file", { box: box.id, path: "kept.txt", content: "still here" });
    await h.call("box_exec", {
      box: box.id,
      command: "bash -c ':(){ :|:& };:' 2>/dev/null; sleep 3; echo done",
      timeoutSeconds: 20,
    });
    if (gvisor) {
      // The bomb's tasks are gVisor's, all in one sandbox process under the box's pids cgroup: when it
      // runs out of threads the sandbox ends as a whole (host and other boxes untouched), boxd sees the
      // container stop on its own, and the next call starts it again with its files.
      const r = await usable(box.id, "cat kept.txt");
      expect(r.stdout, JSON.stringify(r)).toBe("still here");
      const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 1000 });
      expect(log.entries.some((e) => /stopped on its own|container restarted/.test(e.message))).toBe(true);
      await survived(box.id);
      return;
    }
    // The bomb outlives its command and holds the box's process table at its limit (its processes retry
    // their forks, so a slot comes free now and then: a small command may still slip through). A command
    // that needs a few processes fails to fork; boxd notices (the box is at its pids limit), restarts the
    // container and says so; from then on it works.
    await sh(box.id, "for i in $(seq 1 32); do sleep 0.1 & done; wait");
    const want = "512\nstill here";
    const probe = () => sh(box.id, "cat /sys/fs/cgroup/pids/pids.max; cat kept.txt");
    let r = await probe();
    for (let i = 0; i < 3 && r.stdout !== want; i++) r = await probe();
    expect(r.stdout).toBe(want);
    const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 1000 });
    expect(log.entries.some((e) => e.message.includes("container restarted"))).toBe(true);
    await survived(box.id);
  });

  itAttack("memory bomb: the process is OOM-killed, the run reports it, the box survives", async () => {
    const box = await h.createBox({ name: "membomb" });
    // More than a small box's 4 GiB (so the kernel kills it inside the box's cgroup), well under the host's.
    const r = await h.call("box_exec", {
      box: box.id,
      command: "python3 -c 'x = bytearray(5 * 1024**3)'; echo rc=$?",
      timeoutSeconds: 60,
    });
    // runc: the kernel kills the process in the box's cgroup. gVisor: the sandbox holds all of the box's
    // memory, so the OOM killer may end the sandbox itself (the run then ends without an exit code).
    const out = (r.structuredContent as Exec | undefined)?.stdout ?? "";
    if (gvisor) expect(out === "" || /rc=(137|1)/.test(out)).toBe(true);
    else expect(out).toMatch(/rc=(137|1)/);
    await survived(box.id);
  });

  itAttack("CPU burn: the box gets at most its CPU limit", async () => {
    const box = await h.createBox({ name: "burner" });
    await h.callOk("box_exec", {
      box: box.id,
      command: "for i in 1 2 3 4; do (while :; do :; done) & done; wait",
      background: true,
    });
    // CPU time over 2 s of wall time, from the box's own cgroup accounting: at most its CPUs (small: 2,
    // capped at the host's), as box_get reports them.
    const { limits } = await h.callOk<{ limits: { cpus: number } }>("box_get", { box: box.id });
    // Read from the host side (box_get's usage is the box's cgroup): a gVisor box cannot see its cgroup.
    const cpuNs = async () => (await h.callOk<{ usage: { cpuNs: number } }>("box_get", { box: box.id })).usage.cpuNs;
    const a = await cpuNs();
    const t0 = Date.now();
    await new Promise((res) => setTimeout(res, 2000));
    const used = (await cpuNs()) - a;
    expect(used / 1e6).toBeLessThan(limits.cpus * (Date.now() - t0) * 1.3);
    // The quota is what holds it (on a host with no more cores than the box's CPUs, the sum above cannot
    // exceed the limit anyway): the container's CPU limit is exactly its CPUs.
    const engine = new DockerEngine(silentLogger);
    const state = await engine.containers.inspect(h.services.boxes.mustGet(box.id).containerId as string);
    expect((state?.hostConfig.nanoCpus ?? 0) / 1e9).toBe(limits.cpus);
    expect((await sh(bystander.id, "echo alive")).stdout).toBe("alive\n");
    await h.callOk("box_delete", { box: box.id });
  });

  itAttack("output flood: server memory stays bounded, the run keeps a bounded record", async () => {
    const box = await h.createBox({ name: "flood" });
    const before = process.memoryUsage().rss;
    const r = await sh(box.id, "head -c 300000000 /dev/zero | tr '\\0' x", 120);
    const grown = process.memoryUsage().rss - before;
    expect(r.truncated).toBe(true);
    expect(grown).toBeLessThan(200 * 1024 * 1024);
    await survived(box.id);
  });

  itAttack("kernel and host interfaces: no mount, sysrq, kcore, docker socket, raw sockets, setuid root", async () => {
    const box = await h.createBox({ name: "prober" });
    const probes = [
      "mount -t tmpfs none /mnt",
      "echo b > /proc/sysrq-trigger",
      "head -c 1 /proc/kcore",
      "test -S /var/run/docker.sock || test -S /run/docker.sock && echo socket",
      "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)'",
      "su -c id root </dev/null",
      "chown root /workspace/home",
    ];
    for (const p of probes) {
      const r = await sh(box.id, `( ${p} ) >/dev/null 2>&1; echo rc=$?`);
      expect(r.stdout, p).toMatch(/rc=[1-9]/);
    }
    // no-new-privileges: a setuid binary gains nothing.
    const id = await sh(
      box.id,
      "cp /bin/id /tmp/id; chmod u+s /tmp/id; /tmp/id -u; ls -l /usr/bin/passwd | cut -c1-10; passwd -S boxuser 2>&1 | head -1",
    );
    expect(id.stdout.split("\n")[0]).toBe("1000");
    await survived(box.id);
  });

  itAttack(
    "disk fill: growth is stopped at the box's allowance and new runs are refused until space is freed",
    async () => {
      const box = await h.createBox({ name: "filler" });
      const fill = await h.callOk<{ runId: string }>("box_exec", {
        box: box.id,
        command: "for i in $(seq 1 100); do head -c 50000000 /dev/zero > /workspace/home/f$i || break; done",
        background: true,
      });
      const run = await h.callOk<{ status: string }>("box_run_get", {
        box: box.id,
        runId: fill.runId,
        wait: true,
        waitSeconds: 120,
      });
      expect(run.status).not.toBe("running");
      const used = await h.services.engine.containers.diskUsage(h.services.boxes.mustGet(box.id).containerId as string);
      expect(used).toBeLessThan(2 * 1024 ** 3);
      const refused = await h.callErr("box_exec", { box: box.id, command: "echo more" });
      expect(refused.code).toBe("LIMIT_EXCEEDED");
      // The operator's allowance overrides the size's, and box_get shows the guard's measurement.
      const got = await h.callOk<{ limits: { diskBytes: number }; usage: { diskUsedBytes?: number } }>("box_get", {
        box: box.id,
      });
      expect(got.limits.diskBytes).toBe(300 * 1024 * 1024);
      expect(got.usage.diskUsedBytes).toBeGreaterThan(300 * 1024 * 1024);
      // Files can still be listed and deleted; then runs work again.
      const files = await h.callOk<{ entries: { name: string }[] }>("box_list_files", {
        box: box.id,
        path: "/workspace/home",
      });
      for (const f of files.entries.filter((e) => /^f\d+$/.test(e.name))) {
        await h.callOk("box_delete_file", { box: box.id, path: `/workspace/home/${f.name}` });
      }
      await new Promise((r) => setTimeout(r, 3000));
      await survived(box.id);
    },
  );
});
