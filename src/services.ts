// The services MCP tools (and the CLI) call. Built once by createApp() and passed in: no singletons.
import type { AgentService } from "./agent/agent-service.js";
import type { BoxService } from "./box/box-service.js";
import type { WarmPool } from "./box/warm-pool.js";
import type { Config } from "./config.js";
import type { DockerEngine } from "./docker/engine.js";
import type { FileService } from "./fs/file-service.js";
import type { GitService } from "./git/git-service.js";
import type { LifecycleService } from "./lifecycle/lifecycle-service.js";
import type { SnapshotService } from "./lifecycle/snapshot-service.js";
import type { Logger } from "./log.js";
import type { BoxLog } from "./logs/box-log.js";
import type { NetworkService } from "./network/network-service.js";
import type { RunService } from "./shell/run-service.js";

export interface Services {
  config: Config;
  log: Logger;
  engine: DockerEngine;
  boxes: BoxService;
  runs: RunService;
  files: FileService;
  git: GitService;
  lifecycle: LifecycleService;
  snapshots: SnapshotService;
  boxLog: BoxLog;
  network: NetworkService;
  pool: WarmPool;
  agents: AgentService;
  /** Resolves a box of the tenant and makes sure it can run commands now (resuming it if paused). */
  liveBox: (tenant: string, ref: string) => Promise<{ boxId: string; containerId: string; resumed: boolean }>;
}
