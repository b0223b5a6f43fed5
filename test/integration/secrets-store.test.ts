// The tenant secret store through a real MCP client: values go in and never come out (results, errors,
// the database file), tenants never see each other's secrets, the store survives a restart and is
// unreadable with another key (a clear error, no crash), and bad input to secret_set and attachHeaders is
// refused with INVALID_ARGUMENT naming what is wrong, leaving no box behind.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attack } from "../helpers/abuse-tally.js";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";

const FILE = "secrets-store";
const ph = (name: string) => `\${secret:${name}}`;

describe("tenant secret store", () => {
  let h: Harness;
  const value = `val-${randomBytes(12).toString("hex")}`;

  beforeAll(async () => {
    h = await startHarness({ keepData: true });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it("secret_set stores, secret_list shows names and times only, secret_delete removes", async () => {
    const set = await h.call("secret_set", { name: "API_TOKEN", value });
    expect(set.isError).toBeFalsy();
    expect(JSON.stringify(set)).not.toContain(value);
    expect(set.structuredContent).toMatchObject({ name: "API_TOKEN", replaced: false });
    const again = await h.callOk<{ replaced: boolean }>("secret_set", { name: "API_TOKEN", value: `${value}2` });
    expect(again.replaced).toBe(true);
    await h.callOk("secret_set", { name: "API_TOKEN", value });
    await h.callOk("secret_set", { name: "DOOMED", value: "x".repeat(8192) });
    const list = await h.call("secret_list", {});
    expect(JSON.stringify(list)).not.toContain(value);
    const names = (list.structuredContent as { secrets: { name: string; updatedAt: string }[] }).secrets;
    expect(names.map((s) => s.name)).toEqual(["API_TOKEN", "DOOMED"]);
    expect(Object.keys(names[0] ?? {}).sort()).toEqual(["createdAt", "name", "updatedAt"]);
    expect(await h.callOk("secret_delete", { name: "DOOMED" })).toEqual({ name: "DOOMED", deleted: true });
    expect((await h.callErr("secret_delete", { name: "DOOMED" })).code).toBe("NOT_FOUND");
  });

  it("bad secrets are refused without echoing the value", async () => {
    await attack(FILE, "secret_set with an oversize value, CRLF, a bad name", async () => {
      const big = `${value}${"y".repeat(9000)}`;
      const oversize = await h.callErr("secret_set", { name: "BIG", value: big });
      expect(oversize.code).toBe("INVALID_ARGUMENT");
      expect(oversize.message).toMatch(/8192/);
      expect(oversize.message).not.toContain(value);
      const crlf = await h.callErr("secret_set", { name: "CRLF", value: `${value}\r\nX-Evil: 1` });
      expect(crlf.code).toBe("INVALID_ARGUMENT");
      expect(crlf.message).not.toContain(value);
      for (const name of ["1ABC", "has-dash", "a b", "", "x".repeat(65), "../etc"]) {
        expect((await h.callErr("secret_set", { name, value: "v" })).code).toBe("INVALID_ARGUMENT");
      }
      expect((await h.callErr("secret_set", { name: "EMPTY", value: "" })).code).toBe("INVALID_ARGUMENT");
      const names = (await h.callOk<{ secrets: { name: string }[] }>("secret_list", {})).secrets.map((s) => s.name);
      expect(names).toEqual(["API_TOKEN"]);
    });
  });

  it("bad attachHeaders are refused at create and update, naming the problem; no box is left", async () => {
    const before = (await h.callOk<{ boxes: unknown[] }>("box_list", {})).boxes.length;
    const bad: [Record<string, Record<string, string>>, RegExp][] = [
      [{ "api.example.com": { Authorization: `Bearer ${ph("MISSING")}` } }, /secret "MISSING" does not exist/],
      [{ "api.example.com": { "Bad Header": "x" } }, /not an HTTP token/],
      [{ "api.example.com": { "X:Y": "x" } }, /not an HTTP token/],
      [{ "api.example.com": { "X-A": "a\r\nX-Injected: 1" } }, /CR, LF and NUL/],
      [{ "api.example.com": { "X-A": "a\0b" } }, /CR, LF and NUL/],
      [{ "*": { "X-A": ph("API_TOKEN") } }, /"\*" alone/],
      [{ "*.com": { "X-A": ph("API_TOKEN") } }, /at least two labels/],
      [{ "a*.example.com": { "X-A": "x" } }, /not valid/],
      [{ "api.example.com": { Host: "evil.example.com" } }, /frames or routes/],
      [{ "api.example.com": { "Content-Length": "0" } }, /frames or routes/],
      [{ "api.example.com": {} }, /at least one header/],
      [{ "api.example.com": { "X-A": `${ph("bad-name")}` } }, /no secret name/],
    ];
    await attack(FILE, "attachHeaders with missing secrets, non-token names, CRLF, wildcard abuse", async () => {
      for (const [attachHeaders, why] of bad) {
        const err = await h.callErr("box_create", { attachHeaders });
        expect(err.code, JSON.stringify(attachHeaders)).toBe("INVALID_ARGUMENT");
        expect(err.message).toMatch(why);
        expect(err.message).not.toContain(value);
      }
      expect((await h.callOk<{ boxes: unknown[] }>("box_list", {})).boxes.length).toBe(before);
    });
    const box = await h.createBox({ name: "plain" });
    const err = await h.callErr("box_update", {
      box: box.id,
      attachHeaders: { "api.example.com": { Authorization: `Bearer ${ph("MISSING")}` } },
      keepAlive: true,
    });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("MISSING");
    const after = await h.callOk<BoxResult>("box_get", { box: box.id });
    expect(after.attachHeaders).toBeUndefined();
    expect(after.keepAlive).toBe(false);
  });

  it("tenants never see or use each other's secrets", async () => {
    await attack(FILE, "tenant B lists, uses and deletes tenant A's secret", async () => {
      const b = h.services.secrets;
      expect(b.list("tenant-b")).toEqual([]);
      const use = h.services.boxes.create("tenant-b", {
        attachHeaders: { "api.example.com": { Authorization: `Bearer ${ph("API_TOKEN")}` } },
      });
      await expect(use).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: /API_TOKEN/ });
      expect(() => b.delete("tenant-b", "API_TOKEN")).toThrow(/no secret "API_TOKEN"/);
      b.set("tenant-b", "API_TOKEN", "b-value");
      expect(b.reveal("tenant-b", "API_TOKEN")).toBe("b-value");
      expect(b.reveal("local", "API_TOKEN")).toBe(value);
      expect((await h.callOk<{ secrets: unknown[] }>("secret_list", {})).secrets).toHaveLength(1);
    });
  });

  it("is encrypted at rest, survives a restart, and is unreadable with another key (clear error, no crash)", async () => {
    const dataDir = h.dataDir;
    await h.close();
    const keyFile = path.join(dataDir, "secret.key");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dataDir, "egress-ca", "ca.key")).mode & 0o777).toBe(0o600);
    for (const f of readdirSync(dataDir).filter((n) => n.startsWith("boxd.db"))) {
      expect(readFileSync(path.join(dataDir, f)).includes(value)).toBe(false);
    }
    await attack(FILE, "secret store opened with another key", async () => {
      h = await startHarness({ dataDir, keepData: true, env: { BOXD_SECRET_KEY: randomBytes(32).toString("hex") } });
      const err = await h.callErr("secret_set", { name: "OTHER", value: "v" });
      expect(err.code).toBe("INTERNAL");
      expect(err.message).toMatch(/sealed with another key/);
      expect(h.services.secrets.reveal("local", "API_TOKEN")).toBeNull();
      const use = await h.callErr("box_create", {
        attachHeaders: { "api.example.com": { Authorization: `Bearer ${ph("API_TOKEN")}` } },
      });
      expect(use.message).not.toContain(value);
      // The server is fine otherwise.
      expect((await h.callOk<{ secrets: { name: string }[] }>("secret_list", {})).secrets.map((s) => s.name)).toEqual([
        "API_TOKEN",
      ]);
      await h.close();
    });
    h = await startHarness({ dataDir, keepData: true });
    expect(h.services.secrets.reveal("local", "API_TOKEN")).toBe(value);
    expect(h.services.secrets.reveal("tenant-b", "API_TOKEN")).toBe("b-value");
  }, 120_000);
});
