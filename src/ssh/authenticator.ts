// Who may sign in over SSH, and as which tenant: a bearer token of BOXD_TOKENS / BOXD_TOKENS_FILE as the
// password (its tenant, as over HTTP), the local token (`boxd ssh-token`, tenant "local"), or a key of
// BOXD_SSH_AUTHORIZED_KEYS (the tenant its line names). Tokens are compared through SHA-256 digests with
// timingSafeEqual, never with ===.
import { createHash, timingSafeEqual } from "node:crypto";
import type { TokenTable } from "../http/auth.js";
import { type AuthorizedKey, findKey } from "./authorized-keys.js";

export const LOCAL_TENANT = "local";

export interface SshIdentity {
  tenant: string;
  /** How it signed in, for the box log: "token" or the key's comment. */
  who: string;
}

const digestOf = (s: string) => createHash("sha256").update(s, "utf8").digest();

export class SshAuthenticator {
  constructor(
    private readonly tokens: TokenTable,
    /** Read at each attempt, so `boxd ssh-token --renew` takes effect at once. */
    private readonly localToken: () => string,
    private readonly keys: AuthorizedKey[],
  ) {}

  password(presented: string): SshIdentity | null {
    const tenant = this.tokens.tenantOf(presented);
    const local = timingSafeEqual(digestOf(presented), digestOf(this.localToken()));
    if (tenant !== null) return { tenant, who: "token" };
    return local ? { tenant: LOCAL_TENANT, who: "local token" } : null;
  }

  /** The authorized key for a presented public key, if any (the caller verifies its signature). */
  key(algo: string, blob: Buffer): AuthorizedKey | undefined {
    return findKey(this.keys, algo, blob);
  }
}
