// The network helper's program as copied into its container: every module main.ts reaches, as plain
// JavaScript ES modules, and nothing that needs an npm package (its image has Node only).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NETD_DIR } from "../../src/netd/protocol.js";
import { netdCode } from "../../src/network/netd-code.js";

describe("network helper code", () => {
  it("collects main.ts and what it imports, transpiled, with no package imports", async () => {
    const files = await netdCode();
    const names = files.map((f) => f.path.slice(NETD_DIR.length + 1)).sort();
    for (const f of [
      "netd/main.js",
      "network/firewall.js",
      "network/egress-proxy.js",
      "network/dns-gate.js",
      "package.json",
    ])
      expect(names).toContain(f);
    // Nothing from the server's state, secrets or the MCP layer (they need SQLite and the SDK).
    expect(names.filter((n) => /^(state|secrets|mcp|box|docker)\//.test(n))).toEqual([]);
    for (const f of files.filter((x) => x.path.endsWith(".js"))) {
      const text = f.content.toString();
      expect(text, f.path).not.toMatch(/:\s*(string|number|boolean)\s*[,)=;]/); // no TypeScript left
      for (const m of text.matchAll(/from\s+"([^"]+)"/g)) expect(m[1], f.path).toMatch(/^(node:|\.)/);
    }
  });

  it("runs under Node as shipped: it says hello and answers a ping before any init", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "netd-code-"));
    try {
      for (const f of await netdCode()) {
        const to = path.join(dir, f.path.slice(NETD_DIR.length + 1));
        mkdirSync(path.dirname(to), { recursive: true });
        writeFileSync(to, f.content);
      }
      const r = spawnSync(process.execPath, [path.join(dir, "netd/main.js")], {
        input: `${JSON.stringify({ id: 7, op: "ping" })}\nnot json\n${JSON.stringify({ id: 8, op: "rules" })}\n`,
        encoding: "utf8",
        timeout: 20_000,
      });
      const lines = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines[0]).toEqual({ t: "hello", version: 1 });
      expect(lines).toContainEqual({ t: "reply", re: 7, ok: true, value: "pong" });
      // A request before init is refused with a reason, and a line that is no JSON is skipped.
      expect(lines).toContainEqual({ t: "reply", re: 8, ok: false, error: "the helper got a request before init" });
      expect(r.status).toBe(0); // stdin's end is its exit
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
