// One attached connection to one container's resident executor (images/base/boxd-executor): JSON-line
// requests multiplexed by id, the hello that proves a privilege-separated executor answers, the
// acknowledgement watchdog, and bounded reading of what comes back (each byte scanned once, no line
// longer than any reply, at most MAX_BYTES_PER_SECOND per box). ResidentExec (resident-exec.ts) decides
// which requests and containers use it.
import { randomBytes } from "node:crypto";
import type { Logger } from "../log.js";
import type { ExecRequest, ExecResult } from "./exec-types.js";

/** How long a new connection waits for the executor's hello before this call uses Docker exec. */
const HELLO_TIMEOUT_MS = 3000;
/**
 * The executor acknowledges every start at once. In a container that is not paused, one that does not
 * within this time is wedged (box code cannot stop it: it runs as root): the connection is dropped, its
 * commands end without an exit code, and Docker exec serves the container until a new hello succeeds.
 */
const ACK_TIMEOUT_MS = 10_000;
const STDIN_PIECE = 48 * 1024;
/** The longest line the executor sends is an `out` of 64 KiB in base64 (~88 KiB): far more is not it. */
const MAX_LINE_BYTES = 1024 * 1024;
/**
 * A box's replies are read at most this fast; beyond it reading pauses, the executor stops reading its
 * processes' output (its flow control), and they block on their pipes until the server catches up.
 */
const MAX_BYTES_PER_SECOND = 64 * 1024 * 1024;

export interface Pending {
  id: number;
  req: ExecRequest;
  resolve: (r: ExecResult) => void;
  reject: (err: unknown) => void;
  ackTimer?: NodeJS.Timeout;
}

interface Message {
  t?: string;
  id?: number;
  n?: string;
  v?: number;
  uid?: number;
  d?: string;
  code?: number;
  errno?: string;
  msg?: string;
}

/** One attached connection to one container's executor. */
export class Channel {
  private readonly pending = new Map<number, Pending>();
  private nextId: number;
  /** Bytes of the current, unfinished line (scanned already: only new bytes are searched for "\n"). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Rate accounting: bytes read in the current one-second window. */
  private windowStart = Date.now();
  private windowBytes = 0;
  private helloWaiter: ((ok: boolean) => void) | null = null;
  /** The executor's protocol version, from its hello (3 runs runs itself). */
  private version = 0;
  private expectNonce = "";
  closed = false;

  constructor(
    private readonly socket: NodeJS.ReadWriteStream & { destroy?: () => void },
    /** Told when the connection ends, with the commands that will get no reply. */
    private readonly onClose: (lost: Pending[]) => void,
    private readonly isFrozen: () => Promise<boolean>,
    private readonly log: Logger,
  ) {
    // Ids start at a random point: another attached client (an older server still running) sees our
    // replies too, and must not take them for its own.
    this.nextId = randomBytes(4).readUInt32BE() * 1024;
  }

  /** Feeds demultiplexed executor stdout. */
  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.meter(chunk.length);
    let from = 0;
    let nl = chunk.indexOf(0x0a);
    while (nl >= 0) {
      const tail = chunk.subarray(from, nl);
      const line = this.partialBytes ? Buffer.concat([...this.partial, tail]) : tail;
      this.partial = [];
      this.partialBytes = 0;
      this.onLine(line.toString("latin1"));
      if (this.closed) return;
      from = nl + 1;
      nl = chunk.indexOf(0x0a, from);
    }
    if (from < chunk.length) {
      this.partial.push(chunk.subarray(from));
      this.partialBytes += chunk.length - from;
      if (this.partialBytes > MAX_LINE_BYTES) {
        this.log.warn("box executor sent a line longer than any reply; dropping its connection", {
          bytes: this.partialBytes,
        });
        this.close();
      }
    }
  }

  /** Pauses reading for the rest of the second once a box has sent MAX_BYTES_PER_SECOND in it. */
  private meter(bytes: number): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowBytes = 0;
    }
    this.windowBytes += bytes;
    if (this.windowBytes < MAX_BYTES_PER_SECOND) return;
    const pause = this.socket as unknown as { pause?: () => void; resume?: () => void };
    pause.pause?.();
    setTimeout(
      () => {
        this.windowStart = Date.now();
        this.windowBytes = 0;
        if (!this.closed) pause.resume?.();
      },
      Math.max(1, 1000 - (now - this.windowStart)),
    ).unref();
  }

  /** Says hello and waits for the executor's answer; false when it does not answer in time. */
  hello(): Promise<boolean> {
    const nonce = randomBytes(8).toString("hex");
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), HELLO_TIMEOUT_MS);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.helloWaiter = null;
        resolve(ok);
      };
      this.helloWaiter = (ok) => finish(ok);
      this.expectNonce = nonce;
      // The leading newline ends any partial line a previous client left behind.
      this.write(`\n${JSON.stringify({ t: "hello", n: nonce })}\n`);
    });
  }

  run(req: ExecRequest): Promise<ExecResult> {
    const id = this.nextId++;
    return new Promise<ExecResult>((resolve, reject) => {
      const stdin = req.stdin as Buffer | undefined;
      const onAbort = () => {
        // Like Docker exec: reading stops, the process itself keeps running (callers kill it if they must).
        if (this.pending.delete(id)) entry.resolve({ exitCode: null, aborted: true });
      };
      const settled = () => {
        clearTimeout(entry.ackTimer);
        req.signal?.removeEventListener("abort", onAbort);
      };
      const entry: Pending = {
        id,
        req,
        resolve: (r) => {
          settled();
          resolve(r);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
      };
      entry.ackTimer = setTimeout(() => void this.ackOverdue(entry), ACK_TIMEOUT_MS);
      this.pending.set(id, entry);
      this.write(`${JSON.stringify(this.startMessage(id, req, stdin !== undefined))}\n`);
      if (stdin !== undefined) {
        for (let at = 0; at < stdin.length; at += STDIN_PIECE) {
          const d = stdin.subarray(at, at + STDIN_PIECE).toString("base64");
          this.write(`${JSON.stringify({ t: "in", id, d })}\n`);
        }
        this.write(`${JSON.stringify({ t: "eof", id })}\n`);
      }
      if (req.signal?.aborted) onAbort();
      else req.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * A start was not acknowledged in time. A container the engine froze (a pause, or a snapshot's commit)
   * answers once thawed: wait on. One that runs, with its executor silent, has had it stopped by box code:
   * drop the connection.
   */
  private async ackOverdue(entry: Pending): Promise<void> {
    if (this.closed || this.pending.get(entry.id) !== entry) return;
    if (await this.isFrozen().catch(() => false)) {
      entry.ackTimer = setTimeout(() => void this.ackOverdue(entry), ACK_TIMEOUT_MS);
      return;
    }
    this.log.warn("box executor did not acknowledge a command; dropping its connection", { cmd: entry.req.cmd[0] });
    this.close();
  }

  /** The connection ended (the container stopped, or the engine went away): no reply will come. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.helloWaiter?.(false);
    const lost = [...this.pending.values()];
    for (const p of lost) clearTimeout(p.ackTimer);
    this.pending.clear();
    this.socket.destroy?.();
    this.onClose(lost);
  }

  private write(text: string): void {
    if (this.closed) return;
    this.socket.write(text);
  }

  /** The start request: a run as the run itself where this executor can (v3), else the command as given. */
  private startMessage(id: number, req: ExecRequest, stdin: boolean): Record<string, unknown> {
    const env: Record<string, string> = {};
    for (const kv of req.env ?? []) {
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const run = this.version >= 3 ? req.run : undefined;
    if (!run) return { t: "start", id, argv: req.cmd, env, cwd: req.workingDir, stdin };
    const unset = run.unsetEnv.length ? { unset: run.unsetEnv } : {};
    return { t: "start", id, argv: ["bash", "-c", run.command], env, cwd: run.cwd, stdin, run: run.id, ...unset };
  }

  private onLine(line: string): void {
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      return; // the executor's own lines are always whole; anything else is not for us
    }
    if (m.t === "hello") {
      if (m.n !== this.expectNonce) return;
      // Only a privilege-separated executor (root, dropping to the box user) keeps box code off the channel.
      if (typeof m.v !== "number" || m.v < 2 || m.uid !== 0) {
        this.log.warn("box executor is not privilege-separated; using docker exec", { v: m.v, uid: m.uid });
        this.helloWaiter?.(false);
        return;
      }
      this.version = m.v;
      this.helloWaiter?.(true);
      return;
    }
    const p = m.id === undefined ? undefined : this.pending.get(m.id);
    if (!p) return;
    switch (m.t) {
      case "started":
        clearTimeout(p.ackTimer);
        break;
      case "out":
        p.req.onStdout?.(Buffer.from(m.d ?? "", "base64"));
        break;
      case "err":
        p.req.onStderr?.(Buffer.from(m.d ?? "", "base64"));
        break;
      case "exit":
        this.pending.delete(m.id as number);
        p.resolve({ exitCode: m.code ?? null, aborted: false });
        break;
      case "fail":
        // The executor could not fork (the box is out of processes, or memory): Docker exec fails the
        // same way with exit 126, and callers recognise that by `couldNotStart`.
        this.pending.delete(m.id as number);
        this.log.debug("executor could not start a process", { errno: m.errno, msg: m.msg });
        p.req.onStderr?.(Buffer.from(`boxd-executor: cannot start ${p.req.cmd[0]}: ${m.msg ?? m.errno}\n`));
        p.resolve({ exitCode: 126, aborted: false, couldNotStart: true });
        break;
    }
  }
}
