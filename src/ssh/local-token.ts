// The SSH password of tenant "local" (stdio and --insecure-no-auth, where no bearer token exists): a random
// token kept in the data dir (mode 600), made on first use and printed by `boxd ssh-token`. Whoever can read
// the data dir owns its database anyway, so the file is no weaker than what it protects.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export const LOCAL_TOKEN_FILE = "ssh-token";

/** The local tenant's SSH token; `renew` replaces it (the old one stops working at the next server start). */
export function localSshToken(dataDir: string, opts: { renew?: boolean } = {}): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, LOCAL_TOKEN_FILE);
  if (opts.renew || !existsSync(file)) {
    const token = randomBytes(24).toString("base64url");
    try {
      writeFileSync(file, `${token}\n`, { mode: 0o600, flag: opts.renew ? "w" : "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
  return readFileSync(file, "utf8").trim();
}
