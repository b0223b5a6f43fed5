// The composition root shared by `boxd serve`, the CLI commands and the tests. createApp() builds in
// phases, each from what the phases before it made, so nothing is bound later: 1 stores, 2 engine
// clients, 3 services (which announce box events), then the features that subscribe to those events, and
// 4 background jobs (one start()/stop() shape). close() stops the jobs in reverse and releases the
// resources of phases 1-2; boxes keep running (they are durable).
import { AgentService } from "./agent/agent-service.js";
import type { BackgroundService } from "./background.js";
import { BoxService, POOL_TENANT } from "./box/box-service.js";
import { KeyLock } from "./box/key-lock.js";
import { reconcile } from "./box/reconcile.js";
import { TenantLimits } from "./box/tenant-limits.js";
import { parsePoolSpecs, WarmPool } from "./box/warm-pool.js";
import { type Config, inheritedEnv } from "./config.js";
import { type ConfigSections, configSections } from "./config-sections.js";
import { DockerEngine } from "./docker/engine.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "./docker/labels.js";
import { BoxEventBus } from "./events/box-events.js";
import { LiveRunIndex } from "./events/live-runs.js";
import { FileService } from "./fs/file-service.js";
import { createGitService } from "./git/git-service.js";
import { loadImageSet } from "./images/definitions.js";
import { DiskAllowance, DiskGuard } from "./lifecycle/disk-guard.js";
import { EngineWatch } from "./lifecycle/engine-watch.js";
import { ForkService } from "./lifecycle/fork-service.js";
import { LifecycleService } from "./lifecycle/lifecycle-service.js";
import { SnapshotService, SnapshotSources } from "./lifecycle/snapshot-service.js";
import { BoxExpiry } from "./lifetime/box-expiry.js";
import type { Logger } from "./log.js";
import { BoxLog } from "./logs/box-log.js";
import { EgressCa } from "./network/egress-ca.js";
import { NetworkService } from "./network/network-service.js";
import { BoxAttachments } from "./secrets/box-attachments.js";
import { ProviderKeys } from "./secrets/provider-keys.js";
import { openSecrets } from "./secrets/secret-service.js";
import type { Services } from "./services.js";
import { RunService } from "./shell/run-service.js";
import { BoxStore } from "./state/box-store.js";
import { instanceId, openDb } from "./state/db.js";
import { LogStore } from "./state/log-store.js";
import { PageCursors } from "./state/page-cursor.js";
import { RunStore } from "./state/run-store.js";
import { SnapshotStore } from "./state/snapshot-store.js";
import { UsageStore } from "./state/usage-store.js";
import { UsageMeter } from "./usage/usage-meter.js";

export interface App {
  services: Services;
  /** The box-event bus: features (and tests) subscribe here. */
  events: BoxEventBus;
  instanceId: string;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Reconcile with the engine and start the background jobs (default true; CLI views turn it off). */
  background?: boolean;
}

export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  const sections = configSections(config);
  const stores = openStores(sections, log);
  const clients = engineClients(sections, stores, log);
  const events = new BoxEventBus(log.child("events"));
  const core = buildServices(sections, stores, clients, events, log);
  const jobs = backgroundJobs(sections, stores, clients, core, log);
  subscribeFeatures(events, clients, core, jobs);
  const started: BackgroundService[] = [];
  const close = async () => {
    for (const job of [...started].reverse()) await job.stop();
    await clients.network.stop(stores.boxStore.list().length);
    clients.engine.execs.close();
    stores.db.close();
  };
  if (opts.background !== false) {
    try {
      for (const job of jobs.all) {
        await job.start();
        started.push(job);
      }
    } catch (err) {
      await close().catch(() => {});
      throw err;
    }
  }
  return { services: servicesOf(config, log, clients, core, jobs), events, instanceId: stores.id, close };
}

/** What tools and the CLI are handed. */
function servicesOf(config: Config, log: Logger, clients: Clients, core: Core, jobs: Jobs): Services {
  const { boxes, lifecycle } = core;
  const liveBox: Services["liveBox"] = async (tenant, ref) => {
    const box = boxes.resolve(tenant, ref);
    const { containerId, resumed } = await lifecycle.ensureLive(box.id);
    return { boxId: box.id, containerId, resumed };
  };
  const { runs, files, git, snapshots, forks, agents } = core;
  const { engine, network, boxLog } = clients;
  return {
    config,
    log,
    engine,
    boxes,
    runs,
    files,
    git,
    lifecycle,
    snapshots,
    forks,
    boxLog,
    network,
    liveBox,
    agents,
    secrets: clients.secrets,
    pool: jobs.pool,
  };
}

/** Phase 1: the data dir's database and what is kept in it. */
function openStores(sections: ConfigSections, log: Logger) {
  const db = openDb(sections.store.dataDir);
  return {
    ...openSecrets(db, sections.secrets, log.child("secrets")),
    db,
    id: instanceId(db),
    boxStore: new BoxStore(db),
    runStore: new RunStore(db),
    snapshotStore: new SnapshotStore(db),
    usageStore: new UsageStore(db),
    boxLog: new BoxLog(new LogStore(db, sections.store.maxLogEntries)),
    cursors: PageCursors.of(db),
  };
}
type Stores = ReturnType<typeof openStores>;

/** Phase 2: the Docker engine and the host network (firewall, egress proxy, DNS gate). */
function engineClients(sections: ConfigSections, stores: Stores, log: Logger) {
  const engine = new DockerEngine(log, { fastExec: sections.engine.fastExec });
  const ca = new EgressCa(sections.network.dataDir, stores.id); // signs for the proxy; made at network start
  const attach = new BoxAttachments({ ...stores, archives: engine.archives, ca, ...sections.secrets });
  const network = new NetworkService({
    instanceId: stores.id,
    ...sections.network,
    log: log.child("network"),
    boxLog: stores.boxLog,
    ca,
    attachments: attach,
  });
  return { engine, network, attach, secrets: stores.secrets, boxLog: stores.boxLog };
}
type Clients = ReturnType<typeof engineClients>;

/** Phase 3: the services, each handed its config section and the services it needs, in dependency order. */
function buildServices(sections: ConfigSections, stores: Stores, clients: Clients, events: BoxEventBus, log: Logger) {
  const { engine, boxLog } = clients;
  // Both need only a store or the bus, so the services that use them come first: no cycle to close later.
  const liveRuns = new LiveRunIndex(events);
  const diskAllowance = new DiskAllowance(sections.disk.overrideBytes);
  const snapshotSources = new SnapshotSources(stores.snapshotStore);
  const usage = new UsageMeter({
    read: (containerId) => engine.accounting.read(containerId),
    store: stores.usageStore,
    boxes: () => stores.boxStore.list(),
    log: log.child("usage"),
    ...sections.usage,
  });
  // One per-box lock for every service that changes a box.
  const lock = new KeyLock();
  const boxes = boxService(sections, stores, clients, events, log, { lock, diskAllowance, snapshotSources, usage });
  const lifecycle = new LifecycleService({
    engine,
    boxes,
    boxStore: stores.boxStore,
    lock,
    log: log.child("lifecycle"),
    boxLog,
    hasLiveRun: (boxId) => liveRuns.has(boxId),
    events,
    ...sections.lifecycle,
    sampleUsage: (box) => usage.sample(box),
  });
  const runs = new RunService({
    engine,
    boxes,
    runStore: stores.runStore,
    cursors: stores.cursors,
    restartBox: (boxId) => lifecycle.restart(boxId),
    ensureLive: (boxId) => {
      diskAllowance.assertWithinAllowance(boxId);
      return lifecycle.ensureLive(boxId);
    },
    onActivity: (boxId, usage) => {
      boxes.touch(boxId);
      if (usage) stores.boxStore.addUsage(boxId, usage.cpuNs, usage.memoryPeakBytes, 1);
    },
    onLog: (boxId, level, source, message) => boxLog.append(boxId, level, source, message),
    ...sections.runs,
    log: log.child("run"),
    events,
    serverEnv: (boxId) => clients.attach.trustEnv(boxId),
  });
  return {
    boxes,
    lifecycle,
    runs,
    liveRuns,
    diskAllowance,
    lock,
    usage,
    ...moreServices(sections, stores, clients, boxes, runs, lock, log),
  };
}
type Core = ReturnType<typeof buildServices>;

/** The box service, with what the other phase-3 pieces built before it give it. */
function boxService(
  sections: ConfigSections,
  stores: Stores,
  clients: Clients,
  events: BoxEventBus,
  log: Logger,
  built: { lock: KeyLock; diskAllowance: DiskAllowance; snapshotSources: SnapshotSources; usage: UsageMeter },
): BoxService {
  const { engine, network, boxLog, attach } = clients;
  return new BoxService({
    attach,
    engine,
    boxStore: stores.boxStore,
    runStore: stores.runStore,
    lock: built.lock,
    images: loadImageSet(sections.boxes.baseImage),
    instanceId: stores.id,
    ...sections.boxes,
    limits: new TenantLimits(sections.tenantLimits),
    disk: built.diskAllowance,
    usage: built.usage,
    cursors: stores.cursors,
    log: log.child("box"),
    resolveSnapshot: (tenant, ref) => built.snapshotSources.source(tenant, ref),
    events,
    network,
    event: (boxId, level, message) => boxLog.append(boxId, level, "system", message),
  });
}

/** Phase 3, continued: the services nothing else in the core depends on. */
function moreServices(
  sections: ConfigSections,
  stores: Stores,
  { engine, boxLog, attach, secrets }: Clients,
  boxes: BoxService,
  runs: RunService,
  lock: KeyLock,
  log: Logger,
) {
  const snapshots = new SnapshotService({
    engine,
    boxes,
    snapshotStore: stores.snapshotStore,
    lock,
    boxLog,
    instanceId: stores.id,
    log: log.child("snapshot"),
    cursors: stores.cursors,
  });
  return {
    snapshots,
    forks: new ForkService({ boxes, snapshots, busy: (boxId) => lock.busy(boxId), boxLog, log: log.child("fork") }),
    files: new FileService({ engine, ...sections.files, log: log.child("fs") }),
    agents: new AgentService({
      runs,
      config: sections.agents,
      onLog: (boxId, level, message) => boxLog.append(boxId, level, "agent", message),
      log: log.child("agent"),
      providerKeys: new ProviderKeys({ boxes, attach }),
    }),
    git: createGitService(sections.git, engine, log.child("git"), inheritedEnv(), secrets),
  };
}

/** The reconciliation with the engine, run at start and again whenever it comes back after a restart or outage. */
function reconciler(
  sections: ConfigSections,
  stores: Stores,
  { engine, network }: Clients,
  { boxes, lifecycle }: Core,
  expiry: BoxExpiry,
  log: Logger,
): () => Promise<void> {
  return async () => {
    // Boxes whose TTL ran out while the server was down go first: reconciliation must not start them again.
    await expiry.sweep();
    // The toolchain versions of boxd's images, for boxes made before this start (box_get's runtimeVersion).
    engine.containers.rememberImages(await engine.images.list({ [LABEL_MANAGED]: "true" }));
    await reconcile({
      engine,
      boxStore: stores.boxStore,
      runStore: stores.runStore,
      snapshotStore: stores.snapshotStore,
      boxService: boxes,
      instanceId: stores.id,
      config: sections.reconcile,
      log: log.child("reconcile"),
    });
    await network.start(stores.boxStore.list());
    // Boxes whose idle time ran out while the server was down are paused now, not one tick later.
    await lifecycle.tick();
  };
}

/** Phase 4: the background jobs, in start order (close() stops them in reverse). */
function backgroundJobs(sections: ConfigSections, stores: Stores, clients: Clients, core: Core, log: Logger) {
  const { engine, network } = clients;
  const { boxes, lifecycle, runs } = core;
  const expiry = new BoxExpiry({
    boxStore: stores.boxStore,
    expire: (boxId) => boxes.expire(boxId),
    log: log.child("expiry"),
  });
  const reconcileAll = reconciler(sections, stores, clients, core, expiry, log);
  const watch = new EngineWatch({
    engine,
    labels: { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: stores.id },
    onUp: reconcileAll,
    onContainerStopped: (containerId) => {
      lifecycle.noticeStopped(containerId).catch((err: unknown) => {
        // Usually the engine going down: its reconciliation handles the box once it is back.
        log.debug("could not check a stopped container", { container: containerId.slice(0, 12), error: String(err) });
      });
    },
    log: log.child("engine"),
  });
  const pool = new WarmPool({
    boxes,
    boxStore: stores.boxStore,
    engine,
    lock: core.lock,
    network,
    specs: parsePoolSpecs(sections.pool.entries),
    maxAgeSeconds: sections.pool.maxAgeSeconds,
    log: log.child("pool"),
  });
  // Not a timer but a job all the same: following live runs. Its place makes close() detach them right
  // after the idle timer and the disk guard stop (which act on runs) and before the pool's slow teardown: a
  // stdio client that went away kills this process a few seconds later, and the runs' output so far must
  // be recorded by then.
  const runFollowing: BackgroundService = { start() {}, stop: () => runs.detachAll() };
  const diskGuard = new DiskGuard({
    engine,
    boxes,
    boxLog: clients.boxLog,
    log: log.child("disk"),
    allowance: core.diskAllowance,
    killAll: (boxId) => runs.killAll(boxId),
    hasLiveRun: (boxId) => core.liveRuns.has(boxId),
    intervalMs: sections.disk.intervalMs,
  });
  return {
    pool,
    expiry,
    all: [watch, expiry, pool, runFollowing, lifecycle, diskGuard, core.usage] as BackgroundService[],
  };
}
type Jobs = ReturnType<typeof backgroundJobs>;

/**
 * The features that react to box events. A new feature that hooks into a box's life (a TTL, a preview URL,
 * a schedule) subscribes here; the services that cause the events need not know it exists.
 */
function subscribeFeatures(events: BoxEventBus, { engine, boxLog }: Clients, core: Core, jobs: Jobs): void {
  const { runs, snapshots, diskAllowance, lifecycle } = core;
  // A fresh process tree: open the fast exec path now (its first command does not wait for it). Pooled
  // boxes are frozen right after their start: theirs opens when they are claimed.
  const prepareExec = ({ box }: { box: { containerId: string | null; tenant: string } }) => {
    if (box.containerId && box.tenant !== POOL_TENANT) engine.execs.prepare(box.containerId);
  };
  events.on("started", prepareExec);
  events.on("claimed", prepareExec);
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
  // Lifetimes: a box that got a TTL (or a new one, or lost it) re-points the expiry job's one timer.
  const rearmExpiry = ({ box }: { box: { expiresAt: string | null } }) =>
    box.expiresAt ? jobs.expiry.rearm() : undefined;
  events.on("created", rearmExpiry);
  events.on("claimed", rearmExpiry);
  events.on("updated", () => jobs.expiry.rearm());
  // box_update's idle settings take effect at once: an idle timer pass now, not at its next tick.
  events.on("updated", () => lifecycle.tick());
}
