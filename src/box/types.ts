// The box and run models shared by the services, the store and the MCP tools.

export const BOX_STATUSES = ["creating", "idle", "running", "paused", "error", "deleted"] as const;
export type BoxStatus = (typeof BOX_STATUSES)[number];
/** What the store keeps; `running` is derived from live runs, never stored. */
export type StoredStatus = Exclude<BoxStatus, "running">;

export const SIZES = ["small", "medium", "large"] as const;
export type Size = (typeof SIZES)[number];

/** How a paused box is paused: frozen (cgroup freezer, memory kept) or stopped (memory released). */
export type PauseKind = "frozen" | "stopped";

export interface NetworkPolicy {
  mode: "allow-all" | "deny-all" | "custom";
  allowedDomains?: string[];
  allowedCidrs?: string[];
  deniedCidrs?: string[];
}

export interface BoxUsage {
  cpuNs: number;
  memoryPeakBytes: number;
  runs: number;
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
}

/** What clients see (box_get, box_list, box_create). Env values are not echoed back: they may be secrets. */
export interface BoxView {
  id: string;
  name: string;
  runtime: string;
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
  usage: BoxUsage;
  initCommand?: string;
  /** Why the box is in `error`. */
  statusReason?: string;
}

export const RUN_STATUSES = ["running", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type RunType = "shell" | "agent";

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
}

export function toBoxView(box: BoxRecord, hasLiveRun: boolean): BoxView {
  const status: BoxStatus = box.status === "idle" && hasLiveRun ? "running" : box.status;
  return {
    id: box.id,
    name: box.name,
    runtime: box.runtime,
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
    usage: box.usage,
    ...(box.initCommand ? { initCommand: box.initCommand } : {}),
    ...(box.error ? { statusReason: box.error } : {}),
  };
}
