// Pure parts of preview URLs: host-name routing, URL building, credential checks and stripping.
import { describe, expect, it } from "vitest";
import type { Exposure } from "../../src/model/exposure.js";
import { authorize, COOKIE, stripCredentials, withoutToken } from "../../src/preview/preview-auth.js";
import { PreviewHosts } from "../../src/preview/preview-host.js";

const exposure = (auth: Exposure["auth"], secret: string | null, username: string | null = null): Exposure => ({
  boxId: "box_abcdefghjk12",
  port: 3000,
  auth,
  secret,
  username,
  createdAt: "",
});
const url = (p: string) => new URL(p, "http://x");

describe("preview hosts", () => {
  const hosts = new PreviewHosts("localhost", "https://preview.example.com");

  it("parses <port>-<box>.<domain> (with or without box_, any case, a port, a trailing dot)", () => {
    const want = { boxId: "box_abcdefghjk12", port: 3000 };
    for (const h of [
      "3000-abcdefghjk12.localhost",
      "3000-box_abcdefghjk12.localhost:7078",
      "3000-ABCDEFGHJK12.LocalHost.",
      "3000-abcdefghjk12.preview.example.com",
    ]) {
      expect(hosts.parse(h)).toEqual(want);
    }
  });

  it("refuses everything else", () => {
    for (const h of [
      undefined,
      "",
      "localhost",
      "abcdefghjk12.localhost",
      "0-abcdefghjk12.localhost",
      "65536-abcdefghjk12.localhost",
      "03000-abcdefghjk12.localhost",
      "3000-abcdefghjk1.localhost",
      "3000-abcdefghjk12.localhost.evil.com",
      "a.3000-abcdefghjk12.localhost",
      "3000-abcdefghjk12.example.com",
      `3000-abcdefghjk12.${"x".repeat(300)}.localhost`,
    ]) {
      expect(hosts.parse(h)).toBeNull();
    }
  });

  it("builds URLs for the listener or the public base", () => {
    expect(new PreviewHosts("localhost", "").url({ boxId: "box_abcdefghjk12", port: 80 }, 7078)).toBe(
      "http://80-abcdefghjk12.localhost:7078/",
    );
    expect(hosts.url({ boxId: "box_abcdefghjk12", port: 80 }, 7078)).toBe(
      "https://80-abcdefghjk12.preview.example.com/",
    );
    expect(hosts.scheme).toBe("https");
  });
});

describe("preview credentials", () => {
  const token = exposure("token", "s3cret-token-value");

  it("accepts a bearer header, the token parameter or the cookie; nothing else", () => {
    expect(authorize(token, { authorization: "Bearer s3cret-token-value" }, url("/"))).toEqual({
      byHeader: true,
      byQuery: false,
    });
    expect(authorize(token, {}, url("/?token=s3cret-token-value"))).toEqual({ byHeader: false, byQuery: true });
    // A planted cookie of the same name beside the right one does not lock the visitor out.
    expect(authorize(token, { cookie: `${COOKIE}=planted; ${COOKIE}=s3cret-token-value` }, url("/"))).not.toBeNull();
    for (const headers of [{}, { authorization: "Bearer s3cret-token-valu" }, { authorization: "Basic czNjcmV0" }]) {
      expect(authorize(token, headers, url("/?token=nope"))).toBeNull();
    }
    const basic = exposure("basic", "pw", "boxd");
    const b64 = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    expect(authorize(basic, { authorization: b64("boxd:pw") }, url("/"))).not.toBeNull();
    expect(authorize(basic, { authorization: b64("boxd:pw2") }, url("/"))).toBeNull();
    expect(authorize(basic, { authorization: b64("other:pw") }, url("/"))).toBeNull();
    expect(authorize(exposure("none", null), {}, url("/"))).not.toBeNull();
  });

  it("strips only what carried the credential, keeping the rest byte for byte", () => {
    const out = stripCredentials(
      { authorization: "Bearer t", cookie: `a=1; ${COOKIE}=t; b=2`, "x-app": "y" },
      "/p%20q?a=%41&token=t&b=c+d",
      { byHeader: true, byQuery: true },
    );
    expect(out.headers).toEqual({ cookie: "a=1; b=2", "x-app": "y" });
    expect(out.path).toBe("/p%20q?a=%41&b=c+d");
    // A request let in by its cookie keeps the app's own Authorization header and token parameter.
    const kept = stripCredentials({ authorization: "Bearer app", cookie: `${COOKIE}=t` }, "/?token=app", {
      byHeader: false,
      byQuery: false,
    });
    expect(kept).toEqual({ headers: { authorization: "Bearer app" }, path: "/?token=app" });
    expect(withoutToken("/x?token=1")).toBe("/x");
    expect(withoutToken("/x")).toBe("/x");
  });
});
