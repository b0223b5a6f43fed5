// One file written on the server's disk from box data: a fresh temp file beside the target (created with
// O_EXCL|O_NOFOLLOW, so it can never be an existing file or a symlink), renamed over the target only once
// complete. An existing file at the target, a symlink or a hard link shared with a file elsewhere, is
// replaced rather than written through. Writes go through fs.WriteStream, which batches them (writev) so
// the disk keeps up with the engine; a per-chunk write loop fell behind and buffered hundreds of MiB.
// With `confine`, the temp file is checked to lie in that folder right after it is opened and before any
// byte is written, so a folder swapped for a symlink after the host path was checked leads nowhere.
import { randomBytes } from "node:crypto";
import fsCb, { createWriteStream, constants as fsc, type WriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { confineFd } from "./host-paths.js";

const HIGH_WATER = 8 * 1024 * 1024;

type OpenCallback = (err: Error | null, fd?: number) => void;

/** WriteStream's file operations, with an open() that refuses (and removes) a file outside `root`. */
function confinedFs(root: string) {
  const open = (file: string, flags: number, mode: number, cb: OpenCallback) => {
    fsCb.open(file, flags, mode, (err, fd) => {
      if (err) return cb(err);
      confineFd(fd, root).then(
        () => cb(null, fd),
        (refused: Error) => fsCb.close(fd, () => fsCb.unlink(file, () => cb(refused))),
      );
    });
  };
  return { open, write: fsCb.write, writev: fsCb.writev, close: fsCb.close };
}

export class HostFileWriter {
  readonly tmp: string;
  bytes = 0;
  private readonly out: WriteStream;
  private failure: Error | null = null;
  private closed: Promise<void>;

  constructor(
    readonly target: string,
    mode = 0o644,
    confine?: string,
  ) {
    this.tmp = path.join(path.dirname(target), `.${path.basename(target)}.boxd-${randomBytes(6).toString("hex")}.tmp`);
    this.out = createWriteStream(this.tmp, {
      // Numeric flags reach fs.open() as they are (the typings only list strings, which lack O_NOFOLLOW).
      flags: (fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW) as unknown as string,
      mode: mode & 0o777,
      highWaterMark: HIGH_WATER,
      fs: confine === undefined ? undefined : confinedFs(confine),
    });
    this.closed = new Promise((resolve) => this.out.once("close", () => resolve()));
    this.out.on("error", (err) => {
      this.failure ??= err;
    });
  }

  /** false when the caller should wait for drained() before writing more. */
  write(chunk: Buffer): boolean {
    if (this.failure) return true;
    this.bytes += chunk.length;
    return this.out.write(chunk);
  }

  drained(): Promise<void> {
    if (this.failure || !this.out.writableNeedDrain) return Promise.resolve();
    return drainedOrClosed(this.out);
  }

  /** Flushes and closes the temp file; throws the first write error. */
  async finish(mtime?: Date): Promise<void> {
    if (!this.out.destroyed) this.out.end();
    await this.closed;
    if (this.failure) {
      await fs.rm(this.tmp, { force: true });
      throw this.failure;
    }
    if (mtime) await fs.lutimes(this.tmp, mtime, mtime);
  }

  /** Moves the finished temp file over the target (a file or symlink there is replaced, not followed). */
  async commit(): Promise<void> {
    try {
      await fs.rename(this.tmp, this.target);
    } catch (err) {
      await fs.rm(this.tmp, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.out.destroy();
    await this.closed;
    await fs.rm(this.tmp, { force: true });
  }
}

/** Settles once the stream has room again (drain) or will never take more (close). */
export function drainedOrClosed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
