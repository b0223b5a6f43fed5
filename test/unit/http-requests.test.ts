// The egress proxy's request framing: where each request on a connection ends, and what is refused.
import { describe, expect, it } from "vitest";
import { questionName, refusal } from "../../src/network/dns-gate.js";
import { HttpRequestStream, MAX_HEAD_BYTES, type RequestPiece } from "../../src/network/http-requests.js";

const feed = (text: string, split = 0): RequestPiece[] => {
  const s = new HttpRequestStream();
  const bytes = Buffer.from(text, "latin1");
  if (!split) return s.push(bytes);
  const out: RequestPiece[] = [];
  for (let i = 0; i < bytes.length; i += split) out.push(...s.push(bytes.subarray(i, i + split)));
  return out;
};
const summary = (pieces: RequestPiece[]) =>
  pieces.map((p) => (p.kind === "head" ? `head:${p.host}` : p.kind === "refused" ? `refused:${p.host}` : "body"));
const forwarded = (pieces: RequestPiece[]) =>
  Buffer.concat(pieces.flatMap((p) => (p.kind === "refused" ? [] : [p.bytes]))).toString("latin1");

describe("HttpRequestStream", () => {
  const get = (host: string, target = "/") => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  it("splits pipelined requests, byte by byte too, and forwards them unchanged", () => {
    const text = get("a.test") + get("b.test:80", "/x");
    for (const split of [0, 1, 7]) {
      const pieces = feed(text, split);
      expect(summary(pieces)).toEqual(["head:a.test", "head:b.test"]);
      expect(forwarded(pieces)).toBe(text);
    }
  });

  it("frames Content-Length and chunked bodies, so a request hidden in a body is never a head", () => {
    const hidden = get("evil.test");
    const cl = `POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${hidden.length}\r\n\r\n${hidden}${get("a.test")}`;
    expect(summary(feed(cl, 5)).filter((s) => s !== "body")).toEqual(["head:a.test", "head:a.test"]);
    const hex = hidden.length.toString(16);
    const chunked = `POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n${hex};ext=1\r\n${hidden}\r\n0\r\nX-Trailer: 1\r\n\r\n${get("b.test")}`;
    for (const split of [0, 1, 3]) {
      const pieces = feed(chunked, split);
      expect(summary(pieces).filter((s) => s !== "body")).toEqual(["head:a.test", "head:b.test"]);
      expect(forwarded(pieces)).toBe(chunked);
    }
  });

  it("refuses CONNECT, another host in an absolute URI, upgrades, ambiguous framing, and stops there", () => {
    const cases = [
      "CONNECT b.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n",
      "GET http://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
      "GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET / HTTP/2.0\r\nHost: a.test\r\n\r\n",
      "GET / HTTP/1.1\r\nHost a.test\r\n\r\n",
    ];
    for (const c of cases) {
      const pieces = feed(c + get("a.test"));
      expect(pieces.at(-1)?.kind, c).toBe("refused");
      // Only a head that was valid itself is forwarded (the bad chunk comes after one); nothing after.
      const heads = summary(pieces).filter((s) => s.startsWith("head"));
      expect(heads.length, c).toBe(c.endsWith("zz\r\n") ? 1 : 0);
    }
    expect(feed(get("a.test", "http://A.test:80/x")).map((p) => p.kind)).toEqual(["head"]);
  });

  it("bounds the head size", () => {
    const s = new HttpRequestStream();
    expect(s.push(Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\n"))).toEqual([]);
    expect(s.midHead).toBe(true);
    const pieces = s.push(Buffer.alloc(MAX_HEAD_BYTES, "a"));
    expect(pieces.map((p) => p.kind)).toEqual(["refused"]);
  });
});

describe("DNS gate messages", () => {
  const query = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([7, ...Buffer.from("Example"), 4, ...Buffer.from("test"), 0, 0, 1, 0, 1]),
  ]);

  it("reads the question's name and answers REFUSED with the same id and question", () => {
    expect(questionName(query)).toBe("example.test");
    expect(questionName(query.subarray(0, 20))).toBeNull();
    const two = Buffer.from(query);
    two.writeUInt16BE(2, 4); // a second question the policy never sees
    expect(questionName(two)).toBeNull();
    const update = Buffer.from(query);
    update[2] = 0x28; // opcode UPDATE
    expect(questionName(update)).toBeNull();
    const r = refusal(query);
    expect(r.readUInt16BE(0)).toBe(0x1234);
    expect((r[2] ?? 0) & 0x80).toBe(0x80);
    expect((r[3] ?? 0) & 0x0f).toBe(5);
    expect(questionName(r)).toBeNull(); // an answer is not a query
    expect(r.subarray(12)).toEqual(query.subarray(12));
  });
});
