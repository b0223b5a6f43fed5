// Reads what a connection really asks for: the TLS ClientHello's server name (SNI) or the HTTP Host header.

/** The SNI host name of a TLS ClientHello; null when absent; undefined when more bytes are needed. */
export function readSni(buf: Buffer): string | null | undefined {
  if (buf.length < 5) return undefined;
  if (buf[0] !== 0x16) return null; // not a TLS handshake record
  const recordLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLen) return recordLen > 16384 ? null : undefined;
  let p = 5;
  if (buf[p] !== 0x01) return null; // not a ClientHello
  p += 4; // handshake type + length
  p += 2 + 32; // version + random
  if (p >= buf.length) return null;
  p += 1 + (buf[p] ?? 0); // session id
  if (p + 2 > buf.length) return null;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p >= buf.length) return null;
  p += 1 + (buf[p] ?? 0); // compression methods
  if (p + 2 > buf.length) return null;
  const extEnd = p + 2 + buf.readUInt16BE(p);
  p += 2;
  while (p + 4 <= extEnd && p + 4 <= buf.length) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === 0x0000) {
      // server_name: list length, then entries of (type, length, name)
      let q = p + 2;
      while (q + 3 <= p + len) {
        const nameType = buf[q];
        const nameLen = buf.readUInt16BE(q + 1);
        if (nameType === 0) return buf.subarray(q + 3, q + 3 + nameLen).toString("ascii");
        q += 3 + nameLen;
      }
      return null;
    }
    p += len;
  }
  return null;
}

/** The Host header of an HTTP/1.x request head; null when absent; undefined when the head is incomplete. */
export function readHttpHost(buf: Buffer): string | null | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length > 16384 ? null : undefined;
  const head = buf.subarray(0, end).toString("latin1");
  const m = /\r\nhost:[ \t]*([^\r\n]+)/i.exec(head);
  if (!m?.[1]) return null;
  return m[1]
    .trim()
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "");
}
