// The console's terminal: a WebSocket (upgraded on /console/api/boxes/<id>/terminal, signed in by the
// session cookie, after the same Origin/Host check as every request) to a login shell on a pseudo-terminal
// in the box, as boxuser, started the way the SSH gateway starts one (src/ssh/box-process.ts), so closing
// the socket ends every process of that shell. Binary frames carry the terminal's output; text frames
// are JSON: from the page {type: "input", data} and {type: "resize", cols, rows}, to it {type: "exit",
// code} and {type: "error", message}. The box is held awake while the terminal is open.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import { type BoxProcess, startBoxProcess } from "../ssh/box-process.js";
import type { ConsoleSessions } from "./console-sessions.js";

const MAX_PER_TENANT = 8;
const MAX_FRAME = 64 * 1024;
/** Output held for a slow page before the shell's output is paused. */
const HIGH_WATER = 1024 * 1024;
const PATH = /^\/console\/api\/boxes\/([^/]+)\/terminal$/;

export interface TerminalDeps {
  services: Services;
  sessions: ConsoleSessions;
  log: Logger;
}

const clamp = (v: string | null, lo: number, hi: number, dflt: number) => {
  const n = Number(v);
  return Number.isInteger(n) ? Math.min(hi, Math.max(lo, n)) : dflt;
};

/** Answers an upgrade request with an HTTP status ("404 Not Found") and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export class ConsoleTerminals {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
  private readonly open = new Map<string, number>();

  constructor(private readonly deps: TerminalDeps) {}

  /** Whether this upgrade is the console's (it then answers it, accepted or refused). */
  handles(path: string): boolean {
    return PATH.test(path);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", "http://boxd");
    const tenant = this.deps.sessions.tenantOf(req.headers.cookie);
    if (!tenant) {
      refuseUpgrade(socket, "401 Unauthorized");
      return;
    }
    let boxId: string;
    try {
      boxId = this.deps.services.boxes.resolve(tenant, decodeURIComponent(PATH.exec(url.pathname)?.[1] ?? "")).id;
    } catch {
      refuseUpgrade(socket, "404 Not Found"); // unknown, or another tenant's: the same answer
      return;
    }
    if ((this.open.get(tenant) ?? 0) >= MAX_PER_TENANT) {
      refuseUpgrade(socket, "429 Too Many Requests");
      return;
    }
    const size = {
      cols: clamp(url.searchParams.get("cols"), 10, 500, 80),
      rows: clamp(url.searchParams.get("rows"), 5, 200, 24),
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws, tenant, boxId, size));
  }

  /** Ends every open terminal (server shutdown). */
  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  private async serve(ws: WebSocket, tenant: string, boxId: string, size: { cols: number; rows: number }) {
    const { services } = this.deps;
    this.open.set(tenant, (this.open.get(tenant) ?? 0) + 1);
    const release = services.holdAwake(boxId);
    let proc: BoxProcess | null = null;
    let closed = false;
    const opened = Date.now();
    ws.on("close", () => {
      closed = true;
      release();
      this.open.set(tenant, (this.open.get(tenant) ?? 1) - 1);
      proc?.exec.detach();
      void proc?.kill().catch(() => {});
      services.boxes.touch(boxId);
      services.boxLog.append(
        boxId,
        "info",
        "system",
        `console terminal closed after ${((Date.now() - opened) / 1000).toFixed(1)} s`,
      );
    });
    ws.on("error", () => ws.terminate());
    const early = earlyMessages(ws);
    try {
      const { containerId } = await services.liveBox(tenant, boxId);
      proc = await startBoxProcess(
        services.engine,
        { boxId, containerId },
        { kind: "shell", tty: { term: "xterm-256color", ...size }, env: {} },
      );
    } catch (err) {
      if (!closed) ws.send(JSON.stringify({ type: "error", message: (err as Error).message }));
      ws.close(1011);
      return;
    }
    if (closed) return void proc.kill().catch(() => {});
    services.boxLog.append(boxId, "info", "system", `console terminal opened by tenant ${tenant}`);
    this.pipe(ws, proc, early);
  }

  private pipe(ws: WebSocket, proc: BoxProcess, early: ReturnType<typeof earlyMessages>): void {
    const { stdout, stdin } = proc.exec;
    // Input that comes before the shell has said anything is held until it has: typed ahead into a
    // session whose process is still starting, it could be lost.
    let held: string[] | null = [];
    let heldBytes = 0;
    const input = (data: string) => {
      if (!held) {
        stdin.write(data);
        return;
      }
      heldBytes += data.length;
      if (heldBytes <= MAX_FRAME) held.push(data);
    };
    stdout.on("data", (chunk: Buffer) => {
      if (held) {
        for (const d of held) stdin.write(d);
        held = null;
      }
      ws.send(chunk, { binary: true });
      // A page that reads slowly holds the shell back, not the server's memory.
      if (ws.bufferedAmount > HIGH_WATER && !stdout.isPaused()) {
        stdout.pause();
        const resume = setInterval(() => {
          if (ws.bufferedAmount < HIGH_WATER / 2 || ws.readyState !== ws.OPEN) {
            clearInterval(resume);
            stdout.resume();
          }
        }, 20);
      }
    });
    void proc.exec.exited.then((code) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "exit", code }));
      ws.close(1000);
    });
    const onMessage = (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let msg: { type?: string; data?: unknown; cols?: unknown; rows?: unknown };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.type === "input" && typeof msg.data === "string") input(msg.data);
      else if (msg.type === "resize") {
        const cols = clamp(String(msg.cols), 10, 500, 80);
        const rows = clamp(String(msg.rows), 5, 200, 24);
        void proc.exec.resize({ cols, rows }).catch(() => {});
      }
    };
    ws.off("message", early.listener);
    ws.on("message", onMessage);
    for (const [data, isBinary] of early.messages) onMessage(data, isBinary);
  }
}

/** Messages that arrive while the shell is being started, kept for it (a page types at once). */
function earlyMessages(ws: WebSocket) {
  const messages: [RawData, boolean][] = [];
  const listener = (data: RawData, isBinary: boolean) => {
    if (messages.length < 256) messages.push([data, isBinary]);
  };
  ws.on("message", listener);
  return { messages, listener };
}
