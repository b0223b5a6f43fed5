// Relays an agent run's events to the client (progress notifications) and to the box log while it works.
// Both are coalesced (a harness streaming token by token must not become thousands of notifications or
// log rows) and capped per run (a flood must not grow memory, the log or the client's queue without
// bound); secrets are redacted on the way out.
import { type AgentEvent, describe } from "./events.js";

export interface RelayLimits {
  /** Progress text sent per run; beyond it one note says the rest was left out. */
  progressBytes: number;
  /** Box log text written per run (the log keeps each entry's head only, beyond 64 KiB). */
  logBytes: number;
  /** Longest a text fragment waits for more before it is sent. */
  progressDelayMs: number;
  logDelayMs: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  progressBytes: 4 * 1024 * 1024,
  logBytes: 1024 * 1024,
  progressDelayMs: 50,
  logDelayMs: 1000,
};

/** Buffers text, sends it after a delay or when a chunk is full, and stops (with one note) at a cap. */
class Coalescer {
  private pending = "";
  private sent = 0;
  private omitted = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (text: string) => void,
    private readonly cap: number,
    private readonly delayMs: number,
    private readonly chunk: number,
    private readonly what: string,
  ) {}

  add(text: string): void {
    const room = this.cap - this.sent - this.pending.length;
    if (text.length > room) this.omitted += text.length - Math.max(room, 0);
    if (room <= 0) return;
    this.pending += text.slice(0, room);
    if (this.pending.length >= this.chunk) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.delayMs).unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = "";
    this.sent += text.length;
    this.send(text);
  }

  close(): void {
    this.flush();
    if (this.omitted > 0) {
      this.send(`\n[boxd] ${this.omitted} more characters of ${this.what} left out (limit ${this.cap} per run)\n`);
      this.omitted = 0;
    }
  }
}

export class EventRelay {
  private readonly progress: Coalescer | null;
  private readonly log: Coalescer;
  /** Whether the last thing relayed was text: other events start on a line of their own. */
  private inText = false;

  constructor(
    sinks: { progress?: (message: string) => void; log: (level: "info" | "warn", message: string) => void },
    private readonly redact: (text: string) => string,
    limits: RelayLimits = DEFAULT_RELAY_LIMITS,
  ) {
    this.progress = sinks.progress
      ? new Coalescer(sinks.progress, limits.progressBytes, limits.progressDelayMs, 16 * 1024, "progress")
      : null;
    this.log = new Coalescer((t) => sinks.log("info", t), limits.logBytes, limits.logDelayMs, 32 * 1024, "log text");
    this.warn = (message) => sinks.log("warn", this.redact(message));
  }

  /** Problems in the stream (malformed events): logged at once, never sent as progress. */
  readonly warn: (message: string) => void;

  event(event: AgentEvent): void {
    const text = this.redact(describe(event));
    let piece: string;
    if (event.type === "text") {
      piece = text;
      this.inText = !text.endsWith("\n");
    } else {
      piece = `${this.inText ? "\n" : ""}${text}\n`;
      this.inText = false;
    }
    this.progress?.add(piece);
    this.log.add(piece);
    // Tool calls and the end are worth seeing at once; text is worth batching.
    if (event.type !== "text") this.progress?.flush();
  }

  close(): void {
    this.progress?.close();
    this.log.close();
  }
}
