// Strict inputs (issue 24 item 3), generated over every tool the server lists: every object a tool takes
// is advertised closed (additionalProperties: false), and a near-miss of each field (snake_case, a dropped
// letter) is refused with INVALID_ARGUMENT naming the field and the one meant, before any work is done.
// Nested objects refuse the same way; fields agents send with another type get a message saying what to send.
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
};

/** Every object with named properties in a schema, with where it is. */
function objectsIn(schema: JsonSchema, at: string): { at: string; schema: JsonSchema }[] {
  const found = schema.properties ? [{ at, schema }] : [];
  for (const [k, v] of Object.entries(schema.properties ?? {})) found.push(...objectsIn(v, `${at}.${k}`));
  if (schema.items) found.push(...objectsIn(schema.items, `${at}[]`));
  for (const alt of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) found.push(...objectsIn(alt, at));
  return found;
}

/** What an agent types instead of `name`: snake_case for camelCase names, else the name short of a letter. */
function nearMiss(name: string): string {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  if (snake !== name) return snake;
  return name.length >= 4 ? name.slice(0, -1) : `${name}s`;
}

let h: Harness;
let tools: Tool[];

beforeAll(async () => {
  h = await startHarness();
  tools = (await h.client.listTools()).tools;
});

afterAll(async () => {
  await h?.close();
});

describe("every tool refuses unknown fields", () => {
  it("advertises every input object as closed", () => {
    expect(tools.length).toBeGreaterThan(30);
    const open: string[] = [];
    for (const tool of tools) {
      for (const o of objectsIn(tool.inputSchema as JsonSchema, tool.name)) {
        if (o.schema.additionalProperties !== false) open.push(o.at);
      }
    }
    expect(open).toEqual([]);
  });

  it("refuses a near-miss of each field, naming the field meant", async () => {
    const misses: string[] = [];
    let checked = 0;
    for (const tool of tools) {
      for (const field of Object.keys(tool.inputSchema.properties ?? {})) {
        const wrong = nearMiss(field);
        const err = await h.callErr(tool.name, { [wrong]: true });
        checked += 1;
        const wanted = `unknown field \`${wrong}\`; did you mean \`${field}\``;
        if (err.code !== "INVALID_ARGUMENT" || !err.message.includes(wanted)) {
          misses.push(`${tool.name}.${wrong}: ${err.code} ${err.message}`);
        }
      }
    }
    expect(misses).toEqual([]);
    expect(checked).toBeGreaterThan(120);
  });

  it("words the classic slip exactly, and refuses before doing anything", async () => {
    const before = await h.callOk<{ boxes: unknown[] }>("box_list", {});
    const err = await h.callErr("box_create", { name: "strict-1", timeout: 60_000 });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain("unknown field `timeout`; valid fields here:");
    const made = await h.callErr("box_create", { name: "strict-2", idle_timeout: 60 });
    expect(made.message).toContain("unknown field `idle_timeout`; did you mean `idleTimeoutSeconds` (seconds)?");
    const after = await h.callOk<{ boxes: unknown[] }>("box_list", {});
    expect(after.boxes.length).toBe(before.boxes.length);
  });
});

describe("in a live box", () => {
  let box: string;

  beforeAll(async () => {
    // env values that are numbers or booleans have one string form: taken, not refused.
    box = (await h.createBox({ env: { PORT: 3000, DEBUG: true } })).id;
  });

  it("names Upstash's `timeout` on box_exec, and accepts the documented call", async () => {
    const err = await h.callErr("box_exec", { box, command: "true", timeout: 5000 });
    expect(err.message).toContain("unknown field `timeout`; did you mean `timeoutSeconds` (seconds)?");
    const ok = await h.callOk<{ stdout: string; exitCode: number }>("box_exec", {
      box,
      command: 'echo "$PORT $DEBUG $N"',
      env: { N: 7 },
      timeoutSeconds: 30,
    });
    expect(ok.stdout.trim()).toBe("3000 true 7");
  });

  it("refuses unknown fields in nested objects too", async () => {
    const labels = await h.callErr("box_update", { box, labels: { sett: { a: "b" } } });
    expect(labels.message).toContain("unknown field `sett`; did you mean `set`?");
    const policy = await h.callErr("box_set_network_policy", {
      box,
      networkPolicy: { mode: "custom", allowDomains: ["example.com"] },
    });
    expect(policy.message).toContain("unknown field `allowDomains`; did you mean `allowedDomains`?");
    const upload = await h.callErr("box_upload", {
      box,
      destination: "/workspace/home",
      files: [{ path: "a.txt", content: "x", mode: "644" }],
    });
    expect(upload.message).toMatch(/unknown field `mode`/);
    const listed = await h.callOk<{ entries: { name: string }[] }>("box_list_files", { box, path: "/workspace/home" });
    expect(listed.entries.map((e) => e.name)).not.toContain("a.txt");
  });

  it("says exactly what to send for a mode number and an argv array", async () => {
    const mode = await h.callErr("box_write_file", { box, path: "/workspace/home/s.sh", content: "x", mode: 755 });
    expect(mode.code).toBe("INVALID_ARGUMENT");
    expect(mode.message).toContain(
      'send the permission bits as an octal string, e.g. "644" or "0755", not the number 755',
    );
    const argv = await h.callErr("box_exec", { box, command: ["ls", "-la"] });
    expect(argv.message).toContain("send one command line as a string, run by bash -c");
    expect(argv.message).toContain("not an array");
    const written = await h.callOk<{ mode: string }>("box_write_file", {
      box,
      path: "/workspace/home/s.sh",
      content: "echo hi\n",
      mode: "755",
    });
    expect(written).toBeDefined();
    const st = await h.callOk<{ mode: string }>("box_stat_file", { box, path: "/workspace/home/s.sh" });
    expect(st.mode).toMatch(/755$/);
  });
});
