// What the box service is built with (the composition root supplies it) and what it asks of the warm pool.
import type { DockerEngine } from "../docker/engine.js";
import { invalidArgument } from "../errors.js";
import type { BoxEventEmitter } from "../events/box-events.js";
import type { ImageSet } from "../images/definitions.js";
import type { Logger } from "../log.js";
import type { AttachHeaders, BoxDisk, BoxNetwork, BoxRecord, Isolation } from "../model/box.js";
import type { BoxStore } from "../state/box-store.js";
import type { PageCursors } from "../state/page-cursor.js";
import type { RunStore } from "../state/run-store.js";
import type { CreateSettings, SnapshotSource } from "./create-settings.js";
import type { KeyLock } from "./key-lock.js";
import type { TenantLimits } from "./tenant-limits.js";

/** What box creation and deletion need from the network layer. */
export interface BoxServiceDeps {
  engine: DockerEngine;
  boxStore: BoxStore;
  runStore: RunStore;
  images: ImageSet;
  instanceId: string;
  networkPool: string;
  defaultIdleTimeoutSeconds: number;
  /** BOXD_ISOLATION and the engine runtime name of gVisor boxes. */
  isolation: { default: Isolation; gvisorRuntime: string };
  log: Logger;
  /** The per-box lock every service that changes a box shares (built once by the composition root). */
  lock: KeyLock;
  /** Finds a ready snapshot of the tenant by id or name (the snapshot service). */
  resolveSnapshot?: (tenant: string, ref: string) => SnapshotSource;
  /** Announces created, started, claimed and deleted (initCommand, snapshot GC, the exec channel subscribe). */
  events: BoxEventEmitter;
  /** Egress enforcement (the network service); absent in unit setups. */
  network?: BoxNetwork;
  /** Lifecycle events for the box's log. */
  event?: (boxId: string, level: "info" | "warn" | "error", message: string) => void;
  /** Per-tenant quotas (shared with the run service); none when absent. */
  limits?: TenantLimits;
  /** Signs and checks box_list's page cursors. */
  cursors: PageCursors;
  /** A box's disk allowance and last measured use (the disk guard's DiskAllowance); none when absent. */
  disk?: { of(box: BoxRecord): BoxDisk };
  /** The box's CPU and memory totals from its cgroup (the usage meter); the runs' sums when absent. */
  usage?: BoxUsageMeter;
  /** attachHeaders (src/secrets/box-attachments.ts); refused when absent. */
  attach?: BoxAttach;
}

/** What the box service asks of attachHeaders: checks, storage, and the egress CA in the box's trust. */
export interface BoxAttach {
  /** INVALID_ARGUMENT naming the bad entry or missing secret; the headers normalised. */
  check(tenant: string, headers: AttachHeaders): AttachHeaders;
  get(boxId: string): AttachHeaders | null;
  set(boxId: string, headers: AttachHeaders | null): void;
  /** Hosts and header names (never values), for the box's view. */
  summary(boxId: string): Record<string, string[]> | null;
  installTrust(containerId: string): Promise<void>;
}

/** attachHeaders checked for the tenant; null when none were given (or {}). */
export function checkAttach(
  attach: BoxAttach | undefined,
  tenant: string,
  headers: AttachHeaders | null | undefined,
): AttachHeaders | null {
  if (!headers || Object.keys(headers).length === 0) return null;
  if (!attach) throw invalidArgument("attachHeaders are not available on this server");
  return attach.check(tenant, headers);
}

/** What the box service asks of the usage meter (src/usage/usage-meter.ts). */
export interface BoxUsageMeter {
  /** Reads the container's counters into the box's totals (never throws). */
  sample(box: BoxRecord): Promise<void>;
  total(box: BoxRecord): { cpuNs: number; memoryPeakBytes: number };
}

/** What create asks of the warm pool (src/box/warm-pool.ts). */
export interface BoxPool {
  /** A pooled box claimed for the tenant with these settings, or null (create makes one then). */
  claim(tenant: string, request: ClaimRequest): Promise<BoxRecord | null>;
}

export interface ClaimRequest {
  settings: CreateSettings;
  /** The checks a create makes before the box becomes the tenant's (name free, box limit); throws to refuse. */
  admit: (name: string) => void;
}
