// The web console of a stdio server (`boxd serve` with BOXD_CONSOLE_PORT): loopback only, tenant "local",
// signed in with the data dir's local token; what an MCP client does over stdio shows there.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { testRoot } from "../helpers/test-root.js";

const CLI = path.resolve(import.meta.dirname, "../../dist/cli.js");

describe("web console of a stdio server", () => {
  it("serves on loopback for tenant local, signed in with the local token", async () => {
    const dataDir = mkdtempSync(path.join(testRoot(), "console-stdio-"));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "serve"],
      env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_CONSOLE_PORT: "0", BOXD_LOG_LEVEL: "info" } as Record<
        string,
        string
      >,
      stderr: "pipe",
    });
    let said = "";
    transport.stderr?.on("data", (d: Buffer) => {
      said += d.toString();
    });
    const client = new Client({ name: "console-stdio-test", version: "0" });
    await client.connect(transport);
    try {
      const deadline = Date.now() + 30_000;
      while (!/web console at (http:\/\/127\.0\.0\.1:\d+\/)/.test(said) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = /web console at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(said)?.[1] as string;
      expect(url).toBeTruthy();
      // Registered for the suite's leak check like every test server.
      const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
      const instance = (db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string }).value;
      db.close();
      mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
      writeFileSync(path.join(testRoot(), "instances", instance), dataDir);

      const created = await client.callTool({ name: "box_create", arguments: { name: "from-stdio" } });
      const boxId = (created.structuredContent as { id: string }).id;
      const signIn = (token: string) =>
        fetch(`${url}console/api/session`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-boxd-console": "1" },
          body: JSON.stringify({ token }),
        });
      expect((await signIn("wrong")).status).toBe(401);
      const token = readFileSync(path.join(dataDir, "ssh-token"), "utf8").trim();
      const ok = await signIn(token);
      expect(await ok.json()).toEqual({ tenant: "local" });
      const cookie = (ok.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const list = (await (await fetch(`${url}console/api/boxes`, { headers: { cookie } })).json()) as {
        boxes: { id: string }[];
      };
      expect(list.boxes.map((b) => b.id)).toEqual([boxId]);
      const page = await fetch(url);
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(await page.text()).toContain('<div id="app"');
      await client.callTool({ name: "box_delete", arguments: { box: boxId } });
    } finally {
      await client.close();
    }
  });
});
