// Isolation tiers (issue 20): a gVisor box runs on gVisor's kernel (not the host's), works like a runc box
// for everyday tools (ls, stat, blocking socket reads: the gVisor shim), allows root only when made with root: true (apt-get
// install of a local package as root), and runc boxes refuse root every way. Snapshots move between tiers,
// forks keep the tier, and gVisor asked of an engine without it is a coded error that leaves nothing.
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

type Exec = { exitCode: number; stdout: string; stderr: string };

let h: Harness;
const run = (box: string, command: string, user?: "root") =>
  h.callOk<Exec>("box_exec", { box, command, ...(user ? { user } : {}) });

beforeAll(async () => {
  h = await startHarness({ env: { BOXD_ISOLATION: "runc" } });
});

afterAll(async () => {
  await h?.close();
});

describe("gVisor boxes", () => {
  let gv: string;

  beforeAll(async () => {
    const box = await h.createBox({ name: "gv", isolation: "gvisor" });
    expect(box).toMatchObject({ isolation: "gvisor", root: false });
    gv = box.id;
  });

  it("run on gVisor's kernel, not the host's", async () => {
    const r = await run(gv, "uname -r; dmesg 2>/dev/null | head -1 || true");
    const [kernel] = r.stdout.split("\n");
    expect(kernel).not.toBe(os.release());
    expect(r.stdout).toMatch(/gVisor/);
    const runc = await h.createBox({ name: "rc" });
    expect(runc).toMatchObject({ isolation: "runc", root: false });
    expect((await run(runc.id, "uname -r")).stdout.trim()).toBe(os.release());
  });

  it("run everyday tools: ls -l and stat work (the gVisor shim), files persist", async () => {
    const r = await run(gv, "echo hi > f.txt && ls -l f.txt && stat -c '%s %a' f.txt && cp f.txt g.txt && cat g.txt");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/boxuser boxuser 3 .* f\.txt\n3 644\nhi\n$/);
    const read = await h.callOk<{ content: string }>("box_read_file", { box: gv, path: "/workspace/home/f.txt" });
    expect(read.content).toBe("hi\n");
  });

  it("read and write blocking sockets before data is there (the shim's EAGAIN retry)", async () => {
    // A server in the box that answers only after a pause, and takes 20 MiB slowly: without the shim this
    // runsc answers the client's read()/write() with EAGAIN every time (checked by hand: 200 of 200).
    const server = [
      "import socket, threading, time",
      "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
      "s.bind(('127.0.0.1', 7000)); s.listen(8)",
      "def h(c):",
      "    d = c.recv(5); time.sleep(0.3); n = len(d)",
      "    if d == b'ping\\n': c.sendall(b'pong\\n'); c.close(); return",
      "    while True:",
      "        b = c.recv(65536)",
      "        if not b: break",
      "        n += len(b)",
      "    open('/tmp/got', 'w').write(str(n))",
      "while True:",
      "    c, _ = s.accept(); threading.Thread(target=h, args=(c,)).start()",
    ].join("\n");
    await h.callOk("box_write_file", { box: gv, path: "/tmp/slow.py", content: server });
    await run(gv, "setsid python3 /tmp/slow.py >/dev/null 2>&1 < /dev/null & sleep 1");
    const read = await run(gv, "exec 3<>/dev/tcp/127.0.0.1/7000; echo ping >&3; cat <&3; echo rc=$?");
    expect(read.stdout).toBe("pong\nrc=0\n");
    const write = await run(
      gv,
      "python3 -c \"import os,socket; s=socket.create_connection(('127.0.0.1',7000)); b=memoryview(b'x'*(20<<20)); t=0\n" +
        'while t < len(b): t += os.write(s.fileno(), b[t:])\nprint(t)"; sleep 1; cat /tmp/got',
    );
    expect(write.stdout).toBe(`${20 << 20}\n${20 << 20}`);
  });

  it("refuse root unless created with root: true", async () => {
    const err = await h.callErr("box_exec", { box: gv, command: "id -u", user: "root" });
    expect(err.code).toBe("POLICY_DENIED");
    expect(err.message).toContain("created without root: true");
  });

  it("with root: true, apt-get installs a package as root", async () => {
    const box = await h.createBox({ name: "gv-root", isolation: "gvisor", root: true });
    expect(box).toMatchObject({ isolation: "gvisor", root: true });
    // A package made in the box, so the install needs no network: apt-get resolves and installs it.
    const build = await run(
      box.id,
      [
        "mkdir -p pkg/DEBIAN pkg/usr/local/bin",
        "printf 'Package: boxd-hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\nDescription: test\\n' > pkg/DEBIAN/control",
        "printf '#!/bin/sh\\necho hello from a package\\n' > pkg/usr/local/bin/boxd-hello && chmod 755 pkg/usr/local/bin/boxd-hello",
        "dpkg-deb --root-owner-group --build pkg boxd-hello.deb >/dev/null",
      ].join(" && "),
    );
    expect(build.exitCode).toBe(0);
    const refused = await run(box.id, "apt-get install -y ./boxd-hello.deb 2>&1; echo rc=$?");
    expect(refused.stdout).toMatch(/rc=[1-9]/); // boxuser cannot install
    const installed = await run(box.id, "apt-get install -y /workspace/home/boxd-hello.deb 2>&1; echo rc=$?", "root");
    expect(installed.stdout).toMatch(/rc=0/);
    expect((await run(box.id, "boxd-hello; dpkg -s boxd-hello | grep Status")).stdout).toBe(
      "hello from a package\nStatus: install ok installed\n",
    );
    expect((await run(box.id, "id -u", "root")).stdout).toBe("0\n");
    // Root comes from box_exec user "root" only: every box keeps no-new-privileges (and this runsc sets
    // it on every process anyway), so no setuid binary grants it.
    const nnp = await run(box.id, `python3 -c "import ctypes; print(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"`);
    expect(nnp.stdout.trim()).toBe("1"); // PR_GET_NO_NEW_PRIVS
    // A root run is killed like any other (its kill runs as root too).
    const bg = await h.callOk<{ runId: string }>("box_exec", {
      box: box.id,
      command: "sleep 300",
      user: "root",
      background: true,
    });
    await h.callOk("box_run_kill", { box: box.id, runId: bg.runId });
    const killed = await h.callOk<{ status: string }>("box_run_get", {
      box: box.id,
      runId: bg.runId,
      wait: true,
      waitSeconds: 120,
    });
    expect(killed.status).not.toBe("running");
  });

  it("keep their tier through forks and snapshots, and snapshots move between tiers", async () => {
    const forks = await h.callOk<{ boxes: { id: string; isolation: string }[] }>("box_fork", { box: gv, count: 1 });
    expect(forks.boxes[0]?.isolation).toBe("gvisor");
    await run(gv, "echo across > across.txt");
    await h.callOk("box_snapshot", { box: gv, name: "gv-snap" });
    const asRunc = await h.createBox({ name: "from-gv", fromSnapshot: "gv-snap", isolation: "runc" });
    expect(asRunc.isolation).toBe("runc");
    expect((await run(asRunc.id, "cat across.txt; uname -r")).stdout).toBe(`across\n${os.release()}\n`);
    const runcBox = await h.createBox({ name: "rc-src" });
    await run(runcBox.id, "echo back > back.txt");
    await h.callOk("box_snapshot", { box: runcBox.id, name: "rc-snap" });
    const asGv = await h.createBox({ name: "from-rc", fromSnapshot: "rc-snap", isolation: "gvisor" });
    expect((await run(asGv.id, "cat back.txt; ls -l back.txt >/dev/null && echo listed")).stdout).toBe(
      "back\nlisted\n",
    );
  });

  it("cannot switch tiers once made", async () => {
    const err = await h.callErr("box_update", { box: gv, isolation: "runc" });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("unknown field `isolation`");
    expect((await h.callOk<{ isolation: string }>("box_get", { box: gv })).isolation).toBe("gvisor");
  });

  it("counts usage from the host side and pauses and wakes", async () => {
    await run(gv, "python3 -c 'sum(range(10000000))'");
    const before = await h.callOk<{ usage: { cpuNs: number } }>("box_get", { box: gv });
    expect(before.usage.cpuNs).toBeGreaterThan(50_000_000);
    await h.callOk("box_pause", { box: gv });
    const woke = await h.callOk<{ stdout: string; resumed: boolean }>("box_exec", { box: gv, command: "cat f.txt" });
    expect(woke).toMatchObject({ stdout: "hi\n", resumed: true });
  });
});

describe("runc boxes refuse root every way", () => {
  it("root: true and box_exec user root are refused", async () => {
    const err = await h.callErr("box_create", { name: "rc-root", root: true });
    expect(err.code).toBe("POLICY_DENIED");
    expect(err.message).toContain("isolation: gvisor");
    const box = await h.createBox({ name: "rc-plain" });
    const asRoot = await h.callErr("box_exec", { box: box.id, command: "id -u", user: "root" });
    expect(asRoot.code).toBe("POLICY_DENIED");
    expect(asRoot.message).toContain("runc box");
  });
});

describe("gVisor where the engine has none", () => {
  it("is INVALID_ARGUMENT saying how to enable it, and leaves nothing", async () => {
    const other = await startHarness({ env: { BOXD_GVISOR_RUNTIME: "no-such-runtime" } });
    try {
      const err = await other.callErr("box_create", { name: "nogv", isolation: "gvisor" });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain('no runtime "no-such-runtime"');
      expect(err.message).toContain("provision-engine.sh");
      const list = await other.callOk<{ boxes: unknown[] }>("box_list", {});
      expect(list.boxes).toEqual([]);
      const bad = await other.callErr("box_create", { isolation: "kata" });
      expect(bad.code).toBe("INVALID_ARGUMENT");
    } finally {
      await other.close();
    }
  });
});
