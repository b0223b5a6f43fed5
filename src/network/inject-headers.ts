// attachHeaders on the wire: the rendered headers put into one HTTP/1.1 request head (the egress proxy, in
// the network helper, does it for every request of an intercepted connection).

/** A request head with `headers` added, replacing any of the same names (case-insensitive) it carried. */
export function injectHeaders(head: Buffer, headers: Record<string, string>): Buffer {
  const text = head.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end).split("\r\n");
  const names = new Set(Object.keys(headers).map((n) => n.toLowerCase()));
  const kept = lines.filter((l, i) => i === 0 || !names.has(l.slice(0, l.indexOf(":")).toLowerCase()));
  const added = Object.entries(headers).map(([n, v]) => `${n}: ${v}`);
  // Values are UTF-8 on the wire (secrets may hold any text); the rest of the head stays as it came.
  return Buffer.concat([
    Buffer.from(`${kept.join("\r\n")}\r\n`, "latin1"),
    Buffer.from(added.map((l) => `${l}\r\n`).join(""), "utf8"),
    Buffer.from("\r\n", "latin1"),
  ]);
}
