// Docker's multiplexed stream splitter (src/docker/demux.ts): frames split anywhere across chunks (inside
// the header too), several frames in one chunk, stdout and stderr kept apart, empty frames, and a stream
// that is not multiplexed at all (a terminal) passed through whole as stdout.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { demuxStream } from "../../src/docker/demux.js";

function frame(type: number, payload: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(Buffer.byteLength(payload), 4);
  return Buffer.concat([header, Buffer.from(payload)]);
}

function split(chunks: Buffer[]): { out: string; err: string } {
  const source = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const seen = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => {
    seen.out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    seen.err += c.toString();
  });
  demuxStream(source, stdout, stderr);
  for (const c of chunks) source.emit("data", c);
  return seen;
}

describe("demuxStream", () => {
  const stream = Buffer.concat([frame(1, "hello "), frame(2, "oops"), frame(1, ""), frame(1, "world"), frame(2, "!")]);

  it("splits whole frames, several to a chunk", () => {
    expect(split([stream])).toEqual({ out: "hello world", err: "oops!" });
  });

  it("gives the same result at every split point, one byte at a time too", () => {
    for (let at = 1; at < stream.length; at++) {
      expect(split([stream.subarray(0, at), stream.subarray(at)])).toEqual({ out: "hello world", err: "oops!" });
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(split(bytes)).toEqual({ out: "hello world", err: "oops!" });
  });

  it("passes a stream that is not multiplexed through as stdout", () => {
    expect(split([Buffer.from("plain terminal output\r\n"), Buffer.from("more")])).toEqual({
      out: "plain terminal output\r\nmore",
      err: "",
    });
  });
});
