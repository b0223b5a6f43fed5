// box_fork: N new boxes from one box's current filesystem in one call, for parallel attempts. A temporary
// snapshot of the source (taken as box_snapshot takes one: the box frozen for the moment of capture, a
// paused box captured as it is, without waking it), N creates from it, and the snapshot deleted afterwards
// whatever happened (the forks keep its image layers until the last of them is deleted: snapshot GC).
// All or nothing: when a create fails, the forks made so far are deleted and the error is returned, so a
// failed fork leaves no box, container or network behind.
import type { BoxService } from "../box/box-service.js";
import type { CreateBoxInput } from "../box/create-settings.js";
import { newSnapshotId } from "../box/ids.js";
import { checkName } from "../box/validation.js";
import { BoxdError, conflict, invalidArgument, toBoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxRecord, BoxView } from "../model/box.js";
import type { SnapshotService } from "./snapshot-service.js";

export const MAX_FORKS = 10;
/** Forks created at once (each waits on the engine for a network and a container). */
const FORK_BATCH = 3;

export interface ForkDeps {
  boxes: BoxService;
  snapshots: Pick<SnapshotService, "create" | "delete" | "resolve" | "takingOf">;
  /** Whether an operation (snapshot, pause, wake, delete, ...) holds or waits for the box's lock. */
  busy: (boxId: string) => boolean;
  boxLog: BoxLog;
  log: Logger;
}

export interface ForkResult {
  /** The source box's id. */
  source: string;
  /** The new boxes, in order (named `<name>-1` … `<name>-N` when a name was given). */
  boxes: BoxView[];
}

export class ForkService {
  constructor(private readonly deps: ForkDeps) {}

  async fork(
    tenant: string,
    ref: string,
    count: number,
    name: string | undefined,
    progress: (message: string) => void = () => {},
  ): Promise<ForkResult> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_FORKS) {
      throw invalidArgument(`count must be a whole number from 1 to ${MAX_FORKS} (got ${count})`);
    }
    const source = this.deps.boxes.resolve(tenant, ref);
    const names = name === undefined ? null : forkNames(name, count);
    this.assertForkable(source);
    for (const n of names ?? []) this.deps.boxes.assertNameFree(tenant, n);
    this.deps.boxes.limits.assertCanCreateBoxes(tenant, this.deps.boxes.countOf(tenant), count);

    progress(`fork: capturing ${source.name}'s filesystem`);
    const snapName = `fork-${source.id.slice(4)}-${newSnapshotId().slice(5, 11)}`;
    try {
      const snap = await this.deps.snapshots.create(tenant, source.id, snapName);
      const input = forkInput(this.deps.boxes.mustGet(source.id), snap.id);
      const made = await this.createAll(tenant, input, names, count, progress);
      this.deps.boxLog.append(source.id, "info", "system", `forked into ${made.map((b) => b.id).join(", ")}`);
      return { source: source.id, boxes: made };
    } finally {
      await this.dropSnapshot(tenant, snapName);
    }
  }

  /** CONFLICT (retry) for a box in the middle of something, or that cannot be captured at all. */
  private assertForkable(box: BoxRecord): void {
    const taking = this.deps.snapshots.takingOf(box.id);
    if (taking) {
      throw conflict(
        `box "${box.name}" is being snapshotted (${taking.id}): retry box_fork when that snapshot is ready (box_snapshot_list)`,
      );
    }
    if (this.deps.busy(box.id)) {
      throw conflict(
        `box "${box.name}" is busy with another operation (a snapshot, pause, resume or delete): retry box_fork in a moment`,
      );
    }
    this.deps.boxes.requireContainer(box);
  }

  /** The forks, FORK_BATCH at a time; when one fails, every fork made is deleted and its error thrown. */
  private async createAll(
    tenant: string,
    input: CreateBoxInput,
    names: string[] | null,
    count: number,
    progress: (message: string) => void,
  ): Promise<BoxView[]> {
    const made: BoxView[] = [];
    let failure: unknown = null;
    for (let i = 0; i < count && failure === null; i += FORK_BATCH) {
      const batch = Array.from({ length: Math.min(FORK_BATCH, count - i) }, (_, k) => i + k);
      const settled = await Promise.allSettled(
        batch.map((k) => this.deps.boxes.create(tenant, { ...input, ...(names ? { name: names[k] } : {}) })),
      );
      for (const s of settled) {
        if (s.status === "rejected") failure ??= s.reason;
        else {
          const { notes: _notes, ...view } = s.value;
          made.push(view);
          progress(`fork: created ${made.length}/${count} (${view.name})`);
        }
      }
    }
    if (failure === null) return made;
    progress(`fork: a create failed, deleting the ${made.length} forks made`);
    for (const box of made) {
      await this.deps.boxes.delete(tenant, box.id).catch((err: unknown) => {
        this.deps.log.warn("could not delete a fork after a failed fork", { box: box.id, error: String(err) });
      });
    }
    const err = toBoxdError(failure);
    const undone = made.length ? ` (the ${made.length} made were deleted again)` : "";
    throw new BoxdError(err.code, `box_fork made none of the ${count} forks${undone}: ${err.message}`, { cause: err });
  }

  /** The temporary snapshot goes, also when taking it failed (its record is then in error). */
  private async dropSnapshot(tenant: string, snapName: string): Promise<void> {
    try {
      const snap = this.deps.snapshots.resolve(tenant, snapName);
      await this.deps.snapshots.delete(tenant, snap.id);
    } catch (err) {
      if (toBoxdError(err).code === "NOT_FOUND") return;
      this.deps.log.warn("could not delete a fork's temporary snapshot", { snapshot: snapName, error: String(err) });
    }
  }
}

/** `<name>-1` … `<name>-N`, each checked like a box name. */
export function forkNames(name: string, count: number): string[] {
  checkName(name);
  const names = Array.from({ length: count }, (_, k) => `${name}-${k + 1}`);
  for (const n of names) checkName(n);
  return names;
}

/**
 * What a fork inherits: the source's runtime (through the snapshot), size, network policy, env, labels,
 * keepAlive, idle timeout, initCommand, isolation and root. Not inherited: its status, usage, activity or pause state (a fork
 * starts up and fresh).
 */
function forkInput(source: BoxRecord, snapshotId: string): CreateBoxInput {
  return {
    fromSnapshot: snapshotId,
    size: source.size,
    env: source.env,
    labels: source.labels,
    keepAlive: source.keepAlive,
    idleTimeoutSeconds: source.idleTimeoutSeconds,
    networkPolicy: source.networkPolicy,
    isolation: source.isolation,
    root: source.root,
    ...(source.initCommand ? { initCommand: source.initCommand } : {}),
  };
}
