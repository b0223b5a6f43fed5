// The pure parts of secrets and attachHeaders: sealing (bound to tenant and name), host matching, header
// rendering and injection into a request head, and the refusal when the server cannot intercept.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseHead } from "../../src/network/http-requests.js";
import { headersFor, injectHeaders, renderHeaders } from "../../src/secrets/attach-headers.js";
import { BoxAttachments } from "../../src/secrets/box-attachments.js";
import { seal, unseal } from "../../src/secrets/secret-cipher.js";

describe("secret sealing", () => {
  it("opens only with its key, tenant and name", () => {
    const key = randomBytes(32);
    const s = seal(key, "a", "TOKEN", "value-1");
    expect(s.data.includes(Buffer.from("value-1"))).toBe(false);
    expect(unseal(key, "a", "TOKEN", s)).toBe("value-1");
    expect(unseal(randomBytes(32), "a", "TOKEN", s)).toBeNull();
    expect(unseal(key, "b", "TOKEN", s)).toBeNull();
    expect(unseal(key, "a", "OTHER", s)).toBeNull();
  });
});

/** A secret placeholder as attachHeaders take it. */
const ph = (name: string) => `\${secret:${name}}`;

describe("attachHeaders", () => {
  const attach = {
    "api.example.com": { A: "exact" },
    "*.example.com": { A: "wild" },
    "*.deep.example.com": { A: "deeper" },
  };

  it("matches an exact host first, else the longest suffix; never the bare suffix", () => {
    expect(headersFor(attach, "API.example.com.")).toEqual({ A: "exact" });
    expect(headersFor(attach, "x.example.com")).toEqual({ A: "wild" });
    expect(headersFor(attach, "a.deep.example.com")).toEqual({ A: "deeper" });
    expect(headersFor(attach, "example.com")).toBeNull();
    expect(headersFor(attach, "example.com.evil.test")).toBeNull();
    expect(headersFor(attach, "notexample.com")).toBeNull();
  });

  it("renders secrets at request time and names a missing one", () => {
    const values: Record<string, string> = { T: "t1" };
    const reveal = (n: string) => values[n] ?? null;
    expect(renderHeaders({ Authorization: `Bearer ${ph("T")}` }, reveal)).toEqual({ Authorization: "Bearer t1" });
    values.T = "t2";
    expect(renderHeaders({ Authorization: `Bearer ${ph("T")}` }, reveal)).toEqual({ Authorization: "Bearer t2" });
    expect(renderHeaders({ A: `${ph("T")} ${ph("GONE")}` }, reveal)).toEqual({ missing: "GONE" });
  });

  it("replaces the box's own headers of the same name and keeps the head parseable", () => {
    const head = Buffer.from(
      "GET /x HTTP/1.1\r\nHost: api.example.com\r\nauthorization: Bearer fake\r\nAccept: */*\r\n\r\n",
      "latin1",
    );
    const out = injectHeaders(head, { Authorization: "Bearer real", "X-Extra": "1" }).toString("latin1");
    expect(out).not.toContain("fake");
    expect(out).toContain("Authorization: Bearer real\r\n");
    expect(out.endsWith("X-Extra: 1\r\n\r\n")).toBe(true);
    expect(parseHead(out.slice(0, -4))).toEqual({ host: "api.example.com", body: 0 });
  });

  it("are refused when the server cannot intercept (no egress CA: BOXD_FIREWALL=off)", () => {
    const attachments = new BoxAttachments({
      secrets: { has: () => true, reveal: () => null },
      secretStore: { attachOf: () => null, setAttach: () => {} },
      archives: { readFile: async () => null, putRootFiles: async () => {} },
      ca: { certificate: "" },
    });
    expect(() => attachments.check("t", { "api.example.com": { A: "b" } })).toThrow(/BOXD_FIREWALL=off/);
  });
});
