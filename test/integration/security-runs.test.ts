// Issue 13 items 6 and 7: answers too big for a client (over the real stdio transport, where the SDK's
// client drops the connection above 10 MiB and the server then exits), a dropped stdio connection that
// must not lose a run's state, and env that would subvert boxd's own wrappers.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attack } from "../helpers/abuse-tally.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";

const FILE = "security-runs";
const CLI = path.resolve(import.meta.dirname, "../../dist/cli.js");
const MIB = 1024 * 1024;

interface Stdio {
  client: Client;
  dataDir: string;
  call(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ isError?: boolean; structured: Record<string, unknown>; text: string }>;
  closed(): boolean;
}

/** The built `boxd serve` over stdio, with the SDK's client (which drops messages above 10 MiB). */
async function spawnStdio(env: Record<string, string>, dataDir: string): Promise<Stdio> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\``);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve"],
    env: { ...process.env, BOXD_DATA_DIR: dataDir, BOXD_LOG_LEVEL: "warn", ...env } as Record<string, string>,
    stderr: "pipe",
  });
  let gone = false;
  const client = new Client({ name: "security-runs", version: "0.0.0" });
  client.onclose = () => {
    gone = true;
  };
  await client.connect(transport);
  // The instance id, for the suite's leak check.
  const db = new Database(path.join(dataDir, "boxd.db"), { readonly: true });
  const instance = (db.prepare("SELECT value FROM meta WHERE key='instance_id'").get() as { value: string }).value;
  db.close();
  mkdirSync(path.join(testRoot(), "instances"), { recursive: true });
  writeFileSync(path.join(testRoot(), "instances", instance), dataDir);
  return {
    client,
    dataDir,
    closed: () => gone,
    async call(name, args) {
      const res = await client.callTool({ name, arguments: args }, undefined, { timeout: 170_000 });
      const text = (res.content as { type: string; text?: string }[])[0]?.text ?? "";
      return {
        isError: res.isError as boolean | undefined,
        structured: (res.structuredContent ?? {}) as Record<string, unknown>,
        text,
      };
    },
  };
}

const sha256 = (buf: Buffer) => createHash("sha256").update(buf).digest("hex");

describe("answers that fit a stdio client", () => {
  let s: Stdio;
  beforeAll(async () => {
    // Inline exec output raised to 16 MiB per stream: the answer must still fit.
    const dataDir = mkdtempSync(path.join(testRoot(), "sec-runs-"));
    s = await spawnStdio({ BOXD_MAX_OUTPUT_BYTES: String(16 * MIB) }, dataDir);
    const made = await s.call("box_create", { name: "flood" });
    expect(made.isError).toBeFalsy();
  });
  afterAll(async () => {
    if (!s) return;
    await s.client.close();
    // The harness's close deletes the boxes (also when the server went away with the connection).
    await (await startHarness({ dataDir: s.dataDir })).close();
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  it("box_run_get of a run with 16 MiB of output pages through every byte, connection kept", async () => {
    await attack(FILE, "box_run_get of 16 MiB output over stdio (client limit 10 MiB)", async () => {
      const cmd =
        "head -c 16777216 /dev/urandom > /tmp/out.bin && sha256sum < /tmp/out.bin > /tmp/out.sum && cat /tmp/out.bin";
      const started = await s.call("box_exec", { box: "flood", command: cmd, background: true });
      const runId = started.structured.runId as string;
      // The default page (utf8 of random bytes: escapes and replacement characters) fits one answer.
      const first = await s.call("box_run_get", { box: "flood", runId, wait: true, waitSeconds: 120 });
      expect(s.closed()).toBe(false);
      expect(first.isError).toBeFalsy();
      expect(first.structured).toMatchObject({ status: "completed", stdoutBytes: 16 * MIB, more: true });
      expect(first.text.length).toBeLessThan(512 * 1024);
      // Every byte, exactly, in base64 pages.
      const parts: Buffer[] = [];
      let offset = 0;
      for (let i = 0; i < 40 && offset < 16 * MIB; i++) {
        const page = await s.call("box_run_get", { box: "flood", runId, offset, stream: "stdout", encoding: "base64" });
        expect(page.isError, page.text).toBeFalsy();
        parts.push(Buffer.from(page.structured.stdout as string, "base64"));
        offset = (page.structured.stdoutNextOffset as number | undefined) ?? 16 * MIB;
      }
      const all = Buffer.concat(parts);
      expect(all.length).toBe(16 * MIB);
      const inBox = await s.call("box_exec", { box: "flood", command: "cut -d' ' -f1 /tmp/out.sum" });
      expect(sha256(all)).toBe((inBox.structured.stdout as string).trim());
      expect(s.closed()).toBe(false);
    });
  });

  it("box_exec with 16 MiB of output on both streams answers within bounds, connection kept", async () => {
    await attack(FILE, "box_exec returning 2 x 16 MiB inline over stdio", async () => {
      const r = await s.call("box_exec", {
        box: "flood",
        command: "head -c 16777216 /dev/zero; head -c 16777216 /dev/urandom >&2",
      });
      expect(s.closed()).toBe(false);
      expect(r.isError, r.text).toBeFalsy();
      expect(r.structured).toMatchObject({
        exitCode: 0,
        truncated: true,
        stdoutBytes: 16 * MIB,
        stderrBytes: 16 * MIB,
      });
      expect((r.structured.stdout as string).length).toBeGreaterThan(0);
      expect(r.text.length).toBeLessThan(512 * 1024);
      expect((await s.call("box_list", {})).isError).toBeFalsy();
    });
  });

  it("box_read_file and box_download of a 16 MiB file stay within one answer", async () => {
    await attack(FILE, "box_read_file / box_download of a 16 MiB file inline over stdio", async () => {
      const mk = "head -c 16777216 /dev/urandom > big.bin && sha256sum < big.bin | cut -d' ' -f1";
      const sum = ((await s.call("box_exec", { box: "flood", command: mk })).structured.stdout as string).trim();
      const parts: Buffer[] = [];
      let offset = 0;
      for (let i = 0; i < 40 && offset < 16 * MIB; i++) {
        const r = await s.call("box_read_file", { box: "flood", path: "big.bin", encoding: "base64", offset });
        expect(r.isError, r.text).toBeFalsy();
        parts.push(Buffer.from(r.structured.content as string, "base64"));
        offset = (r.structured.nextOffset as number | undefined) ?? 16 * MIB;
      }
      expect(sha256(Buffer.concat(parts))).toBe(sum);
      const down = await s.call("box_download", { box: "flood", path: "big.bin" });
      expect(down.isError).toBe(true);
      expect(down.text).toMatch(/^LIMIT_EXCEEDED: .*hostPath/);
      expect(s.closed()).toBe(false);
    });
  });
});

describe("a dropped stdio connection", () => {
  it("keeps the run's output so far, marks it interrupted, and leaves the box and its processes running", async () => {
    await attack(FILE, "client drops the stdio connection during a run", async () => {
      const dataDir = mkdtempSync(path.join(testRoot(), "sec-drop-"));
      const s = await spawnStdio({}, dataDir);
      let h: Harness | undefined;
      try {
        const box = (await s.call("box_create", { name: "drop" })).structured as { id: string };
        const loop = "for i in $(seq 1 600); do echo tick-$i; echo $i > /tmp/ticks; sleep 0.2; done";
        const run = await s.call("box_exec", { box: "drop", command: loop, background: true });
        const runId = run.structured.runId as string;
        await new Promise((r) => setTimeout(r, 2000));
        await s.client.close(); // the client goes away: the server shuts down
        h = await startHarness({ dataDir });
        const rec = await h.callOk<{ status: string; reason: string; stdout: string }>("box_run_get", {
          box: box.id,
          runId,
        });
        expect(rec.status).toBe("failed");
        expect(rec.reason).toMatch(/interrupted/);
        expect(rec.stdout).toContain("tick-1\n");
        // The box is still there and the run's processes went on in it.
        const a = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat /tmp/ticks" });
        await new Promise((r) => setTimeout(r, 1500));
        const b = await h.callOk<{ stdout: string }>("box_exec", { box: box.id, command: "cat /tmp/ticks" });
        expect(Number(b.stdout)).toBeGreaterThan(Number(a.stdout));
      } finally {
        await s.client.close().catch(() => {});
        await h?.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});

describe("environment guards", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("box_exec refuses env that would subvert the box or boxd's wrapper", async () => {
    await attack(FILE, "box_exec env PATH / LD_PRELOAD / BOXD_X / SHELLOPTS / BASH_ENV", async () => {
      const box = await h.createBox({ name: "env-exec" });
      for (const name of ["PATH", "LD_PRELOAD", "BOXD_X", "SHELLOPTS", "BASH_ENV", "NODE_OPTIONS", "GIT_DIR"]) {
        const err = await h.callErr("box_exec", { box: box.id, command: "echo hi", env: { [name]: "xtrace" } });
        expect(err.code, name).toBe("INVALID_ARGUMENT");
        expect(err.message).toContain(`"${name}"`);
      }
      const ok = await h.callOk<{ stdout: string }>("box_exec", {
        box: box.id,
        command: 'echo "$FOO $GIT_AUTHOR_NAME"',
        env: { FOO: "bar", GIT_AUTHOR_NAME: "Ann" },
      });
      expect(ok.stdout).toBe("bar Ann\n");
    });
  });

  it("box_create refuses shell-startup, loader and interpreter-startup variables", async () => {
    await attack(FILE, "box_create env BASH_ENV / SHELLOPTS / LD_AUDIT / GCONV_PATH / PYTHONSTARTUP", async () => {
      for (const name of ["BASH_ENV", "SHELLOPTS", "LD_AUDIT", "GCONV_PATH", "PYTHONSTARTUP", "BASHOPTS", "PS4"]) {
        const err = await h.callErr("box_create", {
          name: `e-${name.toLowerCase().replace(/_/g, "-")}`,
          env: { [name]: "x" },
        });
        expect(err.code, name).toBe("INVALID_ARGUMENT");
        expect(err.message).toContain(`"${name}"`);
      }
      expect(h.services.boxes.list("local").filter((b) => b.name.startsWith("e-"))).toEqual([]);
    });
  });

  it("boxd's wrappers ignore shell-startup variables a box's env already holds (a box made before the guard)", async () => {
    await attack(FILE, "stored box env SHELLOPTS=xtrace / BASH_ENV reaching boxd-run", async () => {
      const box = await h.createBox({ name: "env-legacy" });
      await h.callOk("box_write_file", { box: box.id, path: "evil.sh", content: "echo EVIL-RAN\n" });
      const env = { SHELLOPTS: "xtrace", BASH_ENV: "/workspace/home/evil.sh", BASHOPTS: "extglob" };
      const db = new Database(path.join(h.dataDir, "boxd.db"));
      db.prepare("UPDATE boxes SET env = ? WHERE id = ?").run(JSON.stringify(env), box.id);
      db.close();
      const r = await h.callOk<{ stdout: string; stderr: string; exitCode: number }>("box_exec", {
        box: box.id,
        command: "echo hi",
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n", stderr: "" });
      const read = await h.callOk<{ content: string }>("box_read_file", { box: box.id, path: "evil.sh" });
      expect(read.content).toBe("echo EVIL-RAN\n");
    });
  });
});
