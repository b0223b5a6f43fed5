// Start-up reconciliation: make the database and the engine agree, touching only this instance's objects.
// Known boxes are adopted (their state read from their containers), boxes whose container vanished are
// marked `error`, half-made boxes from a crash are cleaned up, and unknown objects labelled with this
// instance's id are removed once older than the grace period.
import type { ConfigSections } from "../config-sections.js";
import type { DockerEngine } from "../docker/engine.js";
import { LABEL_BOX_ID, LABEL_INSTANCE, LABEL_KIND, LABEL_MANAGED } from "../docker/labels.js";
import type { Logger } from "../log.js";
import type { BoxRecord } from "../model/box.js";
import type { BoxStore } from "../state/box-store.js";
import type { RunStore } from "../state/run-store.js";
import type { SnapshotStore } from "../state/snapshot-store.js";
import type { BoxService } from "./box-service.js";
import { BoxState, IllegalTransition } from "./box-state.js";

export interface ReconcileDeps {
  engine: DockerEngine;
  boxStore: BoxStore;
  runStore: RunStore;
  snapshotStore: SnapshotStore;
  boxService: BoxService;
  instanceId: string;
  config: ConfigSections["reconcile"];
  log: Logger;
}

export interface ReconcileReport {
  adopted: number;
  missing: number;
  cleanedUp: number;
  orphansRemoved: number;
  interruptedRuns: number;
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const now = new Date().toISOString();
  const report: ReconcileReport = { adopted: 0, missing: 0, cleanedUp: 0, orphansRemoved: 0, interruptedRuns: 0 };
  report.interruptedRuns = deps.runStore.failInterrupted(now);
  await settleSnapshots(deps);
  // Listed before the boxes are adopted, as the orphan sweep has always seen them.
  const containers = await deps.engine.containers.list(mine(deps));
  const known = new Set<string>();
  const state = new BoxState(deps.boxStore);
  for (const box of deps.boxStore.list()) {
    known.add(box.id);
    try {
      report[await adoptBox(deps, state, box, now)]++;
    } catch (err) {
      if (!(err instanceof IllegalTransition)) throw err;
      // A pass after the engine came back runs beside live operations: one changed this box after it was
      // read here, so its state is newer than this pass's view of it and stays.
      deps.log.info("box changed while reconciling; left as it is", { box: box.id, error: err.message });
      report.adopted++;
    }
  }
  report.orphansRemoved = await removeOrphans(deps, containers, known);
  deps.log.info("reconciled with the engine", { ...report });
  return report;
}

/**
 * Snapshots a crash interrupted: the engine finishes a commit on its own (the container stays paused
 * meanwhile), so wait for it before deciding, then record the outcome.
 */
async function settleSnapshots(deps: ReconcileDeps): Promise<void> {
  const { engine, boxStore, snapshotStore } = deps;
  for (const snap of snapshotStore.list()) {
    if (snap.status !== "creating") continue;
    const box = boxStore.get(snap.boxId);
    if (box?.containerId) await waitWhilePaused(engine, box.containerId, box.status === "paused" ? 0 : 20_000);
    const img = await engine.images.inspect(snap.image);
    snapshotStore.update(
      snap.id,
      img ? { status: "ready", sizeBytes: img.sizeBytes } : { status: "error", error: "interrupted while being taken" },
    );
  }
}

/** Makes one known box agree with its container; says which count of the report it adds to. */
async function adoptBox(
  deps: ReconcileDeps,
  state: BoxState,
  box: BoxRecord,
  now: string,
): Promise<"adopted" | "missing" | "cleanedUp"> {
  if (box.status === "pooled") {
    // Warm-pool boxes never outlive their server: the new one makes fresh ones.
    await deps.boxService.teardown(box);
    state.markDeleted(box.id);
    return "cleanedUp";
  }
  if (box.status === "creating") {
    // The server died mid-create: nothing was promised to the client yet, so undo it.
    await deps.boxService.teardown(box);
    state.markCreateFailed(box.id, "interrupted during create");
    return "cleanedUp";
  }
  const found = box.containerId ? await deps.engine.containers.inspect(box.containerId) : null;
  if (!found) {
    if (box.status !== "error") {
      state.markLost(box.id, "its container was removed outside boxd");
      deps.log.warn("box container missing", { box: box.id });
    }
    return "missing";
  }
  if (found.paused) {
    if (box.status !== "paused") state.adoptPaused(box.id, box.pausedAt ?? now);
  } else if (!found.running) {
    if (box.status === "paused") {
      // A paused box stays paused: stopped on purpose (deep pause) or, frozen, by an engine restart, it
      // wakes (starts) when it is used.
      if (box.pauseKind !== "stopped") state.markDeepened(box.id);
    } else {
      // Stopped behind our back (engine restart, host reboot): boxes are durable, so start it again.
      await deps.engine.containers.start(found.id);
    }
  } else if (box.status === "paused") {
    state.adoptRunning(box.id);
  }
  return "adopted";
}

/** Removes this instance's containers, networks and snapshot images no live box or snapshot owns. */
async function removeOrphans(
  deps: ReconcileDeps,
  containers: Awaited<ReturnType<DockerEngine["containers"]["list"]>>,
  known: Set<string>,
): Promise<number> {
  const { engine } = deps;
  let removed = 0;
  const graceMs = deps.config.orphanGraceSeconds * 1000;
  const live = new Set(deps.boxStore.list().map((b) => b.id));
  for (const c of containers) {
    // The network helper is no box's (src/netd/): the network service starts and replaces it.
    if (c.labels[LABEL_KIND]?.startsWith("netd")) continue;
    const boxId = c.labels[LABEL_BOX_ID] ?? "";
    if (live.has(boxId)) continue;
    if (!known.has(boxId) && Date.now() - c.created * 1000 < graceMs) continue;
    await engine.containers.remove(c.id);
    removed++;
  }
  for (const n of await engine.networks.list(mine(deps))) {
    const boxId = n.labels[LABEL_BOX_ID] ?? "";
    if (live.has(boxId)) continue;
    if (!known.has(boxId) && Date.now() - Date.parse(n.created) < graceMs) continue;
    await engine.networks.remove(n.id);
    removed++;
  }
  const snapshotImages = await engine.images.list({ ...mine(deps), [LABEL_KIND]: "snapshot" });
  const ready = new Set(
    deps.snapshotStore
      .list()
      .filter((x) => x.status === "ready")
      .map((x) => x.id),
  );
  for (const img of snapshotImages) {
    if (ready.has(img.labels["boxd.snapshot-id"] ?? "")) continue;
    await engine.images.remove(img.id, true);
    removed++;
  }
  return removed;
}

const mine = (deps: ReconcileDeps) => ({ [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: deps.instanceId });

async function waitWhilePaused(engine: DockerEngine, containerId: string, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const state = await engine.containers.inspect(containerId);
    if (!state?.paused) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
