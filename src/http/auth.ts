// Bearer-token authentication of the HTTP transport: a table of token -> tenant from BOXD_TOKENS and/or
// BOXD_TOKENS_FILE, checked on every request (a session id is never a credential). A presented token is
// compared with every configured one through SHA-256 digests and timingSafeEqual, without stopping at a
// match, so response time says nothing about a token's content, length or position. Messages about bad
// configuration name the entry, never the token.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { invalidArgument } from "../errors.js";

const MIN_TOKEN_LENGTH = 16;
const TOKEN_RE = /^[\x21-\x7e]+$/;
const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface Entry {
  token: string;
  digest: Buffer;
  tenant: string;
}

export interface TokenSources {
  /** BOXD_TOKENS: "token:tenant,token2:tenant2". */
  tokens: string;
  /** BOXD_TOKENS_FILE: path of a JSON object { "<token>": "<tenant>" }; "" for none. */
  tokensFile: string;
}

const digestOf = (token: string) => createHash("sha256").update(token, "utf8").digest();

export class TokenTable {
  private constructor(
    private readonly entries: Entry[],
    /** Things worth a warning at start (e.g. a tokens file others can read). */
    readonly warnings: string[],
  ) {}

  /** Parses and validates both sources; throws INVALID_ARGUMENT saying which entry is wrong and how. */
  static load(src: TokenSources): TokenTable {
    const pairs: { token: string; tenant: string; where: string }[] = [];
    const warnings: string[] = [];
    src.tokens
      .split(",")
      .map((p) => p.trim())
      .forEach((p, i) => {
        if (!p) return;
        // Tenants never contain ":", so the last one separates them; a token may contain colons.
        const at = p.lastIndexOf(":");
        if (at <= 0) throw invalidArgument(`BOXD_TOKENS entry ${i + 1} is not "token:tenant"`);
        pairs.push({ token: p.slice(0, at), tenant: p.slice(at + 1), where: `BOXD_TOKENS entry ${i + 1}` });
      });
    if (src.tokensFile) {
      let parsed: unknown;
      try {
        const mode = statSync(src.tokensFile).mode;
        if (mode & 0o077) warnings.push(`${src.tokensFile} is readable by other users: chmod 600 it`);
        parsed = JSON.parse(readFileSync(src.tokensFile, "utf8"));
      } catch (err) {
        throw invalidArgument(
          `BOXD_TOKENS_FILE ${src.tokensFile} could not be read as JSON: ${(err as Error).message}`,
        );
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw invalidArgument(`BOXD_TOKENS_FILE ${src.tokensFile} must hold a JSON object { "<token>": "<tenant>" }`);
      }
      Object.entries(parsed).forEach(([token, tenant], i) => {
        if (typeof tenant !== "string") {
          throw invalidArgument(`BOXD_TOKENS_FILE entry ${i + 1}: the tenant must be a string`);
        }
        pairs.push({ token, tenant, where: `BOXD_TOKENS_FILE entry ${i + 1}` });
      });
    }
    const entries: Entry[] = [];
    const seen = new Map<string, string>();
    for (const { token, tenant, where } of pairs) {
      if (token.length < MIN_TOKEN_LENGTH || !TOKEN_RE.test(token)) {
        throw invalidArgument(
          `${where}: a token must be at least ${MIN_TOKEN_LENGTH} visible ASCII characters without spaces (e.g. \`openssl rand -hex 32\`)`,
        );
      }
      if (!TENANT_RE.test(tenant)) {
        throw invalidArgument(`${where}: tenant "${tenant}" must be 1-64 letters, digits, ".", "_" or "-"`);
      }
      const earlier = seen.get(token);
      if (earlier !== undefined && earlier !== tenant) {
        throw invalidArgument(`${where}: this token is already given to another tenant`);
      }
      if (earlier === undefined) entries.push({ token, digest: digestOf(token), tenant });
      seen.set(token, tenant);
    }
    return new TokenTable(entries, warnings);
  }

  get size(): number {
    return this.entries.length;
  }

  tenants(): string[] {
    return [...new Set(this.entries.map((e) => e.tenant))];
  }

  /**
   * The auth info of an `Authorization: Bearer <token>` header, or a reason for refusing it. The tenant goes to
   * the tools as `authInfo.extra.tenant` (src/mcp/server.ts reads it there).
   */
  authenticate(header: string | undefined): { auth: AuthInfo } | { reason: "missing" | "invalid" } {
    const m = header ? /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header) : null;
    if (!m?.[1]) return { reason: header ? "invalid" : "missing" };
    const presented = m[1];
    const tenant = this.tenantOf(presented);
    if (tenant === null) return { reason: "invalid" };
    return { auth: { token: presented, clientId: tenant, scopes: [], extra: { tenant } } };
  }

  /** The tenant of a token, or null (also the SSH gateway's password check). */
  tenantOf(presented: string): string | null {
    const digest = digestOf(presented);
    let found: Entry | undefined;
    for (const e of this.entries) {
      // No early exit: every entry is compared whatever matched.
      if (timingSafeEqual(digest, e.digest) && !found) found = e;
    }
    return found?.tenant ?? null;
  }
}
