// Wires the services from a Config: engine, state, boxes, lifecycle, snapshots, logs, runs, files.
// createApp() is the composition root shared by `boxd serve`, the CLI commands and the tests; close()
// releases everything it opened (boxes keep running: they are durable).
import { AgentService } from "./agent/agent-service.js";
import { BoxService, POOL_TENANT } from "./box/box-service.js";
import { KeyLock } from "./box/key-lock.js";
import { reconcile } from "./box/reconcile.js";
import type { BoxRecord } from "./box/types.js";
import { parsePoolSpecs, WarmPool } from "./box/warm-pool.js";
import { type Config, inheritedEnv } from "./config.js";
import { DockerEngine } from "./docker/engine.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "./docker/labels.js";
import { BoxdError } from "./errors.js";
import { FileService } from "./fs/file-service.js";
import { createGitService } from "./git/git-service.js";
import { loadImageSet } from "./images/definitions.js";
import { DiskGuard } from "./lifecycle/disk-guard.js";
import { EngineWatch } from "./lifecycle/engine-watch.js";
import { LifecycleService } from "./lifecycle/lifecycle-service.js";
import { SnapshotService } from "./lifecycle/snapshot-service.js";
import type { Logger } from "./log.js";
import { BoxLog } from "./logs/box-log.js";
import { NetworkService } from "./network/network-service.js";
import type { Services } from "./services.js";
import { RunService } from "./shell/run-service.js";
import { BoxStore } from "./state/box-store.js";
import { instanceId, openDb } from "./state/db.js";
import { LogStore } from "./state/log-store.js";
import { RunStore } from "./state/run-store.js";
import { SnapshotStore } from "./state/snapshot-store.js";

export interface App {
  services: Services;
  instanceId: string;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Reconcile with the engine and start the idle timer (default true; CLI views turn it off). */
  background?: boolean;
}

export async function createApp(config: Config, log: Logger, opts: AppOptions = {}): Promise<App> {
  const db = openDb(config.dataDir);
  const id = instanceId(db);
  const engine = new DockerEngine(log, { fastExec: config.fastExec === "on" });
  const boxStore = new BoxStore(db);
  const runStore = new RunStore(db);
  const snapshotStore = new SnapshotStore(db);
  const boxLog = new BoxLog(new LogStore(db, config.maxLogEntries));
  const network = new NetworkService({
    instanceId: id,
    networkPool: config.networkPool,
    mode: config.firewall,
    dnsServers: config.dnsServers,
    log: log.child("network"),
    boxLog,
  });

  // initCommand runs in the background at every container start; late-bound because runs need boxes.
  let runInit: (box: BoxRecord) => void = () => {};
  // After every start or claim: open the fast exec path now (its first command does not wait for it), then
  // the box's initCommand.
  const afterStart = (box: BoxRecord) => {
    // Pooled boxes are frozen right after their start: theirs opens when they are claimed.
    if (box.containerId && box.tenant !== POOL_TENANT) engine.execs.prepare(box.containerId);
    runInit(box);
  };
  let snapshotGc: () => Promise<void> = async () => {};
  let snapshotSource: SnapshotService["source"] = () => {
    throw new Error("not ready");
  };
  // One per-box lock for every service that changes a box.
  const lock = new KeyLock();
  const boxes = new BoxService({
    engine,
    boxStore,
    runStore,
    lock,
    images: loadImageSet(config.baseImage),
    instanceId: id,
    networkPool: config.networkPool,
    defaultIdleTimeoutSeconds: config.idleTimeoutSeconds,
    log: log.child("box"),
    resolveSnapshot: (tenant, ref) => snapshotSource(tenant, ref),
    afterStart,
    afterDelete: () => snapshotGc(),
    network,
    event: (boxId, level, message) => boxLog.append(boxId, level, "system", message),
  });

  let runs: RunService | null = null;
  const lifecycle = new LifecycleService({
    engine,
    boxes,
    boxStore,
    lock,
    log: log.child("lifecycle"),
    boxLog,
    hasLiveRun: (boxId) => runs?.hasLiveRun(boxId) ?? false,
    afterStart,
    stopAfterPausedSeconds: config.stopAfterPausedSeconds,
    tickMs: config.lifecycleTickMs,
  });
  runs = new RunService({
    engine,
    boxes,
    runs: runStore,
    restartBox: (boxId) => lifecycle.restart(boxId),
    ensureLive: (boxId) => {
      diskGuard.assertWithinAllowance(boxId);
      return lifecycle.ensureLive(boxId);
    },
    onActivity: (boxId, usage) => {
      boxes.touch(boxId);
      if (usage) boxStore.addUsage(boxId, usage.cpuNs, usage.memoryPeakBytes, 1);
    },
    onLog: (boxId, level, source, message) => boxLog.append(boxId, level, source, message),
    execTimeoutSeconds: config.execTimeoutSeconds,
    maxOutputBytes: config.maxOutputBytes,
    maxRunOutputBytes: config.maxRunOutputBytes,
    log: log.child("run"),
  });
  const liveRuns = runs;
  runInit = (box) => {
    if (!box.initCommand) return;
    liveRuns
      .exec(box.id, { command: box.initCommand, background: true, source: "system" })
      .catch((err) => boxLog.append(box.id, "error", "system", `initCommand could not start: ${String(err)}`));
  };
  const snapshots = new SnapshotService({
    engine,
    boxes,
    store: snapshotStore,
    lock,
    boxLog,
    instanceId: id,
    log: log.child("snapshot"),
  });
  snapshotSource = (tenant, ref) => snapshots.source(tenant, ref);
  snapshotGc = () => snapshots.collectGarbage();
  const diskGuard = new DiskGuard({
    engine,
    boxes,
    boxLog,
    log: log.child("disk"),
    killAll: (boxId) => liveRuns.killAll(boxId),
    hasLiveRun: (boxId) => liveRuns.hasLiveRun(boxId),
    maxBytes: config.maxDiskBytes,
    intervalMs: config.diskCheckSeconds * 1000,
  });
  const files = new FileService({
    engine,
    maxFileBytes: config.maxFileBytes,
    roots: config.roots,
    log: log.child("fs"),
  });
  const agents = new AgentService({
    runs: liveRuns,
    config,
    onLog: (boxId, level, message) => boxLog.append(boxId, level, "agent", message),
    log: log.child("agent"),
  });
  const git = createGitService(config, engine, log.child("git"), inheritedEnv());

  const liveBox: Services["liveBox"] = async (tenant, ref) => {
    const box = boxes.resolve(tenant, ref);
    const { containerId, resumed } = await lifecycle.ensureLive(box.id);
    return { boxId: box.id, containerId, resumed };
  };

  // Reconcile with the engine (now, and again whenever it comes back after a restart or outage); if it is
  // unreachable at start the server still starts and answers ENGINE_UNAVAILABLE until it is back.
  const reconcileAll = async () => {
    await reconcile({
      engine,
      boxStore,
      runStore,
      snapshotStore,
      boxService: boxes,
      instanceId: id,
      config,
      log: log.child("reconcile"),
    });
    await network.start(boxStore.list());
    // Boxes whose idle time ran out while the server was down are paused now, not one tick later.
    await lifecycle.tick();
  };
  const pool = new WarmPool({
    boxes,
    boxStore,
    engine,
    lock,
    network,
    specs: parsePoolSpecs(config.pool),
    maxAgeSeconds: config.poolMaxAgeSeconds,
    log: log.child("pool"),
  });
  const watch = new EngineWatch({
    engine,
    labels: { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: id },
    onUp: reconcileAll,
    onContainerStopped: (containerId) => {
      lifecycle.noticeStopped(containerId).catch((err: unknown) => {
        // Usually the engine going down: its reconciliation handles the box once it is back.
        log.debug("could not check a stopped container", { container: containerId.slice(0, 12), error: String(err) });
      });
    },
    log: log.child("engine"),
  });
  if (opts.background !== false) {
    let up = true;
    try {
      await reconcileAll();
    } catch (err) {
      if (!(err instanceof BoxdError && err.code === "ENGINE_UNAVAILABLE")) throw err;
      log.warn("Docker engine unreachable at start; serving anyway and reconciling when it is back", {
        error: err.message,
      });
      up = false;
    }
    watch.start(up);
    pool.start();
    lifecycle.start();
    diskGuard.start();
  }

  return {
    services: {
      config,
      log,
      engine,
      boxes,
      runs,
      files,
      git,
      lifecycle,
      snapshots,
      boxLog,
      network,
      liveBox,
      agents,
      pool,
    },
    instanceId: id,
    async close() {
      lifecycle.stop();
      diskGuard.stop();
      // First: a stdio client that went away kills this process a few seconds later, and the runs' output
      // so far must be recorded by then (deleting pooled boxes can take that long).
      await liveRuns.detachAll();
      await pool.stop();
      await watch.stop();
      await network.stop(boxStore.list().length);
      engine.execs.close();
      db.close();
    },
  };
}
