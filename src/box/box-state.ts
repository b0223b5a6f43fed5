// The one owner of a box's status. Every status change is a named transition from TRANSITIONS, written as
// one compare-and-set (`UPDATE boxes SET status = ?, ... WHERE id = ? AND status IN (from)`): a box that is
// not in a state the transition may start from is left as it is and the caller gets CONFLICT naming the
// box, its status and the transition, never a silent overwrite. No other module writes a box's status,
// pause kind, pause time or deletion (BoxStore.update cannot). Stateless over the store: each service may
// hold its own instance.
//
//   (insert) --> creating --created--> idle --frozen | stoppedItself--> paused (frozen | stopped)
//                creating --createFailed--> deleted     paused --woke | adoptedRunning--> idle
//                idle --pooled--> pooled --claimed--> idle   idle, paused --restarted--> idle
//                idle, paused --lost--> error           paused --deepened--> paused (stopped)
//                idle, error --adoptedPaused--> paused (frozen)
//                pooled, creating, idle, paused, error --deleted--> deleted
import { BoxdError, notFound } from "../errors.js";
import type { BoxRecord, StoredStatus } from "../model/box.js";
import type { BoxStore, StatePatch } from "../state/box-store.js";

interface TransitionRule {
  readonly from: readonly StoredStatus[];
  readonly to: StoredStatus;
  /** How the CONFLICT message names the attempt. */
  readonly verb: string;
}

/**
 * Every legal status change. The sources are exactly those today's callers reach: e.g. delete is legal
 * from any live status, reconciliation marks a box `error` from wherever its container went missing.
 */
export const TRANSITIONS = {
  /** create() provisioned the box's container and network. */
  created: { from: ["creating"], to: "idle", verb: "mark it created" },
  /** create() failed, or the server died mid-create (reconciliation). */
  createFailed: { from: ["creating"], to: "deleted", verb: "mark its create failed" },
  /** The warm pool froze a box it made. */
  pooled: { from: ["idle"], to: "pooled", verb: "add it to the warm pool" },
  /** A tenant's create took a pooled box. */
  claimed: { from: ["pooled"], to: "idle", verb: "claim it from the warm pool" },
  /** box_pause or the idle timer froze it. */
  frozen: { from: ["idle"], to: "paused", verb: "pause it" },
  /** Its container stopped on its own (main process ended, OOM). */
  stoppedItself: { from: ["idle"], to: "paused", verb: "mark it stopped" },
  /** Frozen for long (or found stopped at start): its container is stopped, memory released. */
  deepened: { from: ["paused"], to: "paused", verb: "stop its frozen container" },
  /** A call woke it (thawed or started again). */
  woke: { from: ["paused"], to: "idle", verb: "resume it" },
  /** Its container was restarted (out of processes). */
  restarted: { from: ["idle", "paused"], to: "idle", verb: "mark it restarted" },
  /** Its container was removed outside boxd. */
  lost: { from: ["idle", "paused"], to: "error", verb: "mark its container lost" },
  /** Reconciliation found its container paused. */
  adoptedPaused: { from: ["idle", "error"], to: "paused", verb: "adopt its paused container" },
  /** Reconciliation found the container of a paused box running. */
  adoptedRunning: { from: ["paused"], to: "idle", verb: "adopt its running container" },
  /** box_delete (and the pool's and reconciliation's clean-ups). */
  deleted: { from: ["pooled", "creating", "idle", "paused", "error"], to: "deleted", verb: "delete it" },
} as const satisfies Record<string, TransitionRule>;

export type Transition = keyof typeof TRANSITIONS;

/** What a claim sets on a pooled box: everything a create would have. */
export type PoolClaim = Pick<
  BoxRecord,
  | "tenant"
  | "name"
  | "env"
  | "labels"
  | "keepAlive"
  | "idleTimeoutSeconds"
  | "networkPolicy"
  | "initCommand"
  | "expiresAt"
>;

const now = () => new Date().toISOString();

/** A transition the box's status does not allow: CONFLICT, so callers that expect a race can tell it apart. */
export class IllegalTransition extends BoxdError {
  readonly boxId: string;
  readonly status: StoredStatus;

  constructor(
    box: Pick<BoxRecord, "id" | "name" | "status">,
    readonly transition: Transition,
  ) {
    const rule: TransitionRule = TRANSITIONS[transition];
    super(
      "CONFLICT",
      `box "${box.name}" (${box.id}) is ${box.status}: cannot ${rule.verb} (${transition}: only from ${rule.from.join(", ")})`,
    );
    this.boxId = box.id;
    this.status = box.status;
  }
}

export class BoxState {
  constructor(private readonly boxStore: BoxStore) {}

  /** A new box is born `creating` (the only insert of a box). */
  insertCreating(record: BoxRecord): void {
    this.boxStore.insert({ ...record, status: "creating" });
  }

  markCreated(id: string, containerId: string | null): void {
    this.apply(id, "created", { containerId });
  }

  markCreateFailed(id: string, error: string): void {
    this.apply(id, "createFailed", { deletedAt: now(), error });
  }

  markPooled(id: string): void {
    this.apply(id, "pooled", {});
  }

  claimFromPool(id: string, claim: PoolClaim): void {
    const at = now();
    this.apply(id, "claimed", { ...claim, createdAt: at, lastActiveAt: at, pausedAt: null, pauseKind: null });
  }

  markFrozen(id: string): void {
    this.apply(id, "frozen", { pauseKind: "frozen", pausedAt: now() });
  }

  markStoppedItself(id: string): void {
    this.apply(id, "stoppedItself", { pauseKind: "stopped", pausedAt: now() });
  }

  markDeepened(id: string): void {
    this.apply(id, "deepened", { pauseKind: "stopped" });
  }

  markWoke(id: string): void {
    this.apply(id, "woke", { pausedAt: null, pauseKind: null, lastActiveAt: now() });
  }

  markRestarted(id: string): void {
    this.apply(id, "restarted", { pausedAt: null, pauseKind: null });
  }

  markLost(id: string, error: string): void {
    this.apply(id, "lost", { error });
  }

  adoptPaused(id: string, pausedAt: string): void {
    this.apply(id, "adoptedPaused", { pauseKind: "frozen", pausedAt });
  }

  adoptRunning(id: string): void {
    this.apply(id, "adoptedRunning", { pausedAt: null, pauseKind: null });
  }

  markDeleted(id: string): void {
    this.apply(id, "deleted", { deletedAt: now() });
  }

  private apply(id: string, name: Transition, fields: Omit<StatePatch, "status">): void {
    const rule: TransitionRule = TRANSITIONS[name];
    if (this.boxStore.compareAndSet(id, rule.from, { ...fields, status: rule.to }) === 1) return;
    const current = this.boxStore.get(id);
    if (!current) throw notFound(`no box "${id}"`);
    throw new IllegalTransition(current, name);
  }
}
