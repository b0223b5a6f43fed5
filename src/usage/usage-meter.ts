// A box's usage total from its container's cgroup accounting: everything that ran in the box (runs,
// daemons, detached children, initCommand, an agent's background work), not only what runs measured.
// The meter reads the container's counters and folds them into the box's durable ledger: on box_get,
// before boxd stops or removes a container (its cgroup goes with it), and every interval for the boxes
// that are up, so a container that stops on its own (or an engine restart) loses at most one interval.
import type { BackgroundService } from "../background.js";
import type { Logger } from "../log.js";
import type { BoxRecord } from "../model/box.js";
import type { UsageSample, UsageStore } from "../state/usage-store.js";
import { fold, type LifetimeReading, newLedger, totalOf, type UsageTotal } from "./usage-ledger.js";

export interface UsageMeterDeps {
  /** The container's counters for its current lifetime; null when it is stopped or gone. */
  read: (containerId: string) => Promise<(LifetimeReading & { source: string; memoryBytes?: number }) | null>;
  store: UsageStore;
  /** Every box that is not deleted (the periodic pass picks the ones that are up). */
  boxes: () => BoxRecord[];
  log: Logger;
  intervalMs: number;
}

/** How much usage history is kept (the console's chart). */
const HISTORY_MS = 24 * 3600 * 1000;

export class UsageMeter implements BackgroundService {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: UsageMeterDeps) {}

  /**
   * Reads the box's container and folds the reading into its ledger (`record`: and into its usage history,
   * which the periodic pass keeps, HISTORY_MS of it). Never throws: usage must not stop a
   * pause, a delete or a box_get; a reading that fails is taken at the next chance.
   */
  async sample(box: Pick<BoxRecord, "id" | "containerId" | "usage">, record = false): Promise<void> {
    if (!box.containerId) return;
    try {
      const reading = await this.deps.read(box.containerId);
      if (!reading) return;
      // Read, fold and write with no await between: concurrent samples of one box cannot undo each other.
      const ledger = fold(this.deps.store.get(box.id) ?? newLedger(box.usage), reading);
      const at = new Date().toISOString();
      this.deps.store.put(box.id, ledger, at, reading.source);
      if (record) this.deps.store.addSample(box.id, at, totalOf(ledger).cpuNs, reading.memoryBytes ?? 0);
    } catch (err) {
      this.deps.log.debug("could not read a box's usage", { box: box.id, error: String(err) });
    }
  }

  /** The box's total as last sampled; what its runs measured when it was never sampled. */
  total(box: Pick<BoxRecord, "id" | "usage">): UsageTotal {
    const ledger = this.deps.store.get(box.id);
    return ledger ? totalOf(ledger) : { cpuNs: box.usage.cpuNs, memoryPeakBytes: box.usage.memoryPeakBytes };
  }

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      this.pass ??= this.sampleAll().finally(() => {
        this.pass = null;
      });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass;
  }

  /** One pass over the boxes that are up (frozen and stopped ones use no CPU; their figures are kept). */
  async sampleAll(): Promise<void> {
    for (const box of this.deps.boxes()) {
      if (this.stopped) return; // the server is closing: the database goes next
      if (box.status === "idle") await this.sample(box, true);
    }
    this.deps.store.prune(new Date(Date.now() - HISTORY_MS).toISOString());
  }

  /** The box's usage history (one point per pass while it was up), oldest first. */
  history(boxId: string): UsageSample[] {
    return this.deps.store.samples(boxId, new Date(Date.now() - HISTORY_MS).toISOString());
  }
}
