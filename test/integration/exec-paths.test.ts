// The two exec paths, resident executor and Docker exec, run the same command matrix in the same real
// box and must agree on everything a caller can see: exit codes, bytes on stdout and stderr, stdin, cwd,
// env, user, session, signal dispositions, limits, aborts and streaming. Containers without an executor
// (made by an older boxd) and requests the executor does not serve fall back to Docker exec.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerEngine } from "../../src/docker/engine.js";
import type { ExecRequest } from "../../src/docker/exec.js";
import { instanceLabels, LABEL_KIND } from "../../src/docker/labels.js";
import { silentLogger } from "../../src/log.js";
import { BOX_HOME, BOX_USER } from "../../src/model/box-user.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

interface Seen {
  exitCode: number | null;
  aborted: boolean;
  stdout: Buffer;
  stderr: string;
  chunks: number;
}

describe("exec paths: resident executor and docker exec", () => {
  let h: Harness;
  let box: BoxResult;
  let containerId: string;
  const fast = new DockerEngine(silentLogger, { fastExec: true });
  const slow = new DockerEngine(silentLogger, { fastExec: false });

  async function run(engine: DockerEngine, req: Partial<ExecRequest> & { cmd: string[] }): Promise<Seen> {
    const out: Buffer[] = [];
    let stderr = "";
    const res = await engine.execs.run({
      containerId,
      user: BOX_USER,
      ...req,
      onStdout: (c) => {
        out.push(c);
      },
      onStderr: (c) => {
        stderr += c.toString("utf8");
      },
    });
    return { ...res, stdout: Buffer.concat(out), stderr, chunks: out.length };
  }
  const sh = (script: string, extra: Partial<ExecRequest> = {}) => ({ cmd: ["/bin/bash", "-c", script], ...extra });
  /** Runs on both paths and returns [fast, slow] without the chunk count (which differs by design). */
  async function both(req: Partial<ExecRequest> & { cmd: string[] }) {
    const norm = ({ exitCode, aborted, stdout, stderr }: Seen) => ({
      exitCode,
      aborted,
      stdout: stdout.toString("latin1"),
      stderr,
    });
    return [norm(await run(fast, req)), norm(await run(slow, req))] as const;
  }

  beforeAll(async () => {
    h = await startHarness();
    box = await h.createBox({ name: "exec-paths", env: { BOX_VAR: "from-box" } });
    containerId = h.services.boxes.mustGet(box.id).containerId as string;
  });
  afterAll(async () => {
    fast.execs.close();
    await h?.close();
  });

  it("the fast path really runs through the executor, the slow one through docker exec", async () => {
    const parent = sh('tr "\\0" " " < /proc/$PPID/cmdline');
    const f = await run(fast, parent);
    const s = await run(slow, parent);
    expect(f.stdout.toString()).toContain("boxd-executor");
    expect(s.stdout.toString()).not.toContain("boxd-executor");
    expect(await fast.execs.resident?.tryRun({ containerId, user: BOX_USER, cmd: ["true"] })).toEqual({
      exitCode: 0,
      aborted: false,
    });
    expect(slow.execs.resident).toBeNull();
  });

  it("box processes cannot reach the executor's stdin or stdout through /proc (it is not dumpable)", async () => {
    const r = await run(
      fast,
      sh(
        'p=$(pgrep -x python3 -o); echo pid=$p; echo "{}" > /proc/$p/fd/0 && echo WROTE; ls /proc/$p/fd && echo LISTED',
      ),
    );
    if (process.env.BOXD_TEST_ISOLATION === "gvisor") {
      // gVisor lists another user's fd numbers, but opening them is refused like under runc.
      expect(r.stdout.toString()).not.toContain("WROTE");
      const read = await run(fast, sh("p=$(pgrep -x python3 -o); timeout 2 cat /proc/$p/fd/1 </dev/null; echo rc=$?"));
      expect(read.stdout.toString()).toBe("rc=1\n");
      expect(read.stderr.toString()).toContain("Permission denied");
    } else {
      expect(r.stdout.toString()).toMatch(/^pid=\d+\n$/);
    }
    expect(r.stderr).toContain("Permission denied");
  });

  it("agrees on exit codes, including signals, missing and non-executable commands", async () => {
    for (const req of [
      sh("exit 0"),
      sh("echo out; echo err >&2; exit 7"),
      sh("kill -TERM $$"),
      sh("kill -KILL $$"),
      { cmd: ["no-such-command-here"] },
      { cmd: ["/etc/hostname"] },
    ]) {
      const [f, s] = await both(req);
      expect(f.exitCode, JSON.stringify(req.cmd)).toBe(s.exitCode);
      if (req.cmd[0] === "/bin/bash") expect(f).toEqual(s);
      else {
        // A command that cannot start: 126 on both; each names it (Docker on stdout, the executor on stderr).
        expect(f.exitCode).toBe(126);
        expect(f.stdout + f.stderr).toContain(req.cmd[0]);
        expect(s.stdout + s.stderr).toContain(req.cmd[0]);
      }
    }
    const [term] = await both(sh("kill -TERM $$"));
    expect(term.exitCode).toBe(143);
  });

  it("agrees on the process's environment, identity and limits", async () => {
    const probe = sh(
      [
        "env | grep -v '^_=' | sort",
        "id; umask; pwd",
        "ulimit -a",
        "grep -E '^(SigIgn|SigBlk|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Groups)' /proc/self/status",
        // own session and process group, as boxd-kill and the file tools' group kill rely on
        "ps -o sid=,pgid= -p $$ | awk -v p=$$ '{print ($1==p) ($2==p)}'",
        "[ -t 0 ] && echo tty || echo notty",
      ].join("; "),
      { env: ["EXTRA=x1", "BOX_VAR=overridden"] },
    );
    const [f, s] = await both(probe);
    expect(f).toEqual(s);
    expect(f.exitCode).toBe(0);
    expect(f.stdout).toContain("EXTRA=x1");
    expect(f.stdout).toContain("BOX_VAR=overridden");
    expect(f.stdout).toContain(`HOME=${BOX_HOME}`);
    expect(f.stdout).toContain("uid=1000");
    expect(f.stdout).toContain("\n11\n");
  });

  it("agrees on cwd, stdin bytes, empty stdin and large binary output", async () => {
    const stdin = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    for (const req of [
      sh("pwd", { workingDir: "/tmp" }),
      sh("pwd"),
      sh("cd /nonexistent"),
      sh("sha256sum; wc -c", { stdin }),
      sh("cat; echo end", { stdin: Buffer.alloc(0) }),
      sh("head -c 3000000 /dev/urandom | tee /tmp/big | sha256sum >&2; cat /tmp/big"),
    ]) {
      const [f, s] = await both(req);
      expect(f.exitCode).toBe(s.exitCode);
      if (req.cmd[2]?.includes("urandom")) {
        // random bytes differ per run: each path's stdout must match the digest it printed itself
        for (const r of [f, s]) {
          expect(createHash("sha256").update(Buffer.from(r.stdout, "latin1")).digest("hex")).toBe(
            r.stderr.split(" ")[0],
          );
          expect(r.stdout.length).toBe(3_000_000);
        }
      } else {
        expect(f).toEqual(s);
      }
    }
    const [piped] = await both(sh("sha256sum", { stdin }));
    expect(piped.stdout.split(" ")[0]).toBe(createHash("sha256").update(stdin).digest("hex"));
  });

  it("streams output as it is produced and stops reading on abort without waiting for the process", async () => {
    for (const engine of [fast, slow]) {
      const seen: number[] = [];
      const started = Date.now();
      const res = await engine.execs.run({
        containerId,
        user: BOX_USER,
        cmd: ["/bin/bash", "-c", "for i in 1 2 3; do echo $i; sleep 0.3; done"],
        onStdout: () => {
          seen.push(Date.now() - started);
        },
      });
      expect(res.exitCode).toBe(0);
      expect(seen.length).toBeGreaterThanOrEqual(2); // not one lump at the end
      expect(seen.at(-1)! - seen[0]!).toBeGreaterThan(300);

      const stop = new AbortController();
      setTimeout(() => stop.abort(), 300);
      const t0 = Date.now();
      const aborted = await engine.execs.run({
        containerId,
        user: BOX_USER,
        cmd: ["/bin/bash", "-c", "echo $$ > /tmp/abort-pid; sleep 30"],
        signal: stop.signal,
      });
      expect(aborted).toMatchObject({ aborted: true, exitCode: null });
      expect(Date.now() - t0).toBeLessThan(10_000);
      // the process is left running on both paths (callers end it with boxd-kill)
      const alive = await run(engine, sh('kill -0 "$(cat /tmp/abort-pid)" && echo alive; pkill -f "sleep 30"; true'));
      expect(alive.stdout.toString()).toBe("alive\n");
    }
  });

  it("runs concurrent commands on one connection without mixing their output", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => run(fast, sh(`for j in $(seq 1 500); do echo ${i}-$j; done; exit ${i}`))),
    );
    results.forEach((r, i) => {
      expect(r.exitCode).toBe(i);
      const lines = r.stdout.toString().trim().split("\n");
      expect(lines.length).toBe(500);
      expect(lines.every((l) => l.startsWith(`${i}-`))).toBe(true);
    });
  });

  it("uses docker exec for a container without an executor, another user, and streamed stdin", async () => {
    // A container as an older boxd made them: `sleep infinity` as the main process.
    const old = await h.services.engine.containers.create({
      name: `boxd-${h.app.instanceId}-old-style`,
      image: h.services.boxes.mustGet(box.id).image,
      labels: instanceLabels(h.app.instanceId, { [LABEL_KIND]: "box" }),
      env: [],
      user: BOX_USER,
      workingDir: BOX_HOME,
      hostname: "old-style",
      cmd: ["sleep", "infinity"],
      limits: { nanoCpus: 1e9, memoryBytes: 256 * 1024 ** 2, pids: 64 },
    });
    try {
      await h.services.engine.containers.start(old);
      expect(await fast.execs.resident?.tryRun({ containerId: old, user: BOX_USER, cmd: ["true"] })).toBeNull();
      const res = await fast.execs.run({
        containerId: old,
        user: BOX_USER,
        cmd: ["/bin/bash", "-c", "echo hi; exit 3"],
        onStdout: (c) => expect(c.toString()).toBe("hi\n"),
      });
      expect(res.exitCode).toBe(3);
    } finally {
      await h.services.engine.containers.remove(old);
    }
    expect(await fast.execs.resident?.tryRun({ containerId, user: "0:0", cmd: ["true"] })).toBeNull();
    const { Readable } = await import("node:stream");
    expect(
      await fast.execs.resident?.tryRun({ containerId, user: BOX_USER, cmd: ["cat"], stdin: Readable.from(["x"]) }),
    ).toBeNull();
    expect(await fast.execs.resident?.tryRun({ containerId, user: BOX_USER, cmd: ["true"], bulk: true })).toBeNull();
  });

  it("a bulk stream waits while its consumer is full: the box's writer blocks instead of the server buffering", async () => {
    const total = 64 * 1024 * 1024;
    let received = 0;
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let holding = true;
    const running = slow.execs.run({
      containerId,
      user: BOX_USER,
      cmd: ["/bin/bash", "-c", `head -c ${total} /dev/zero; echo done >&2`],
      bulk: true,
      onStdout: (c) => {
        received += c.length;
        return holding ? held : undefined;
      },
      onStderr: () => {},
    });
    await new Promise((r) => setTimeout(r, 1500));
    // Socket and pipe buffers hold a few MiB at most; without the wait all 64 MiB arrive in well under this.
    const whileHeld = received;
    expect(whileHeld).toBeLessThan(16 * 1024 * 1024);
    holding = false;
    release();
    const res = await running;
    expect(res.exitCode).toBe(0);
    expect(received).toBe(total);
  });

  it("reconnects after the box restarts, and a command cut off by the stop ends without an exit code", async () => {
    const long = run(fast, sh("sleep 60"));
    await new Promise((r) => setTimeout(r, 300));
    await h.services.engine.containers.stop(containerId, 0);
    expect((await long).exitCode).toBeNull();
    await h.services.engine.containers.start(containerId);
    const again = await run(fast, sh('tr "\\0" " " < /proc/$PPID/cmdline; echo; echo ok'));
    expect(again.stdout.toString()).toContain("boxd-executor");
    expect(again.stdout.toString()).toContain("ok");
  });

  it("a box whose executor died (its container stopped) wakes on the next call, files kept", async () => {
    await h.callOk("box_write_file", { box: box.id, path: "kept.txt", content: "still here" });
    // Box code cannot kill the executor (it runs as root); the OOM killer can. Stand in for it from outside.
    const tried = await run(slow, sh("kill -KILL $(pgrep -x -o python3) 2>&1; echo rc=$?"));
    expect(tried.stdout.toString()).toMatch(/Operation not permitted[\s\S]*rc=1/);
    await run(slow, { ...sh("kill -KILL $(pgrep -x -o python3)"), user: "0:0" });
    // boxd learns it from the engine's events: the box becomes a stopped pause, which the next call wakes.
    const until = Date.now() + 20_000;
    let status = "";
    while (Date.now() < until && status !== "paused") {
      status = (await h.callOk<{ status: string }>("box_get", { box: box.id })).status;
      if (status !== "paused") await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe("paused");
    const again = await h.callOk<{ stdout: string; exitCode: number; resumed: boolean }>("box_exec", {
      box: box.id,
      command: "cat kept.txt",
    });
    expect(again).toMatchObject({ exitCode: 0, stdout: "still here", resumed: true });
    const log = await h.callOk<{ entries: { message: string }[] }>("box_logs", { box: box.id, limit: 100 });
    expect(log.entries.some((e) => e.message.includes("stopped on its own"))).toBe(true);
  });

  it("falls back to docker exec when the executor stops answering (box code cannot stop it)", async () => {
    // Last: after this the fast engine waits 10 s before it tries the executor again.
    expect((await run(fast, sh("true"))).exitCode).toBe(0); // its connection is open
    const refused = await run(slow, sh("kill -STOP $(pgrep -x -o python3) 2>&1; echo rc=$?"));
    expect(refused.stdout.toString()).toMatch(/Operation not permitted[\s\S]*rc=1/);
    // A wedged executor, stood in for by a stop from outside the box user.
    const stopped = await run(slow, { ...sh("kill -STOP $(pgrep -x -o python3) && echo stopped"), user: "0:0" });
    expect(stopped.stdout.toString()).toBe("stopped\n");
    try {
      const cut = await run(fast, sh("echo never seen"));
      expect(cut).toMatchObject({ exitCode: null, aborted: false });
      expect(cut.stdout.toString()).toBe("");
      const via = await run(fast, sh('tr "\\0" " " < /proc/$PPID/cmdline; echo; echo ok'));
      expect(via.exitCode).toBe(0);
      expect(via.stdout.toString()).not.toContain("boxd-executor");
      expect(via.stdout.toString()).toContain("ok");
    } finally {
      await run(slow, { ...sh("kill -CONT $(pgrep -x -o python3)"), user: "0:0" });
    }
  });
});
