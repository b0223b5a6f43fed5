// The HTTP reverse proxy of preview URLs: one request in, the same request to the box's port, the answer
// streamed back as it comes (no buffering either way: large uploads, downloads and server-sent events
// flow chunk by chunk). Hop-by-hop headers are dropped, X-Forwarded-For/Proto/Host are set by the proxy
// (never taken from the client), and the Host header the app sees is the preview host as the client sent it.
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { OpenTarget } from "./preview-targets.js";

/** How long a box's port may take to accept a connection before the client gets 504. */
export const CONNECT_TIMEOUT_MS = 10_000;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  // The listener answers 100-continue itself (Node does) and streams the body at once.
  "expect",
]);

/** What the proxy says about the client (X-Forwarded-*). */
export interface ClientFacts {
  remoteAddress: string;
  proto: "http" | "https";
  host: string;
}

/** Headers without hop-by-hop ones (and those the Connection header names) or client-sent X-Forwarded-*. */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase()),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k) || k.startsWith("x-forwarded-") || k === "forwarded") {
      continue;
    }
    out[k] = v;
  }
  return out;
}

export function withForwarded(headers: OutgoingHttpHeaders, c: ClientFacts): OutgoingHttpHeaders {
  return {
    ...headers,
    "x-forwarded-for": c.remoteAddress,
    "x-forwarded-proto": c.proto,
    "x-forwarded-host": c.host,
  };
}

/** A short plain-text answer from the proxy itself. */
export function replyText(res: ServerResponse, status: number, text: string, extra: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text) + 1,
    ...extra,
  });
  res.end(`${text}\n`);
}

/** Why a box's port could not be reached, in words the caller can act on. */
export function upstreamFailure(err: NodeJS.ErrnoException, port: number): { status: number; text: string } {
  if (err.code === "ETIMEDOUT_CONNECT") {
    return {
      status: 504,
      text: `port ${port} in the box did not accept a connection within ${CONNECT_TIMEOUT_MS / 1000} s`,
    };
  }
  if (err.code === "ECONNREFUSED" || err.code === "ECONNRESET" || err.code === "EHOSTUNREACH") {
    return {
      status: 502,
      text: `nothing listens on port ${port} in the box (${err.code}): start a server on 0.0.0.0:${port} there (not 127.0.0.1)`,
    };
  }
  return { status: 502, text: `port ${port} in the box could not be reached (${err.code ?? err.message})` };
}

/** Fails `req` with a connect timeout unless its socket connects in time (reused keep-alive sockets are). */
export function connectDeadline(req: http.ClientRequest): void {
  req.once("socket", (socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => {
      const err = new Error("connect timeout") as NodeJS.ErrnoException;
      err.code = "ETIMEDOUT_CONNECT";
      req.destroy(err);
    }, CONNECT_TIMEOUT_MS);
    socket.once("connect", () => clearTimeout(timer));
    socket.once("close", () => clearTimeout(timer));
  });
}

/** Proxies one request to the box; calls target.done() once the exchange is over, however it ended. */
export function proxyHttp(
  req: IncomingMessage,
  res: ServerResponse,
  target: OpenTarget,
  forward: { headers: OutgoingHttpHeaders; path: string },
  agent: http.Agent,
): void {
  const upstream = http.request({
    host: target.host,
    port: target.port,
    method: req.method,
    path: forward.path,
    headers: forward.headers,
    agent,
    setHost: false,
  });
  connectDeadline(upstream);
  upstream.on("response", (answer) => {
    const headers = endToEnd(answer.headers);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    // Headers go out now, not with the first body chunk: an SSE client sees the stream open at once.
    res.flushHeaders();
    answer.on("error", () => res.destroy());
    answer.pipe(res);
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    const f = upstreamFailure(err, target.port);
    replyText(res, f.status, f.text);
  });
  // The client went away (or the exchange ended): end the upstream side too, and release the box.
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
    target.done();
  });
  req.on("error", () => upstream.destroy());
  req.pipe(upstream);
}
