// The box-event bus: services announce what happened to a box (or a run in it) and features subscribe,
// instead of being wired into the services that cause it. Emitting is synchronous: subscribers run in
// order, at the emit point, so a feature sees the box exactly as the emitter left it. A subscriber that
// throws (or whose promise rejects) is logged and never breaks the emitter or the other subscribers.
// This module knows nothing of Docker, SQLite or MCP: payloads are plain records.

import type { Logger } from "../log.js";
import type { BoxRecord, RunStatus, RunType } from "../model/box.js";

/** Every event with its payload. Boxes are the record as stored right after the change. */
export interface BoxEvents {
  /** A box was recorded and its container made and started (box_create, a warm-pool fill). */
  created: { box: BoxRecord };
  /** Its container began a fresh process tree: after create, a restart, or a wake from a stopped pause. */
  started: { box: BoxRecord; reason: "create" | "restart" | "wake" };
  /** Frozen (box_pause or the idle timer). */
  paused: { box: BoxRecord; reason: "manual" | "idle" };
  /** A paused box is live again: thawed, or its stopped container started again. */
  woke: { box: BoxRecord; how: "thawed" | "started" };
  /** Its container stopped: to release a long-frozen box's memory, or on its own (main process ended). */
  stopped: { box: BoxRecord; reason: "released" | "exited" };
  /** box_delete (and the warm pool removing its own boxes). Emitters wait for async subscribers. */
  deleted: { box: BoxRecord };
  /** box_update changed its settings (one line per change, as logged). */
  updated: { box: BoxRecord; changes: string[] };
  /** A warm-pool box became a tenant's (box_create without a container start). */
  claimed: { box: BoxRecord };
  /** A run (command or agent) began following its process in the box. */
  "run-started": { boxId: string; runId: string; type: RunType };
  /** The server stopped following a run: it ended, or the server is shutting down ("failed", interrupted). */
  "run-ended": { boxId: string; runId: string; status: RunStatus };
}

export type BoxEventName = keyof BoxEvents;
export type BoxEventSubscriber<E extends BoxEventName> = (payload: BoxEvents[E]) => void | Promise<void>;

/** The part of the bus emitters need (services take this in their deps). */
export interface BoxEventEmitter {
  emit<E extends BoxEventName>(event: E, payload: BoxEvents[E]): void;
  emitAndWait<E extends BoxEventName>(event: E, payload: BoxEvents[E]): Promise<void>;
}

export class BoxEventBus implements BoxEventEmitter {
  private readonly subscribers = new Map<BoxEventName, Set<BoxEventSubscriber<never>>>();

  constructor(private readonly log: Logger) {}

  /** Subscribes; returns the unsubscribe function. */
  on<E extends BoxEventName>(event: E, fn: BoxEventSubscriber<E>): () => void {
    let set = this.subscribers.get(event);
    if (!set) {
      set = new Set();
      this.subscribers.set(event, set);
    }
    const entry = fn as BoxEventSubscriber<never>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Calls every subscriber now, in subscription order; async work they start goes on by itself. */
  emit<E extends BoxEventName>(event: E, payload: BoxEvents[E]): void {
    this.deliver(event, payload);
  }

  /** Like emit(), then waits until every subscriber's promise has settled (box_delete waits for its GC). */
  async emitAndWait<E extends BoxEventName>(event: E, payload: BoxEvents[E]): Promise<void> {
    await Promise.all(this.deliver(event, payload));
  }

  private deliver<E extends BoxEventName>(event: E, payload: BoxEvents[E]): Promise<void>[] {
    const pending: Promise<void>[] = [];
    // A copy: a subscriber may unsubscribe (itself or another) while the event is delivered.
    for (const fn of [...(this.subscribers.get(event) ?? [])] as BoxEventSubscriber<E>[]) {
      try {
        const out = fn(payload);
        if (out instanceof Promise) pending.push(out.catch((err: unknown) => this.failed(event, err)));
      } catch (err) {
        this.failed(event, err);
      }
    }
    return pending;
  }

  private failed(event: BoxEventName, err: unknown): void {
    this.log.warn("a box-event subscriber failed", { event, error: String(err) });
  }
}
