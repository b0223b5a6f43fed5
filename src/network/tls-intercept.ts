// TLS interception for hosts a box has attachHeaders for (and only those): the egress proxy ends the box's
// TLS with a certificate from its own CA (egress-ca.ts, which the box trusts), reads the plain HTTP/1.1
// requests inside request by request (http-connection.ts: framing, one host per connection), adds the
// headers to each, and sends them on over a new TLS connection to the real host, whose certificate is
// verified against the system store and the operator's CA file. ALPN offers http/1.1 only, so HTTP/2
// clients fall back to HTTP/1.1; protocol upgrades (WebSockets) are refused with a 403, as over plain HTTP.

import type net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { forbidden, HttpConnection } from "./http-connection.js";

export interface Interception {
  /** The request head with the headers attached, or why the request is refused (a secret gone since). */
  rewrite(head: Buffer): Buffer | string;
}

export interface InterceptRequest {
  client: net.Socket;
  /** The ClientHello bytes already read from the client. */
  hello: Buffer;
  host: string;
  /** The address the proxy resolved and checked for `host`. */
  address: string;
  context: tls.SecureContext;
  /** PEM certificates the real host's certificate must chain to. */
  trusted: string;
  interception: Interception;
  track: (s: net.Socket) => void;
  onRefused: (host: string, why: string) => void;
}

const CONNECT_TIMEOUT_MS = 10_000;

function badGateway(host: string, why: string): string {
  const body = `boxd: the egress proxy could not reach ${host} securely (${why})\n`;
  return `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * The client socket as a plain stream that first replays the ClientHello the proxy already read (a TLS
 * socket made on the net.Socket itself would read from its handle and miss those bytes).
 */
function replaying(client: net.Socket, hello: Buffer): Duplex {
  const d = new Duplex({
    read: () => client.resume(),
    write: (chunk, _enc, cb) => client.write(chunk, cb),
    final: (cb) => client.end(cb),
    destroy: (err, cb) => {
      client.destroy();
      cb(err);
    },
  });
  d.push(hello);
  client.on("data", (chunk: Buffer) => d.push(chunk) || client.pause());
  client.on("end", () => d.push(null));
  client.on("close", () => d.destroy());
  client.resume();
  return d;
}

export function intercept(r: InterceptRequest): void {
  const inner = new tls.TLSSocket(replaying(r.client, r.hello) as unknown as net.Socket, {
    isServer: true,
    secureContext: r.context,
    ALPNProtocols: ["http/1.1"],
  });
  inner.on("error", () => inner.destroy());
  inner.on("close", () => r.client.destroy());
  let rewriteRefusal: string | null = null;
  new HttpConnection(inner, {
    open: (reqHost) => {
      if (reqHost !== r.host) {
        const why = `the request names another host (${reqHost}) than the TLS server name`;
        r.onRefused(reqHost, why);
        inner.end(forbidden(reqHost, why));
        return Promise.resolve(null);
      }
      return connectUpstream(r, inner);
    },
    rewriteHead: (_host, head) => {
      const out = r.interception.rewrite(head);
      if (typeof out === "string") rewriteRefusal = out;
      return out;
    },
    onRefused: (host, why) => r.onRefused(host, rewriteRefusal ?? why),
    denyFirst: (host, why) => {
      r.onRefused(host, why);
      inner.end(forbidden(host, why));
    },
  });
}

/** TLS to the real host, verified; a failure is answered with a 502 naming it (no secret was sent). */
function connectUpstream(r: InterceptRequest, inner: tls.TLSSocket): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const up = tls.connect({
      host: r.address,
      port: 443,
      servername: r.host,
      ca: r.trusted,
      ALPNProtocols: ["http/1.1"],
    });
    r.track(up);
    up.setTimeout(CONNECT_TIMEOUT_MS, () => up.destroy(new Error("timed out")));
    const failed = (err: Error) => {
      up.destroy();
      r.onRefused(r.host, `upstream TLS failed: ${err.message}`);
      inner.end(badGateway(r.host, err.message));
      resolve(null);
    };
    up.once("error", failed);
    up.once("secureConnect", () => {
      up.off("error", failed);
      up.setTimeout(0);
      up.on("error", () => up.destroy());
      inner.on("close", () => up.destroy());
      resolve(up);
    });
  });
}
