// The upgrade (WebSocket) proxy of preview URLs: the upgrade request is forwarded to the box's port as it
// came (with the preview's credentials removed and X-Forwarded-* set); once the box answers 101, the two
// sockets are piped both ways until either side closes. Refusals from the box go back as they came.
import http, { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { connectDeadline, upstreamFailure } from "./http-proxy.js";
import type { OpenTarget } from "./preview-targets.js";

/** A complete HTTP/1.1 answer written straight to a socket that has left the HTTP server (then closed). */
export function rawReply(socket: Duplex, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = `${text}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once("finish", () => socket.destroy());
  if (socket.writable) socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  else socket.destroy();
}

/**
 * The status line and headers of an answer from the box, as the box sent them (Node parsed them already,
 * so no header can carry a line break). `closing`: a plain answer whose body follows until the socket
 * closes (it was de-chunked), so its framing headers are replaced.
 */
function rawHead(answer: IncomingMessage, closing: boolean): string {
  const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage ?? ""}`];
  for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i] as string;
    if (closing && /^(transfer-encoding|connection|keep-alive)$/i.test(name)) continue;
    lines.push(`${name}: ${answer.rawHeaders[i + 1]}`);
  }
  if (closing) lines.push("Connection: close");
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** Proxies one upgrade request; calls target.done() when the connection is over, however it ended. */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: OpenTarget,
  forward: { headers: http.OutgoingHttpHeaders; path: string },
): void {
  const upstream = http.request({
    host: target.host,
    port: target.port,
    method: req.method,
    path: forward.path,
    headers: { ...forward.headers, connection: "Upgrade", upgrade: req.headers.upgrade ?? "" },
    setHost: false,
    agent: false,
  });
  connectDeadline(upstream);
  socket.once("close", () => {
    upstream.destroy();
    target.done();
  });
  socket.on("error", () => socket.destroy());
  upstream.on("upgrade", (answer, boxSocket, boxHead) => {
    boxSocket.on("error", () => socket.destroy());
    boxSocket.once("close", () => socket.destroy());
    socket.once("close", () => boxSocket.destroy());
    boxSocket.setNoDelay(true);
    socket.write(rawHead(answer, false));
    if (boxHead.length) socket.write(boxHead);
    if (head.length) boxSocket.write(head);
    boxSocket.pipe(socket);
    socket.pipe(boxSocket);
  });
  // The box answered without upgrading (a 400, a 404, ...): pass that answer on and close.
  upstream.on("response", (answer) => {
    socket.write(rawHead(answer, true));
    answer.on("error", () => socket.destroy());
    answer.pipe(socket);
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    const f = upstreamFailure(err, target.port);
    rawReply(socket, f.status, f.text);
  });
  upstream.end();
}
