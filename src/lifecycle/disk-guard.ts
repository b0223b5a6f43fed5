// The disk allowance. Docker on ext4/overlay2 has no per-container quota, so boxd measures instead: every
// BOXD_DISK_CHECK_SECONDS it reads the writable-layer size of boxes that were active since the last look;
// a box over BOXD_MAX_DISK_BYTES has its runs ended (growth stops) and new runs refused until it frees
// space (file reads, deletes and box_delete still work).
// The verdicts (DiskAllowance) are apart from the measuring job (DiskGuard): the run service consults the
// verdicts before every run, and the job, which ends runs, is built after the run service.
import type { BackgroundService } from "../background.js";
import type { BoxService } from "../box/box-service.js";
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";

/** Boxes known to be over their disk allowance, with their last measured use. */
export class DiskAllowance {
  private readonly over = new Map<string, number>();

  constructor(readonly maxBytes: number) {}

  /** Throws LIMIT_EXCEEDED for a box known to be over its allowance (checked before new runs). */
  assertWithinAllowance(boxId: string): void {
    const used = this.over.get(boxId);
    if (used === undefined) return;
    throw new BoxdError(
      "LIMIT_EXCEEDED",
      `the box uses ${(used / 1024 ** 2).toFixed(0)} MiB of disk, over its ${(this.maxBytes / 1024 ** 2).toFixed(0)} MiB allowance: free space with box_delete_file (reads and deletes still work), then retry`,
    );
  }

  isOver(boxId: string): boolean {
    return this.over.has(boxId);
  }

  markOver(boxId: string, used: number): void {
    this.over.set(boxId, used);
  }

  /** The box is back within its allowance (or gone); true when it was over. */
  clear(boxId: string): boolean {
    return this.over.delete(boxId);
  }
}

export interface DiskGuardDeps {
  engine: DockerEngine;
  boxes: BoxService;
  boxLog: BoxLog;
  log: Logger;
  allowance: DiskAllowance;
  killAll: (boxId: string) => Promise<number>;
  hasLiveRun: (boxId: string) => boolean;
  intervalMs: number;
}

export class DiskGuard implements BackgroundService {
  private timer: NodeJS.Timeout | null = null;
  private lastCheck = 0;
  private running = false;

  constructor(private readonly deps: DiskGuardDeps) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; exposed for tests and start-up. */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { allowance } = this.deps;
    const since = this.lastCheck;
    this.lastCheck = Date.now();
    try {
      for (const box of this.deps.boxes.listAll()) {
        if (box.status !== "idle" || !box.containerId) continue;
        const active = this.deps.hasLiveRun(box.id) || Date.parse(box.lastActiveAt) >= since - 1000;
        if (!active && !allowance.isOver(box.id)) continue;
        const used = await this.deps.engine.containers.diskUsage(box.containerId).catch(() => null);
        if (used === null) continue;
        if (used <= allowance.maxBytes) {
          if (allowance.clear(box.id))
            this.deps.boxLog.append(box.id, "info", "system", "disk use back within the allowance");
          continue;
        }
        const first = !allowance.isOver(box.id);
        allowance.markOver(box.id, used);
        const ended = await this.deps.killAll(box.id);
        if (first || ended > 0) {
          const msg = `disk allowance exceeded (${(used / 1024 ** 2).toFixed(0)} MiB > ${(allowance.maxBytes / 1024 ** 2).toFixed(0)} MiB): ended ${ended} run(s); new runs are refused until space is freed`;
          this.deps.boxLog.append(box.id, "error", "system", msg);
          this.deps.log.warn("box over disk allowance", { box: box.id, used });
        }
      }
    } finally {
      this.running = false;
    }
  }
}
