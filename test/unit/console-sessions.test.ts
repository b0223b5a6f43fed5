// Web console sessions: what a cookie names, when a session ends, and the cap.
import { describe, expect, it } from "vitest";
import { ConsoleSessions, SESSION_COOKIE, sessionCookie, sessionIdOf } from "../../src/web-console/console-sessions.js";

describe("console sessions", () => {
  it("names the tenant until the session expires or is closed", () => {
    const s = new ConsoleSessions();
    const t0 = 1_000_000;
    const { id, maxAgeSeconds } = s.open("alice", t0);
    const cookie = `other=1; ${SESSION_COOKIE}=${id}`;
    expect(s.tenantOf(cookie, t0 + 1000)).toBe("alice");
    expect(s.tenantOf(cookie, t0 + maxAgeSeconds * 1000)).toBeNull(); // expired
    const again = s.open("bob", t0);
    s.close(`${SESSION_COOKIE}=${again.id}`);
    expect(s.tenantOf(`${SESSION_COOKIE}=${again.id}`, t0)).toBeNull();
  });

  it("reads only values of the shape it issues", () => {
    expect(sessionIdOf(undefined)).toBeNull();
    expect(sessionIdOf(`${SESSION_COOKIE}=short`)).toBeNull();
    expect(sessionIdOf(`${SESSION_COOKIE}=${"a".repeat(42)};`)).toBeNull();
    expect(sessionIdOf(`${SESSION_COOKIE}=${"a".repeat(42)}=`)).toBeNull();
    expect(sessionIdOf(`x${SESSION_COOKIE}=${"a".repeat(43)}`)).toBeNull();
    expect(sessionIdOf(` ${SESSION_COOKIE}=${"a".repeat(43)}`)).toBe("a".repeat(43));
    expect(sessionCookie("abc", 60, true)).toBe(
      `${SESSION_COOKIE}=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure`,
    );
  });

  it("keeps at most 10,000 sessions, the oldest going first", () => {
    const s = new ConsoleSessions();
    const first = s.open("t", 5);
    for (let i = 0; i < 10_000; i++) s.open("t", 5);
    expect(s.tenantOf(`${SESSION_COOKIE}=${first.id}`, 5)).toBeNull();
  });
});
