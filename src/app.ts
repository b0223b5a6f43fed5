// The composition root shared by `boxd serve`, the CLI commands and the tests. createApp() builds in
// phases, each from what the phases before it made, so nothing is bound later: 1 stores, 2 engine
// clients, 3 services (which announce box events), then the features that subscribe to those events, and
// 4 background jobs (one start()/stop() shape). close() stops the jobs in reverse and releases the
// resources of phases 1-2; boxes keep running (they are durable).
import { AgentService } from "./agent/agent-service.js";
import { RunEvents } from "./agent/run-events.js";
import { subscribeFeatures } from "./app-features.js";
import { openStores, type Stores } from "./app-stores.js";
import type { BackgroundService } from "./background.js";
import { BoxService } from "./box/box-service.js";
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
import { NETD_DIR } from "./netd/protocol.js";
import { EgressCa } from "./network/egress-ca.js";
import { netdCode } from "./network/netd-code.js";
import { NetworkService } from "./network/network-service.js";
import { createPreviews } from "./preview/previews.js";
import { createSchedules } from "./schedules/create-schedules.js";
import { BoxAttachments } from "./secrets/box-attachments.js";
import { ProviderKeys } from "./secrets/provider-keys.js";
import type { Services } from "./services.js";
import { RunService } from "./shell/run-service.js";
import { createSshGateway } from "./ssh/create-gateway.js";
import type { SshGateway } from "./ssh/ssh-gateway.js";
import { UsageMeter } from "./usage/usage-meter.js";
import { createWebhookSender, type WebhookSender } from "./webhooks/webhook-sender.js";

export interface App {
  services: Services;
  /** The box-event bus: features (and tests) subscribe here. */
  events: BoxEventBus;
  instanceId: string;
  /** The SSH gateway when BOXD_SSH_PORT (or `serve --ssh`) turned it on; its endpoint is set once started. */
  ssh: SshGateway | null;
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
  subscribeFeatures(events, { clients, core, jobs });
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
  const services = servicesOf(config, log, clients, core, jobs);
  return { services, events, instanceId: stores.id, ssh: jobs.ssh, close };
}

/** What tools and the CLI are handed. */
function servicesOf(config: Config, log: Logger, clients: Clients, core: Core, jobs: Jobs): Services {
  const { boxes, lifecycle } = core;
  const liveBox: Services["liveBox"] = async (tenant, ref) => {
    const box = boxes.resolve(tenant, ref);
    const { containerId, resumed } = await lifecycle.ensureLive(box.id);
    return { boxId: box.id, containerId, resumed };
  };
  const { runs, files, git, snapshots, forks, agents, runEvents } = core;
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
    holdAwake: (boxId) => core.liveRuns.hold(boxId),
    usageHistory: (boxId) => core.usage.history(boxId),
    agents,
    runEvents,
    schedules: jobs.schedules.service,
    previews: core.previews.service,
    secrets: clients.secrets,
    pool: jobs.pool,
  };
}

/** Phase 2: the Docker engine and the host network (firewall, egress proxy, DNS gate). */
function engineClients(sections: ConfigSections, stores: Stores, log: Logger) {
  const engine = new DockerEngine(log, { fastExec: sections.engine.fastExec });
  const ca = new EgressCa(sections.network.dataDir, stores.id); // signs for the proxy; made at network start
  const attach = new BoxAttachments({ ...stores, archives: engine.archives, ca, ...sections.secrets });
  const helperImage = loadImageSet(sections.boxes.baseImage).netd.ref;
  const network = new NetworkService({
    instanceId: stores.id,
    ...sections.network,
    log: log.child("network"),
    boxLog: stores.boxLog,
    ca,
    attachments: attach,
    launch: async () =>
      engine.netd.launch({
        instanceId: stores.id,
        image: helperImage,
        files: await netdCode(),
        cmd: ["node", `${NETD_DIR}/netd/main.js`],
      }),
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
  const usage = usageMeter(sections, stores, engine, log);
  // One per-box lock for every service that changes a box.
  const lock = new KeyLock();
  const runEvents = new RunEvents({ store: stores.runEvents, runs: stores.runStore, events, ...sections.runEvents });
  const webhooks = createWebhookSender(sections.webhooks, (id, lvl, m) => boxLog.append(id, lvl, "system", m), log);
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
    runEvents,
    webhooks,
    previews: createPreviews(sections.preview, { ...stores, boxes, lifecycle, liveRuns, engine }, log.child("preview")),
    ...moreServices(sections, stores, clients, { boxes, runs, lock, runEvents, webhooks }, log),
  };
}
type Core = ReturnType<typeof buildServices>;

/** Box CPU and memory totals from the containers' cgroups (src/usage/). */
function usageMeter(sections: ConfigSections, stores: Stores, engine: Clients["engine"], log: Logger): UsageMeter {
  return new UsageMeter({
    read: (containerId) => engine.accounting.read(containerId),
    store: stores.usageStore,
    boxes: () => stores.boxStore.list(),
    log: log.child("usage"),
    ...sections.usage,
  });
}

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
  built: { boxes: BoxService; runs: RunService; lock: KeyLock; runEvents: RunEvents; webhooks: WebhookSender },
  log: Logger,
) {
  const { boxes, runs, lock } = built;
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
      events: built.runEvents,
      webhooks: built.webhooks,
      defaults: stores.agentDefaults,
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

/** The schedules: their service (tools) and the scheduler that fires them (started last, stopped first). */
function scheduleJobs(sections: ConfigSections, stores: Stores, { boxLog }: Clients, core: Core, log: Logger) {
  return createSchedules({
    store: stores.schedules,
    boxes: core.boxes,
    runs: core.runs,
    agents: core.agents,
    runRecord: (runId) => stores.runStore.get(runId),
    webhooks: core.webhooks,
    onLog: (boxId, level, message) => boxLog.append(boxId, level, "system", message),
    ...sections.schedules,
    log: log.child("schedule"),
  });
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
  const ssh = createSshGateway(sections.ssh, { ...clients, ...core, log: log.child("ssh") });
  const diskGuard = new DiskGuard({
    engine,
    boxes,
    boxLog: clients.boxLog,
    log: log.child("disk"),
    allowance: core.diskAllowance,
    // SSH sessions' processes too: they are no runs, but they write to the same disk.
    killAll: async (boxId) => (await runs.killAll(boxId)) + ((await ssh?.endProcesses(boxId)) ?? 0),
    hasLiveRun: (boxId) => core.liveRuns.has(boxId),
    intervalMs: sections.disk.intervalMs,
  });
  const schedules = scheduleJobs(sections, stores, clients, core, log);
  const all = [watch, expiry, pool, runFollowing, lifecycle, diskGuard, core.usage, core.webhooks, core.previews.job];
  // The scheduler starts after the others (a missed fire runs in a reconciled world), the SSH gateway last:
  // the last to start is the first to stop.
  const last = [schedules.scheduler, ...(ssh ? [ssh] : [])];
  return { pool, expiry, schedules, ssh, all: [...all, ...last] as BackgroundService[] };
}
type Jobs = ReturnType<typeof backgroundJobs>;
