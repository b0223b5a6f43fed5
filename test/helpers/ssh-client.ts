// The real OpenSSH client against a test's SSH gateway: a temp folder with an askpass script (password
// sign-in without a terminal: SSH_ASKPASS + SSH_ASKPASS_REQUIRE=force), a known_hosts file that pins the
// key the server reports (StrictHostKeyChecking=yes: a wrong key fails), and keys made by ssh-keygen.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";
import { testRoot } from "./test-root.js";

const { utils } = ssh2;

export interface SshResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface SshClientOptions {
  port: number;
  /** The gateway's data dir (its host key is pinned in known_hosts). */
  dataDir: string;
}

export class SshClient {
  readonly dir = mkdtempSync(path.join(testRoot(), "ssh-"));
  readonly knownHosts = path.join(this.dir, "known_hosts");
  private readonly askpass = path.join(this.dir, "askpass.sh");

  constructor(readonly opts: SshClientOptions) {
    this.pin(SshClient.hostPublicKey(opts.dataDir));
  }

  /** "ssh-ed25519 AAAA..." of the gateway's host key, read from its data dir. */
  static hostPublicKey(dataDir: string): string {
    const key = utils.parseKey(readFileSync(path.join(dataDir, "ssh_host_ed25519_key"), "utf8"));
    const parsed = Array.isArray(key) ? key[0] : key;
    if (!parsed || parsed instanceof Error) throw new Error("no host key");
    return `${parsed.type} ${parsed.getPublicSSH().toString("base64")}`;
  }

  /** Pins a host key for 127.0.0.1:port (replacing what was pinned). */
  pin(publicKey: string): void {
    writeFileSync(this.knownHosts, `[127.0.0.1]:${this.opts.port} ${publicKey}\n`);
  }

  /** Common options; `auth` picks the one sign-in method the client will try. */
  args(auth: { password: string } | { key: string }, extra: string[] = [], logLevel = "ERROR"): string[] {
    const common = [
      "-F",
      "/dev/null",
      "-o",
      `UserKnownHostsFile=${this.knownHosts}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "ConnectTimeout=30",
      "-o",
      "NumberOfPasswordPrompts=1",
      "-o",
      `LogLevel=${logLevel}`,
    ];
    if ("password" in auth) {
      writeFileSync(this.askpass, `#!/bin/sh\nprintf '%s\\n' '${auth.password.replace(/'/g, "")}'\n`, { mode: 0o700 });
      return [...common, "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", ...extra];
    }
    return [
      ...common,
      "-o",
      "PreferredAuthentications=publickey",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-i",
      auth.key,
      ...extra,
    ];
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, SSH_ASKPASS: this.askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" };
  }

  /** Runs ssh, scp or sftp to the end; stdin (if given) is written and closed. */
  run(
    tool: "ssh" | "scp" | "sftp",
    args: string[],
    stdin?: Buffer | string,
    env: Record<string, string> = {},
  ): Promise<SshResult> {
    const timeoutMs = 120_000;
    return new Promise((resolve, reject) => {
      const child = spawn(tool, args, { env: { ...this.env(), ...env }, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      let err = "";
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(out), stderr: err });
      });
      child.stdin.end(stdin ?? "");
    });
  }

  /** `ssh` as a password user of a box: args are appended after the destination. */
  ssh(box: string, password: string, command: string[] = [], extra: string[] = []): Promise<SshResult> {
    return this.run("ssh", [
      ...this.args({ password }, ["-p", String(this.opts.port), ...extra]),
      `${box}@127.0.0.1`,
      ...command,
    ]);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A new ed25519 key pair made by ssh-keygen in `dir`; its comment is `name`. */
export function makeKey(dir: string, name: string): { file: string; publicKey: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return { file, publicKey: readFileSync(`${file}.pub`, "utf8").trim() };
}

/** The command lines of every process in a box, one a line (read from /proc: no ps needed). */
export async function processesIn(
  h: { callOk<T>(name: string, args: Record<string, unknown>): Promise<T> },
  box: string,
): Promise<string> {
  const command = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done";
  return (await h.callOk<{ stdout: string }>("box_exec", { box, command })).stdout;
}
