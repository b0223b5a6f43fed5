// The durable event log of agent runs (box_run_events): each run's decoded events are written to SQLite
// as they arrive, so a client that started a run in the background, or lost its connection, reads what it
// missed from a cursor, long-polling for more while the run goes on. Bounded per run: text fragments are
// coalesced into one event per burst, every event is clipped, and past BOXD_RUN_EVENTS_MAX_BYTES only one
// note and the run's done/error event are still written (the end is always readable).
import { invalidArgument, notFound } from "../errors.js";
import type { BoxEvents } from "../events/box-events.js";
import type { RunRecord } from "../model/box.js";
import type { RunEventStore } from "../state/run-event-store.js";
import { type AgentEvent, clip } from "./events.js";

/** Largest event written (its JSON); longer fields are cut. */
const MAX_EVENT_BYTES = 64 * 1024;
/** Text fragments wait at most this long to be merged with the next one. */
const TEXT_DELAY_MS = 200;
/** One page of box_run_events at most (events, and bytes of their data). */
const PAGE_EVENTS = 500;
const PAGE_BYTES = 1024 * 1024;

export interface RunEventView {
  seq: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

export interface RunEventPage {
  events: RunEventView[];
  /** Pass as `after` next time (the last event's seq, or the cursor given when there was none). */
  nextCursor: string;
  /** The run has ended and every event of it has been read. */
  done: boolean;
  status: RunRecord["status"];
}

export interface RunEventsDeps {
  store: RunEventStore;
  runs: { get(id: string): RunRecord | null };
  events: { on(event: "run-ended", fn: (p: BoxEvents["run-ended"]) => void): unknown };
  maxBytes: number;
}

export class RunEvents {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly deps: RunEventsDeps) {
    deps.events.on("run-ended", ({ runId }) => this.wake(runId));
  }

  /** A recorder for one run; events wait in it until `bind` names the run (its id comes with its start). */
  recorder(redact: (text: string) => string): EventRecorder {
    return new EventRecorder(this.deps.store, this.deps.maxBytes, redact, (runId) => this.wake(runId));
  }

  /** The run's events after `after`, waiting up to `waitSeconds` for new ones while the run goes on. */
  async read(boxId: string, runId: string, after: string | undefined, waitSeconds = 0, signal?: AbortSignal) {
    const from = parseCursor(after);
    const run = this.deps.runs.get(runId);
    if (!run || run.boxId !== boxId) throw notFound(`no run "${runId}" in this box: box_runs lists its runs`);
    let page = this.page(runId, from);
    if (page.length === 0 && run.status === "running" && waitSeconds > 0) {
      await this.waitFor(runId, waitSeconds * 1000, signal);
      page = this.page(runId, from);
    }
    const status = this.deps.runs.get(runId)?.status ?? run.status;
    const last = page.at(-1)?.seq ?? from;
    const done = status !== "running" && this.deps.store.after(runId, last, 1).length === 0;
    return { events: page, nextCursor: String(last), done, status } satisfies RunEventPage;
  }

  private page(runId: string, from: number): RunEventView[] {
    const out: RunEventView[] = [];
    let bytes = 0;
    for (const row of this.deps.store.after(runId, from, PAGE_EVENTS)) {
      if (out.length > 0 && bytes + row.data.length > PAGE_BYTES) break;
      bytes += row.data.length;
      out.push({ seq: row.seq, type: row.type, at: row.at, data: JSON.parse(row.data) as Record<string, unknown> });
    }
    return out;
  }

  /** Resolves at the run's next event or end, the timeout, or the caller's cancel (registered synchronously). */
  private waitFor(runId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(runId) ?? new Set();
      this.waiters.set(runId, set);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }

  private wake(runId: string): void {
    for (const fn of [...(this.waiters.get(runId) ?? [])]) fn();
  }
}

function parseCursor(after: string | undefined): number {
  if (after === undefined || after === "") return 0;
  if (!/^\d{1,15}$/.test(after)) {
    throw invalidArgument(
      `after "${clip(after, 40)}" is not a cursor: pass nextCursor from box_run_events (or omit it)`,
    );
  }
  return Number(after);
}

/** Writes one run's events: text coalesced, each event clipped, the run's total bounded. */
export class EventRecorder {
  private runId: string | null = null;
  private readonly queue: [string, Record<string, unknown>][] = [];
  private seq = 0;
  private bytes = 0;
  private capped = false;
  private text = "";
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: RunEventStore,
    private readonly maxBytes: number,
    private readonly redact: (text: string) => string,
    private readonly notify: (runId: string) => void,
  ) {}

  bind(runId: string): void {
    this.runId = runId;
    this.seq = this.store.lastSeq(runId);
    for (const [type, fields] of this.queue.splice(0)) this.write(type, fields);
  }

  add(event: AgentEvent): void {
    if (event.type === "text") {
      this.text += event.text;
      if (this.text.length >= MAX_EVENT_BYTES / 2) this.flushText();
      else this.timer ??= setTimeout(() => this.flushText(), TEXT_DELAY_MS).unref();
      return;
    }
    this.flushText();
    const { type, ...fields } = event;
    this.write(type, fields);
  }

  /** The stream has ended: write what is pending. */
  close(): void {
    this.flushText();
  }

  private flushText(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.text) return;
    const text = this.text;
    this.text = "";
    this.write("text", { text });
  }

  private write(type: string, fields: Record<string, unknown>): void {
    if (!this.runId) {
      this.queue.push([type, fields]);
      return;
    }
    const data = this.redact(fitEvent(fields));
    const final = type === "done" || type === "error";
    if (!final && this.bytes + data.length > this.maxBytes) {
      if (!this.capped) {
        this.capped = true;
        const message = `events beyond ${this.maxBytes} bytes per run (BOXD_RUN_EVENTS_MAX_BYTES) are left out; the run's end is still recorded`;
        this.insert("truncated", JSON.stringify({ message }));
      }
      return;
    }
    this.bytes += data.length;
    this.insert(type, data);
  }

  private insert(type: string, data: string): void {
    const runId = this.runId as string;
    try {
      this.store.append(runId, this.seq + 1, type, data);
    } catch {
      // The database is closing (server shutdown while a text burst waited): the run is recorded as
      // interrupted anyway, and a timer callback must not throw.
      return;
    }
    this.seq += 1;
    this.notify(runId);
  }
}

/** The event's fields as JSON of at most MAX_EVENT_BYTES or so: long strings and big values are cut. */
function fitEvent(fields: Record<string, unknown>): string {
  const json = JSON.stringify(fields);
  if (json.length <= MAX_EVENT_BYTES) return json;
  const share = Math.floor(MAX_EVENT_BYTES / (Object.keys(fields).length + 1));
  const cut = Object.fromEntries(
    Object.entries(fields).map(([k, v]) => {
      const text = typeof v === "string" ? v : JSON.stringify(v ?? null);
      return [k, text.length > share ? clip(text, share) : v];
    }),
  );
  return JSON.stringify(cut);
}
