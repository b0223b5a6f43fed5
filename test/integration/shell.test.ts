// box_exec, box_run_code and runs through a real MCP client against real boxes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

interface ExecResult {
  runId: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  truncated: boolean;
  timedOut: boolean;
  status?: string;
}

describe("shell", () => {
  let h: Harness;
  let box: BoxResult;
  const exec = (args: Record<string, unknown>) => h.callOk<ExecResult>("box_exec", { box: box.id, ...args });

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_MAX_OUTPUT_BYTES: "4096" } });
    box = await h.createBox({ name: "shell", env: { GREETING: "hello" } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("returns exit code, stdout and stderr separately; a non-zero exit is a result", async () => {
    const r = await exec({ command: "echo out; echo err >&2; exit 7" });
    expect(r).toMatchObject({ exitCode: 7, stdout: "out\n", stderr: "err\n", timedOut: false, truncated: false });
    expect(r.runId).toMatch(/^run_/);
    const ok = await exec({ command: "true" });
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toBe("");
  });

  it("passes stdin, cwd and env; box env is seen by every command", async () => {
    const r = await exec({
      command: "cat; echo; pwd; echo $GREETING $EXTRA",
      stdin: "piped text",
      cwd: "/tmp",
      env: { EXTRA: "x1" },
    });
    expect(r.stdout).toBe("piped text\n/tmp\nhello x1\n");
    const bad = await h.callErr("box_exec", { box: box.id, command: "pwd", cwd: "/does/not/exist" });
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toContain("/does/not/exist");
  });

  it("keeps output whole across many chunks and marks truncation beyond the inline cap", async () => {
    const r = await exec({ command: "seq 1 200000" });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(4096);
    const full = await h.callOk<{ stdout: string }>("box_run_get", { box: box.id, runId: r.runId });
    expect(full.stdout.split("\n").length).toBe(200001);
    expect(full.stdout.endsWith("199999\n200000\n")).toBe(true);
    // A run that writes a lot to both streams at once, then exits: nothing lost at the end.
    const both = await exec({ command: "for i in $(seq 1 300); do echo o$i; echo e$i >&2; done" });
    expect(both.stdout.trim().split("\n").at(-1)).toBe("o300");
    expect(both.stderr.trim().split("\n").at(-1)).toBe("e300");
  });

  it("a run is the executor's own child (it does boxd-run's work); over Docker exec boxd-run still wraps it", async () => {
    // The executor starts the run's bash itself: its parent is the executor, not GNU time in boxd-run.
    const parent = "tr '\\0' ' ' < /proc/$PPID/cmdline; echo";
    const fast = await exec({ command: `${parent}; ls /tmp/.boxd-runs; exit 4` });
    expect(fast).toMatchObject({ exitCode: 4, stderr: "" });
    expect(fast.stdout).toMatch(new RegExp(`^\\S*python3 .*/boxd-executor \\n${fast.runId}\\.pid\\n$`));
    // Its pid file (boxd-kill's) is gone once it ended: only the listing run's own is there.
    const left = await exec({ command: "ls -A /tmp/.boxd-runs" });
    expect(left.stdout).toBe(`${left.runId}.pid\n`);
    const slow = await startHarness({ env: { BOXD_FAST_EXEC: "off" } });
    try {
      const other = await slow.createBox({ name: "shell-slow" });
      const r = await slow.callOk<ExecResult>("box_exec", { box: other.id, command: `${parent}; exit 4` });
      expect(r).toMatchObject({ exitCode: 4, stderr: "" });
      expect(r.stdout).toMatch(/^\/usr\/bin\/time -q -o \S+ -f /);
    } finally {
      await slow.close();
    }
  });

  it("ends a command at its timeout, with its whole process tree", async () => {
    const r = await exec({ command: "sleep 300 & sleep 301; echo never", timeoutSeconds: 1 });
    expect(r.timedOut).toBe(true);
    expect(r.stdout).not.toContain("never");
    const ps = await exec({ command: "ps -eo args | grep -c '^sleep 30[01]' || true" });
    expect(ps.stdout.trim()).toBe("0");
  });

  it("returns when the command exits even if it left a background process holding the output", async () => {
    const r = await exec({ command: "sleep 30 & echo started", timeoutSeconds: 20 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("started\n");
    expect(r.durationMs).toBeLessThan(15_000);
  });

  it("runs in the background, lists runs, waits for one and kills another with its children", async () => {
    const bg = await exec({ command: "sleep 1; echo done-bg", background: true });
    expect(bg.status).toBe("running");
    const got = await h.callOk<{ status: string; stdout: string; exitCode: number }>("box_run_get", {
      box: box.id,
      runId: bg.runId,
      wait: true,
    });
    expect(got).toMatchObject({ status: "completed", stdout: "done-bg\n", exitCode: 0 });

    const long = await exec({ command: "bash -c 'sleep 600' & sleep 600", background: true });
    const boxNow = await h.callOk<{ status: string }>("box_get", { box: box.id });
    expect(boxNow.status).toBe("running");
    const killed = await h.callOk<{ status: string }>("box_run_kill", { box: box.id, runId: long.runId });
    expect(killed.status).toBe("cancelled");
    const ps = await exec({ command: "ps -eo args | grep -c '^sleep 600' || true" });
    expect(ps.stdout.trim()).toBe("0");
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).toBe("idle");

    const runs = await h.callOk<{ runs: { id: string; type: string; status: string }[] }>("box_runs", {
      box: box.id,
      limit: 5,
    });
    expect(runs.runs[0]?.id).not.toBe(bg.runId); // newest first
    expect(runs.runs.map((r) => r.id)).toEqual(expect.arrayContaining([bg.runId, long.runId]));
    expect(runs.runs.every((r) => r.type === "command")).toBe(true);
    expect((await h.callErr("box_run_get", { box: box.id, runId: "run_nope" })).code).toBe("NOT_FOUND");
  });

  it("records CPU time and memory peak per run and adds them to the box", async () => {
    const before = await h.callOk<{ usage: { cpuNs: number; runs: number } }>("box_get", { box: box.id });
    const r = await exec({ command: "python3 -c 'b=bytearray(64*1024*1024); s=0\nfor i in range(3000000): s+=i'" });
    expect(r.exitCode).toBe(0);
    const run = await h.callOk<{ cpuNs: number; memoryPeakBytes: number }>("box_run_get", {
      box: box.id,
      runId: r.runId,
    });
    expect(run.cpuNs).toBeGreaterThan(50_000_000);
    expect(run.memoryPeakBytes).toBeGreaterThan(64 * 1024 * 1024);
    const after = await h.callOk<{ usage: { cpuNs: number; runs: number; memoryPeakBytes: number } }>("box_get", {
      box: box.id,
    });
    expect(after.usage.cpuNs - before.usage.cpuNs).toBeGreaterThanOrEqual(run.cpuNs);
    expect(after.usage.runs).toBeGreaterThan(before.usage.runs);
  });

  it("streams output as progress notifications when asked", async () => {
    const seen: string[] = [];
    const r = await h.callOk<ExecResult>(
      "box_exec",
      { box: box.id, command: "for i in 1 2 3; do echo tick$i; sleep 0.3; done" },
      { onProgress: (m) => seen.push(m) },
    );
    expect(r.exitCode).toBe(0);
    const joined = seen.join("");
    expect(joined).toContain("tick1");
    expect(joined).toContain("tick3");
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });

  it("runs code in js, ts and python", async () => {
    const js = await h.callOk<ExecResult>("box_run_code", {
      box: box.id,
      lang: "js",
      code: "console.log([1,2,3].map(x => x * 2).join(','))",
    });
    expect(js).toMatchObject({ exitCode: 0, stdout: "2,4,6\n" });
    const ts = await h.callOk<ExecResult>("box_run_code", {
      box: box.id,
      lang: "ts",
      code: "interface P { n: number }\nconst p: P = { n: 21 };\nconsole.log(p.n * 2);",
    });
    expect(ts).toMatchObject({ exitCode: 0, stdout: "42\n" });
    const py = await h.callOk<ExecResult>("box_run_code", {
      box: box.id,
      lang: "python",
      code: "import sys\nprint(sys.version_info[0])\nsys.exit(3)",
    });
    expect(py).toMatchObject({ exitCode: 3, stdout: "3\n" });
    expect((await h.callErr("box_run_code", { box: box.id, lang: "cobol", code: "x" })).code).toBe("INVALID_ARGUMENT");
  });

  it("types runs as the product does: box_exec command, box_run_code code, both listed by box_runs", async () => {
    const cmd = await exec({ command: "echo typed" });
    const code = await h.callOk<ExecResult>("box_run_code", { box: box.id, lang: "python", code: "print('typed')" });
    expect((await h.callOk<{ type: string }>("box_run_get", { box: box.id, runId: cmd.runId })).type).toBe("command");
    expect((await h.callOk<{ type: string }>("box_run_get", { box: box.id, runId: code.runId })).type).toBe("code");
    const runs = await h.callOk<{ runs: { id: string; type: string }[] }>("box_runs", { box: box.id, limit: 2 });
    expect(runs.runs).toEqual([
      expect.objectContaining({ id: code.runId, type: "code" }),
      expect.objectContaining({ id: cmd.runId, type: "command" }),
    ]);
  });

  it("refuses empty commands and unknown boxes with coded errors", async () => {
    expect((await h.callErr("box_exec", { box: box.id, command: "  " })).code).toBe("INVALID_ARGUMENT");
    expect((await h.callErr("box_exec", { box: "ghost", command: "true" })).code).toBe("NOT_FOUND");
    expect((await h.callErr("box_exec", { box: box.id })).code).toBe("INVALID_ARGUMENT");
  });
});
