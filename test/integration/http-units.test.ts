// The HTTP transport's pure parts, without a server: the token table, the refusal to run open, the
// Origin/Host policy and the replay buffer's bounds and order.
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { TokenTable } from "../../src/http/auth.js";
import { EventBuffer } from "../../src/http/event-store.js";
import { checkOrigin, originPolicy } from "../../src/http/origin.js";
import { silentLogger } from "../../src/log.js";
import { authFromConfig } from "../../src/transports/http.js";
import { testRoot } from "../helpers/test-root.js";

const T1 = "first-token-0123456789";
const T2 = "second:token:with:colons-0123";

describe("token table", () => {
  it("maps tokens to tenants from the env list and the file, and authenticates Bearer headers", () => {
    const dir = mkdtempSync(path.join(testRoot(), "tokens-"));
    const file = path.join(dir, "tokens.json");
    writeFileSync(file, JSON.stringify({ "file-token-0123456789abc": "carol" }));
    chmodSync(file, 0o600);
    const table = TokenTable.load({ tokens: `${T1}:alice, ${T2}:bob`, tokensFile: file });
    expect(table.size).toBe(3);
    expect(table.warnings).toEqual([]);
    expect(table.tenants().sort()).toEqual(["alice", "bob", "carol"]);
    const ok = table.authenticate(`Bearer ${T2}`);
    expect(ok).toEqual({ auth: { token: T2, clientId: "bob", scopes: [], extra: { tenant: "bob" } } });
    expect(table.authenticate(`bearer  ${T1} `)).toMatchObject({ auth: { clientId: "alice" } });
    expect(table.authenticate("Bearer file-token-0123456789abc")).toMatchObject({ auth: { clientId: "carol" } });
    expect(table.authenticate(undefined)).toEqual({ reason: "missing" });
    expect(table.authenticate(`Basic ${T1}`)).toEqual({ reason: "invalid" });
    expect(table.authenticate(`Bearer ${T1}x`)).toEqual({ reason: "invalid" });
    expect(table.authenticate(`Bearer ${T1.slice(0, -1)}`)).toEqual({ reason: "invalid" });
    expect(table.authenticate("Bearer ")).toEqual({ reason: "invalid" });
  });

  it("refuses bad configuration without ever printing a token", () => {
    const cases: [string, RegExp][] = [
      ["short:alice", /entry 1: a token must be at least 16/],
      [`${T1}`, /entry 1 is not "token:tenant"/],
      [`${T1}:bad tenant`, /tenant "bad tenant"/],
      [`${T1}:alice,${T1}:bob`, /entry 2: this token is already given to another tenant/],
    ];
    for (const [tokens, message] of cases) {
      let error: Error | undefined;
      try {
        TokenTable.load({ tokens, tokensFile: "" });
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message, tokens).toMatch(message);
      expect(error?.message).not.toContain(T1);
    }
    const dir = mkdtempSync(path.join(testRoot(), "tokens-"));
    const open = path.join(dir, "open.json");
    writeFileSync(open, JSON.stringify({ [T1]: "alice" }));
    chmodSync(open, 0o644);
    expect(TokenTable.load({ tokens: "", tokensFile: open }).warnings[0]).toMatch(/chmod 600/);
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, "[1,2]");
    expect(() => TokenTable.load({ tokens: "", tokensFile: bad })).toThrow(/must hold a JSON object/);
  });

  it("refuses to serve without tokens, except --insecure-no-auth on loopback; doctor never shows tokens", () => {
    const base = { BOXD_DATA_DIR: testRoot() };
    expect(() => authFromConfig(loadConfig(base), {}, silentLogger)).toThrow(/no HTTP tokens configured/);
    expect(authFromConfig(loadConfig(base), { insecureNoAuth: true }, silentLogger)).toBeNull();
    expect(() =>
      authFromConfig(loadConfig({ ...base, BOXD_HTTP_HOST: "0.0.0.0" }), { insecureNoAuth: true }, silentLogger),
    ).toThrow(/refused on --host 0.0.0.0/);
    const config = loadConfig({ ...base, BOXD_TOKENS: `${T1}:alice` });
    expect(authFromConfig(config, { insecureNoAuth: true }, silentLogger)?.size).toBe(1);
    expect(JSON.stringify(config.tokens)).toBe('"(hidden)"');
  });
});

describe("origin policy", () => {
  it("on loopback: allows no Origin and its own origins, refuses others and foreign Hosts", () => {
    const p = originPolicy({
      host: "127.0.0.1",
      port: 7077,
      allowedOrigins: ["https://App.example.com/"],
      allowedHosts: [],
    });
    const host = { host: "127.0.0.1:7077" };
    expect(checkOrigin(p, host)).toBeNull();
    expect(checkOrigin(p, { ...host, origin: "http://localhost:7077" })).toBeNull();
    expect(checkOrigin(p, { ...host, origin: "https://app.example.com" })).toBeNull();
    expect(checkOrigin(p, { ...host, origin: "http://localhost:7078" })).toMatch(/Origin/);
    expect(checkOrigin(p, { ...host, origin: "null" })).toMatch(/Origin/);
    expect(checkOrigin(p, { ...host, origin: "http://localhost:7077, http://evil.example" })).toMatch(/Origin/);
    expect(checkOrigin(p, { host: "localhost:7077" })).toBeNull();
    expect(checkOrigin(p, { host: "[::1]:7077" })).toBeNull();
    expect(checkOrigin(p, { host: "evil.example:7077" })).toMatch(/Host/);
    expect(checkOrigin(p, {})).toMatch(/Host/);
  });

  it("bound elsewhere: no Host check unless hosts are configured, and no browser origin by default", () => {
    const open = originPolicy({ host: "0.0.0.0", port: 8080, allowedOrigins: [], allowedHosts: [] });
    expect(checkOrigin(open, { host: "boxd.internal:8080" })).toBeNull();
    expect(checkOrigin(open, { host: "boxd.internal:8080", origin: "http://boxd.internal:8080" })).toMatch(/Origin/);
    const pinned = originPolicy({
      host: "0.0.0.0",
      port: 8080,
      allowedOrigins: [],
      allowedHosts: ["boxd.internal:8080"],
    });
    expect(checkOrigin(pinned, { host: "boxd.internal:8080" })).toBeNull();
    expect(checkOrigin(pinned, { host: "10.0.0.5:8080" })).toMatch(/Host/);
  });
});

describe("replay buffer", () => {
  const note = (i: number, pad = 0): JSONRPCMessage => ({
    jsonrpc: "2.0",
    method: "notifications/progress",
    params: { progressToken: 1, progress: i, message: `m${i}${"x".repeat(pad)}` },
  });
  const replay = async (store: ReturnType<EventBuffer["forSession"]>, after: string) => {
    const got: string[] = [];
    const stream = await store.replayEventsAfter(after, {
      send: async (_id, m) => {
        got.push(String((m as { params?: { message?: string } }).params?.message).slice(0, 4));
      },
    });
    return { stream, got };
  };

  it("replays a stream's later events in order, skipping priming events and other streams", async () => {
    const buffer = new EventBuffer(8 * 1024 * 1024);
    const store = buffer.forSession();
    const priming = await store.storeEvent("s1", {} as JSONRPCMessage);
    const first = await store.storeEvent("s1", note(1));
    await store.storeEvent("other", note(99));
    await store.storeEvent("s1", note(2));
    await store.storeEvent("s1", note(3));
    expect(await store.getStreamIdForEventId(first)).toBe("s1");
    expect(await replay(store, priming)).toEqual({ stream: "s1", got: ["m1", "m2", "m3"] });
    expect((await replay(store, first)).got).toEqual(["m2", "m3"]);
    expect(store.has("12345")).toBe(false);
    store.close();
    expect(buffer.size).toBe(0);
    expect(buffer.totalBytes).toBe(0);
  });

  it("drops the oldest events first: per session at 1/8 of the budget, and over all sessions", async () => {
    const budget = 1024 * 1024;
    const buffer = new EventBuffer(budget);
    const flood = buffer.forSession();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(await flood.storeEvent("s", note(i, 4096)));
    expect(flood.size).toBeLessThan(100);
    expect(buffer.totalBytes).toBeLessThanOrEqual(budget / 8);
    expect(flood.has(ids[0] as string)).toBe(false);
    expect(flood.has(ids[99] as string)).toBe(true);
    const kept = ids.filter((id) => flood.has(id));
    // What is kept is a suffix: no gaps for a resume to fall into.
    expect(kept).toEqual(ids.slice(100 - kept.length));

    const others = Array.from({ length: 12 }, () => buffer.forSession());
    for (const s of others) for (let i = 0; i < 40; i++) await s.storeEvent("s", note(i, 4096));
    expect(buffer.totalBytes).toBeLessThanOrEqual(budget);
    // The flood's events were the oldest: they went first.
    expect(flood.size).toBe(0);
    await expect(flood.replayEventsAfter(ids[99] as string, { send: async () => {} })).rejects.toThrow(
      /no longer kept/,
    );

    // An event too big to keep ends resumption from before it (refused, never silently skipped).
    const big = buffer.forSession();
    const before = await big.storeEvent("s", note(1));
    await big.storeEvent("s", note(2, 200 * 1024));
    expect(big.has(before)).toBe(false);
  });
});
