// End to end: the built `boxd serve` spawned over stdio, driven by the SDK's StdioClientTransport.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { testRoot } from "../helpers/test-root.js";

const CLI = path.resolve(import.meta.dirname, "../../dist/cli.js");

describe("stdio end to end", () => {
  it("serves every tool over stdio: create, exec, write/read, delete", async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
    const dataDir = mkdtempSync(path.join(testRoot(), "stdio-"));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "serve"],
      env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_LOG_LEVEL: "warn" } as Record<string, string>,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-e2e", version: "0.0.0" });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const n of [
        "box_create",
        "box_list",
        "box_get",
        "box_delete",
        "box_exec",
        "box_run_code",
        "box_runs",
        "box_run_get",
        "box_run_kill",
        "box_write_file",
        "box_read_file",
        "box_list_files",
        "box_stat_file",
        "box_make_dir",
        "box_move_file",
        "box_delete_file",
        "box_upload",
        "box_download",
      ]) {
        expect(names).toContain(n);
      }
      for (const t of tools) {
        expect(t.title ?? t.annotations?.title, t.name).toBeTruthy();
        expect(t.outputSchema, t.name).toBeDefined();
        const props = (t.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
        for (const [field, schema] of Object.entries(props))
          expect(schema.description, `${t.name}.${field}`).toBeTruthy();
      }

      const created = await client.callTool({ name: "box_create", arguments: { name: "e2e" } });
      expect(created.isError).toBeFalsy();
      const box = created.structuredContent as { id: string };
      recordInstance(dataDir);

      const ran = await client.callTool({
        name: "box_exec",
        arguments: { box: "e2e", command: "echo over-stdio; whoami" },
      });
      expect(ran.structuredContent).toMatchObject({ exitCode: 0, stdout: "over-stdio\nboxuser\n" });
      await client.callTool({ name: "box_write_file", arguments: { box: "e2e", path: "a.txt", content: "hi" } });
      const read = await client.callTool({
        name: "box_read_file",
        arguments: { box: "e2e", path: "/workspace/home/a.txt" },
      });
      expect((read.structuredContent as { content: string }).content).toBe("hi");
      const bad = await client.callTool({ name: "box_get", arguments: { box: "missing" } });
      expect(bad.isError).toBe(true);
      expect((bad.content as { text: string }[])[0]?.text).toMatch(/^NOT_FOUND: /);
      const deleted = await client.callTool({ name: "box_delete", arguments: { box: box.id } });
      expect(deleted.structuredContent).toEqual({ id: box.id, deleted: true });
    } finally {
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("applies the tenant limits over stdio too (tenant local): LIMIT_EXCEEDED", async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
    const dataDir = mkdtempSync(path.join(testRoot(), "stdio-"));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "serve"],
      env: {
        ...process.env,
        BOXD_DATA_DIR: dataDir,
        BOXD_LOG_LEVEL: "warn",
        BOXD_TENANT_MAX_BOXES: "1",
        BOXD_TENANT_MAX_CONCURRENT_RUNS: "1",
      } as Record<string, string>,
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-limits", version: "0.0.0" });
    await client.connect(transport);
    const codeOf = (res: Awaited<ReturnType<Client["callTool"]>>) =>
      (res.structuredContent as { error?: { code: string } } | undefined)?.error?.code;
    let boxId: string | null = null;
    try {
      const made = await client.callTool({ name: "box_create", arguments: { name: "only" } });
      expect(made.isError).toBeFalsy();
      boxId = (made.structuredContent as { id: string }).id;
      recordInstance(dataDir);

      const second = await client.callTool({ name: "box_create", arguments: { name: "second" } });
      expect(second.isError).toBe(true);
      expect(codeOf(second)).toBe("LIMIT_EXCEEDED");
      const bg = await client.callTool({
        name: "box_exec",
        arguments: { box: "only", command: "sleep 60", background: true },
      });
      const runId = (bg.structuredContent as { runId: string }).runId;
      const busy = await client.callTool({ name: "box_exec", arguments: { box: "only", command: "echo hi" } });
      expect(codeOf(busy)).toBe("LIMIT_EXCEEDED");
      await client.callTool({ name: "box_run_kill", arguments: { box: "only", runId } });
    } finally {
      if (boxId) await client.callTool({ name: "box_delete", arguments: { box: boxId } }).catch(() => {});
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Records the spawned server's instance (from its data dir's database) for the suite's leak check. */
function recordInstance(dataDir: string): void {
  const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
  const instance = (db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string }).value;
  db.close();
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", instance), dataDir);
}
