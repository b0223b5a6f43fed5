// SSE resumability with bounded memory. The SDK's transport stores every event it sends on a session's
// streams (progress, results, notifications) in that session's store; a client that lost its connection
// reconnects with Last-Event-ID and is sent every later event of the same stream. One budget is shared by
// all sessions (oldest events dropped first) and one session may hold at most an eighth of it, so a session
// flooding output cannot push every other session's events out. Event ids are per-session sequence
// numbers: a session's store only ever answers for its own events.
import type { EventId, EventStore, StreamId } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

interface StoredEvent {
  store: SessionEventStore;
  streamId: StreamId;
  seq: number;
  message: JSONRPCMessage;
  bytes: number;
}

/** Fixed cost per event besides its JSON (ids, bookkeeping), so many tiny events are not free. */
const EVENT_OVERHEAD_BYTES = 128;

export class EventBuffer {
  /** Every stored event of every session, oldest first (a Set keeps insertion order and deletes in O(1)). */
  private readonly events = new Set<StoredEvent>();
  private bytes = 0;
  readonly maxSessionBytes: number;

  constructor(readonly maxBytes: number) {
    this.maxSessionBytes = Math.max(64 * 1024, Math.floor(maxBytes / 8));
  }

  /** A new, empty store for one session; close() it with the session. */
  forSession(): SessionEventStore {
    return new SessionEventStore(this);
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.events.size;
  }

  /** @internal (SessionEventStore) */
  added(e: StoredEvent): void {
    this.events.add(e);
    this.bytes += e.bytes;
    while (this.bytes > this.maxBytes) {
      const oldest = this.events.values().next().value;
      if (!oldest) break;
      oldest.store.drop(oldest);
    }
  }

  /** @internal (SessionEventStore) */
  removed(e: StoredEvent): void {
    if (this.events.delete(e)) this.bytes -= e.bytes;
  }
}

export class SessionEventStore implements EventStore {
  /** This session's events, oldest first. */
  private readonly events = new Set<StoredEvent>();
  private readonly streams = new Map<StreamId, StoredEvent[]>();
  private readonly byId = new Map<EventId, StoredEvent>();
  private seq = 0;
  private bytes = 0;
  private closed = false;

  constructor(private readonly buffer: EventBuffer) {}

  /** Whether the event is still kept (a reconnect from an id no longer kept cannot be served fully). */
  has(eventId: string): boolean {
    return this.byId.has(eventId);
  }

  get size(): number {
    return this.events.size;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    this.seq += 1;
    const id = String(this.seq);
    if (this.closed) return id;
    const e: StoredEvent = {
      store: this,
      streamId,
      seq: this.seq,
      message,
      bytes: EVENT_OVERHEAD_BYTES + JSON.stringify(message).length,
    };
    if (e.bytes > this.buffer.maxSessionBytes) {
      // Too big to keep: drop the stream's earlier events too, so a resume from before it fails plainly
      // instead of silently skipping it (eviction is oldest first, so kept events never have gaps).
      for (const old of [...(this.streams.get(streamId) ?? [])]) this.drop(old);
      return id;
    }
    this.events.add(e);
    this.byId.set(id, e);
    const stream = this.streams.get(streamId);
    if (stream) stream.push(e);
    else this.streams.set(streamId, [e]);
    this.bytes += e.bytes;
    while (this.bytes > this.buffer.maxSessionBytes) {
      const oldest = this.events.values().next().value;
      if (!oldest) break;
      this.drop(oldest);
    }
    this.buffer.added(e);
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.byId.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.byId.get(lastEventId);
    if (!last) throw new Error(`event ${lastEventId} is no longer kept`);
    // A copy: events stored while we replay are sent live by the transport, not twice by us.
    const later = (this.streams.get(last.streamId) ?? []).filter((e) => e.seq > last.seq);
    for (const e of later) {
      // Priming events (empty messages) only carry an id; there is nothing to resend.
      if (Object.keys(e.message).length === 0) continue;
      await send(String(e.seq), e.message);
    }
    return last.streamId;
  }

  /** Frees every event of the session (session closed). */
  close(): void {
    this.closed = true;
    for (const e of this.events) this.buffer.removed(e);
    this.events.clear();
    this.streams.clear();
    this.byId.clear();
    this.bytes = 0;
  }

  /** @internal Drops one event (always this session's oldest, or its stream's oldest). */
  drop(e: StoredEvent): void {
    if (!this.events.delete(e)) return;
    this.byId.delete(String(e.seq));
    this.bytes -= e.bytes;
    this.buffer.removed(e);
    const stream = this.streams.get(e.streamId);
    if (!stream) return;
    const at = stream.indexOf(e);
    if (at >= 0) stream.splice(at, 1);
    if (stream.length === 0) this.streams.delete(e.streamId);
  }
}
