// The HTTP transport's open MCP sessions: each is one McpServer + one SDK transport + its event store, bound
// to the tenant that opened it. The registry bounds them: a session idle (no request, none in flight) past
// BOXD_HTTP_SESSION_IDLE_SECONDS is closed and forgotten; a tenant at its session cap has its least recently
// used idle session closed to make room; beyond the global cap new sessions are refused. It owns no HTTP
// parsing and no MCP logic: it only keeps, times and closes sessions.
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "../log.js";
import type { SessionEventStore } from "./event-store.js";

export interface Session {
  id: string;
  tenant: string;
  transport: StreamableHTTPServerTransport;
  events: SessionEventStore;
  createdAt: number;
  lastActiveAt: number;
  /** POST requests being answered now (tool calls and the like); a session with any is never expired. */
  inflight: number;
  /** Closes the MCP server and the transport (which ends the session's SSE streams) and frees its events. */
  close(): Promise<void>;
}

export interface SessionRegistryOptions {
  idleMs: number;
  maxSessions: number;
  maxPerTenant: number;
  log: Logger;
  now?: () => number;
}

/** A place held for a session being opened; release() it once the session is registered or given up. */
export type Admission = { ok: true; release: () => void } | { ok: false; why: string };

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private idleWaiters: (() => void)[] = [];
  /** POSTs in flight over all sessions, also those whose session is gone or not yet registered. */
  private active = 0;
  /** Sessions admitted but not registered yet, per tenant: they count against the caps too. */
  private readonly pending = new Map<string, number>();
  private pendingTotal = 0;

  constructor(private readonly opts: SessionRegistryOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  get inflight(): number {
    return this.active;
  }

  /** The session with this id, only when it belongs to the tenant (another tenant's session is "not found"). */
  get(id: string, tenant: string): Session | undefined {
    const s = this.sessions.get(id);
    return s && s.tenant === tenant ? s : undefined;
  }

  /** Makes room for a new session of the tenant, closing its least recently used idle session at its cap. */
  async admit(tenant: string): Promise<Admission> {
    const opening = this.pending.get(tenant) ?? 0;
    if (opening >= this.opts.maxPerTenant) {
      return {
        ok: false,
        why: `${opening} sessions of this tenant are being opened (BOXD_HTTP_MAX_SESSIONS_PER_TENANT)`,
      };
    }
    const mine = [...this.sessions.values()].filter((s) => s.tenant === tenant);
    if (mine.length + opening >= this.opts.maxPerTenant) {
      const lru = mine.filter((s) => s.inflight === 0).sort((a, b) => a.lastActiveAt - b.lastActiveAt)[0];
      if (!lru) {
        return {
          ok: false,
          why: `all ${mine.length} sessions of this tenant are busy (BOXD_HTTP_MAX_SESSIONS_PER_TENANT)`,
        };
      }
      this.opts.log.info("closing the least recently used session of a tenant at its session cap", {
        session: lru.id.slice(0, 8),
        tenant,
      });
      await this.expire(lru);
    }
    if (this.sessions.size + this.pendingTotal >= this.opts.maxSessions) {
      this.sweep();
      if (this.sessions.size + this.pendingTotal >= this.opts.maxSessions) {
        return {
          ok: false,
          why: `the server holds ${this.sessions.size} sessions, its limit (BOXD_HTTP_MAX_SESSIONS)`,
        };
      }
    }
    // Held synchronously with the check above, so concurrent initializes cannot all slip under the caps.
    this.pending.set(tenant, (this.pending.get(tenant) ?? 0) + 1);
    this.pendingTotal += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.pendingTotal -= 1;
      const left = (this.pending.get(tenant) ?? 1) - 1;
      if (left > 0) this.pending.set(tenant, left);
      else this.pending.delete(tenant);
    };
    return { ok: true, release };
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
  }

  /** Forgets a session (its transport closed); idempotent. */
  remove(id: string): void {
    if (this.sessions.delete(id)) this.notifyIfIdle();
  }

  /** A request started (`s` null: a new session's initialize); POSTs count as in flight until answered. */
  begin(s: Session | null, inflight: boolean): void {
    if (inflight) this.active += 1;
    if (!s) return;
    s.lastActiveAt = this.now();
    if (inflight) s.inflight += 1;
  }

  end(s: Session | null, inflight: boolean): void {
    if (inflight) this.active = Math.max(0, this.active - 1);
    if (s) {
      s.lastActiveAt = this.now();
      if (inflight) s.inflight = Math.max(0, s.inflight - 1);
    }
    this.notifyIfIdle();
  }

  /** Closes every session idle past the timeout as of `at` (default now); returns how many. */
  sweep(at: number = this.now()): number {
    const cutoff = at - this.opts.idleMs;
    const stale = [...this.sessions.values()].filter((s) => s.inflight === 0 && s.lastActiveAt <= cutoff);
    for (const s of stale) void this.expire(s);
    if (stale.length) this.opts.log.debug("expired idle sessions", { count: stale.length, left: this.sessions.size });
    return stale.length;
  }

  start(): void {
    if (this.sweeper) return;
    // Often enough that a session lives at most ~1.25x its idle time, rarely enough to cost nothing.
    const every = Math.min(30_000, Math.max(100, Math.floor(this.opts.idleMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Resolves when no request is in flight, or after `ms`; true when it got idle. */
  async waitIdle(ms: number): Promise<boolean> {
    if (this.inflight === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([idle, late]);
    clearTimeout(timer);
    return result;
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    await Promise.allSettled(all.map((s) => this.expire(s)));
  }

  private async expire(s: Session): Promise<void> {
    this.sessions.delete(s.id);
    try {
      await s.close();
    } catch (err) {
      this.opts.log.warn("closing a session failed", { session: s.id.slice(0, 8), error: String(err) });
    }
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || this.inflight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
