// The features that react to box events (phase 3's end in createApp): each subscribes to the box-event bus,
// so the services that cause the events need not know it exists.
import type { AgentService } from "./agent/agent-service.js";
import { POOL_TENANT } from "./box/box-service.js";
import type { DockerEngine } from "./docker/engine.js";
import type { BoxEventBus } from "./events/box-events.js";
import type { DiskAllowance } from "./lifecycle/disk-guard.js";
import type { LifecycleService } from "./lifecycle/lifecycle-service.js";
import type { SnapshotService } from "./lifecycle/snapshot-service.js";
import type { BoxExpiry } from "./lifetime/box-expiry.js";
import type { BoxLog } from "./logs/box-log.js";
import type { PreviewService } from "./preview/preview-service.js";
import type { Scheduler } from "./schedules/scheduler.js";
import type { RunService } from "./shell/run-service.js";

/** What the subscribers act on (built in createApp's phases 2-4). */
export interface FeatureDeps {
  clients: { engine: DockerEngine; boxLog: BoxLog };
  core: {
    runs: RunService;
    snapshots: SnapshotService;
    diskAllowance: DiskAllowance;
    lifecycle: LifecycleService;
    agents: Pick<AgentService, "forgetDefaults">;
    previews: { service: Pick<PreviewService, "forget"> };
  };
  jobs: { expiry: BoxExpiry; schedules: { scheduler: Scheduler } };
}

/**
 * The features that react to box events. A new feature that hooks into a box's life (a TTL, a preview URL,
 * a schedule) subscribes here; the services that cause the events need not know it exists.
 */
export function subscribeFeatures(events: BoxEventBus, { clients, core, jobs }: FeatureDeps): void {
  const { engine, boxLog } = clients;
  const { runs, snapshots, diskAllowance, lifecycle } = core;
  // A fresh process tree: open the fast exec path now (its first command does not wait for it). The warm
  // pool opens its boxes' own before it freezes them (a frozen executor cannot answer the hello); a claim
  // finds it open (this call then reopens one that was lost meanwhile).
  const prepareExec =
    (fresh: boolean) =>
    ({ box }: { box: { containerId: string | null; tenant: string } }) => {
      if (box.containerId && box.tenant !== POOL_TENANT) void engine.execs.prepare(box.containerId, fresh);
    };
  // A start is a new lifetime: nothing known of the last one (an open still waiting on a hello the stop cut
  // off) may answer for it.
  events.on("started", prepareExec(true));
  events.on("claimed", prepareExec(false));
  // initCommand runs in the background at every start of the box's container (create, restart, wake from a
  // stopped pause) and when a pooled box is claimed (its container started before it had one).
  const runInit = ({ box }: { box: { id: string; initCommand: string | null } }) => {
    if (!box.initCommand) return;
    runs
      .exec(box.id, { command: box.initCommand, background: true, source: "system" })
      .catch((err) => boxLog.append(box.id, "error", "system", `initCommand could not start: ${String(err)}`));
  };
  events.on("started", runInit);
  events.on("claimed", runInit);
  // Snapshot images no box uses any more go with the last box started from them (awaited by box_delete).
  events.on("deleted", ({ box }) => (box.fromSnapshot ? snapshots.collectGarbage() : undefined));
  events.on("deleted", ({ box }) => diskAllowance.forget(box.id));
  // Preview URLs go with their box, credentials and all.
  events.on("deleted", ({ box }) => core.previews.service.forget(box.id));
  // Lifetimes: a box that got a TTL (or a new one, or lost it) re-points the expiry job's one timer.
  const rearmExpiry = ({ box }: { box: { expiresAt: string | null } }) =>
    box.expiresAt ? jobs.expiry.rearm() : undefined;
  events.on("created", rearmExpiry);
  events.on("claimed", rearmExpiry);
  events.on("updated", () => jobs.expiry.rearm());
  // box_update's idle settings take effect at once: an idle timer pass now, not at its next tick.
  events.on("updated", () => lifecycle.tick());
  // Schedules: a box's go with it; the end of a run a schedule made is recorded in the schedule.
  const { scheduler } = jobs.schedules;
  events.on("deleted", ({ box }) => scheduler.forgetBox(box.id));
  // Agent defaults (box_create { agent }) go with their box.
  events.on("deleted", ({ box }) => core.agents.forgetDefaults(box.id));
  events.on("run-ended", (p) => scheduler.runEnded(p));
}
