// Pause, resume and the idle timer. A pause first freezes the box (cgroup freezer: CPU freed at once,
// memory kept); a box frozen longer than BOXD_STOP_AFTER_PAUSED_SECONDS is also stopped (memory released,
// filesystem kept). Anything that needs a live box calls ensureLive(), which wakes it from either kind.
import type { BoxService } from "../box/box-service.js";
import { BoxState } from "../box/box-state.js";
import type { KeyLock } from "../box/key-lock.js";
import type { DockerEngine } from "../docker/engine.js";
import { conflict } from "../errors.js";
import type { BoxEventEmitter } from "../events/box-events.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxRecord, BoxView } from "../model/box.js";
import type { BoxStore } from "../state/box-store.js";

export interface LifecycleDeps {
  engine: DockerEngine;
  boxes: BoxService;
  boxStore: BoxStore;
  /** The per-box lock shared with the other services. */
  lock: KeyLock;
  log: Logger;
  boxLog: BoxLog;
  /** True while the box has a run in progress (the idle timer never pauses such a box). */
  hasLiveRun: (boxId: string) => boolean;
  /** Announces paused, woke, stopped and started (a restart, a wake from a stop: initCommand runs then). */
  events: BoxEventEmitter;
  stopAfterPausedSeconds: number;
  tickMs: number;
  /** Reads a box's cgroup counters into its usage; called before a stop, which removes the cgroup. */
  sampleUsage?: (box: BoxRecord) => Promise<void>;
}

export class LifecycleService {
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private readonly state: BoxState;

  constructor(private readonly deps: LifecycleDeps) {
    this.state = new BoxState(deps.boxStore);
  }

  /** box_pause: freezes the box. keepAlive boxes refuse; a box with a live run refuses. */
  async pause(tenant: string, ref: string): Promise<BoxView> {
    const box = this.deps.boxes.resolve(tenant, ref);
    if (box.keepAlive) {
      throw conflict(
        `box "${box.name}" has keepAlive: true and is never paused; create it without keepAlive to pause it`,
      );
    }
    await this.deps.lock.run(box.id, () => this.freeze(box.id, "manual"));
    return this.deps.boxes.view(this.deps.boxes.mustGet(box.id));
  }

  /** box_resume: wakes a paused box; a box that is up is returned as it is. */
  async resume(tenant: string, ref: string): Promise<{ box: BoxView; resumed: boolean }> {
    const box = this.deps.boxes.resolve(tenant, ref);
    const { resumed } = await this.ensureLive(box.id);
    return { box: this.deps.boxes.view(this.deps.boxes.mustGet(box.id)), resumed };
  }

  /** The container of a box ready to run commands, waking it first if it is paused. */
  async ensureLive(boxId: string): Promise<{ containerId: string; resumed: boolean }> {
    const box = this.deps.boxes.mustGet(boxId);
    // Activity first: the idle timer must not pause a box between this check and the caller's work.
    this.deps.boxes.touch(boxId);
    if (box.status === "idle") return { containerId: this.deps.boxes.requireContainer(box), resumed: false };
    return this.deps.lock.run(boxId, async () => {
      const current = this.deps.boxes.mustGet(boxId);
      const containerId = this.deps.boxes.requireContainer(current);
      if (current.status !== "paused") return { containerId, resumed: false };
      await this.wake(current, containerId);
      return { containerId, resumed: true };
    });
  }

  /** Stops and starts a box's container (every process ends, files stay), then runs initCommand. */
  async restart(boxId: string): Promise<void> {
    await this.deps.lock.run(boxId, async () => {
      const box = this.deps.boxes.mustGet(boxId);
      const containerId = this.deps.boxes.requireContainer(box);
      await this.deps.sampleUsage?.(box);
      await this.deps.engine.containers.stop(containerId, 0);
      await this.deps.engine.containers.start(containerId);
      this.state.markRestarted(boxId);
      this.deps.boxLog.append(boxId, "warn", "system", "container restarted (all processes ended, files kept)");
      this.deps.events.emit("started", { box: this.deps.boxes.mustGet(boxId), reason: "restart" });
    });
  }

  /**
   * The engine says a container stopped. When boxd did not stop it (the box is still idle once any boxd
   * operation on it is done, and its container is down), its main process ended: box code killed the
   * executor, or the kernel's OOM killer picked it. The box becomes a stopped pause, so the next call
   * starts it again instead of failing on a dead container.
   */
  async noticeStopped(containerId: string): Promise<void> {
    // A moment first: when the engine itself is going down (every container dies), it is gone by then and
    // this does nothing; the reconciliation once it is back starts the boxes.
    await new Promise((r) => setTimeout(r, 1000).unref());
    const box = this.deps.boxes.listAll().find((b) => b.containerId === containerId);
    if (box?.status !== "idle") return;
    await this.deps.lock.run(box.id, async () => {
      if (this.deps.boxes.mustGet(box.id).status !== "idle") return;
      const container = await this.deps.engine.containers.inspect(containerId);
      if (!container || container.running) return;
      this.state.markStoppedItself(box.id);
      this.deps.boxLog.append(
        box.id,
        "warn",
        "system",
        `its container stopped on its own (main process ended${container.oomKilled ? ": out of memory" : ""}); it starts again on the next call, files kept`,
      );
      this.deps.events.emit("stopped", { box: this.deps.boxes.mustGet(box.id), reason: "exited" });
    });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.deps.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass of the idle timer: pause idle boxes, stop long-frozen ones. Exposed for restart catch-up. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const box of this.deps.boxStore.dueForIdleTimers(new Date(), this.deps.stopAfterPausedSeconds)) {
        try {
          if (box.due === "deepen") await this.deps.lock.run(box.id, () => this.deepen(box.id));
          else if (!this.deps.hasLiveRun(box.id)) await this.deps.lock.run(box.id, () => this.freeze(box.id, "idle"));
        } catch (err) {
          this.deps.log.warn("idle timer could not act on a box", { box: box.id, error: String(err) });
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  /** Freezes a box (under its lock). Re-checks everything: the state may have changed while waiting. */
  private async freeze(boxId: string, why: "manual" | "idle"): Promise<void> {
    const box = this.deps.boxes.mustGet(boxId);
    if (box.status === "paused") return; // idempotent
    const containerId = this.deps.boxes.requireContainer(box);
    if (this.deps.hasLiveRun(boxId)) {
      if (why === "idle") return;
      throw conflict(
        `box "${box.name}" has a run in progress: wait for it (box_run_get) or end it (box_run_kill), then pause`,
      );
    }
    if (why === "idle") {
      // Activity may have come in while this tick waited for the lock.
      if (Date.now() - Date.parse(box.lastActiveAt) < box.idleTimeoutSeconds * 1000 || box.keepAlive) return;
    }
    const container = await this.deps.engine.containers.inspect(containerId);
    if (container?.running && !container.paused) await this.deps.engine.containers.pause(containerId);
    this.state.markFrozen(boxId);
    this.deps.boxLog.append(
      boxId,
      "info",
      "system",
      why === "idle" ? `paused after ${box.idleTimeoutSeconds} s idle (frozen)` : "paused (frozen)",
    );
    this.deps.events.emit("paused", { box: this.deps.boxes.mustGet(boxId), reason: why });
  }

  /** Frozen for long: stop the container so its memory is released; the filesystem stays. */
  private async deepen(boxId: string): Promise<void> {
    const box = this.deps.boxes.mustGet(boxId);
    if (box.status !== "paused" || box.pauseKind !== "frozen") return;
    const containerId = this.deps.boxes.requireContainer(box);
    // Frozen, so its counters are final: read them before the stop removes its cgroup.
    await this.deps.sampleUsage?.(box);
    await this.deps.engine.containers.stop(containerId, 0);
    this.state.markDeepened(boxId);
    this.deps.boxLog.append(boxId, "info", "system", "stopped to release memory (files kept)");
    this.deps.events.emit("stopped", { box: this.deps.boxes.mustGet(boxId), reason: "released" });
  }

  /** Wakes a paused box from whatever state its container is really in. */
  private async wake(box: BoxRecord, containerId: string): Promise<void> {
    const container = await this.deps.engine.containers.inspect(containerId);
    if (!container) {
      this.state.markLost(box.id, "its container was removed outside boxd");
      throw conflict(`box "${box.name}" lost its container: delete it and create a new one`);
    }
    let started = false;
    if (container.paused) await this.deps.engine.containers.unpause(containerId);
    else if (!container.running) {
      await this.deps.engine.containers.start(containerId);
      started = true;
    }
    this.state.markWoke(box.id);
    this.deps.boxLog.append(box.id, "info", "system", started ? "resumed (started again)" : "resumed (thawed)");
    this.deps.events.emit("woke", { box: this.deps.boxes.mustGet(box.id), how: started ? "started" : "thawed" });
    if (started) this.deps.events.emit("started", { box: this.deps.boxes.mustGet(box.id), reason: "wake" });
  }
}
