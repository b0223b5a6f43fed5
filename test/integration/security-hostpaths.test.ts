// Host paths and upload destinations under attack (issue 13, items 1 and 8a), against the real server and
// engine. Over Streamable HTTP a client's declared roots (here `file:///`) must open nothing on the
// server's machine, each tenant gets its own folder in every BOXD_ROOTS root, and no tenant reaches
// another's folder by `..`, by an absolute path or through a planted symlink. Uploads never land outside
// their destination through a symlink already in it (the two-step archive attack).
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type CallToolResult, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantSegment } from "../../src/fs/host-paths.js";
import { HostFileWriter } from "../../src/fs/host-writer.js";
import { packHostPath } from "../../src/fs/tar-sources.js";
import { attack } from "../helpers/abuse-tally.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";
import { type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

const FILE = "security-hostpaths";
const T = 240_000;

interface RootsClient {
  callOk<R = Record<string, unknown>>(name: string, args: Record<string, unknown>): Promise<R>;
  callErr(name: string, args: Record<string, unknown>): Promise<{ code: string; message: string }>;
  close(): Promise<void>;
}

/** An SDK client over HTTP that declares the roots capability and answers roots/list with `file:///`. */
async function connectWithRoots(url: string, token: string): Promise<RootsClient> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "roots-attacker", version: "0.0.0" }, { capabilities: { roots: {} } });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///", name: "all" }] }));
  await client.connect(transport);
  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args }, undefined, { timeout: T })) as CallToolResult;
  return {
    async callOk<R>(name: string, args: Record<string, unknown>) {
      const res = await call(name, args);
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
      return res.structuredContent as R;
    },
    async callErr(name, args) {
      const res = await call(name, args);
      if (!res.isError) throw new Error(`${name} should have failed: ${JSON.stringify(res.structuredContent)}`);
      return (res.structuredContent as { error: { code: string; message: string } }).error;
    },
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

/** A tar archive (base64) of the given members. */
async function tarOf(members: { name: string; type?: "file" | "symlink"; body?: string; linkname?: string }[]) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on("end", () => resolve()));
  for (const m of members) {
    if (m.type === "symlink") pack.entry({ name: m.name, type: "symlink", linkname: m.linkname });
    else pack.entry({ name: m.name, mode: 0o644 }, m.body ?? "");
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks).toString("base64");
}

describe("hostPath over HTTP: client roots ignored, one folder per tenant", () => {
  let f: HttpFixture;
  let alice: RootsClient;
  let bob: RootsClient;
  let base: string;
  let root: string;
  let aBox: string;
  let bBox: string;

  beforeAll(async () => {
    base = await mkdtemp(path.join(testRoot(), "hostpaths-"));
    root = path.join(base, "r");
    mkdirSync(root);
    mkdirSync(path.join(base, "outside"));
    f = await startHttp({ BOXD_ROOTS: root });
    alice = await connectWithRoots(f.url, TOKEN_A);
    bob = await connectWithRoots(f.url, TOKEN_B);
    aBox = (await alice.callOk<{ id: string }>("box_create", { name: "hp-alice" })).id;
    bBox = (await bob.callOk<{ id: string }>("box_create", { name: "hp-bob" })).id;
    for (const [c, box, who] of [
      [alice, aBox, "alice"],
      [bob, bBox, "bob"],
    ] as const) {
      await c.callOk("box_write_file", { box, path: "note.txt", content: `${who} was here\n` });
    }
  }, T);

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await f?.close();
    if (base) await rm(base, { recursive: true, force: true });
  }, T);

  it(
    "a client declaring file:/// cannot upload /etc/shadow nor download outside BOXD_ROOTS",
    async () => {
      await attack(FILE, "HTTP client root file:/// uploads /etc/shadow", async () => {
        const err = await alice.callErr("box_upload", { box: aBox, destination: "loot", hostPath: "/etc/shadow" });
        expect(err.code).toBe("FORBIDDEN");
        expect(err.message).toMatch(/client's roots|BOXD_ROOTS/);
        expect((await alice.callErr("box_stat_file", { box: aBox, path: "loot/shadow" })).code).toBe("NOT_FOUND");
      });
      await attack(FILE, "HTTP client root file:/// downloads to a host path outside BOXD_ROOTS", async () => {
        const target = path.join(base, "outside", "x");
        const err = await alice.callErr("box_download", { box: aBox, path: "note.txt", hostPath: target });
        expect(err.code).toBe("FORBIDDEN");
        expect(existsSync(target)).toBe(false);
        // Inside the root but outside the tenant's own folder is outside too.
        const shared = path.join(root, "shared.txt");
        expect((await alice.callErr("box_download", { box: aBox, path: "note.txt", hostPath: shared })).code).toBe(
          "FORBIDDEN",
        );
        expect(existsSync(shared)).toBe(false);
      });
    },
    T,
  );

  it(
    "a tenant's hostPath resolves into its own folder, created private on demand",
    async () => {
      const rel = await alice.callOk<{ hostPath: string }>("box_download", {
        box: aBox,
        path: "note.txt",
        hostPath: "notes/a.txt",
      });
      const mine = path.join(root, "alice");
      expect(rel.hostPath).toBe(path.join(mine, "notes", "a.txt"));
      expect(readFileSync(path.join(mine, "notes", "a.txt"), "utf8")).toBe("alice was here\n");
      expect(lstatSync(mine).mode & 0o777).toBe(0o700);
      const abs = await alice.callOk<{ hostPath: string }>("box_download", {
        box: aBox,
        path: "note.txt",
        hostPath: path.join(mine, "abs.txt"),
      });
      expect(abs.hostPath).toBe(path.join(mine, "abs.txt"));
      await alice.callOk("box_upload", { box: aBox, destination: "back", hostPath: "notes" });
      expect(await alice.callOk("box_read_file", { box: aBox, path: "back/a.txt" })).toMatchObject({
        content: "alice was here\n",
      });
    },
    T,
  );

  it(
    "a tenant can neither read nor overwrite another tenant's folder",
    async () => {
      const aFile = path.join(root, "alice", "secret.txt");
      mkdirSync(path.dirname(aFile), { recursive: true });
      writeFileSync(aFile, "alice's secret\n");
      await attack(FILE, "tenant B reads tenant A's host folder by .. and by absolute path", async () => {
        for (const hostPath of ["../alice/secret.txt", aFile, path.join(root, "bob", "..", "alice", "secret.txt")]) {
          const err = await bob.callErr("box_upload", { box: bBox, destination: "stolen", hostPath });
          expect(err.code, hostPath).toMatch(/FORBIDDEN|INVALID_ARGUMENT/);
        }
        expect((await bob.callErr("box_stat_file", { box: bBox, path: "stolen/secret.txt" })).code).toBe("NOT_FOUND");
      });
      await attack(FILE, "tenant B overwrites tenant A's downloads", async () => {
        for (const hostPath of ["../alice/secret.txt", aFile]) {
          const err = await bob.callErr("box_download", { box: bBox, path: "note.txt", hostPath });
          expect(err.code, hostPath).toMatch(/FORBIDDEN|INVALID_ARGUMENT/);
        }
        expect(readFileSync(aFile, "utf8")).toBe("alice's secret\n");
      });
      await attack(FILE, "tenant B goes through a symlink planted in its folder to A's folder", async () => {
        const bDir = path.join(root, "bob");
        mkdirSync(bDir, { recursive: true });
        symlinkSync(path.join(root, "alice"), path.join(bDir, "to-alice"));
        const up = await bob.callErr("box_upload", {
          box: bBox,
          destination: "stolen",
          hostPath: "to-alice/secret.txt",
        });
        expect(up.code).toBe("FORBIDDEN");
        const down = await bob.callErr("box_download", {
          box: bBox,
          path: "note.txt",
          hostPath: "to-alice/secret.txt",
        });
        expect(down.code).toBe("FORBIDDEN");
        expect(readFileSync(aFile, "utf8")).toBe("alice's secret\n");
        expect(existsSync(path.join(root, "alice", "note.txt"))).toBe(false);
      });
    },
    T,
  );
});

describe("host writes and tenant folder names", () => {
  it("a host file write whose folder was swapped for a symlink after the check lands nowhere", async () => {
    await attack(FILE, "download target's folder swapped for a symlink after the check (TOCTOU)", async () => {
      const base = await mkdtemp(path.join(testRoot(), "hostpaths-swap-"));
      const allowed = path.join(base, "allowed");
      mkdirSync(path.join(base, "outside"), { recursive: true });
      mkdirSync(allowed);
      // What a racing local user leaves between the check and the open: the folder is now a symlink out.
      symlinkSync(path.join(base, "outside"), path.join(allowed, "dir"));
      const writer = new HostFileWriter(path.join(allowed, "dir", "f.txt"), 0o644, allowed);
      writer.write(Buffer.from("box data\n"));
      await expect(writer.finish()).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(existsSync(path.join(base, "outside", "f.txt"))).toBe(false);
      await rm(base, { recursive: true, force: true });
    });
  });

  it("a host upload whose folder was swapped for a symlink after the check reads nothing outside", async () => {
    await attack(FILE, "upload source's folder swapped for a symlink after the check (TOCTOU)", async () => {
      const base = await mkdtemp(path.join(testRoot(), "hostpaths-swap-"));
      const allowed = path.join(base, "allowed");
      mkdirSync(path.join(base, "outside", "sub"), { recursive: true });
      writeFileSync(path.join(base, "outside", "sub", "secret.txt"), "host secret\n");
      mkdirSync(allowed);
      symlinkSync(path.join(base, "outside"), path.join(allowed, "dir"));
      for (const real of [path.join(allowed, "dir", "sub"), path.join(allowed, "dir", "sub", "secret.txt")]) {
        const producer = packHostPath({ real, root: allowed });
        producer.stream.resume();
        await expect(producer.done, real).rejects.toMatchObject({ code: "FORBIDDEN" });
      }
      await rm(base, { recursive: true, force: true });
    });
  });

  it("tenant names become one safe, distinct path segment", () => {
    expect(tenantSegment("alice")).toBe("alice");
    expect(tenantSegment("team.a_b-1")).toBe("team.a_b-1");
    for (const bad of [".", "..", ".hidden", "a/b", "a%2Fb", ""]) {
      const seg = tenantSegment(bad);
      expect(seg, bad).not.toMatch(/^\.|\/|^$/);
    }
    expect(tenantSegment("a/b")).not.toBe(tenantSegment("a%2Fb"));
    expect(tenantSegment("..")).not.toBe(tenantSegment("."));
  });
});

describe("uploads never land outside their destination through a symlink already in it", () => {
  let h: Harness;
  let box: string;

  beforeAll(async () => {
    h = await startHarness();
    box = (await h.createBox({ name: "hp-two-step" })).id;
  }, T);
  afterAll(async () => {
    await h?.close();
  }, T);

  it(
    "the two-step archive attack is refused and writes nothing outside",
    async () => {
      await attack(
        FILE,
        "two-step upload: archive A plants home -> /workspace/home, archive B writes home/x",
        async () => {
          const a = await tarOf([{ name: "home", type: "symlink", linkname: "/workspace/home" }]);
          await h.callOk("box_upload", { box, destination: "up", archive: a });
          const b = await tarOf([{ name: "home/x", body: "escaped\n" }]);
          const err = await h.callErr("box_upload", { box, destination: "up", archive: b });
          expect(err.code).toBe("INVALID_ARGUMENT");
          expect(err.message).toMatch(/symlink/);
          expect((await h.callErr("box_stat_file", { box, path: "/workspace/home/x" })).code).toBe("NOT_FOUND");
        },
      );
      await attack(FILE, "inline files upload through a symlink already in the destination", async () => {
        const err = await h.callErr("box_upload", {
          box,
          destination: "up",
          files: [{ path: "home/y", content: "escaped\n" }],
        });
        expect(err.code).toBe("INVALID_ARGUMENT");
        expect((await h.callErr("box_stat_file", { box, path: "/workspace/home/y" })).code).toBe("NOT_FOUND");
      });
      // A symlink that stays inside the destination is fine.
      await h.callOk("box_make_dir", { box, path: "up/real", parents: true });
      await h.callOk("box_upload", {
        box,
        destination: "up",
        archive: await tarOf([{ name: "inner", type: "symlink", linkname: "real" }]),
      });
      await h.callOk("box_upload", { box, destination: "up", files: [{ path: "inner/ok.txt", content: "ok\n" }] });
      expect(await h.callOk("box_read_file", { box, path: "up/real/ok.txt" })).toMatchObject({ content: "ok\n" });
    },
    T,
  );
});
