// Each box's log: lifecycle events and every run with its output, newest last. Listeners (the MCP
// resource subscriptions) hear about every append.
import type { LogEntry, LogStore } from "../state/log-store.js";

export const MAX_LOG_MESSAGE = 64 * 1024;
export const MAX_LOG_TEXT = 4 * 1024 * 1024;

export type LogListener = (boxId: string) => void;

export class BoxLog {
  private readonly listeners = new Set<LogListener>();

  constructor(private readonly store: LogStore) {}

  append(boxId: string, level: LogEntry["level"], source: LogEntry["source"], message: string): void {
    const text = message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}\n… (cut at 64 KiB)` : message;
    this.store.append(boxId, { timestamp: new Date().toISOString(), level, source, message: text });
    for (const l of this.listeners) {
      try {
        l(boxId);
      } catch {
        // a listener's failure must not break the operation that logged
      }
    }
  }

  entries(boxId: string, opts: { offset?: number; limit?: number; since?: string } = {}): LogEntry[] {
    return this.store.list(boxId, opts);
  }

  /** The newest `n` entries, oldest first. */
  newest(boxId: string, n: number): LogEntry[] {
    return this.store.newest(boxId, n);
  }

  /** The log as text/plain, newest last, bounded to its newest MAX_LOG_TEXT bytes. */
  text(boxId: string): string {
    const lines = this.store
      .list(boxId, { limit: 1_000_000 })
      .map((e) => `${e.timestamp} ${e.level} [${e.source}] ${e.message}`);
    let size = 0;
    let from = lines.length;
    // Counted as the JSON the text travels in (a control byte takes six), so a read fits one message.
    const cost = (line: string | undefined) => Buffer.byteLength(JSON.stringify(line ?? "")) - 1;
    while (from > 0 && size + cost(lines[from - 1]) < MAX_LOG_TEXT) size += cost(lines[--from]);
    const head = from > 0 ? `… ${from} older entries: read them with box_logs\n` : "";
    return head + lines.slice(from).join("\n");
  }

  subscribe(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
