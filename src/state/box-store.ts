// Persistence of boxes. Pure data access: no Docker, no policy.
import type { BoxRecord, Isolation, PauseKind, StoredStatus } from "../model/box.js";
import type { Db } from "./db.js";
import type { PageKey } from "./page-cursor.js";

interface BoxRow {
  id: string;
  tenant: string;
  name: string;
  runtime: string;
  size: string;
  status: string;
  keep_alive: number;
  idle_timeout_seconds: number;
  network_policy: string;
  image: string;
  env: string;
  labels: string;
  from_snapshot: string | null;
  container_id: string | null;
  network_name: string | null;
  subnet_index: number | null;
  created_at: string;
  last_active_at: string;
  paused_at: string | null;
  pause_kind: string | null;
  deleted_at: string | null;
  error: string | null;
  cpu_ns: number;
  memory_peak_bytes: number;
  runs: number;
  init_command: string | null;
  limits: string | null;
  expires_at: string | null;
  isolation: string;
  root: number;
}

function fromRow(r: BoxRow): BoxRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    runtime: r.runtime,
    size: r.size as BoxRecord["size"],
    status: r.status as StoredStatus,
    keepAlive: r.keep_alive === 1,
    idleTimeoutSeconds: r.idle_timeout_seconds,
    networkPolicy: JSON.parse(r.network_policy),
    image: r.image,
    env: JSON.parse(r.env),
    labels: JSON.parse(r.labels),
    fromSnapshot: r.from_snapshot,
    containerId: r.container_id,
    networkName: r.network_name,
    subnetIndex: r.subnet_index,
    createdAt: r.created_at,
    lastActiveAt: r.last_active_at,
    pausedAt: r.paused_at,
    pauseKind: r.pause_kind as PauseKind | null,
    deletedAt: r.deleted_at,
    error: r.error,
    usage: { cpuNs: r.cpu_ns, memoryPeakBytes: r.memory_peak_bytes, runs: r.runs },
    initCommand: r.init_command,
    limits: r.limits === null ? null : JSON.parse(r.limits),
    expiresAt: r.expires_at,
    isolation: r.isolation as Isolation,
    root: r.root === 1,
  };
}

/** What a status change may write besides the status: the state's own fields and a claim's settings. */
export type StatePatch = { status: StoredStatus } & Partial<
  Pick<
    BoxRecord,
    | "containerId"
    | "lastActiveAt"
    | "pausedAt"
    | "pauseKind"
    | "deletedAt"
    | "error"
    | "tenant"
    | "name"
    | "env"
    | "labels"
    | "keepAlive"
    | "idleTimeoutSeconds"
    | "networkPolicy"
    | "initCommand"
    | "createdAt"
    | "expiresAt"
  >
>;

const COLUMNS: Record<string, string> = {
  status: "status",
  containerId: "container_id",
  networkName: "network_name",
  lastActiveAt: "last_active_at",
  pausedAt: "paused_at",
  pauseKind: "pause_kind",
  deletedAt: "deleted_at",
  error: "error",
  networkPolicy: "network_policy",
  subnetIndex: "subnet_index",
  tenant: "tenant",
  name: "name",
  env: "env",
  labels: "labels",
  keepAlive: "keep_alive",
  idleTimeoutSeconds: "idle_timeout_seconds",
  initCommand: "init_command",
  createdAt: "created_at",
  limits: "limits",
  expiresAt: "expires_at",
};
const JSON_COLUMNS = new Set(["networkPolicy", "env", "labels", "limits"]);

/** `col = @key` assignments and their values for the fields of `patch` that are columns. */
function assignments(patch: object): { sets: string[]; args: Record<string, unknown> } {
  const sets: string[] = [];
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const col = COLUMNS[key];
    if (!col || value === undefined) continue;
    sets.push(`${col} = @${key}`);
    args[key] = JSON_COLUMNS.has(key) ? JSON.stringify(value) : typeof value === "boolean" ? (value ? 1 : 0) : value;
  }
  return { sets, args };
}

/** The fields BoxStore.update may write: the box's objects, activity and the settings box_update changes. */
type StoreUpdatable =
  | "containerId"
  | "networkName"
  | "lastActiveAt"
  | "networkPolicy"
  | "subnetIndex"
  | "limits"
  | "env"
  | "labels"
  | "keepAlive"
  | "idleTimeoutSeconds"
  | "initCommand"
  | "expiresAt";

export class BoxStore {
  constructor(private readonly db: Db) {}

  insert(box: BoxRecord): void {
    this.db
      .prepare(
        `INSERT INTO boxes (id, tenant, name, runtime, size, status, keep_alive, idle_timeout_seconds,
           network_policy, image, env, labels, from_snapshot, container_id, network_name, subnet_index,
           created_at, last_active_at, init_command, expires_at, isolation, root)
         VALUES (@id, @tenant, @name, @runtime, @size, @status, @keepAlive, @idle, @policy, @image, @env,
           @labels, @fromSnapshot, @containerId, @networkName, @subnetIndex, @createdAt, @lastActiveAt, @initCommand,
           @expiresAt, @isolation, @root)`,
      )
      .run({
        id: box.id,
        tenant: box.tenant,
        name: box.name,
        runtime: box.runtime,
        size: box.size,
        status: box.status,
        keepAlive: box.keepAlive ? 1 : 0,
        idle: box.idleTimeoutSeconds,
        policy: JSON.stringify(box.networkPolicy),
        image: box.image,
        env: JSON.stringify(box.env),
        labels: JSON.stringify(box.labels),
        fromSnapshot: box.fromSnapshot,
        containerId: box.containerId,
        networkName: box.networkName,
        subnetIndex: box.subnetIndex,
        createdAt: box.createdAt,
        lastActiveAt: box.lastActiveAt,
        initCommand: box.initCommand,
        expiresAt: box.expiresAt,
        isolation: box.isolation,
        root: box.root ? 1 : 0,
      });
  }

  get(id: string): BoxRecord | null {
    const row = this.db.prepare("SELECT * FROM boxes WHERE id = ?").get(id) as BoxRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** The box's tenant alone (every run admission asks it of each box with runs live). */
  tenantOf(id: string): string | null {
    const row = this.db.prepare("SELECT tenant FROM boxes WHERE id = ?").get(id) as { tenant: string } | undefined;
    return row?.tenant ?? null;
  }

  /** A live (not deleted) box of the tenant by name. */
  getByName(tenant: string, name: string): BoxRecord | null {
    const row = this.db
      .prepare("SELECT * FROM boxes WHERE tenant = ? AND name = ? AND status != 'deleted'")
      .get(tenant, name) as BoxRow | undefined;
    return row ? fromRow(row) : null;
  }

  list(filter: { tenant?: string; includeDeleted?: boolean } = {}): BoxRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.tenant !== undefined) {
      where.push("tenant = ?");
      args.push(filter.tenant);
    }
    if (!filter.includeDeleted) where.push("status != 'deleted'");
    const sql = `SELECT * FROM boxes ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...args) as BoxRow[]).map(fromRow);
  }

  /**
   * The boxes whose idle timer is due at `now`: idle ones (not keepAlive) idle for their idleTimeoutSeconds,
   * and frozen ones paused for `stopAfterPausedSeconds`. Decided in SQL, so that the timer's tick each
   * second costs no record per box however many there are; the caller re-checks each under its lock.
   */
  dueForIdleTimers(now: Date, stopAfterPausedSeconds: number): { id: string; due: "freeze" | "deepen" }[] {
    // In whole milliseconds: julianday's float alone puts a boundary a few µs short.
    const ms = (column: string) => `ROUND((julianday(@now) - julianday(${column})) * 86400000.0)`;
    return this.db
      .prepare(
        `SELECT id, CASE status WHEN 'idle' THEN 'freeze' ELSE 'deepen' END AS due FROM boxes
       WHERE (status = 'idle' AND keep_alive = 0 AND ${ms("last_active_at")} >= idle_timeout_seconds * 1000)
          OR (status = 'paused' AND pause_kind = 'frozen' AND paused_at IS NOT NULL AND ${ms("paused_at")} >= @stop * 1000)
       ORDER BY created_at`,
      )
      .all({ now: now.toISOString(), stop: stopAfterPausedSeconds }) as {
      id: string;
      due: "freeze" | "deepen";
    }[];
  }

  /**
   * Up to n boxes of the tenant after `after` (created_at, id), oldest first: the keyset box_list pages by.
   */
  pageOfTenant(
    tenant: string,
    includeDeleted: boolean,
    after: PageKey | null,
    n: number,
  ): { box: BoxRecord; key: PageKey }[] {
    const live = includeDeleted ? "" : "AND status != 'deleted'";
    const from = after ? "AND (created_at, id) > (?, ?)" : "";
    const rows = this.db
      .prepare(`SELECT * FROM boxes WHERE tenant = ? ${live} ${from} ORDER BY created_at, id LIMIT ?`)
      .all(tenant, ...(after ?? []), n) as BoxRow[];
    return rows.map((r) => ({ box: fromRow(r), key: [r.created_at, r.id] }));
  }

  /** The smallest subnet index no live box holds, or null when the pool is full. */
  freeSubnetIndex(poolSize: number, skip: ReadonlySet<number> = new Set()): number | null {
    const used = new Set(
      (
        this.db
          .prepare("SELECT subnet_index FROM boxes WHERE status != 'deleted' AND subnet_index IS NOT NULL")
          .all() as { subnet_index: number }[]
      ).map((r) => r.subnet_index),
    );
    for (let i = 0; i < poolSize; i++) if (!used.has(i) && !skip.has(i)) return i;
    return null;
  }

  /** Writes fields that are no part of the box's state (its status is box-state.ts's alone). */
  update(id: string, patch: Partial<Pick<BoxRecord, StoreUpdatable>>): void {
    const { sets, args } = assignments(patch);
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE boxes SET ${sets.join(", ")} WHERE id = @id`).run({ ...args, id });
  }

  /**
   * The compare-and-set under every status change: writes `patch` (which includes the new status) only
   * while the box's status is one of `from`, and returns how many rows changed (0 or 1). Only the box's
   * state machine (src/box/box-state.ts) calls this.
   */
  compareAndSet(id: string, from: readonly StoredStatus[], patch: StatePatch): number {
    const { sets, args } = assignments(patch);
    const froms = from.map((_, i) => `@from${i}`);
    from.forEach((status, i) => {
      args[`from${i}`] = status;
    });
    return this.db
      .prepare(`UPDATE boxes SET ${sets.join(", ")} WHERE id = @id AND status IN (${froms.join(", ")})`)
      .run({ ...args, id }).changes;
  }

  /** The soonest expiry of a live box (ISO time), or null when no live box has a TTL. */
  nextExpiry(): string | null {
    const row = this.db
      .prepare("SELECT MIN(expires_at) AS t FROM boxes WHERE expires_at IS NOT NULL AND status != 'deleted'")
      .get() as { t: string | null };
    return row.t;
  }

  /** Live boxes whose TTL ran out by `at` (ISO time), soonest first. */
  expiredBy(at: string): string[] {
    const rows = this.db
      .prepare(
        `SELECT id FROM boxes WHERE expires_at IS NOT NULL AND expires_at <= ? AND status != 'deleted'
         ORDER BY expires_at`,
      )
      .all(at) as { id: string }[];
    return rows.map((r) => r.id);
  }

  addUsage(id: string, cpuNs: number, memoryPeakBytes: number, runs: number): void {
    this.db
      .prepare(
        `UPDATE boxes SET cpu_ns = cpu_ns + ?, memory_peak_bytes = MAX(memory_peak_bytes, ?), runs = runs + ?
         WHERE id = ?`,
      )
      .run(Math.round(cpuNs), Math.round(memoryPeakBytes), runs, id);
  }
}
