// One plain-HTTP connection through the egress proxy: every request head on it is checked before it is
// forwarded. The first picks the upstream; a later one for another host (Host or absolute URI), CONNECT,
// or anything that cannot be framed safely ends the connection: the answers to the requests before it
// are delivered, then a 403 for the refused one, and nothing from it on reaches the upstream.
import type net from "node:net";
import { HttpRequestStream, type RequestPiece } from "./http-requests.js";

export interface HttpConnectionDeps {
  /** Opens the upstream for the connection's first host, or null after refusing it (the 403 is sent). */
  open: (host: string) => Promise<net.Socket | null>;
  /** Told of a refused later request (logging); the connection answers it itself. */
  onRefused: (host: string, why: string) => void;
  /** Refuses the first request: the proxy answers 403 and closes. */
  denyFirst: (host: string, why: string) => void;
  /** Rewrites each checked request head before it is sent (attachHeaders); a string refuses the request. */
  rewriteHead?: (host: string, head: Buffer) => Buffer | string;
  /** Awaited once the first request's host is known, before that request is checked (attachHeaders are asked for). */
  prepare?: (host: string) => Promise<void>;
}

const HEAD_TIMEOUT_MS = 10_000;
/** After a refused request, how long the upstream may take to finish the answers before it. */
const DRAIN_TIMEOUT_MS = 30_000;

export function forbidden(host: string, why: string): string {
  const body = `boxd: egress to ${host} denied by this box's network policy (${why})\n`;
  return `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

export class HttpConnection {
  private readonly requests = new HttpRequestStream();
  private pinned: string | null = null;
  private upstream: net.Socket | null = null;
  private readonly queue: Buffer[] = [];
  private refused: { host: string; why: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Pieces read while `prepare` runs, checked in order once it is done. */
  private held: RequestPiece[] | null = null;
  private prepared = false;

  constructor(
    private readonly client: net.Socket,
    private readonly deps: HttpConnectionDeps,
  ) {
    client.on("data", (chunk: Buffer) => {
      for (const p of this.requests.push(chunk)) if (!this.take(p)) return;
      this.armHeadTimer();
    });
    client.on("end", () => this.upstream?.end());
    client.on("close", () => {
      if (this.timer) clearTimeout(this.timer);
      this.upstream?.destroy();
    });
    this.armHeadTimer();
  }

  /** Bounds the time one request head may take to arrive (idle time between requests is not bounded). */
  private armHeadTimer(): void {
    if (this.requests.midHead && !this.timer) {
      this.timer = setTimeout(() => this.client.destroy(), HEAD_TIMEOUT_MS);
    } else if (!this.requests.midHead && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Holds pieces while the first request's host is prepared for; checks them otherwise. */
  private take(p: RequestPiece): boolean {
    if (this.held) {
      this.held.push(p);
      return true;
    }
    const prepare = this.deps.prepare;
    if (!prepare || this.prepared || p.kind !== "head") return this.onPiece(p);
    this.prepared = true;
    this.held = [p];
    this.client.pause();
    const replay = () => {
      const held = this.held ?? [];
      this.held = null;
      // The first of them pins the connection, which resumes reading once its upstream is open.
      for (const q of held) if (!this.onPiece(q)) return;
    };
    prepare(p.host).then(replay, replay);
    return true;
  }

  private onPiece(piece: RequestPiece): boolean {
    const p = this.rewrite(piece);
    const other = p.kind === "head" && this.pinned !== null && p.host !== this.pinned;
    if (p.kind === "refused" || other) {
      const why = p.kind === "refused" ? p.why : `another host (${p.host}) than this connection's (${this.pinned})`;
      if (this.pinned === null) this.deps.denyFirst(p.host, why);
      else this.refuseLater(p.host, why);
      return false;
    }
    if (p.kind === "head" && this.pinned === null) this.pin(p.host);
    this.send(p.bytes);
    return true;
  }

  private rewrite(p: RequestPiece): RequestPiece {
    const rewriteHead = this.deps.rewriteHead;
    if (p.kind !== "head" || !rewriteHead || (this.pinned !== null && p.host !== this.pinned)) return p;
    const out = rewriteHead(p.host, p.bytes);
    return typeof out === "string" ? { kind: "refused", host: p.host, why: out } : { ...p, bytes: out };
  }

  private pin(host: string): void {
    this.pinned = host;
    this.client.pause();
    void this.deps.open(host).then((socket) => {
      if (!socket) return;
      this.upstream = socket;
      socket.pipe(this.client, { end: false });
      socket.on("end", () => {
        const r = this.refused;
        if (r) this.client.end(forbidden(r.host, r.why));
        else this.client.end();
      });
      socket.on("close", () => setImmediate(() => this.client.writableEnded || this.client.destroy()));
      for (const b of this.queue.splice(0)) this.send(b);
      if (this.refused) socket.end();
      else this.client.resume();
    });
  }

  private send(bytes: Buffer): void {
    const up = this.upstream;
    if (!up) this.queue.push(bytes);
    else if (!up.write(bytes) && !this.client.isPaused()) {
      this.client.pause();
      up.once("drain", () => this.refused || this.client.resume());
    }
  }

  private refuseLater(host: string, why: string): void {
    this.refused = { host, why };
    this.client.pause();
    this.client.removeAllListeners("data");
    if (this.timer) clearTimeout(this.timer);
    this.deps.onRefused(host, why);
    // The upstream answers what it already got, then closes; the 403 follows those answers.
    this.upstream?.end();
    setTimeout(() => this.client.destroy(), DRAIN_TIMEOUT_MS).unref();
  }
}
