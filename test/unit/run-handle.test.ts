// A run handle without Docker: a fake exec feeds it output and an end, and each way a run can end comes
// back as its one tagged result (and as the record and the agent's settle hook see it).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ExecRequest, ExecResult } from "../../src/docker/exec.js";
import { BoxdError } from "../../src/errors.js";
import type { RunRecord } from "../../src/model/box.js";
import {
  OUT_OF_PROCESSES_REASON,
  RunHandle,
  type RunHandleDeps,
  type RunResult,
  runEnd,
} from "../../src/shell/run-handle.js";
import { newRunRecord } from "../../src/shell/run-types.js";

const RS = "\u001e";

/** An exec the test drives: it sees the request, then ends when the test says so (or when aborted). */
function fakeExec() {
  let req: ExecRequest | undefined;
  let end: (r: ExecResult | Error) => void = () => {};
  const run = (r: ExecRequest) =>
    new Promise<ExecResult>((resolve, reject) => {
      req = r;
      end = (x) => (x instanceof Error ? reject(x) : resolve(x));
      r.signal?.addEventListener("abort", () => resolve({ exitCode: null, aborted: true }));
    });
  return {
    run,
    out: (s: string) => req?.onStdout?.(Buffer.from(s, "latin1")),
    err: (s: string) => req?.onStderr?.(Buffer.from(s, "latin1")),
    end: (x: ExecResult | Error) => end(x),
  };
}

function handleWith(over: Partial<RunHandleDeps> = {}, timeoutSeconds = 0) {
  const exec = fakeExec();
  const ended: RunResult[] = [];
  const signals: string[] = [];
  const deps: RunHandleDeps = {
    execs: { run: exec.run },
    maxRunOutputBytes: 1024,
    signal: async (h) => {
      signals.push(h.record.id);
    },
    processCount: async () => ({ pids: 10, pidsLimit: 512 }),
    closing: () => false,
    onEnd: (_h, r) => ended.push(r),
    ...over,
  };
  const record: RunRecord = newRunRecord("box1", "command", "echo hi");
  const seen: string[] = [];
  const handle = new RunHandle(deps, {
    record,
    source: "user",
    request: { containerId: "c1", cmd: ["boxd-run"], user: "1000:1000" },
    cwd: "/nowhere",
    timeoutSeconds,
    onOutput: (stream, text) => seen.push(`${stream}:${text}`),
  });
  return { exec, handle, ended, signals, seen };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("run handle", () => {
  it("ends in exited with the usage trailer taken off stderr, recorded before wait() resolves", async () => {
    const { exec, handle, ended, seen } = handleWith();
    exec.out("hi\n");
    exec.err(`warn\n${RS}boxd-usage 0.10 0.25 0.25 2048\n`);
    exec.end({ exitCode: 0, aborted: false });
    const result = await handle.wait();
    expect(result).toEqual({ kind: "exited", exitCode: 0, usage: { cpuNs: 500_000_000, memoryPeakBytes: 2097152 } });
    expect(ended).toEqual([result]);
    expect(handle.stderr.toBuffer().toString()).toBe("warn\n");
    expect(seen).toEqual(["stdout:hi\n", "stderr:warn\n"]);
    expect(runEnd(result, handle.cwd)).toEqual({ exitCode: 0, timedOut: false, cancelled: false, error: null });
  });

  it("says bad-cwd when boxd-run could not enter the cwd", async () => {
    const { exec, handle } = handleWith();
    exec.err(`${RS}boxd-error cwd\n`);
    exec.end({ exitCode: 2, aborted: false });
    const result = await handle.wait();
    expect(result.kind).toBe("bad-cwd");
    expect(runEnd(result, handle.cwd).error).toBe('cwd "/nowhere" does not exist in the box');
  });

  it("says start-failed with the coded error when the exec itself fails", async () => {
    const { exec, handle } = handleWith();
    exec.end(new Error("engine gone"));
    const result = await handle.wait();
    expect(result.kind).toBe("start-failed");
    if (result.kind !== "start-failed") return;
    expect(result.error).toBeInstanceOf(BoxdError);
    expect(result.reason).toBe("engine gone");
    expect(runEnd(result, handle.cwd)).toMatchObject({ exitCode: null, error: "engine gone" });
  });

  it("ends a run at its timeout through the service's signal, and a kill makes it cancelled", async () => {
    const timed = handleWith({}, 0.02);
    await vi.waitFor(() => expect(timed.signals).toHaveLength(1));
    timed.exec.end({ exitCode: 137, aborted: false });
    expect(await timed.handle.wait()).toMatchObject({ kind: "timed-out", exitCode: 137 });

    const killed = handleWith();
    await killed.handle.kill();
    killed.exec.end({ exitCode: 137, aborted: false });
    const result = await killed.handle.wait();
    expect(result).toMatchObject({ kind: "cancelled", timedOut: false });
    expect(runEnd(result, undefined)).toMatchObject({ cancelled: true, timedOut: false, error: null });
  });

  it("restarts a box out of processes; a run that never started says could-not-start", async () => {
    const restarted: string[] = [];
    const full = {
      processCount: async () => ({ pids: 510, pidsLimit: 512 }),
      restartBox: async (id: string) => {
        restarted.push(id);
      },
    };
    const never = handleWith(full);
    never.exec.end({ exitCode: 126, aborted: false, couldNotStart: true });
    expect((await never.handle.wait()).kind).toBe("could-not-start");

    const ran = handleWith(full);
    ran.exec.err("bash: fork: Resource temporarily unavailable\n");
    ran.exec.err(`${RS}boxd-usage 1 0 0 10\n`);
    ran.exec.end({ exitCode: 254, aborted: false });
    const result = await ran.handle.wait();
    expect(result).toMatchObject({ kind: "out-of-processes", cwdMissing: false });
    expect(runEnd(result, undefined).error).toBe(OUT_OF_PROCESSES_REASON);
    expect(restarted).toEqual(["box1", "box1"]);

    // Words alone do not restart a box whose process count is fine, nor does anything while the server closes.
    const words = handleWith();
    words.exec.err("Resource temporarily unavailable\n");
    words.exec.end({ exitCode: 1, aborted: false });
    expect((await words.handle.wait()).kind).toBe("exited");
    const closing = handleWith({ ...full, closing: () => true });
    closing.exec.end({ exitCode: 126, aborted: false, couldNotStart: true });
    expect((await closing.handle.wait()).kind).toBe("exited");
  });

  it("stops reading 10 s after a trailer if the streams stay open; more output cancels that", async () => {
    vi.useFakeTimers();
    const { exec, handle } = handleWith();
    exec.err(`${RS}boxd-usage 0 0 0 1\n`);
    await vi.advanceTimersByTimeAsync(5_000);
    exec.out("more\n"); // stdout leaves a stderr trailer standing; more stderr voids it
    exec.err("and more\n");
    await vi.advanceTimersByTimeAsync(9_000);
    let settled = false;
    void handle.wait().then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    exec.err(`${RS}boxd-usage 0 0 0 1\n`);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await handle.wait()).toEqual({ kind: "exited", exitCode: null, usage: { cpuNs: 0, memoryPeakBytes: 1024 } });
    expect(handle.stderr.toBuffer().toString("latin1")).toBe(`${RS}boxd-usage 0 0 0 1\nand more\n`);
  });

  it("detach() stops reading without a kill", async () => {
    const { handle, signals } = handleWith();
    handle.detach();
    expect(await handle.wait()).toMatchObject({ kind: "exited", exitCode: null });
    expect(signals).toEqual([]);
  });
});
