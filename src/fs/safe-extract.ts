// Extracts a tar stream that came out of a box onto the server's disk. The stream is treated as hostile
// (whatever runs in the box could have produced it): member names that are absolute or contain `..` are
// skipped, nothing is ever written through a symlink (every parent folder is checked with lstat), links,
// devices and fifos are skipped, and each file is written to a fresh temp file and renamed into place, so
// an existing file (or hard link to one elsewhere) is replaced, never written through. Each temp file is
// also confined to the destination once opened (host-writer.ts), so a folder swapped for a symlink
// between the lstat checks and the open leads nowhere.
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import { HostFileWriter } from "./host-writer.js";
import { archiveMemberPath } from "./paths.js";

export interface ExtractCount {
  files: number;
  bytes: number;
  /** Members left out: unsafe names, links, devices, or paths blocked by a symlink or a file. */
  skipped: number;
}

type Entry = tar.Extract extends AsyncIterable<infer E> ? E : never;

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Makes sure every folder of `rel` under `root` is a real folder (not a symlink); false when one is not. */
export async function ensureDirs(root: string, rel: string): Promise<boolean> {
  let cur = root;
  for (const part of rel.split("/").filter(Boolean)) {
    cur = path.join(cur, part);
    try {
      const st = await fs.lstat(cur);
      if (!st.isDirectory()) return false;
    } catch (err) {
      if (errno(err) !== "ENOENT") throw err;
      try {
        await fs.mkdir(cur, { mode: 0o755 });
      } catch (e) {
        if (errno(e) !== "EEXIST") throw e;
        if (!(await fs.lstat(cur)).isDirectory()) return false;
      }
    }
  }
  return true;
}

/** Writes `body` to root/rel through a temp file; null when the target cannot safely be written. */
async function writeFile(
  root: string,
  rel: string,
  body: Readable,
  mode: number,
  mtime?: Date,
): Promise<number | null> {
  const parent = path.posix.dirname(rel);
  if (parent !== "." && !(await ensureDirs(root, parent))) {
    await drain(body);
    return null;
  }
  const writer = new HostFileWriter(path.join(root, rel), mode, root);
  try {
    // A loop, not pipeline(): Node's pipeline() does not see the end of tar-stream's (streamx) entries.
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (!writer.write(chunk)) await writer.drained();
    }
    await writer.finish(mtime);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  try {
    await writer.commit();
  } catch (err) {
    // rename fails on a folder in the way, which we then leave alone.
    if (["EISDIR", "ENOTEMPTY", "EEXIST", "ENOTDIR"].includes(errno(err) ?? "")) return null;
    throw err;
  }
  return writer.bytes;
}

async function drain(entry: Readable | Entry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/** Extracts `source` (a tar stream) into `dest`, an existing folder whose real path was checked. */
export async function safeExtract(source: Readable, dest: string): Promise<ExtractCount> {
  const root = await fs.realpath(dest);
  if (!(await fs.lstat(root)).isDirectory()) throw new Error(`${dest} is not a folder`);
  const count: ExtractCount = { files: 0, bytes: 0, skipped: 0 };
  const extract = tar.extract();
  source.on("error", (err) => extract.destroy(err));
  extract.on("error", () => {}); // surfaces through the iterator below
  source.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const rel = archiveMemberPath(h.name);
      let consumed = false;
      if (rel === "") {
        // the folder itself
      } else if (rel === null) {
        count.skipped += 1;
      } else if (h.type === "directory") {
        if (!(await ensureDirs(root, rel))) count.skipped += 1;
      } else if (h.type === "file" || h.type === "contiguous-file") {
        consumed = true;
        const n = await writeFile(root, rel, entry as unknown as Readable, h.mode ?? 0o644, h.mtime);
        if (n === null) count.skipped += 1;
        else {
          count.files += 1;
          count.bytes += n;
        }
      } else {
        count.skipped += 1;
      }
      if (!consumed) await drain(entry);
    }
  } catch (err) {
    source.destroy();
    throw err;
  }
  return count;
}
