// The SSH gateway's host key: an ed25519 key made once, kept in the data dir (mode 600) and reused at
// every start, so clients that pinned it (known_hosts) keep trusting the server. Its fingerprint is shown
// as `ssh-keygen -lf` and OpenSSH's first-connection prompt print it: "SHA256:" + unpadded base64.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";
import { internal } from "../errors.js";

// ssh2 is CommonJS: Node's ESM loader sees only some of its named exports, so go through the default.
const { utils } = ssh2;

export const HOST_KEY_FILE = "ssh_host_ed25519_key";

export interface HostKey {
  /** The private key in OpenSSH format (what ssh2's server is given). */
  privateKey: string;
  /** "SHA256:..." of the public key. */
  fingerprint: string;
}

/** Loads the host key from the data dir, making it on first use. */
export function loadOrCreateHostKey(dataDir: string): HostKey {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, HOST_KEY_FILE);
  if (!existsSync(file)) {
    const privateKey = newParseableKey();
    // "wx": two servers starting on one data dir at once must not overwrite each other's key.
    try {
      writeFileSync(file, privateKey, { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  // A key others can read is no secret: tighten it rather than serve with it as it is.
  if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
  const privateKey = readFileSync(file, "utf8");
  return { privateKey, fingerprint: fingerprintOf(privateKey) };
}

/**
 * A new ed25519 private key that ssh2 itself can read back. ssh2 1.17 writes about 1 key in 250 that its own
 * parser then calls malformed; saved, such a key would keep the gateway from ever starting on this data dir.
 */
function newParseableKey(): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { private: key } = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(key) instanceof Error)) return key;
  }
  throw internal("could not make an SSH host key that ssh2 can read (20 attempts)");
}

/** "SHA256:<base64 without padding>" of a key's public blob (private or public key text). */
export function fingerprintOf(keyText: string): string {
  const key = utils.parseKey(keyText);
  if (key instanceof Error) throw internal(`the SSH host key cannot be read: ${key.message}`);
  const parsed = Array.isArray(key) ? key[0] : key;
  if (!parsed) throw internal("the SSH host key file holds no key");
  const digest = createHash("sha256").update(parsed.getPublicSSH()).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}
