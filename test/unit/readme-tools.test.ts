// The README's tool table is written by hand: this keeps it true to the tools the server registers (every
// registered tool is in the table, every tool the table names exists, and the rows form one table).
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { describe, expect, it } from "vitest";
import { createServer } from "../../src/mcp/server.js";
import type { ToolServices } from "../../src/services.js";

const README = path.resolve(import.meta.dirname, "../../README.md");

/** The lines of README.md's "## Tools" section. */
function toolsSection(): string[] {
  const lines = readFileSync(README, "utf8").split("\n");
  const start = lines.indexOf("## Tools");
  expect(start).toBeGreaterThan(-1);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Tools as the server lists them (tools/list through a real client); listing calls no service. */
async function registeredTools(): Promise<string[]> {
  const log = { child: () => log, debug() {}, info() {}, warn() {}, error() {} };
  const services = { log, boxLog: { subscribe: () => () => {} } } as unknown as ToolServices;
  const { server, close } = createServer(services);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "readme-check", version: "1" });
  await client.connect(clientSide);
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
    await close();
  }
}

describe("README tool table", () => {
  it("lists exactly the registered tools, in one table", async () => {
    const section = toolsSection();
    const rows = section.map((l, i) => ({ l, i })).filter(({ l }) => /^\| `[a-z]+_/.test(l));
    // One table: a paragraph between rows would end it, and the rows after would show as plain text.
    const first = rows[0]?.i ?? 0;
    expect(rows.map((r) => r.i)).toEqual(rows.map((_, k) => first + k));
    expect(section[first - 1]).toMatch(/^\| --- \|/);
    // The first cell may name several tools: `a` / `b` / `c`.
    const documented = rows.flatMap(({ l }) => [...(l.split("|")[1] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));
    const registered = await registeredTools();
    expect(registered.length).toBeGreaterThan(30);
    expect([...documented].sort()).toEqual([...registered].sort());
  });
});
