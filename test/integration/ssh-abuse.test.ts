// The SSH gateway under bad input, with the real OpenSSH client: wrong password, unknown key, unknown box,
// another tenant's box (refused exactly like an unknown one), remote and agent forwarding, forwarding to
// another host and unsafe environment variables (refused, the session goes on), a client killed in the
// middle of an upload (nothing left running in the box), and brute force (the source is refused, clearly;
// another source still gets in).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localSshToken } from "../../src/ssh/local-token.js";
import { MAX_FAILURES } from "../../src/ssh/rate-limit.js";
import { attack } from "../helpers/abuse-tally.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { makeKey, processesIn, SshClient } from "../helpers/ssh-client.js";
import { testRoot } from "../helpers/test-root.js";

const FILE = "ssh";
const TENANT_A_TOKEN = "tenant-a-token-0123456789abcdef";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ssh gateway: bad input", () => {
  let h: Harness;
  let ssh: SshClient;
  let token: string;
  let mine: { id: string; name: string };
  let theirs: { id: string; name: string };
  let keyB: { file: string; publicKey: string };
  let stranger: { file: string; publicKey: string };

  beforeAll(async () => {
    const keyDir = mkdtempSync(path.join(testRoot(), "sshkeys-"));
    keyB = makeKey(keyDir, "tenant-b-key");
    stranger = makeKey(keyDir, "stranger");
    const keysFile = path.join(keyDir, "authorized_keys");
    writeFileSync(keysFile, `tenant="tenant-b" ${keyB.publicKey}\n`, { mode: 0o600 });
    h = await startHarness({
      env: {
        BOXD_SSH_PORT: "0",
        BOXD_SSH_AUTHORIZED_KEYS: keysFile,
        BOXD_TOKENS: `${TENANT_A_TOKEN}:tenant-a`,
        BOXD_MAX_DISK_BYTES: String(300 * 1024 * 1024),
        BOXD_DISK_CHECK_SECONDS: "1",
      },
    });
    const port = h.app.ssh?.endpoint?.port;
    if (!port) throw new Error("the SSH gateway did not start");
    ssh = new SshClient({ port, dataDir: h.dataDir });
    token = localSshToken(h.dataDir);
    mine = await h.createBox({ name: "mine" });
    theirs = await h.services.boxes.create("tenant-b", { name: "theirs" });
  }, 300_000);
  afterAll(async () => {
    ssh?.close();
    await h?.close();
  });

  const keySsh = (key: string, box: string, command: string[]) =>
    ssh.run("ssh", [...ssh.args({ key }, ["-p", String(ssh.opts.port)]), `${box}@127.0.0.1`, ...command]);
  const refused = (r: { code: number | null; stderr: string; stdout: Buffer }) => {
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Permission denied");
    expect(r.stdout.toString()).toBe("");
  };

  it("refuses a wrong password, an unknown key and an unknown box alike", async () => {
    await attack(FILE, "wrong password", async () => refused(await ssh.ssh(mine.id, "not-the-token-xyz", ["id"])));
    await attack(FILE, "unknown key", async () => refused(await keySsh(stranger.file, mine.id, ["id"])));
    await attack(FILE, "unknown box", async () => refused(await ssh.ssh("no-such-box", token, ["id"])));
    // The right credentials do get in (so the refusals above are about the credentials).
    expect((await ssh.ssh(mine.id, token, ["echo in"])).stdout.toString()).toBe("in\n");
  });

  it("refuses another tenant's box exactly like an unknown one", async () => {
    await attack(FILE, "another tenant's box by name and id", async () => {
      const byName = await ssh.ssh("theirs", token, ["id"]);
      const byId = await ssh.ssh(theirs.id, token, ["id"]);
      const unknown = await ssh.ssh("no-such-box", token, ["id"]);
      for (const r of [byName, byId]) refused(r);
      expect(byName.stderr).toBe(unknown.stderr.replace("no-such-box", "theirs"));
      refused(await ssh.ssh(mine.id, TENANT_A_TOKEN, ["id"]));
      refused(await keySsh(keyB.file, mine.id, ["id"]));
    });
    // Tenant b's key reaches tenant b's box; tenant a's token is a valid password for its own boxes only.
    const own = await keySsh(keyB.file, "theirs", ["echo theirs-ok"]);
    expect(own.stdout.toString()).toBe("theirs-ok\n");
    expect(h.services.boxLog.text(mine.id)).not.toContain("tenant tenant-b");
  });

  it("refuses remote and agent forwarding, other hosts and unsafe variables; the session goes on", async () => {
    await attack(FILE, "remote forwarding, agent forwarding, unsafe env", async () => {
      const r = await ssh.run(
        "ssh",
        [
          ...ssh.args({ password: token }, [
            "-p",
            String(ssh.opts.port),
            "-A",
            "-R",
            "0:127.0.0.1:9",
            "-o",
            "ExitOnForwardFailure=no",
            "-o",
            "SendEnv=BASH_ENV LC_PAPER BOXD_SECRET",
          ]),
          `${mine.id}@127.0.0.1`,
          'echo "agent=[$SSH_AUTH_SOCK] bashenv=[$BASH_ENV] paper=[$LC_PAPER] secret=[$BOXD_SECRET]"',
        ],
        undefined,
        { BASH_ENV: "/tmp/evil.sh", LC_PAPER: "en_GB.UTF-8", BOXD_SECRET: "s3cret" },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe("agent=[] bashenv=[] paper=[en_GB.UTF-8] secret=[]\n");
    });
    await attack(FILE, "forwarding to a host other than the box", async () => {
      const r = await ssh.run("ssh", [
        ...ssh.args({ password: token }, ["-p", String(ssh.opts.port), "-W", "198.51.100.7:80"]),
        `${mine.id}@127.0.0.1`,
      ]);
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/stdio forwarding failed|open failed|administratively prohibited/);
      expect(h.services.boxLog.text(mine.id)).toContain("SSH port forward to 198.51.100.7:80 refused");
    });
  });

  it("ends what a client started when it is killed in the middle of an upload", async () => {
    await attack(FILE, "client killed mid-transfer", async () => {
      const marker = `upload-${Date.now()}.bin`;
      const args = ssh.args({ password: token }, ["-p", String(ssh.opts.port)]);
      const child = spawn("ssh", [...args, `${mine.id}@127.0.0.1`, `dd of=${marker} bs=64k status=none`], {
        env: ssh.env(),
        stdio: ["pipe", "ignore", "ignore"],
      });
      child.stdin.on("error", () => {});
      const chunk = Buffer.alloc(256 * 1024, 7);
      const feed = setInterval(() => child.stdin.write(chunk), 20);
      try {
        // Wait until bytes arrive in the box, then kill the client without a goodbye.
        for (let i = 0; i < 150; i++) {
          const size = await h.callOk<{ stdout: string }>("box_exec", {
            box: mine.id,
            command: `stat -c %s ${marker} 2>/dev/null || echo 0`,
          });
          if (Number(size.stdout.trim()) > 1024 * 1024) break;
          await sleep(200);
        }
        expect(await processesIn(h, mine.id)).toContain(marker);
        child.kill("SIGKILL");
      } finally {
        clearInterval(feed);
      }
      let left = "";
      for (let i = 0; i < 100; i++) {
        left = (await processesIn(h, mine.id))
          .split("\n")
          .filter((l) => l.includes(marker))
          .join("\n");
        if (!left) break;
        await sleep(300);
      }
      expect(left).toBe("");
      await waitForLog(h, mine.id, /SSH session closed after/);
    });
  });

  it("ends SSH processes filling a box's disk and starts no more while it is over its allowance", async () => {
    await attack(FILE, "disk fill over ssh", async () => {
      const filler = await h.createBox({ name: "sshfiller" });
      const fill = await ssh.ssh(filler.id, token, [
        "for i in $(seq 1 100); do head -c 50000000 /dev/zero > f$i || break; done; echo finished",
      ]);
      expect(fill.stdout.toString()).not.toContain("finished");
      const used = await h.services.engine.containers.diskUsage(
        h.services.boxes.mustGet(filler.id).containerId as string,
      );
      expect(used).toBeLessThan(2 * 1024 ** 3);
      const again = await ssh.ssh(filler.id, token, ["echo more"]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("LIMIT_EXCEEDED");
      expect(again.stdout.toString()).toBe("");
      await h.callOk("box_delete", { box: filler.id });
    });
  });

  it("refuses a source after too many failed sign-ins, saying so; another source still gets in", async () => {
    await attack(FILE, "brute force", async () => {
      // Earlier tests' refusals count too (same source): at most MAX_FAILURES guesses reach the limit.
      let guesses = 0;
      for (; guesses < MAX_FAILURES; guesses++) {
        const r = await ssh.ssh(mine.id, `guess-${guesses}-aaaaaaaaaaaa`, ["id"]);
        expect(r.code).toBe(255);
        expect(r.stdout.toString()).toBe("");
        if (!r.stderr.includes("Permission denied")) break;
      }
      expect(guesses).toBeLessThan(MAX_FAILURES);
      const args = ssh.args({ password: token }, ["-p", String(ssh.opts.port)], "INFO");
      const blocked = await ssh.run("ssh", [...args, `${mine.id}@127.0.0.1`, "echo in"]);
      expect(blocked.code).toBe(255);
      expect(blocked.stderr).toContain("boxd: too many failed sign-ins from 127.0.0.1; try again in");
      expect(blocked.stdout.toString()).toBe("");
      // The gateway itself is fine: the same token from another loopback address gets in.
      const other = await ssh.ssh(mine.id, token, ["echo still-serving"], ["-b", "127.0.0.2"]);
      expect(other.stdout.toString(), other.stderr).toBe("still-serving\n");
    });
  });
  it("refuses to start on a port in use, saying what to change", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      // The start fails (and returns: the jobs started before it are stopped again) with a coded error.
      await expect(startHarness({ env: { BOXD_SSH_PORT: String(port) } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining(`cannot listen on 127.0.0.1:${port} (EADDRINUSE): set BOXD_SSH_PORT`),
      });
    } finally {
      blocker.close();
    }
  });

  // Last: it stops this server's gateway.
  it("ends every session's processes when the gateway stops", async () => {
    const marker = `stop-${Date.now()}`;
    // From another loopback address: the brute-force test above left 127.0.0.1 refused.
    const session = ssh.ssh(mine.id, token, [`sleep 600; echo ${marker}`], ["-b", "127.0.0.2"]);
    for (let i = 0; i < 100 && !(await processesIn(h, mine.id)).includes(marker); i++) await sleep(200);
    expect(await processesIn(h, mine.id)).toContain(marker);
    await h.app.ssh?.stop();
    const r = await session;
    expect(r.code).not.toBe(0);
    expect(await processesIn(h, mine.id)).not.toContain(marker);
  });
});

async function waitForLog(h: Harness, boxId: string, re: RegExp): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (re.test(h.services.boxLog.text(boxId))) return;
    await sleep(200);
  }
  throw new Error(`the box log never matched ${re}: ${h.services.boxLog.text(boxId)}`);
}
