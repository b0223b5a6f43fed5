// What box_create asks for, checked and with every default filled in, once: both ways of making a box
// (claiming a pooled one, provisioning a new one) read the same settings. Pure: no store, no Docker.
import { invalidArgument } from "../errors.js";
import { isRuntime, type Runtime } from "../images/definitions.js";
import {
  type AttachHeaders,
  type BoxRecord,
  type Isolation,
  type NetworkPolicy,
  SIZES,
  type Size,
} from "../model/box.js";
import { chooseIsolation } from "./isolation.js";
import { checkTtl, expiresAtFor } from "./ttl.js";
import { checkEnv, checkLabels, checkName } from "./validation.js";

export interface CreateBoxInput {
  name?: string;
  runtime?: string;
  size?: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  keepAlive?: boolean;
  idleTimeoutSeconds?: number;
  networkPolicy?: NetworkPolicy;
  initCommand?: string;
  fromSnapshot?: string;
  /** Seconds until the box is deleted whatever its state (1 to 3 days); absent: it lives until deleted. */
  ttlSeconds?: number;
  /** runc or gvisor; the server's BOXD_ISOLATION when absent. */
  isolation?: string;
  /** Root allowed in the box (gVisor only). */
  root?: boolean;
  /** Headers the egress proxy attaches to the box's requests to these hosts (checked by BoxService). */
  attachHeaders?: AttachHeaders;
}

/** A snapshot a new box can start from. */
export interface SnapshotSource {
  id: string;
  image: string;
  runtime: string;
}

export interface CreateSettings
  extends Pick<BoxRecord, "env" | "labels" | "keepAlive" | "idleTimeoutSeconds" | "networkPolicy" | "initCommand"> {
  runtime: Runtime;
  size: Size;
  /** The name the caller gave, or null: the box's id names it then (nameFor). */
  name: string | null;
  snapshot: SnapshotSource | null;
  /** The box's lifetime in seconds, or null (permanent); its expiry counts from when it becomes the tenant's. */
  ttlSeconds: number | null;
  /** What the network layer says about the policy (e.g. domains that need allowedCidrs too). */
  notes: string[];
  isolation: Isolation;
  root: boolean;
}

export interface CreateDefaults {
  idleTimeoutSeconds: number;
  /** The snapshot named by fromSnapshot, already resolved for the tenant. */
  snapshot: SnapshotSource | null;
  /** The network layer's check of the policy (throws when it cannot be enforced). */
  checkPolicy: (policy: NetworkPolicy) => { notes: string[] };
  /** BOXD_ISOLATION. */
  isolation: Isolation;
}

/** Checks the input (each failure says what is accepted) and fills in the defaults. */
export function normaliseCreate(input: CreateBoxInput, defaults: CreateDefaults): CreateSettings {
  const { snapshot } = defaults;
  if (snapshot && input.runtime && input.runtime !== snapshot.runtime) {
    throw invalidArgument(`snapshot ${snapshot.id} is of runtime ${snapshot.runtime}; leave runtime out or pass that`);
  }
  const runtime = snapshot?.runtime ?? input.runtime ?? "node";
  if (!isRuntime(runtime)) {
    throw invalidArgument(
      `unknown runtime "${runtime}": use node, python, golang, ruby or rust (each also with -alpine)`,
    );
  }
  const size = (input.size ?? "small") as Size;
  if (!SIZES.includes(size)) throw invalidArgument(`unknown size "${input.size}": use small, medium or large`);
  const env = input.env ?? {};
  const labels = input.labels ?? {};
  checkEnv(env);
  checkLabels(labels);
  const networkPolicy = input.networkPolicy ?? { mode: "allow-all" as const };
  const { notes } = defaults.checkPolicy(networkPolicy);
  if (input.name !== undefined) checkName(input.name);
  if (input.initCommand?.includes("\0")) throw invalidArgument("initCommand contains a NUL byte");
  if (input.ttlSeconds !== undefined) checkTtl(input.ttlSeconds);
  const { isolation, root } = chooseIsolation(input, defaults.isolation);
  return {
    isolation,
    root,
    runtime,
    size,
    name: input.name ?? null,
    env,
    labels,
    keepAlive: input.keepAlive ?? false,
    idleTimeoutSeconds: input.idleTimeoutSeconds ?? defaults.idleTimeoutSeconds,
    networkPolicy,
    initCommand: input.initCommand?.trim() ? input.initCommand : null,
    snapshot,
    ttlSeconds: input.ttlSeconds ?? null,
    notes,
  };
}

/** The name of a box made with these settings: the caller's, else one derived from its id. */
export function nameFor(settings: Pick<CreateSettings, "name">, boxId: string): string {
  return settings.name ?? boxId.replace("box_", "b-");
}

/** The record of a new box (status `creating`) made with these settings. */
export function newBoxRecord(s: CreateSettings, box: Pick<BoxRecord, "id" | "tenant" | "name" | "image">): BoxRecord {
  const now = new Date().toISOString();
  return {
    ...box,
    runtime: s.runtime,
    size: s.size,
    status: "creating",
    keepAlive: s.keepAlive,
    idleTimeoutSeconds: s.idleTimeoutSeconds,
    networkPolicy: s.networkPolicy,
    env: s.env,
    labels: s.labels,
    fromSnapshot: s.snapshot?.id ?? null,
    containerId: null,
    networkName: null,
    subnetIndex: null,
    createdAt: now,
    lastActiveAt: now,
    pausedAt: null,
    pauseKind: null,
    deletedAt: null,
    error: null,
    usage: { cpuNs: 0, memoryPeakBytes: 0, runs: 0 },
    initCommand: s.initCommand,
    limits: null,
    expiresAt: expiresAtFor(s.ttlSeconds),
    isolation: s.isolation,
    root: s.root,
  };
}
