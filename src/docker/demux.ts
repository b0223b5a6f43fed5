// Docker's multiplexed stream (a non-TTY exec or attach): frames of an 8-byte header (stream type: 1
// stdout, 2 stderr; bytes 4-7 the payload's length, big-endian) and the payload. Split here without
// copying payloads that arrive whole: the engine's own splitter concatenates every chunk into a growing
// buffer, which on a 100 MiB download left tens of MiB of garbage behind at a time.
import type { Readable, Writable } from "node:stream";

export function demuxStream(source: Readable | NodeJS.ReadableStream, stdout: Writable, stderr: Writable): void {
  let header: Buffer | null = null; // a header split across chunks
  let left = 0;
  let target: Writable = stdout;
  let raw = false;
  source.on("data", (chunk: Buffer) => {
    if (raw) {
      stdout.write(chunk);
      return;
    }
    let at = 0;
    while (at < chunk.length) {
      if (left > 0) {
        const n = Math.min(left, chunk.length - at);
        target.write(chunk.subarray(at, at + n));
        at += n;
        left -= n;
        continue;
      }
      const need = 8 - (header?.length ?? 0);
      const part = chunk.subarray(at, at + need);
      at += part.length;
      header = header ? Buffer.concat([header, part]) : Buffer.from(part);
      if (header.length < 8) return;
      const type = header[0];
      if (type !== 0 && type !== 1 && type !== 2) {
        // Not multiplexed after all (a terminal): the rest is stdout as it comes, as the engine's splitter does.
        raw = true;
        stdout.write(Buffer.concat([header, chunk.subarray(at)]));
        return;
      }
      target = type === 2 ? stderr : stdout;
      left = header.readUInt32BE(4);
      header = null;
    }
  });
}
