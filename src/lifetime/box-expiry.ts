// The expiry job: deletes boxes whose ttlSeconds ran out, whatever their state. One timer for the soonest
// expiry (re-armed when a box gets a TTL, and after each pass), not one per box, plus a sweep at start
// (before reconciliation adopts the boxes) and every minute as a backstop. A deletion that fails (engine
// down) is retried with a growing delay; meanwhile BoxService.resolve refuses the box, so an expired box is
// never used and never left half-deleted. No Docker and no MCP here: the box service deletes.
import type { BackgroundService } from "../background.js";
import type { Logger } from "../log.js";
import type { BoxStore } from "../state/box-store.js";

export interface BoxExpiryDeps {
  boxStore: Pick<BoxStore, "nextExpiry" | "expiredBy">;
  /** Deletes the box if it is still expired (BoxService.expire); false when it no longer is. */
  expire: (boxId: string) => Promise<boolean>;
  log: Logger;
  /** The backstop sweep's period (default a minute). */
  sweepMs?: number;
}

const SWEEP_MS = 60_000;
/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days): longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The first retry after a failed deletion, doubled up to the backstop's period while failures go on. */
const RETRY_MS = 2000;

export class BoxExpiry implements BackgroundService {
  private timer: NodeJS.Timeout | null = null;
  private backstop: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private armed = false;
  /** Set while deletions keep failing: the next try waits this long. */
  private retryMs = 0;

  constructor(private readonly deps: BoxExpiryDeps) {}

  /** Sweeps (also done by the start-up reconciliation: a second pass finds nothing), then arms the timers. */
  async start(): Promise<void> {
    this.armed = true;
    await this.sweep();
    this.backstop = setInterval(() => void this.sweep(), this.deps.sweepMs ?? SWEEP_MS);
    this.backstop.unref();
  }

  async stop(): Promise<void> {
    this.armed = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.backstop) clearInterval(this.backstop);
    this.timer = this.backstop = null;
    await this.running;
  }

  /**
   * Deletes every box due now; one pass at a time (a call during a pass runs one more after it). Resolves
   * when the pass is done; failures are logged, never thrown.
   */
  sweep(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        void this.sweep();
      } else this.rearm();
    });
    return this.running;
  }

  /** Points the timer at the soonest expiry (a box got or lost a TTL); a retry delay wins while failing. */
  rearm(): void {
    if (!this.armed || this.running) return; // a pass re-arms when it ends
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = this.deps.boxStore.nextExpiry();
    if (next === null) return;
    const due = Math.max(0, Date.parse(next) - Date.now());
    const delay = Math.min(due === 0 && this.retryMs ? this.retryMs : due, MAX_TIMER_MS);
    this.timer = setTimeout(() => void this.sweep(), delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    let failed = false;
    for (const id of this.deps.boxStore.expiredBy(new Date().toISOString())) {
      try {
        if (await this.deps.expire(id)) this.deps.log.info("box expired and was deleted", { box: id });
      } catch (err) {
        failed = true;
        this.deps.log.warn("could not delete an expired box; will retry", { box: id, error: String(err) });
      }
    }
    const cap = this.deps.sweepMs ?? SWEEP_MS;
    this.retryMs = failed ? Math.min(cap, this.retryMs ? this.retryMs * 2 : RETRY_MS) : 0;
  }
}
