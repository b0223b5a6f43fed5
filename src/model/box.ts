// The box and run models shared by the services, the store and the MCP tools.

export const BOX_STATUSES = ["creating", "idle", "running", "paused", "error", "deleted"] as const;
export type BoxStatus = (typeof BOX_STATUSES)[number];
/** What the store keeps; `running` is derived from live runs, never stored. */
/** `pooled`: a warm, running box no tenant owns yet (the warm pool); never shown to clients. */
export type StoredStatus = Exclude<BoxStatus, "running"> | "pooled";

export const SIZES = ["small", "medium", "large"] as const;
export type Size = (typeof SIZES)[number];

/** How a paused box is paused: frozen (cgroup freezer, memory kept) or stopped (memory released). */
export const PAUSE_KINDS = ["frozen", "stopped"] as const;
export type PauseKind = (typeof PAUSE_KINDS)[number];

/** runc: the host kernel behind Docker's default seccomp profile; gvisor: gVisor's user-space kernel (runsc). */
export const ISOLATIONS = ["runc", "gvisor"] as const;
export type Isolation = (typeof ISOLATIONS)[number];

export const NETWORK_MODES = ["allow-all", "deny-all", "custom"] as const;

export interface NetworkPolicy {
  mode: (typeof NETWORK_MODES)[number];
  allowedDomains?: string[];
  allowedCidrs?: string[];
  deniedCidrs?: string[];
}

/** attachHeaders: host ("api.example.com" or "*.example.com") -> header name -> value template, where
 * ${secret:NAME} names a tenant secret (rendered by the egress proxy at request time, never in the box). */
export type AttachHeaders = Record<string, Record<string, string>>;

export interface BoxUsage {
  cpuNs: number;
  memoryPeakBytes: number;
  runs: number;
  /** Agent runs added up (box views only: computed from the box's runs). */
  prompts?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

/** A box's effective limits: what its container got (CPUs and memory) and its disk allowance. */
export interface BoxLimits {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

export interface BoxRecord {
  id: string;
  tenant: string;
  name: string;
  runtime: string;
  size: Size;
  status: StoredStatus;
  keepAlive: boolean;
  idleTimeoutSeconds: number;
  networkPolicy: NetworkPolicy;
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  fromSnapshot: string | null;
  containerId: string | null;
  networkName: string | null;
  subnetIndex: number | null;
  createdAt: string;
  lastActiveAt: string;
  pausedAt: string | null;
  pauseKind: PauseKind | null;
  deletedAt: string | null;
  error: string | null;
  usage: BoxUsage;
  initCommand: string | null;
  /** The CPUs and memory its container was made with (null for boxes made before boxd recorded them). */
  limits: Pick<BoxLimits, "cpus" | "memoryBytes"> | null;
  /** When its ttlSeconds runs out and it is deleted (ISO time), or null: it lives until deleted. */
  expiresAt: string | null;
  /** The container runtime's isolation; fixed for the box's life. */
  isolation: Isolation;
  /** Root allowed in the box (box_exec user "root"): gVisor boxes only. */
  root: boolean;
}

/** What clients see (box_get, box_list, box_create). Env values are not echoed back: they may be secrets. */
export interface BoxView {
  id: string;
  name: string;
  runtime: string;
  /** The runtime's toolchain versions, e.g. "Node.js 20.19.2 (npm 9.2.0, TypeScript 4.9.5)", where known. */
  runtimeVersion?: string;
  size: Size;
  status: BoxStatus;
  keepAlive: boolean;
  idleTimeoutSeconds: number;
  networkPolicy: NetworkPolicy;
  image: string;
  createdAt: string;
  lastActiveAt: string;
  pausedAt?: string;
  pauseKind?: PauseKind;
  fromSnapshot?: string;
  labels: Record<string, string>;
  envKeys: string[];
  /** The effective limits (absent for boxes made before boxd recorded them). */
  limits?: BoxLimits;
  /** `diskUsedBytes`: the disk guard's last measurement of the box's writable layer, once it has one. */
  usage: BoxUsage & { diskUsedBytes?: number };
  initCommand?: string;
  /** Why the box is in `error`. */
  statusReason?: string;
  /** When the box is deleted because its ttlSeconds ran out, or null (it lives until deleted). */
  expiresAt: string | null;
  isolation: Isolation;
  root: boolean;
  /** attachHeaders as hosts and the names of the headers attached to them (values are never shown). */
  attachHeaders?: Record<string, string[]>;
}

export const RUN_STATUSES = ["running", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** `command`: box_exec; `code`: box_run_code; `agent`: box_agent_run. */
export const RUN_TYPES = ["command", "code", "agent"] as const;
export type RunType = (typeof RUN_TYPES)[number];

export interface RunRecord {
  id: string;
  boxId: string;
  type: RunType;
  command: string;
  status: RunStatus;
  exitCode: number | null;
  timedOut: boolean;
  cpuNs: number | null;
  memoryPeakBytes: number | null;
  startedAt: string;
  completedAt: string | null;
  durationMs: number | null;
  /** Why a run failed or was interrupted (timeout, cwd missing, server restart). */
  reason: string | null;
  /** Agent runs only: which harness and model ran, and what the agent reported it used. */
  agent?: AgentRunInfo;
  /** The schedule that started the run, if one did. */
  scheduleId?: string;
}

/** Token counts of an agent run; inputTokens includes the cached ones. */
export interface AgentUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
}

export interface AgentRunInfo {
  harness: string;
  model: string | null;
  usage: AgentUsage | null;
  costUsd: number | null;
  sessionId: string | null;
  /** The agent's final answer (or its text so far, when it failed), cut at BOXD_MAX_OUTPUT_BYTES. */
  output?: string;
}

/** How a run's process ended, as an agent run's `settle` hook sees it. */
export interface RunEnd {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Set when the exec itself failed (engine error). */
  error: string | null;
}

/** An agent run as the run service starts it (src/shell/run-service.ts startAgent). */
export interface AgentExecInput {
  /** What the run record shows as its command. */
  prompt: string;
  /** The shell command line that starts the harness. */
  command: string;
  /** Env of this run only (API keys): never stored in the box. */
  env: Record<string, string>;
  timeoutSeconds: number;
  agent: AgentRunInfo;
  /** The schedule that started it, if one did. */
  scheduleId?: string;
}

export interface AgentRunHooks {
  /** The harness's stdout as raw bytes (its event stream), in order. */
  onStdout: (chunk: Buffer) => void;
  /**
   * Called once when the process has ended, before the run is recorded: the agent layer decides whether
   * the run succeeded (it has the last word over the exit code) and supplies the agent details. Must not throw.
   */
  settle: (end: RunEnd) => { failure: string | null; agent: AgentRunInfo };
}

export interface AgentRunStart {
  runId: string;
  /** Resolves with the recorded run once it has ended (null if the server stopped following it). */
  done: Promise<RunRecord | null>;
}

/** What the disk guard knows of a box: its allowance and, once measured, its use. */
export interface BoxDisk {
  allowanceBytes: number;
  usedBytes?: number;
}

export function toBoxView(box: BoxRecord, hasLiveRun: boolean, disk?: BoxDisk, runtimeVersion?: string): BoxView {
  const stored = box.status === "pooled" ? "paused" : box.status;
  const status: BoxStatus = stored === "idle" && hasLiveRun ? "running" : stored;
  return {
    id: box.id,
    name: box.name,
    runtime: box.runtime,
    ...(runtimeVersion ? { runtimeVersion } : {}),
    size: box.size,
    status,
    keepAlive: box.keepAlive,
    idleTimeoutSeconds: box.idleTimeoutSeconds,
    networkPolicy: box.networkPolicy,
    image: box.image,
    createdAt: box.createdAt,
    lastActiveAt: box.lastActiveAt,
    ...(box.pausedAt ? { pausedAt: box.pausedAt } : {}),
    ...(box.pauseKind ? { pauseKind: box.pauseKind } : {}),
    ...(box.fromSnapshot ? { fromSnapshot: box.fromSnapshot } : {}),
    labels: box.labels,
    envKeys: Object.keys(box.env).sort(),
    ...(box.limits && disk ? { limits: { ...box.limits, diskBytes: disk.allowanceBytes } } : {}),
    usage: disk?.usedBytes === undefined ? box.usage : { ...box.usage, diskUsedBytes: disk.usedBytes },
    ...(box.initCommand ? { initCommand: box.initCommand } : {}),
    ...(box.error ? { statusReason: box.error } : {}),
    expiresAt: box.expiresAt,
    isolation: box.isolation,
    root: box.root,
  };
}

/** Egress enforcement as the box layer uses it (the network service implements it). */
export interface BoxNetwork {
  check(policy: NetworkPolicy): { notes: string[] };
  apply(box: BoxRecord): Promise<void>;
  remove(box: Pick<BoxRecord, "id" | "subnetIndex">): Promise<void>;
  bridgeFor(boxId: string): string | undefined;
  readonly containerDns: string[];
}
