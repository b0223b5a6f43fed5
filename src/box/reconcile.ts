// Start-up reconciliation: make the database and the engine agree, touching only this instance's objects.
// Known boxes are adopted (their state read from their containers), boxes whose container vanished are
// marked `error`, half-made boxes from a crash are cleaned up, and unknown objects labelled with this
// instance's id are removed once older than the grace period.
import type { ConfigSections } from "../config-sections.js";
import type { DockerEngine } from "../docker/engine.js";
import { LABEL_BOX_ID, LABEL_INSTANCE, LABEL_KIND, LABEL_MANAGED } from "../docker/labels.js";
import type { Logger } from "../log.js";
import type { BoxStore } from "../state/box-store.js";
import type { RunStore } from "../state/run-store.js";
import type { SnapshotStore } from "../state/snapshot-store.js";
import type { BoxService } from "./box-service.js";

export interface ReconcileDeps {
  engine: DockerEngine;
  boxes: BoxStore;
  runs: RunStore;
  snapshots: SnapshotStore;
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
  const { engine, boxes, log } = deps;
  const now = new Date().toISOString();
  const report: ReconcileReport = { adopted: 0, missing: 0, cleanedUp: 0, orphansRemoved: 0, interruptedRuns: 0 };
  report.interruptedRuns = deps.runs.failInterrupted(now);

  const mine = { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: deps.instanceId };
  // Snapshots a crash interrupted: the engine finishes a commit on its own (the container stays paused
  // meanwhile), so wait for it before deciding, then record the outcome.
  for (const snap of deps.snapshots.list()) {
    if (snap.status !== "creating") continue;
    const box = boxes.get(snap.boxId);
    if (box?.containerId) await waitWhilePaused(engine, box.containerId, box.status === "paused" ? 0 : 20_000);
    const img = await engine.images.inspect(snap.image);
    deps.snapshots.update(
      snap.id,
      img ? { status: "ready", sizeBytes: img.sizeBytes } : { status: "error", error: "interrupted while being taken" },
    );
  }

  const containers = await engine.containers.list(mine);
  const known = new Set<string>();

  for (const box of boxes.list()) {
    known.add(box.id);
    if (box.status === "pooled") {
      // Warm-pool boxes never outlive their server: the new one makes fresh ones.
      await deps.boxService.teardown(box);
      boxes.update(box.id, { status: "deleted", deletedAt: now });
      report.cleanedUp++;
      continue;
    }
    if (box.status === "creating") {
      // The server died mid-create: nothing was promised to the client yet, so undo it.
      await deps.boxService.teardown(box);
      boxes.update(box.id, { status: "deleted", deletedAt: now, error: "interrupted during create" });
      report.cleanedUp++;
      continue;
    }
    const state = box.containerId ? await engine.containers.inspect(box.containerId) : null;
    if (!state) {
      if (box.status !== "error") {
        boxes.update(box.id, { status: "error", error: "its container was removed outside boxd" });
        log.warn("box container missing", { box: box.id });
      }
      report.missing++;
      continue;
    }
    if (state.paused) {
      if (box.status !== "paused")
        boxes.update(box.id, { status: "paused", pauseKind: "frozen", pausedAt: box.pausedAt ?? now });
    } else if (!state.running) {
      if (box.status === "paused") {
        // A paused box stays paused: stopped on purpose (deep pause) or, frozen, by an engine restart, it
        // wakes (starts) when it is used.
        if (box.pauseKind !== "stopped") boxes.update(box.id, { pauseKind: "stopped" });
      } else {
        // Stopped behind our back (engine restart, host reboot): boxes are durable, so start it again.
        await engine.containers.start(state.id);
      }
    } else if (box.status === "paused") {
      boxes.update(box.id, { status: "idle", pausedAt: null, pauseKind: null });
    }
    report.adopted++;
  }

  const graceMs = deps.config.orphanGraceSeconds * 1000;
  const live = new Set(boxes.list().map((b) => b.id));
  for (const c of containers) {
    const boxId = c.labels[LABEL_BOX_ID] ?? "";
    if (live.has(boxId)) continue;
    if (!known.has(boxId) && Date.now() - c.created * 1000 < graceMs) continue;
    await engine.containers.remove(c.id);
    report.orphansRemoved++;
  }
  for (const n of await engine.networks.list(mine)) {
    const boxId = n.labels[LABEL_BOX_ID] ?? "";
    if (live.has(boxId)) continue;
    if (!known.has(boxId) && Date.now() - Date.parse(n.created) < graceMs) continue;
    await engine.networks.remove(n.id);
    report.orphansRemoved++;
  }
  const snapshotImages = await engine.images.list({ ...mine, [LABEL_KIND]: "snapshot" });
  const readySnapshots = new Set(
    deps.snapshots
      .list()
      .filter((x) => x.status === "ready")
      .map((x) => x.id),
  );
  for (const img of snapshotImages) {
    if (readySnapshots.has(img.labels["boxd.snapshot-id"] ?? "")) continue;
    await engine.images.remove(img.id, true);
    report.orphansRemoved++;
  }
  log.info("reconciled with the engine", { ...report });
  return report;
}

async function waitWhilePaused(engine: DockerEngine, containerId: string, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const state = await engine.containers.inspect(containerId);
    if (!state?.paused) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
