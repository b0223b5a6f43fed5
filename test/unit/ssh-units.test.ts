// The SSH gateway's pure parts: the authorized_keys format (a tenant per key, other options refused), the
// failed sign-in limiter, the forwarding destination check, the host key and local token files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAuthorizedKeys } from "../../src/ssh/authorized-keys.js";
import { isBoxDestination } from "../../src/ssh/forwarding.js";
import { loadOrCreateHostKey } from "../../src/ssh/host-key.js";
import { localSshToken } from "../../src/ssh/local-token.js";
import { FailureLimiter } from "../../src/ssh/rate-limit.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "boxd-ssh-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function publicKey(name: string): string {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  return readFileSync(`${file}.pub`, "utf8").trim();
}

function keysFile(text: string): string {
  const file = path.join(dir, `keys-${Math.random()}`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe("authorized keys", () => {
  const pub = publicKey("alice");
  it("reads a tenant per key, with the comment as its label; skips blanks and comments", () => {
    const { keys } = loadAuthorizedKeys(keysFile(`# keys\n\ntenant="alice" ${pub}\n`));
    expect(keys).toHaveLength(1);
    expect(keys[0]?.tenant).toBe("alice");
    expect(keys[0]?.label).toBe("alice");
  });
  it("refuses a key without a tenant, other options, bad tenants and non-keys, naming the line", () => {
    expect(() => loadAuthorizedKeys(keysFile(`${pub}\n`))).toThrow(/line 1: name the key's tenant/);
    expect(() => loadAuthorizedKeys(keysFile(`\ntenant="a",command="sh" ${pub}\n`))).toThrow(
      /line 2: option command="sh" is not supported/,
    );
    expect(() => loadAuthorizedKeys(keysFile(`tenant="a b" ${pub}\n`))).toThrow(/exactly one tenant/);
    expect(() => loadAuthorizedKeys(keysFile(`tenant="a" ssh-ed25519 notbase64\n`))).toThrow(/not a public key/);
    expect(() => loadAuthorizedKeys(path.join(dir, "missing"))).toThrow(/cannot be read/);
  });
});

describe("failed sign-in limiter", () => {
  it("blocks a source after the limit within the window, and only that source, until failures age out", () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.blockedFor("a")).toBe(0);
      limiter.fail("a");
      now += 1000;
    }
    expect(limiter.blockedFor("a")).toBeGreaterThan(0);
    expect(limiter.blockedFor("b")).toBe(0);
    now += 60_000;
    expect(limiter.blockedFor("a")).toBe(0);
  });
});

describe("forwarding destinations", () => {
  it("accepts only names of the box itself", () => {
    const names = ["abc123", "web"];
    for (const ok of ["localhost", "127.0.0.1", "WEB", "abc123"]) expect(isBoxDestination(ok, names)).toBe(true);
    for (const bad of ["10.0.0.1", "127.0.0.2", "example.com", "webx", "::1", ""]) {
      expect(isBoxDestination(bad, names)).toBe(false);
    }
  });
});

describe("data dir files", () => {
  it("makes the host key once (mode 600) and reuses it; the local token likewise, renewable", () => {
    const data = path.join(dir, "data");
    const first = loadOrCreateHostKey(data);
    expect(statSync(path.join(data, "ssh_host_ed25519_key")).mode & 0o777).toBe(0o600);
    expect(loadOrCreateHostKey(data).fingerprint).toBe(first.fingerprint);
    expect(first.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const token = localSshToken(data);
    expect(statSync(path.join(data, "ssh-token")).mode & 0o777).toBe(0o600);
    expect(localSshToken(data)).toBe(token);
    expect(localSshToken(data, { renew: true })).not.toBe(token);
  });

  it("never saves a host key ssh2 cannot read back (ssh2 writes such a key about 1 time in 250)", () => {
    // Without the check, 1500 fresh data dirs hold an unreadable key with a probability above 99.7%.
    for (let i = 0; i < 1500; i++) {
      const data = path.join(dir, `keys-${i}`);
      expect(loadOrCreateHostKey(data).fingerprint).toMatch(/^SHA256:/);
    }
  });
});
