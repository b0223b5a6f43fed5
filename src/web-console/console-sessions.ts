// Signed-in web console sessions: a tenant's bearer token is exchanged once for a random session id, kept
// only in an HttpOnly, SameSite=Strict cookie (page scripts never see it, other sites' requests never
// carry it). Sessions live in memory: a server restart signs everyone out, which is the safe direction.
import { randomBytes } from "node:crypto";

export const SESSION_COOKIE = "boxd_console";
const SESSION_TTL_MS = 12 * 3600 * 1000;
const MAX_SESSIONS = 10_000;

interface Session {
  tenant: string;
  expiresAt: number;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();

  /** A new session for `tenant`; the oldest goes when there are too many. */
  open(tenant: string, now = Date.now()): { id: string; maxAgeSeconds: number } {
    this.sweep(now);
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(id, { tenant, expiresAt: now + SESSION_TTL_MS });
    return { id, maxAgeSeconds: SESSION_TTL_MS / 1000 };
  }

  /** The tenant of the session the cookie header names, or null (none, unknown, expired). */
  tenantOf(cookieHeader: string | undefined, now = Date.now()): string | null {
    const id = sessionIdOf(cookieHeader);
    const s = id ? this.sessions.get(id) : undefined;
    if (!s || !id) return null;
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return null;
    }
    return s.tenant;
  }

  close(cookieHeader: string | undefined): void {
    const id = sessionIdOf(cookieHeader);
    if (id) this.sessions.delete(id);
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/** The session cookie's value (only a value of the shape we issue). */
export function sessionIdOf(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? "").split(";")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === SESSION_COOKIE && value && /^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return null;
}

/** The Set-Cookie value for a session (Secure when the console is served over TLS by a proxy in front). */
export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`;
}

export const clearedCookie = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
