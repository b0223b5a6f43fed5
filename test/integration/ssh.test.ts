// The SSH gateway with the real OpenSSH client: exec (exit codes, stderr apart), an interactive shell on a
// PTY, scp both ways (10 MiB, same bytes), sftp, -L forwarding to a web server in the box, a paused box
// woken by ssh, key sign-in, the host key pinned (and a wrong pin refused), sessions in the box log.

import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintOf } from "../../src/ssh/host-key.js";
import { localSshToken } from "../../src/ssh/local-token.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { makeKey, processesIn, SshClient } from "../helpers/ssh-client.js";
import { testRoot } from "../helpers/test-root.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** The gVisor leg (vitest.gvisor.config.ts) runs this file on gVisor boxes. */
const gvisor = process.env.BOXD_TEST_ISOLATION === "gvisor";

describe("ssh gateway", () => {
  let h: Harness;
  let ssh: SshClient;
  let token: string;
  let box: { id: string; name: string };

  let key: { file: string; publicKey: string };

  beforeAll(async () => {
    // The key and the keys file exist before the server starts (it reads the file at start).
    const keyDir = mkdtempSync(path.join(testRoot(), "sshkeys-"));
    key = makeKey(keyDir, "laptop");
    const keysFile = path.join(keyDir, "authorized_keys");
    writeFileSync(keysFile, `# boxd keys\ntenant="local" ${key.publicKey}\n`, { mode: 0o600 });
    h = await startHarness({ env: { BOXD_SSH_PORT: "0", BOXD_SSH_AUTHORIZED_KEYS: keysFile } });
    const port = h.app.ssh?.endpoint?.port;
    if (!port) throw new Error("the SSH gateway did not start");
    ssh = new SshClient({ port, dataDir: h.dataDir });
    token = localSshToken(h.dataDir);
    box = await h.createBox({ name: "sshbox" });
  }, 300_000);
  afterAll(async () => {
    ssh?.close();
    await h?.close();
  });

  it("runs commands: exit codes, stdout and stderr apart, by id and by name", async () => {
    const r = await ssh.ssh(box.id, token, ["echo out; echo err >&2; exit 7"]);
    expect(r.stderr).toBe("err\n");
    expect(r.stdout.toString()).toBe("out\n");
    expect(r.code).toBe(7);
    const byName = await ssh.ssh("sshbox", token, ["id -un; pwd"]);
    expect(byName.code).toBe(0);
    expect(byName.stdout.toString()).toBe("boxuser\n/workspace/home\n");
  });

  it("gives an interactive shell on a PTY: output, window size changes, Ctrl-C, exit status", async () => {
    const steps = [
      ["size", 30, 100],
      ["send", "echo hello-$((6*7))\n"],
      ["expect", "hello-42"],
      // gVisor passes the engine's terminal through without a /dev/pts entry in the box: `tty` names no
      // device there, but the shell is on a terminal all the same (README, "How gVisor boxes differ").
      ["send", gvisor ? "stty size; echo tty-$([ -t 0 ] && echo y)es\n" : "stty size; echo tty-$(tty | cut -c1-8)\n"],
      ["expect", gvisor ? "tty-yes" : "tty-/dev/pts"],
      ["size", 20, 50],
      ["send", "sleep 1; stty size\n"],
      ["expect", "20 50"],
      ["send", "sleep 300\n"],
      // Ctrl-C once the sleep runs (sent earlier, it would reach the shell, not the sleep).
      ["wait", 1500],
      ["send", "\u0003"],
      ["send", "echo after-$((1+1))\n"],
      ["expect", "after-2"],
      ["send", "exit 3\n"],
    ];
    const args = ssh.args({ password: token }, ["-tt", "-p", String(ssh.opts.port)]);
    const r = await runPty(steps, ["ssh", ...args, `${box.id}@127.0.0.1`], ssh.env());
    expect(r.output).toContain("hello-42");
    expect(r.output).toContain("30 100");
    expect(r.output).toContain("20 50");
    expect(r.output).toContain("after-2");
    expect(r.code, r.output).toBe(3);
    // The shell and its sleep are gone from the box.
    expect(await processesIn(h, box.id)).not.toContain("sleep 300");
  });

  it("copies 10 MiB up and down with scp (identical bytes) and lists with sftp (key sign-in)", async () => {
    const local = path.join(ssh.dir, "big.bin");
    const data = randomBytes(10 * 1024 * 1024);
    writeFileSync(local, data);
    const port = ["-P", String(ssh.opts.port)];
    const up = await ssh.run("scp", [...ssh.args({ password: token }, port), local, `${box.id}@127.0.0.1:big.bin`]);
    expect(up.code, up.stderr).toBe(0);
    const inBox = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "sha256sum big.bin" });
    expect(inBox.stdout.split(" ")[0]).toBe(sha(data));
    const back = path.join(ssh.dir, "back.bin");
    const down = await ssh.run("scp", [...ssh.args({ key: key.file }, port), `sshbox@127.0.0.1:big.bin`, back]);
    expect(down.code, down.stderr).toBe(0);
    expect(sha(readFileSync(back))).toBe(sha(data));
    const sftp = await ssh.run(
      "sftp",
      [...ssh.args({ key: key.file }, port), `${box.id}@127.0.0.1`],
      "cd /workspace/home\nls -l\npwd\n",
    );
    expect(sftp.code, sftp.stderr).toBe(0);
    expect(sftp.stdout.toString()).toMatch(/boxuser.*10485760.*big\.bin/);
    expect(sftp.stdout.toString()).toContain("Remote working directory: /workspace/home");
  });

  it("forwards a local port to a web server in the box (ssh -L)", async () => {
    const server = await h.callOk<{ runId: string }>("box_exec", {
      box: box.id,
      command:
        "mkdir -p site && echo served-from-box > site/index.html && cd site && python3 -m http.server 8080 --bind 0.0.0.0",
      background: true,
    });
    const localPort = await freePort();
    const args = ssh.args({ password: token }, [
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      "-p",
      String(ssh.opts.port),
      "-L",
      `${localPort}:localhost:8080`,
    ]);
    const child = spawn("ssh", [...args, `${box.id}@127.0.0.1`], { env: ssh.env(), stdio: "ignore" });
    try {
      const body = await retry(() => httpGet(localPort, "/index.html"), 60_000);
      expect(body).toContain("served-from-box");
    } finally {
      child.kill("SIGTERM");
      await h.callOk("box_run_kill", { box: box.id, runId: server.runId });
      await retry(async () => {
        const run = await h.callOk<{ status: string }>("box_run_get", { box: box.id, runId: server.runId });
        if (run.status === "running") throw new Error("the web server still runs");
      }, 30_000);
    }
  });

  it("wakes a paused box on connect, and logs the session in the box log", async () => {
    await h.callOk("box_pause", { box: box.id });
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).toBe("paused");
    const r = await ssh.ssh(box.id, token, ["echo awake"]);
    expect(r.stdout.toString()).toBe("awake\n");
    expect((await h.callOk<{ status: string }>("box_get", { box: box.id })).status).not.toBe("paused");
    const log = h.services.boxLog.text(box.id);
    expect(log).toContain("SSH session opened: tenant local (local token) from 127.0.0.1");
    expect(log).toContain("SSH exec: echo awake");
    expect(log).toMatch(/SSH session closed after \d+\.\d s/);
    expect(log).toContain('(key "laptop")');
  });

  it("keeps a box awake while a session is open (the idle timer waits for its end)", async () => {
    const sleepy = await h.createBox({ idleTimeoutSeconds: 2 });
    const status = async () => (await h.callOk<{ status: string }>("box_get", { box: sleepy.id })).status;
    // Nothing but the session keeps it awake: an SSH command is no box run.
    const session = ssh.ssh(sleepy.id, token, ["sleep 7; echo slept"]);
    await new Promise((r) => setTimeout(r, 5500));
    expect(await status()).not.toBe("paused");
    expect((await session).stdout.toString()).toBe("slept\n");
    await retry(async () => {
      if ((await status()) !== "paused") throw new Error("not paused yet");
    }, 30_000);
  });

  it("reports the host key fingerprint ssh-keygen prints; a client pinning another key refuses", async () => {
    const pub = path.join(ssh.dir, "host.pub");
    writeFileSync(pub, `${SshClient.hostPublicKey(h.dataDir)}\n`);
    const printed = execFileSync("ssh-keygen", ["-lf", pub]).toString();
    expect(printed).toContain(h.app.ssh?.endpoint?.fingerprint);
    expect(fingerprintOf(readFileSync(path.join(h.dataDir, "ssh_host_ed25519_key"), "utf8"))).toBe(
      h.app.ssh?.endpoint?.fingerprint,
    );
    const other = makeKey(ssh.dir, "impostor");
    ssh.pin(other.publicKey);
    try {
      const r = await ssh.ssh(box.id, token, ["echo should-not-run"]);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
      expect(r.stdout.toString()).toBe("");
    } finally {
      ssh.pin(SshClient.hostPublicKey(h.dataDir));
    }
  });
});

function runPty(
  steps: unknown[],
  cmd: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const script = path.resolve(import.meta.dirname, "../helpers/pty-drive.py");
  return new Promise((resolve) => {
    const child = spawn("python3", [script, JSON.stringify(steps), ...cmd], { env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port }, () => {
      sock.write(`GET ${urlPath} HTTP/1.0\r\nHost: localhost\r\n\r\n`);
    });
    let body = "";
    sock.on("data", (d) => {
      body += d.toString();
    });
    sock.on("end", () => (body.startsWith("HTTP/1.0 200") ? resolve(body) : reject(new Error(body || "empty reply"))));
    sock.on("error", reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error("no answer in 10 s")));
  });
}

async function retry<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
