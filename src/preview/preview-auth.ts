// Credentials of preview URLs: new secrets, the check of a request against its exposure, and the removal
// of the preview's own credentials before a request goes on to the box (the app never sees them).
// Secrets are 192-bit random; every comparison is of equal-length SHA-256 digests with timingSafeEqual, so
// neither a secret's content nor its length leaks through timing.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { Exposure, PreviewAuth } from "../model/exposure.js";

/** The cookie a `?token=` visit sets, so a browser can go on browsing (host-only: no Domain attribute). */
export const COOKIE = "boxd_preview_token";
export const BASIC_USER = "boxd";

export function newCredentials(auth: PreviewAuth): { username: string | null; secret: string | null } {
  if (auth === "none") return { username: null, secret: null };
  const secret = randomBytes(24).toString("base64url");
  return { username: auth === "basic" ? BASIC_USER : null, secret };
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
/** Constant-time equality of two strings of any length. */
export const sameSecret = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

/** How a request proved itself: what must be stripped before forwarding, and whether to set the cookie. */
export interface Granted {
  /** The Authorization header carried the preview credential (so it is not forwarded). */
  byHeader: boolean;
  /** The `token` query parameter carried it (strip it; a GET is redirected with the cookie set). */
  byQuery: boolean;
}

/** The request's grant, or null when it must be refused (401). */
export function authorize(e: Exposure, headers: IncomingHttpHeaders, url: URL): Granted | null {
  if (e.auth === "none") return { byHeader: false, byQuery: false };
  const expected = e.secret ?? "";
  const authz = headers.authorization ?? "";
  if (e.auth === "basic") {
    const m = /^basic\s+([a-z0-9+/=]+)\s*$/i.exec(authz);
    const pair = m ? Buffer.from(m[1] as string, "base64").toString("utf8") : "";
    return m && sameSecret(pair, `${e.username}:${expected}`) ? { byHeader: true, byQuery: false } : null;
  }
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(authz);
  if (bearer && sameSecret(bearer[1] as string, expected)) return { byHeader: true, byQuery: false };
  const query = url.searchParams.get("token");
  if (query !== null && sameSecret(query, expected)) return { byHeader: false, byQuery: true };
  // Every cookie of that name counts: another preview's app may plant one for the parent domain.
  if (cookieValues(headers.cookie, COOKIE).some((c) => sameSecret(c, expected)))
    return { byHeader: false, byQuery: false };
  return null;
}

/** The WWW-Authenticate challenge of a refused request. */
export function challenge(auth: PreviewAuth): string {
  return auth === "basic" ? 'Basic realm="boxd preview", charset="UTF-8"' : 'Bearer realm="boxd preview"';
}

/** The cookie a `?token=` visit sets (Secure when previews are served over HTTPS). */
export function tokenCookie(token: string, secure: boolean): string {
  return `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/**
 * The request's headers and path as the box gets them: without the preview's cookie, the Authorization
 * header when it carried the preview credential, or the `token` parameter when it did.
 */
export function stripCredentials(
  headers: IncomingHttpHeaders,
  rawPath: string,
  g: Granted,
): { headers: IncomingHttpHeaders; path: string } {
  const out: IncomingHttpHeaders = { ...headers };
  if (g.byHeader) delete out.authorization;
  if (out.cookie !== undefined) {
    const kept = out.cookie
      .split(";")
      .map((c) => c.trim())
      .filter((c) => c && c.split("=", 1)[0] !== COOKIE);
    if (kept.length) out.cookie = kept.join("; ");
    else delete out.cookie;
  }
  return { headers: out, path: g.byQuery ? withoutToken(rawPath) : rawPath };
}

/** The raw request target without its `token` parameters (the rest byte for byte: no re-encoding). */
export function withoutToken(rawPath: string): string {
  const q = rawPath.indexOf("?");
  if (q < 0) return rawPath;
  const kept = rawPath
    .slice(q + 1)
    .split("&")
    .filter((p) => p.split("=", 1)[0] !== "token");
  return kept.length ? `${rawPath.slice(0, q)}?${kept.join("&")}` : rawPath.slice(0, q);
}

function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}
