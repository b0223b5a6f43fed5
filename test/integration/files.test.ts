// The file tools through a real MCP client against a real box: every tool, encodings, errors, ownership,
// relative paths and a byte-exact 1 MiB binary round trip.
import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/harness.js";

const T = 120_000;
const MAX_FILE = 2 * 1024 * 1024;

let h: Harness;
let box: string;

const sh = async (command: string) =>
  h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", { box, command });

beforeAll(async () => {
  h = await startHarness({ env: { BOXD_MAX_FILE_BYTES: String(MAX_FILE) } });
  box = (await h.createBox({ name: "files-main" })).id;
}, T);

afterAll(async () => {
  await h?.close();
}, T);

describe("write and read", () => {
  it(
    "writes text to a relative path and reads it back, owned by boxuser",
    async () => {
      const w = await h.callOk("box_write_file", { box, path: "notes/hello.txt", content: "héllo wörld\n" });
      expect(w).toMatchObject({ path: "/workspace/home/notes/hello.txt", bytes: Buffer.byteLength("héllo wörld\n") });
      const r = await h.callOk("box_read_file", { box, path: "/workspace/home/notes/hello.txt" });
      expect(r).toMatchObject({ content: "héllo wörld\n", encoding: "utf8", bytes: 14, truncated: false });
      const owner = await sh("stat -c '%U:%G %a' notes/hello.txt notes");
      expect(owner.stdout.trim().split("\n")).toEqual(["boxuser:boxuser 644", "boxuser:boxuser 755"]);
    },
    T,
  );

  it(
    "round-trips 1 MiB of binary byte-exact with base64",
    async () => {
      const data = randomBytes(1024 * 1024);
      await h.callOk("box_write_file", {
        box,
        path: "bin/blob.bin",
        content: data.toString("base64"),
        encoding: "base64",
      });
      const r = await h.callOk<{ content: string; bytes: number; truncated: boolean }>("box_read_file", {
        box,
        path: "bin/blob.bin",
        encoding: "base64",
      });
      expect(r.bytes).toBe(data.length);
      expect(r.truncated).toBe(false);
      expect(Buffer.from(r.content, "base64").equals(data)).toBe(true);
      const sum = await sh("sha256sum bin/blob.bin | cut -d' ' -f1");
      expect(sum.stdout.trim()).toBe(createHash("sha256").update(data).digest("hex"));
    },
    T,
  );

  it(
    "reads byte ranges and never splits a UTF-8 character",
    async () => {
      await h.callOk("box_write_file", { box, path: "range.txt", content: "abcdé" }); // é is 2 bytes
      const part = await h.callOk("box_read_file", { box, path: "range.txt", offset: 1, length: 2 });
      expect(part).toMatchObject({ content: "bc", bytes: 6, truncated: true, nextOffset: 3 });
      const cut = await h.callOk("box_read_file", { box, path: "range.txt", offset: 3, length: 2 });
      expect(cut).toMatchObject({ content: "d", truncated: true, nextOffset: 4 });
      const rest = await h.callOk("box_read_file", { box, path: "range.txt", offset: 4 });
      expect(rest).toMatchObject({ content: "é", truncated: false });
    },
    T,
  );

  it(
    "appends, sets modes, keeps the old mode on rewrite",
    async () => {
      await h.callOk("box_write_file", { box, path: "run.sh", content: "#!/bin/sh\n", mode: "755" });
      await h.callOk("box_write_file", { box, path: "run.sh", content: "echo hi\n", append: true });
      expect((await sh("./run.sh")).stdout).toBe("hi\n");
      await h.callOk("box_write_file", { box, path: "run.sh", content: "#!/bin/sh\necho again\n" });
      expect(await h.callOk("box_stat_file", { box, path: "run.sh" })).toMatchObject({
        type: "file",
        mode: "755",
        size: 21,
      });
      expect((await sh("./run.sh")).stdout).toBe("again\n");
    },
    T,
  );

  it(
    "writes an empty file",
    async () => {
      expect(await h.callOk("box_write_file", { box, path: "empty", content: "" })).toMatchObject({ bytes: 0 });
      expect(await h.callOk("box_read_file", { box, path: "empty" })).toMatchObject({ content: "", bytes: 0 });
    },
    T,
  );

  it(
    "refuses bad input with the contract's codes",
    async () => {
      expect((await h.callErr("box_read_file", { box, path: "missing.txt" })).code).toBe("NOT_FOUND");
      const dir = await h.callErr("box_read_file", { box, path: "notes" });
      expect(dir.code).toBe("INVALID_ARGUMENT");
      expect(dir.message).toMatch(/box_list_files/);
      expect((await h.callErr("box_read_file", { box, path: "../etc/passwd" })).code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_write_file", { box, path: "/tmp/a/../b", content: "x" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      expect((await h.callErr("box_write_file", { box, path: "", content: "x" })).code).toBe("INVALID_ARGUMENT");
      const b64 = await h.callErr("box_write_file", {
        box,
        path: "x.bin",
        content: "aGVsbG8*d29ybGQ=",
        encoding: "base64",
      });
      expect(b64.code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_write_file", { box, path: "x.bin", content: "abc", encoding: "base64" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      const mode = await h.callErr("box_write_file", { box, path: "x", content: "x", mode: "rwx" });
      expect(mode.code).toBe("INVALID_ARGUMENT");
      const etc = await h.callErr("box_write_file", { box, path: "/etc/boxd-test", content: "x" });
      expect(etc.code).toBe("FORBIDDEN");
      expect(etc.message).toMatch(/\/workspace\/home or \/tmp/);
      const big = await h.callErr("box_write_file", {
        box,
        path: "big.bin",
        content: Buffer.alloc(MAX_FILE + 1).toString("base64"),
        encoding: "base64",
      });
      expect(big.code).toBe("LIMIT_EXCEEDED");
      expect(big.message).toMatch(/box_upload/);
      expect((await sh("ls big.bin x.bin x 2>&1; true")).stdout).toMatch(/No such file/);
    },
    T,
  );

  it(
    "a failed write leaves the old file intact",
    async () => {
      await h.callOk("box_write_file", { box, path: "keep.txt", content: "original" });
      await sh("chmod 555 .");
      try {
        expect((await h.callErr("box_write_file", { box, path: "keep.txt", content: "new" })).code).toBe("FORBIDDEN");
      } finally {
        await sh("chmod 755 .");
      }
      expect(await h.callOk("box_read_file", { box, path: "keep.txt" })).toMatchObject({ content: "original" });
      expect((await sh("ls -a | grep -c boxd-write; true")).stdout.trim()).toBe("0");
    },
    T,
  );

  it(
    "refuses to decode a non-UTF-8 file as text",
    async () => {
      await h.callOk("box_write_file", {
        box,
        path: "latin1.txt",
        content: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString("base64"),
        encoding: "base64",
      });
      const err = await h.callErr("box_read_file", { box, path: "latin1.txt" });
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(/base64/);
    },
    T,
  );
});

describe("folders", () => {
  it(
    "makes, lists, stats, moves and deletes",
    async () => {
      expect(await h.callOk("box_make_dir", { box, path: "proj" })).toEqual({
        path: "/workspace/home/proj",
        resumed: false,
      });
      expect((await h.callErr("box_make_dir", { box, path: "proj" })).code).toBe("ALREADY_EXISTS");
      await h.callOk("box_make_dir", { box, path: "proj", parents: true });
      expect((await h.callErr("box_make_dir", { box, path: "a/b/c" })).code).toBe("NOT_FOUND");
      await h.callOk("box_make_dir", { box, path: "proj/src/lib", parents: true });
      await h.callOk("box_write_file", { box, path: "proj/src/index.js", content: "console.log(1)\n" });
      await h.callOk("box_write_file", { box, path: "proj/README.md", content: "# hi\n" });
      await sh("ln -s src/index.js proj/main.js");

      const top = await h.callOk<{ entries: { name: string; type: string; path: string }[]; truncated: boolean }>(
        "box_list_files",
        { box, path: "proj" },
      );
      expect(top.truncated).toBe(false);
      expect(top.entries.map((e) => [e.name, e.type])).toEqual([
        ["README.md", "file"],
        ["main.js", "symlink"],
        ["src", "directory"],
      ]);
      const all = await h.callOk<{ entries: { path: string; size: number; mode: string; modifiedAt: string }[] }>(
        "box_list_files",
        { box, path: "/workspace/home/proj", recursive: true },
      );
      expect(all.entries.map((e) => e.path)).toEqual([
        "/workspace/home/proj/README.md",
        "/workspace/home/proj/main.js",
        "/workspace/home/proj/src",
        "/workspace/home/proj/src/index.js",
        "/workspace/home/proj/src/lib",
      ]);
      const readme = all.entries[0];
      expect(readme).toMatchObject({ size: 5, mode: "644" });
      expect(Date.now() - Date.parse(readme?.modifiedAt ?? "")).toBeLessThan(10 * 60_000);
      const few = await h.callOk("box_list_files", { box, path: "proj", recursive: true, maxEntries: 2 });
      expect(few).toMatchObject({ truncated: true });
      expect((few as { entries: unknown[] }).entries).toHaveLength(2);

      expect(await h.callOk("box_stat_file", { box, path: "proj/src" })).toMatchObject({
        path: "/workspace/home/proj/src",
        type: "directory",
        mode: "755",
      });
      expect((await h.callErr("box_stat_file", { box, path: "proj/nope" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_list_files", { box, path: "nope" })).code).toBe("NOT_FOUND");

      expect(await h.callOk("box_move_file", { box, from: "proj/README.md", to: "proj/docs/README.md" })).toMatchObject(
        {
          from: "/workspace/home/proj/README.md",
          to: "/workspace/home/proj/docs/README.md",
        },
      );
      await h.callOk("box_write_file", { box, path: "proj/other.md", content: "other" });
      expect((await h.callErr("box_move_file", { box, from: "proj/other.md", to: "proj/docs/README.md" })).code).toBe(
        "ALREADY_EXISTS",
      );
      await h.callOk("box_move_file", { box, from: "proj/other.md", to: "proj/docs/README.md", overwrite: true });
      expect(await h.callOk("box_read_file", { box, path: "proj/docs/README.md" })).toMatchObject({ content: "other" });
      expect((await h.callErr("box_move_file", { box, from: "proj/gone", to: "proj/x" })).code).toBe("NOT_FOUND");

      expect((await h.callErr("box_delete_file", { box, path: "proj" })).code).toBe("CONFLICT");
      expect(await h.callOk("box_delete_file", { box, path: "proj/main.js" })).toMatchObject({ deleted: true });
      expect((await sh("test -e proj/src/index.js && echo kept")).stdout).toBe("kept\n");
      await h.callOk("box_delete_file", { box, path: "proj/src/lib" });
      await h.callOk("box_delete_file", { box, path: "proj", recursive: true });
      expect((await h.callErr("box_delete_file", { box, path: "proj" })).code).toBe("NOT_FOUND");
      expect((await h.callErr("box_delete_file", { box, path: "/", recursive: true })).code).toBe("INVALID_ARGUMENT");
      expect((await h.callErr("box_delete_file", { box, path: "/etc/hostname" })).code).toBe("FORBIDDEN");
    },
    T,
  );
});

describe("upload and download inline", () => {
  it(
    "uploads inline files and downloads a file and a folder",
    async () => {
      const up = await h.callOk("box_upload", {
        box,
        destination: "site",
        files: [
          { path: "index.html", content: "<h1>hi</h1>" },
          { path: "img/dot.bin", content: Buffer.from([0, 1, 2, 255]).toString("base64"), encoding: "base64" },
        ],
      });
      expect(up).toMatchObject({ destination: "/workspace/home/site", files: 2, bytes: 15 });
      expect((await sh("stat -c %U site/img/dot.bin site/img")).stdout).toBe("boxuser\nboxuser\n");

      const file = await h.call("box_download", { box, path: "site/img/dot.bin" });
      expect(file.isError).toBeFalsy();
      expect(file.structuredContent).toMatchObject({
        type: "file",
        bytes: 4,
        format: "raw",
        encoding: "base64",
        content: "AAEC/w==",
      });
      const res = file.content.find((c) => c.type === "resource");
      expect(res).toMatchObject({
        type: "resource",
        resource: {
          uri: `box://${box}/files/workspace/home/site/img/dot.bin`,
          mimeType: "application/octet-stream",
          blob: "AAEC/w==",
        },
      });

      const folder = await h.callOk<{ type: string; format: string; content: string }>("box_download", {
        box,
        path: "site",
      });
      expect(folder).toMatchObject({ type: "directory", format: "tar.gz" });
      const tarText = gunzipSync(Buffer.from(folder.content, "base64")).toString("latin1");
      expect(tarText).toContain("./index.html");
      expect(tarText).toContain("<h1>hi</h1>");

      expect((await h.callErr("box_download", { box, path: "site/none" })).code).toBe("NOT_FOUND");
      await sh(`head -c ${MAX_FILE + 1} /dev/zero > huge.bin`);
      const huge = await h.callErr("box_download", { box, path: "huge.bin" });
      expect(huge.code).toBe("LIMIT_EXCEEDED");
      expect(huge.message).toMatch(/hostPath/);
      expect((await h.callErr("box_download", { box, path: "/dev/null" })).code).toBe("INVALID_ARGUMENT");

      const bad = await h.callErr("box_upload", { box, destination: "site", files: [{ path: "../x", content: "x" }] });
      expect(bad.code).toBe("INVALID_ARGUMENT");
      const none = await h.callErr("box_upload", { box, destination: "site" });
      expect(none.code).toBe("INVALID_ARGUMENT");
      const two = await h.callErr("box_upload", { box, destination: "site", files: [], archive: "" });
      expect(two.code).toBe("INVALID_ARGUMENT");
      expect(
        (await h.callErr("box_upload", { box, destination: "/etc/site", files: [{ path: "a", content: "a" }] })).code,
      ).toBe("FORBIDDEN");
    },
    T,
  );

  it(
    "refuses hostPath when no roots are configured",
    async () => {
      const err = await h.callErr("box_download", { box, path: "site", hostPath: "/tmp/x" });
      expect(err.code).toBe("FORBIDDEN");
      expect(err.message).toMatch(/BOXD_ROOTS/);
    },
    T,
  );
});

describe("paused boxes", () => {
  it(
    "resumes a paused box for a file call, says so, and counts the call as activity",
    async () => {
      await h.callOk("box_write_file", { box, path: "wake.txt", content: "awake" });
      await h.callOk("box_pause", { box });
      const before = (await h.callOk<{ lastActiveAt: string; status: string }>("box_get", { box })).lastActiveAt;
      await new Promise((r) => setTimeout(r, 20));
      const res = await h.call("box_read_file", { box, path: "wake.txt" });
      expect(res.isError).toBeFalsy();
      expect(res.structuredContent).toMatchObject({ content: "awake", resumed: true });
      const text = res.content[0]?.type === "text" ? res.content[0].text : "";
      expect(text).toContain("(box resumed)");
      const after = await h.callOk<{ lastActiveAt: string; status: string }>("box_get", { box });
      expect(after.status).not.toBe("paused");
      expect(Date.parse(after.lastActiveAt)).toBeGreaterThan(Date.parse(before));
    },
    T,
  );
});
