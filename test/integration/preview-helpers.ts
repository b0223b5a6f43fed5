// Fixtures for the preview URL tests: small web servers written by hand for the boxes (Node and Python:
// GET, a POST that answers its body's sha256, server-sent events released by a second request, a
// WebSocket echo, and an endpoint that shows what the app received), and a host-side HTTP client that
// sends `Host: <port>-<box>.localhost` to the preview listener on 127.0.0.1 (Node resolves no *.localhost).
import http from "node:http";
import type { Harness } from "../helpers/harness.js";

export const NODE_SERVER = String.raw`
const http = require("http"), crypto = require("crypto");
let release = null;
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/echo")) {
    res.setHeader("content-type", "application/json");
    return res.end(JSON.stringify({ url: req.url, headers: req.headers, remote: req.socket.remoteAddress }));
  }
  if (req.method === "POST") {
    const h = crypto.createHash("sha256"); let n = 0;
    req.on("data", (c) => { h.update(c); n += c.length; });
    return req.on("end", () => res.end(JSON.stringify({ sha256: h.digest("hex"), bytes: n })));
  }
  if (req.url === "/sse") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("data: first\n\n");
    release = () => { res.write("data: second\n\n"); res.end("data: last\n\n"); };
    return;
  }
  if (req.url === "/release") { if (release) release(); release = null; return res.end("released"); }
  res.setHeader("set-cookie", ["a=1", "b=2"]);
  res.end("hello from node");
});
server.on("upgrade", (req, socket) => {
  socket.on("error", () => {});
  const accept = crypto.createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
  let buf = Buffer.alloc(0);
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 15; let len = buf[1] & 127; let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = buf[1] & 128; const mask = masked ? buf.subarray(off, off + 4) : null; if (masked) off += 4;
      if (buf.length < off + len) return;
      const p = Buffer.from(buf.subarray(off, off + len)); buf = buf.subarray(off + len);
      if (mask) for (let i = 0; i < p.length; i++) p[i] ^= mask[i % 4];
      if (op === 8) return socket.end(Buffer.from([136, 0]));
      if (op !== 1 && op !== 2) continue;
      const out = Buffer.from("echo:" + p.toString());
      const head = out.length < 126 ? Buffer.from([128 | op, out.length]) : Buffer.from([128 | op, 126, out.length >> 8, out.length & 255]);
      socket.write(Buffer.concat([head, out]));
    }
  });
});
server.listen(Number(process.argv[2]), "0.0.0.0");
`;

export const PYTHON_SERVER = String.raw`
import hashlib, json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
released = threading.Event()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, body, ctype="text/plain"):
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        if self.path == "/sse":
            self.send_response(200); self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close"); self.end_headers()
            self.wfile.write(b"data: first\n\n"); self.wfile.flush()
            released.wait(120)
            self.wfile.write(b"data: second\n\ndata: last\n\n"); self.wfile.flush()
            self.close_connection = True
            return
        if self.path == "/release":
            released.set(); return self.reply(b"released")
        self.reply(("hello from python " + self.headers.get("Host", "")).encode())
    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0")); h = hashlib.sha256(); n = 0
        while left > 0:
            c = self.rfile.read(min(65536, left))
            if not c: break
            h.update(c); n += len(c); left -= len(c)
        self.reply(json.dumps({"sha256": h.hexdigest(), "bytes": n}).encode(), "application/json")
ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
`;

export interface Exposed {
  url: string;
  port: number;
  auth: string;
  token?: string;
  username?: string;
  password?: string;
  created: boolean;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Where to send a preview URL's requests: the listener on loopback, with the URL's host as Host. */
export function previewTarget(url: string): { port: number; host: string } {
  const u = new URL(url);
  return { port: Number(u.port), host: u.host };
}

/** One request through the preview listener (body: a Buffer sent with its Content-Length). */
export function get(
  url: string,
  opts: { path?: string; method?: string; headers?: Record<string, string>; body?: Buffer; host?: string } = {},
): Promise<Reply> {
  const t = previewTarget(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: t.port,
        path: opts.path ?? "/",
        method: opts.method ?? (opts.body ? "POST" : "GET"),
        headers: { host: opts.host ?? t.host, ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(120_000, () => req.destroy(new Error("request timed out")));
    req.end(opts.body);
  });
}

export const bearer = (e: Exposed) => ({ authorization: `Bearer ${e.token}` });

/** Starts a server script in the box (in the background) and waits until it answers on `port` in the box. */
/** Anything that calls tools: the harness's client or an HTTP client of a tenant. */
type Caller = Pick<Harness, "callOk">;

export async function startServer(h: Caller, box: string, kind: "node" | "python", port: number): Promise<void> {
  const file = kind === "node" ? "server.js" : "server.py";
  await h.callOk("box_write_file", { box, path: file, content: kind === "node" ? NODE_SERVER : PYTHON_SERVER });
  const cmd = kind === "node" ? `node ${file} ${port}` : `python3 ${file} ${port}`;
  // setsid + &: the server runs in no run of the box, so the box can pause (and wake) with it inside.
  await h.callOk("box_exec", { box, command: `setsid sh -c "${cmd} > server.log 2>&1" >/dev/null 2>&1 </dev/null &` });
  const probe =
    kind === "node"
      ? `node -e "require('http').get('http://127.0.0.1:${port}/echo',()=>process.exit(0)).on('error',()=>process.exit(1))"`
      : `python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/')"`;
  await h.callOk("box_exec", {
    box,
    command: `for i in $(seq 1 100); do ${probe} 2>/dev/null && exit 0; sleep 0.2; done; cat server.log; exit 1`,
    timeoutSeconds: 60,
  });
}
