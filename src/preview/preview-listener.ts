// The preview listener: boxd's one inbound HTTP port (BOXD_PREVIEW_PORT). Each request is routed by its
// Host (`<port>-<box>.<domain>`), checked against that exposure's credentials, and proxied to the box's
// port on its bridge address (waking the box first). Unknown hosts, boxes and ports all get the same 404,
// so the listener tells nobody which boxes exist. Slow or oversized request heads are cut off by Node's
// own limits (headersTimeout, maxHeaderSize -> 431); no request can stall another.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { BackgroundService } from "../background.js";
import type { Logger } from "../log.js";
import { endToEnd, proxyHttp, replyText, withForwarded } from "./http-proxy.js";
import { authorize, challenge, type Granted, stripCredentials, tokenCookie, withoutToken } from "./preview-auth.js";
import type { PreviewHosts } from "./preview-host.js";
import type { OpenTarget, PreviewTargets, Routed } from "./preview-targets.js";
import { proxyUpgrade, rawReply } from "./upgrade-proxy.js";

/** Limits of the listener, each with its reason. */
const LIMITS = {
  // A whole request head within 10 s: a slowloris client holds one socket for at most that long.
  headersTimeoutMs: 10_000,
  // How often Node checks those two deadlines (its default, 30 s, would let a slow head live 40 s).
  timeoutCheckMs: 2_000,
  // A request body (an upload) must arrive within 10 minutes; responses (downloads, SSE) are not limited.
  requestTimeoutMs: 600_000,
  // Request heads beyond 16 KiB get 431 (Node's default, stated here so it is a decision).
  maxHeaderSize: 16 * 1024,
  // Connections to one box port at once (a flood of one preview queues there, not in other previews).
  socketsPerTarget: 256,
};

export interface PreviewListenerDeps {
  /** null: previews are off. 0 picks a free port. */
  port: number | null;
  host: string;
  hosts: PreviewHosts;
  targets: PreviewTargets;
  log: Logger;
}

type Route =
  | { ok: true; target: Routed; granted: Granted }
  | { ok: false; status: number; text: string; extra?: Record<string, string> };

const NOT_HERE = "no exposed port at this address (box_expose_port gives a box's preview URLs)";

export class PreviewListener implements BackgroundService {
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket | Duplex>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: LIMITS.socketsPerTarget, scheduling: "lifo" });
  private bound: number | null = null;
  /** Why the listener is not running, when it is not (for box_expose_port's error). */
  private downReason = "previews are off on this server (BOXD_PREVIEW_PORT=off)";

  constructor(private readonly deps: PreviewListenerDeps) {}

  /** The port it listens on, or null when it does not. */
  get port(): number | null {
    return this.bound;
  }

  get unavailableReason(): string {
    return this.downReason;
  }

  async start(): Promise<void> {
    if (this.deps.port === null) return;
    const server = http.createServer({
      maxHeaderSize: LIMITS.maxHeaderSize,
      headersTimeout: LIMITS.headersTimeoutMs,
      requestTimeout: LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: LIMITS.timeoutCheckMs,
      noDelay: true,
    });
    server.on("request", (req, res) => this.onRequest(req, res));
    server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    server.on("clientError", (err: NodeJS.ErrnoException, socket) => clientError(err, socket));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.deps.port ?? 0, this.deps.host, () => resolve());
      });
    } catch (err) {
      // Not fatal: the MCP server still serves everything else, and box_expose_port says why it cannot.
      this.downReason = `the preview listener could not listen on ${this.deps.host}:${this.deps.port} (${(err as Error).message}): set BOXD_PREVIEW_PORT to a free port and restart boxd`;
      this.deps.log.warn("preview listener not started", { error: (err as Error).message });
      return;
    }
    server.on("error", (err) => this.deps.log.warn("preview listener error", { error: err.message }));
    this.server = server;
    this.bound = (server.address() as { port: number }).port;
    this.deps.log.info("preview listener ready", { host: this.deps.host, port: this.bound });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.bound = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await closed;
  }

  /** Routing and auth, shared by requests and upgrades. */
  private route(req: IncomingMessage): Route {
    const path = req.url ?? "";
    // Origin-form only: an absolute URI could name another host than the Host header.
    if (!path.startsWith("/")) return { ok: false, status: 400, text: "request target must be a path" };
    const addr = this.deps.hosts.parse(req.headers.host);
    const target = addr ? this.deps.targets.find(addr) : null;
    if (!target) return { ok: false, status: 404, text: NOT_HERE };
    const { exposure } = target;
    let url: URL;
    try {
      url = new URL(path, "http://preview.invalid");
    } catch {
      return { ok: false, status: 400, text: "malformed request target" };
    }
    const granted = authorize(exposure, req.headers, url);
    if (!granted) {
      const how =
        exposure.auth === "basic"
          ? "send HTTP basic credentials (box_expose_port's username and password)"
          : "send Authorization: Bearer <token>, or open the URL once with ?token=<token>";
      return {
        ok: false,
        status: 401,
        text: `this preview needs credentials: ${how}`,
        extra: { "www-authenticate": challenge(exposure.auth) },
      };
    }
    return { ok: true, target, granted };
  }

  private forwardOf(req: IncomingMessage, granted: Granted, upgrade: boolean) {
    const stripped = stripCredentials(req.headers, req.url ?? "/", granted);
    const headers = withForwarded(endToEnd(stripped.headers), {
      remoteAddress: req.socket.remoteAddress ?? "",
      proto: this.deps.hosts.scheme,
      host: req.headers.host ?? "",
    });
    if (!upgrade) delete headers.upgrade;
    return { headers, path: stripped.path };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on("error", () => {});
    this.handle(req, res).catch((err: unknown) => {
      this.deps.log.warn("preview request failed", { error: String(err) });
      replyText(res, 500, "the preview proxy failed on this request");
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = this.route(req);
    if (!r.ok) return replyText(res, r.status, r.text, r.extra);
    // A browser's first visit with ?token=: the cookie carries the token from now on, and the address bar
    // loses it (so it is not in the history, bookmarks or the Referer of the app's links).
    if (r.granted.byQuery && (req.method === "GET" || req.method === "HEAD")) {
      // One leading slash only: "//host/..." (or "/\\host") would send the browser to another site.
      const location = withoutToken(req.url ?? "/").replace(/^[/\\]+/, "/");
      const cookie = tokenCookie(r.target.exposure.secret ?? "", this.deps.hosts.scheme === "https");
      return replyText(res, 302, `see ${location}`, { location, "set-cookie": cookie });
    }
    const target = await this.open(r.target);
    if ("failure" in target) return replyText(res, 502, target.failure);
    proxyHttp(req, res, target, this.forwardOf(req, r.granted, false), this.agent);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const r = this.route(req);
    if (!r.ok) {
      rawReply(socket, r.status, r.text, r.extra);
      return;
    }
    this.open(r.target).then(
      (target) => {
        if ("failure" in target) return rawReply(socket, 502, target.failure);
        if (socket.destroyed) return target.done();
        proxyUpgrade(req, socket, head, target, this.forwardOf(req, r.granted, true));
      },
      () => rawReply(socket, 500, "the preview proxy failed on this request"),
    );
  }

  private async open(routed: Routed): Promise<OpenTarget | { failure: string }> {
    try {
      return await this.deps.targets.open(routed);
    } catch (err) {
      return { failure: `the box could not be made ready for this request: ${(err as Error).message}` };
    }
  }
}

/** Answers a malformed, oversized or too slow request head and closes the socket (never a crash). */
function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  rawReply(socket, status, http.STATUS_CODES[status] ?? "bad request");
}
