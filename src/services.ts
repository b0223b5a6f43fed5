// The services MCP tools (and the CLI) call. Built once by createApp() and passed in: no singletons.
// `Services` is the full set (the CLI and the tests reach internals through it); `ToolServices` is what the
// MCP layer may see: the methods its tools call, and no engine, raw config or warm pool (createServer keeps
// only these fields, and test/unit/layering.test.ts checks that src/mcp/ never reaches for the others).
import type { AgentService } from "./agent/agent-service.js";
import type { RunEvents } from "./agent/run-events.js";
import type { BoxService } from "./box/box-service.js";
import type { WarmPool } from "./box/warm-pool.js";
import type { Config } from "./config.js";
import type { DockerEngine } from "./docker/engine.js";
import type { FileService } from "./fs/file-service.js";
import type { GitService } from "./git/git-service.js";
import type { ForkService } from "./lifecycle/fork-service.js";
import type { LifecycleService } from "./lifecycle/lifecycle-service.js";
import type { SnapshotService } from "./lifecycle/snapshot-service.js";
import type { Logger } from "./log.js";
import type { BoxLog } from "./logs/box-log.js";
import type { NetworkService } from "./network/network-service.js";
import type { PreviewService } from "./preview/preview-service.js";
import type { ScheduleService } from "./schedules/schedule-service.js";
import type { SecretService } from "./secrets/secret-service.js";
import type { RunService } from "./shell/run-service.js";
import type { UsageSample } from "./state/usage-store.js";

/** A box of the tenant, awake and ready to run commands. */
export interface LiveBox {
  boxId: string;
  containerId: string;
  /** The box was paused and this call woke it. */
  resumed: boolean;
}

export interface ToolServices {
  log: Logger;
  boxes: Pick<
    BoxService,
    | "create"
    | "get"
    | "list"
    | "page"
    | "view"
    | "resolve"
    | "resolveAny"
    | "delete"
    | "deleteMany"
    | "setNetworkPolicy"
    | "update"
    | "touch"
  >;
  runs: Pick<RunService, "exec" | "runCode" | "page" | "get" | "kill">;
  files: Pick<FileService, "write" | "read" | "list" | "stat" | "makeDir" | "move" | "delete" | "upload" | "download">;
  git: Pick<GitService, "clone" | "status" | "diff" | "commit" | "checkout" | "push" | "pull" | "pullRequest">;
  lifecycle: Pick<LifecycleService, "pause" | "resume">;
  snapshots: Pick<SnapshotService, "create" | "page" | "delete">;
  forks: Pick<ForkService, "fork">;
  boxLog: Pick<BoxLog, "entries" | "text" | "subscribe">;
  agents: Pick<AgentService, "run" | "start" | "checkDefaults" | "setDefaults" | "defaultsOf">;
  runEvents: Pick<RunEvents, "read">;
  schedules: Pick<ScheduleService, "create" | "list" | "get" | "pause" | "resume" | "delete">;
  previews: Pick<PreviewService, "expose" | "list" | "unexpose">;
  /** The tenant secret store (values go in, never out). */
  secrets: Pick<SecretService, "set" | "list" | "delete">;
  /** Resolves a box of the tenant and makes sure it can run commands now (resuming it if paused). */
  liveBox: (tenant: string, ref: string) => Promise<LiveBox>;
}

export interface Services extends ToolServices {
  config: Config;
  /** Keeps a box from being paused while something outside a run uses it (a console terminal); call the result to let go. */
  holdAwake: (boxId: string) => () => void;
  /** A box's usage over the last day: its total CPU time and memory in use at each usage meter pass. */
  usageHistory: (boxId: string) => UsageSample[];
  engine: DockerEngine;
  boxes: BoxService;
  runs: RunService;
  files: FileService;
  git: GitService;
  lifecycle: LifecycleService;
  snapshots: SnapshotService;
  forks: ForkService;
  boxLog: BoxLog;
  network: NetworkService;
  pool: WarmPool;
  agents: AgentService;
  runEvents: RunEvents;
  schedules: ScheduleService;
  previews: PreviewService;
  secrets: SecretService;
}

/** Every field of ToolServices, once: toolServices copies these and nothing else. */
const TOOL_SERVICE_KEYS = [
  "log",
  "boxes",
  "runs",
  "files",
  "git",
  "lifecycle",
  "snapshots",
  "forks",
  "boxLog",
  "agents",
  "runEvents",
  "schedules",
  "previews",
  "secrets",
  "liveBox",
] as const satisfies readonly (keyof ToolServices)[];

// A ToolServices field missing from the list above fails to compile here.
type Unlisted = Exclude<keyof ToolServices, (typeof TOOL_SERVICE_KEYS)[number]>;
const allListed: [Unlisted] extends [never] ? true : Unlisted = true;
void allListed;

/** The tools' view of the services: a new object with only ToolServices' fields (so no engine, config or pool). */
export function toolServices(s: ToolServices): ToolServices {
  return Object.fromEntries(TOOL_SERVICE_KEYS.map((k) => [k, s[k]])) as unknown as ToolServices;
}
