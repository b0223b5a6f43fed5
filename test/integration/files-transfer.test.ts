// Bulk transfer through a real MCP client: 100 MiB through hostPath both ways (sha256 compared), the
// host-path rules, hostile archives uploaded into a box, and hostile folders/tars coming out of a box.
import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeExtract } from "../../src/fs/safe-extract.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { testRoot } from "../helpers/test-root.js";

const T = 120_000;
const MiB = 1024 * 1024;

let h: Harness;
let box: string;
let base: string; // holds the allowed root and folders beside it that are not allowed
let root: string;

const sh = async (command: string) =>
  h.callOk<{ exitCode: number; stdout: string; stderr: string }>("box_exec", { box, command });

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (c) => hash.update(c))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

async function writeRandom(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= MiB) {
    if (!out.write(randomBytes(Math.min(MiB, left)))) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

type Member = { name: string; type?: "file" | "directory" | "symlink" | "link"; linkname?: string; content?: string };

async function makeTar(members: Member[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const m of members) {
    const type = m.type ?? "file";
    if (type === "file") pack.entry({ name: m.name, type }, m.content ?? "x");
    else pack.entry({ name: m.name, type, linkname: m.linkname });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every path under `dir`, relative, without following symlinks. */
function tree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (lstatSync(path.join(dir, r)).isDirectory()) out.push(...tree(dir, r));
  }
  return out;
}

beforeAll(async () => {
  base = await mkdtemp(path.join(testRoot(), "files-host-"));
  root = path.join(base, "r");
  for (const d of ["r", "rx", "outside"]) mkdirSync(path.join(base, d));
  h = await startHarness({ roots: [root] });
  box = (await h.createBox({ name: "files-transfer" })).id;
}, T);

afterAll(async () => {
  await h?.close();
  if (base) await rm(base, { recursive: true, force: true });
}, T);

describe("hostPath transfers", () => {
  it(
    "moves 100 MiB into the box and back byte-exact in constant memory, keeping symlinks as symlinks",
    async () => {
      const src = path.join(root, "src");
      mkdirSync(path.join(src, "sub"), { recursive: true });
      await writeRandom(path.join(src, "big.bin"), 100 * MiB);
      writeFileSync(path.join(src, "sub", "small.txt"), "small\n");
      symlinkSync("sub/small.txt", path.join(src, "link"));
      symlinkSync("/etc/passwd", path.join(src, "abs-link"));
      const want = await sha256File(path.join(src, "big.bin"));

      // The server runs in this process: sample its buffer memory to show transfers stream.
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }, 10);
      const up = await h.callOk("box_upload", { box, destination: "data", hostPath: src });
      expect(up).toMatchObject({ destination: "/workspace/home/data", files: 4, bytes: 100 * MiB + 6 });
      const inBox = await sh(
        "sha256sum data/big.bin | cut -d' ' -f1; stat -c %U data/big.bin data/sub/small.txt; readlink data/link data/abs-link",
      );
      expect(inBox.stdout.split("\n")).toEqual([want, "boxuser", "boxuser", "sub/small.txt", "/etc/passwd", ""]);

      const out = path.join(root, "out", "data");
      const down = await h.callOk("box_download", { box, path: "data", hostPath: out });
      expect(down).toMatchObject({ type: "directory", hostPath: out, files: 2, skipped: 2, bytes: 100 * MiB + 6 });
      clearInterval(sampler);
      expect(peak - before, "buffer memory grew with the transfer size").toBeLessThan(64 * MiB);
      expect(await sha256File(path.join(out, "big.bin"))).toBe(want);
      expect(readFileSync(path.join(out, "sub", "small.txt"), "utf8")).toBe("small\n");
      expect(tree(out)).toEqual(["big.bin", "sub", "sub/small.txt"]);

      const single = await h.callOk("box_download", {
        box,
        path: "data/big.bin",
        hostPath: path.join(root, "one.bin"),
      });
      expect(single).toMatchObject({ type: "file", bytes: 100 * MiB, files: 1, hostPath: path.join(root, "one.bin") });
      expect(await sha256File(path.join(root, "one.bin"))).toBe(want);
      // A folder as hostPath: the file lands in it under its own name.
      const into = await h.callOk("box_download", {
        box,
        path: "data/sub/small.txt",
        hostPath: path.join(root, "out"),
      });
      expect(into).toMatchObject({ hostPath: path.join(root, "out", "small.txt"), bytes: 6 });
      const one = await h.callOk("box_upload", {
        box,
        destination: "/tmp/single",
        hostPath: path.join(src, "sub", "small.txt"),
      });
      expect(one).toMatchObject({ files: 1, bytes: 6 });
      expect((await sh("cat /tmp/single/small.txt")).stdout).toBe("small\n");
    },
    T,
  );

  it(
    "allows hostPath only inside the roots",
    async () => {
      const sibling = path.join(base, "rx"); // shares the prefix ".../r" but is not inside it
      writeFileSync(path.join(sibling, "f.txt"), "x");
      for (const hostPath of [path.join(sibling, "f.txt"), "/etc/hostname", path.join(root, "..", "rx", "f.txt")]) {
        const err = await h.callErr("box_upload", { box, destination: "x", hostPath });
        expect(err.code, hostPath).toBe("FORBIDDEN");
        expect(err.message).toMatch(/BOXD_ROOTS/);
      }
      symlinkSync(path.join(base, "outside"), path.join(root, "escape"));
      const via = await h.callErr("box_download", { box, path: "data/sub", hostPath: path.join(root, "escape", "x") });
      expect(via.code).toBe("FORBIDDEN");
      expect(
        (await h.callErr("box_download", { box, path: "data/sub", hostPath: path.join(sibling, "new") })).code,
      ).toBe("FORBIDDEN");
      expect((await h.callErr("box_upload", { box, destination: "x", hostPath: "relative/dir" })).code).toBe(
        "INVALID_ARGUMENT",
      );
      expect((await h.callErr("box_upload", { box, destination: "x", hostPath: path.join(root, "nope") })).code).toBe(
        "NOT_FOUND",
      );
      expect(readdirSync(path.join(base, "outside"))).toEqual([]);
      expect((await sh("test -e x && echo exists; true")).stdout).toBe("");
    },
    T,
  );
  it(
    "a failed download leaves the host file as it was, with no temp files behind",
    async () => {
      const target = path.join(root, "keep.txt");
      writeFileSync(target, "keep");
      await sh("echo secret > locked.txt && chmod 000 locked.txt");
      const err = await h.callErr("box_download", { box, path: "locked.txt", hostPath: target });
      expect(err.code).toBe("FORBIDDEN");
      expect((await h.callErr("box_download", { box, path: "nothing-here", hostPath: target })).code).toBe("NOT_FOUND");
      expect(readFileSync(target, "utf8")).toBe("keep");
      expect(tree(root).filter((n) => n.includes(".boxd-"))).toEqual([]);
    },
    T,
  );
});

describe("hostile archives into the box", () => {
  it(
    "extracts a good tar.gz with folders and symlinks",
    async () => {
      const archive = gzipSync(
        await makeTar([
          { name: "./pkg/", type: "directory" },
          { name: "./pkg/a.txt", content: "A" },
          { name: "pkg/lib/b.txt", content: "BB" },
          { name: "pkg/to-a", type: "symlink", linkname: "a.txt" },
        ]),
      );
      const up = await h.callOk("box_upload", { box, destination: "arch", archive: archive.toString("base64") });
      expect(up).toMatchObject({ files: 3, bytes: 3 });
      expect((await sh("cat arch/pkg/to-a arch/pkg/lib/b.txt; stat -c %U arch/pkg/lib")).stdout).toBe("ABBboxuser\n");
    },
    T,
  );

  it(
    "refuses ../ members, absolute members and writes through an archive's own symlink; nothing escapes",
    async () => {
      const evil: Member[][] = [
        [{ name: "ok.txt" }, { name: "../evil.txt" }],
        [{ name: "/tmp/abs-evil.txt" }],
        [{ name: "etc", type: "symlink", linkname: "/etc" }, { name: "etc/evil.conf" }],
        [{ name: "t", type: "symlink", linkname: "/tmp" }, { name: "t/evil.txt" }],
        [{ name: "d/x", type: "symlink", linkname: "../.." }, { name: "d/x/workspace/evil.txt" }],
        [{ name: "hard", type: "link", linkname: "/etc/passwd" }],
      ];
      for (const members of evil) {
        const archive = (await makeTar(members)).toString("base64");
        const err = await h.callErr("box_upload", { box, destination: "trap", archive });
        expect(err.code, members.map((m) => m.name).join(",")).toBe("INVALID_ARGUMENT");
      }
      const check = await sh(
        "ls -d trap /workspace/home/evil.txt /workspace/evil.txt /tmp/abs-evil.txt /etc/evil.conf /tmp/evil.txt 2>&1 | grep -vc 'No such file'; true",
      );
      expect(check.stdout.trim()).toBe("0");
      const junk = await h.callErr("box_upload", {
        box,
        destination: "trap",
        archive: Buffer.from("not a tar at all").toString("base64"),
      });
      expect(junk.code).toBe("INVALID_ARGUMENT");
    },
    T,
  );
});

describe("hostile folders out of the box", () => {
  it(
    "downloads a folder holding a symlink to / without following it",
    async () => {
      await sh(
        "mkdir -p tree/sub && echo ok > tree/ok.txt && ln -s / tree/rootlink && ln -s /etc/passwd tree/sub/pw && mkfifo tree/fifo",
      );
      const out = path.join(root, "tree-out");
      const res = await h.callOk("box_download", { box, path: "tree", hostPath: out });
      expect(res).toMatchObject({ files: 1, skipped: 3 });
      expect(tree(out)).toEqual(["ok.txt", "sub"]);
      expect(readdirSync(path.join(base, "outside"))).toEqual([]);
    },
    T,
  );

  it(
    "never writes through a symlink already on the host",
    async () => {
      await sh("mkdir -p pre/link && echo boom > pre/link/pwned.txt && echo fine > pre/fine.txt");
      const out = path.join(root, "pre-out");
      mkdirSync(out);
      symlinkSync(path.join(base, "outside"), path.join(out, "link"));
      const res = await h.callOk("box_download", { box, path: "pre", hostPath: out });
      expect(res).toMatchObject({ files: 1, skipped: 2 });
      expect(readdirSync(path.join(base, "outside"))).toEqual([]);
      expect(lstatSync(path.join(out, "link")).isSymbolicLink()).toBe(true);
    },
    T,
  );

  it(
    "safeExtract skips every unsafe member of a hand-made hostile tar",
    async () => {
      const dest = path.join(base, "extract", "dest");
      mkdirSync(dest, { recursive: true });
      const outside = path.join(base, "outside");
      const hostile = await makeTar([
        { name: "../escape.txt" },
        { name: "/abs.txt" },
        { name: "a/../../up.txt" },
        { name: "lnk", type: "symlink", linkname: outside },
        { name: "lnk/pwned.txt" },
        { name: "hl", type: "link", linkname: "/etc/passwd" },
        { name: "ok/fine.txt", content: "fine" },
      ]);
      const res = await safeExtract(Readable.from([hostile]), dest);
      // lnk itself is skipped, so lnk/pwned.txt lands in a real folder inside dest: harmless.
      expect(res).toEqual({ files: 2, bytes: 5, skipped: 5 });
      expect(tree(dest)).toEqual(["lnk", "lnk/pwned.txt", "ok", "ok/fine.txt"]);
      expect(readdirSync(outside)).toEqual([]);
      expect(existsSync(path.join(base, "extract", "escape.txt"))).toBe(false);
      expect(existsSync(path.join(base, "extract", "up.txt"))).toBe(false);
    },
    T,
  );
});
