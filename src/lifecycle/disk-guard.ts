// The disk allowance. Docker on ext4/overlay2 has no per-container quota, so boxd measures instead: every
// BOXD_DISK_CHECK_SECONDS it reads the writable-layer size of boxes that were active since the last look;
// a box over its allowance (its size's, or BOXD_MAX_DISK_BYTES for every size when the operator sets it)
// has its runs ended (growth stops) and new runs refused until it frees space (file reads, deletes and
// box_delete still work). The last measurement of each box is kept (in memory) for box results.
// The verdicts (DiskAllowance) are apart from the measuring job (DiskGuard): the run service consults the
// verdicts before every run, and the job, which ends runs, is built after the run service.
import type { BackgroundService } from "../background.js";
import type { BoxService } from "../box/box-service.js";
import { diskAllowanceFor } from "../box/sizes.js";
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxDisk, BoxRecord } from "../model/box.js";

const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(0);

/** Each box's allowance, the boxes known to be over it, and every box's last measured use. */
export class DiskAllowance {
  private readonly over = new Map<string, { used: number; allowed: number }>();
  private readonly measured = new Map<string, number>();

  /** `overrideBytes`: BOXD_MAX_DISK_BYTES, the allowance of every size when above 0. */
  constructor(readonly overrideBytes: number) {}

  /** The allowance of this box (from its size, unless the operator set one for all). */
  allowanceOf(box: Pick<BoxRecord, "size">): number {
    return diskAllowanceFor(box.size, this.overrideBytes);
  }

  /** What box results show: the allowance and, once the guard has measured the box, its use. */
  of(box: Pick<BoxRecord, "id" | "size">): BoxDisk {
    const used = this.measured.get(box.id);
    return { allowanceBytes: this.allowanceOf(box), ...(used === undefined ? {} : { usedBytes: used }) };
  }

  /** The guard's latest measurement of a box. */
  record(boxId: string, used: number): void {
    this.measured.set(boxId, used);
  }

  /** Throws LIMIT_EXCEEDED for a box known to be over its allowance (checked before new runs). */
  assertWithinAllowance(boxId: string): void {
    const over = this.over.get(boxId);
    if (over === undefined) return;
    throw new BoxdError(
      "LIMIT_EXCEEDED",
      `the box uses ${mib(over.used)} MiB of disk, over its ${mib(over.allowed)} MiB allowance: free space with box_delete_file (reads and deletes still work), then retry`,
    );
  }

  isOver(boxId: string): boolean {
    return this.over.has(boxId);
  }

  markOver(boxId: string, used: number, allowed: number): void {
    this.over.set(boxId, { used, allowed });
  }

  /** The box is back within its allowance; true when it was over. */
  clear(boxId: string): boolean {
    return this.over.delete(boxId);
  }

  /** The box is gone: forget it. */
  forget(boxId: string): void {
    this.over.delete(boxId);
    this.measured.delete(boxId);
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
        allowance.record(box.id, used);
        const allowed = allowance.allowanceOf(box);
        if (used <= allowed) {
          if (allowance.clear(box.id))
            this.deps.boxLog.append(box.id, "info", "system", "disk use back within the allowance");
          continue;
        }
        const first = !allowance.isOver(box.id);
        allowance.markOver(box.id, used, allowed);
        const ended = await this.deps.killAll(box.id);
        if (first || ended > 0) {
          const msg = `disk allowance exceeded (${mib(used)} MiB > ${mib(allowed)} MiB): ended ${ended} run(s); new runs are refused until space is freed`;
          this.deps.boxLog.append(box.id, "error", "system", msg);
          this.deps.log.warn("box over disk allowance", { box: box.id, used });
        }
      }
    } finally {
      this.running = false;
    }
  }
}
