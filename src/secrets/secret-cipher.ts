// Encryption at rest of tenant secrets: AES-256-GCM with one key per boxd instance, from BOXD_SECRET_KEY or
// a key file made on first use (mode 600, in the data dir). Each value is bound to its tenant and name
// (additional authenticated data), so a row copied onto another name or tenant does not decrypt.
// Nothing here logs or prints a value; a wrong key is a clear error, never a crash.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BoxdError } from "../errors.js";

export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

export const KEY_FILE = "secret.key";

/**
 * The store key: BOXD_SECRET_KEY when set (64 hex digits or base64 of 32 bytes are used as they are; any
 * other text of 16 characters or more is hashed to 32 bytes), else the data dir's key file.
 */
export function loadSecretKey(configured: string, dataDir: string): Buffer {
  if (configured) return keyFromText(configured);
  const file = path.join(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  }
  chmodSync(file, 0o600);
  return keyFromText(readFileSync(file, "utf8").trim());
}

function keyFromText(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
  const b64 = /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, "base64") : null;
  if (b64?.length === 32) return b64;
  if (text.length < 16) {
    throw new BoxdError(
      "INVALID_ARGUMENT",
      "BOXD_SECRET_KEY is too short: use 32 random bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)",
    );
  }
  return createHash("sha256").update(text, "utf8").digest();
}

const aad = (tenant: string, name: string) => Buffer.from(`boxd-secret\0${tenant}\0${name}`, "utf8");

export function seal(key: Buffer, tenant: string, name: string, value: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad(tenant, name));
  const data = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), data };
}

/** The value, or null when this key (or this tenant and name) does not open it. */
export function unseal(key: Buffer, tenant: string, name: string, s: Sealed): string | null {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, s.iv);
    decipher.setAAD(aad(tenant, name));
    decipher.setAuthTag(s.tag);
    return Buffer.concat([decipher.update(s.data), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}
