// Splits a client's plain-HTTP/1.x byte stream into requests, so the egress proxy can check every request
// on a kept-alive connection, not just the first. It parses what it must to find where each request ends
// (Content-Length or chunked bodies, pipelining) and refuses what it cannot frame safely: a request is
// forwarded only after its head is complete and checked, and nothing after a refused request ever is.

/** One piece of the stream: a checked request head (its target host) or body bytes, in order. */
export type RequestPiece =
  | { kind: "head"; host: string; bytes: Buffer }
  | { kind: "body"; bytes: Buffer }
  | { kind: "refused"; host: string; why: string };

export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_LINE_BYTES = 4096;

type State =
  | { s: "head" }
  | { s: "length"; left: number }
  | { s: "chunk-size" }
  | { s: "chunk-data"; left: number }
  | { s: "chunk-end" }
  | { s: "trailer" }
  | { s: "refused" };

export class HttpRequestStream {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = { s: "head" };

  /** True while a head has started but is not complete (the proxy bounds the time this may take). */
  get midHead(): boolean {
    return this.state.s === "head" && this.buf.length > 0;
  }

  push(chunk: Buffer): RequestPiece[] {
    if (this.state.s === "refused") return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: RequestPiece[] = [];
    for (;;) {
      const piece = this.step();
      if (!piece) break;
      out.push(piece);
      if (piece.kind === "refused") {
        this.state = { s: "refused" };
        this.buf = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private refuse(host: string, why: string): RequestPiece {
    return { kind: "refused", host, why };
  }

  /** Consumes the next complete piece from the buffer; undefined when more bytes are needed. */
  private step(): RequestPiece | undefined {
    const st = this.state;
    if (st.s === "head") return this.head();
    if (st.s === "length" || st.s === "chunk-data") {
      if (this.buf.length === 0) return undefined;
      const n = Math.min(st.left, this.buf.length);
      const bytes = this.take(n);
      st.left -= n;
      if (st.left === 0) this.state = st.s === "length" ? { s: "head" } : { s: "chunk-end" };
      return { kind: "body", bytes };
    }
    const line = this.line();
    if (line === undefined) return undefined;
    if (line === null) return this.refuse("(body)", "malformed chunked body");
    const text = line.toString("latin1").slice(0, -2);
    if (st.s === "chunk-end") {
      if (text !== "") return this.refuse("(body)", "malformed chunked body");
      this.state = { s: "chunk-size" };
    } else if (st.s === "chunk-size") {
      const m = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(text);
      if (!m?.[1]) return this.refuse("(body)", "malformed chunk size");
      const size = Number.parseInt(m[1], 16);
      this.state = size === 0 ? { s: "trailer" } : { s: "chunk-data", left: size };
    } else if (text === "") this.state = { s: "head" }; // end of trailers
    return { kind: "body", bytes: line };
  }

  /** A CRLF-terminated line (with its CRLF); undefined when incomplete; null when too long. */
  private line(): Buffer | null | undefined {
    const end = this.buf.indexOf("\r\n");
    if (end < 0) return this.buf.length > MAX_LINE_BYTES ? null : undefined;
    if (end > MAX_LINE_BYTES) return null;
    return this.take(end + 2);
  }

  private take(n: number): Buffer {
    const bytes = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return bytes;
  }

  private head(): RequestPiece | undefined {
    // Blank lines between requests are allowed (RFC 9112 2.2) and dropped.
    while (this.buf.subarray(0, 2).toString("latin1") === "\r\n") this.buf = this.buf.subarray(2);
    const end = this.buf.indexOf("\r\n\r\n");
    if (end < 0) return this.buf.length > MAX_HEAD_BYTES ? this.refuse("(none)", "request head too large") : undefined;
    if (end + 4 > MAX_HEAD_BYTES) return this.refuse("(none)", "request head too large");
    const bytes = this.take(end + 4);
    const parsed = parseHead(bytes.subarray(0, end).toString("latin1"));
    if ("why" in parsed) return this.refuse(parsed.host, parsed.why);
    this.state =
      parsed.body === "chunked"
        ? { s: "chunk-size" }
        : parsed.body > 0
          ? { s: "length", left: parsed.body }
          : { s: "head" };
    return { kind: "head", host: parsed.host, bytes };
  }
}

type Head = { host: string; body: number | "chunked" } | { host: string; why: string };

/** The request's target host and how its body is framed; or why it cannot be forwarded. */
export function parseHead(text: string): Head {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const rl = /^([A-Za-z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  if (!rl?.[1] || !rl[2]) return { host: "(none)", why: "not an HTTP/1.x request" };
  const method = rl[1].toUpperCase();
  const headers = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(l);
    if (!m?.[1]) return { host: "(none)", why: "malformed header line" };
    const name = m[1].toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), m[2] ?? ""]);
  }
  const hosts = headers.get("host") ?? [];
  if (hosts.length !== 1 || !hosts[0]) return { host: "(none)", why: "no single Host header" };
  const host = hostOf(hosts[0]);
  if (host === null) return { host: hosts[0], why: "malformed Host header" };
  if (method === "CONNECT") return { host, why: "CONNECT is not allowed (the proxy forwards plain HTTP only)" };
  const target = rl[2];
  if (!target.startsWith("/") && target !== "*") {
    // Absolute form: its authority is the real target and must be the same host.
    const abs = /^http:\/\/([^/?#]+)/i.exec(target);
    const authority = abs?.[1] ? hostOf(abs[1]) : null;
    if (authority !== host) return { host: authority ?? target, why: "the request URI names another host than Host" };
  }
  if (headers.has("upgrade"))
    return { host, why: "protocol upgrades over plain HTTP are not forwarded (use TLS: wss/https)" };
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te) {
    if (cl) return { host, why: "both Content-Length and Transfer-Encoding" };
    const codings = te
      .join(",")
      .toLowerCase()
      .split(",")
      .map((c) => c.trim());
    if (codings.at(-1) !== "chunked") return { host, why: "a request body without a length" };
    return { host, body: "chunked" };
  }
  if (cl) {
    const values = new Set(
      cl
        .join(",")
        .split(",")
        .map((v) => v.trim()),
    );
    const [only] = values;
    if (values.size !== 1 || !only || !/^\d{1,15}$/.test(only)) return { host, why: "bad Content-Length" };
    return { host, body: Number(only) };
  }
  return { host, body: 0 };
}

/** Host name of a Host header or URI authority (lower case, no port or IPv6 brackets); null when malformed. */
function hostOf(authority: string): string | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:@\s[\]]+))(?::\d{0,5})?$/.exec(authority.trim());
  const h = m?.[1] ?? m?.[2];
  return h ? h.toLowerCase().replace(/\.$/, "") : null;
}
