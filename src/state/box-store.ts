// Persistence of boxes. Pure data access: no Docker, no policy.
import type { BoxRecord, PauseKind, StoredStatus } from "../box/types.js";
import type { Db } from "./db.js";

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
  };
}

export class BoxStore {
  constructor(private readonly db: Db) {}

  insert(box: BoxRecord): void {
    this.db
      .prepare(
        `INSERT INTO boxes (id, tenant, name, runtime, size, status, keep_alive, idle_timeout_seconds,
           network_policy, image, env, labels, from_snapshot, container_id, network_name, subnet_index,
           created_at, last_active_at, init_command)
         VALUES (@id, @tenant, @name, @runtime, @size, @status, @keepAlive, @idle, @policy, @image, @env,
           @labels, @fromSnapshot, @containerId, @networkName, @subnetIndex, @createdAt, @lastActiveAt, @initCommand)`,
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
      });
  }

  get(id: string): BoxRecord | null {
    const row = this.db.prepare("SELECT * FROM boxes WHERE id = ?").get(id) as BoxRow | undefined;
    return row ? fromRow(row) : null;
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

  update(
    id: string,
    patch: Partial<
      Pick<
        BoxRecord,
        | "status"
        | "containerId"
        | "networkName"
        | "lastActiveAt"
        | "pausedAt"
        | "pauseKind"
        | "deletedAt"
        | "error"
        | "networkPolicy"
        | "subnetIndex"
      >
    >,
  ): void {
    const cols: Record<string, string> = {
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
    };
    const sets: string[] = [];
    const args: Record<string, unknown> = { id };
    for (const [key, value] of Object.entries(patch)) {
      const col = cols[key];
      if (!col) continue;
      sets.push(`${col} = @${key}`);
      args[key] = key === "networkPolicy" ? JSON.stringify(value) : value;
    }
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE boxes SET ${sets.join(", ")} WHERE id = @id`).run(args);
  }

  /** Hands a pooled box to a tenant: everything a create would have set, in one statement. */
  claim(
    id: string,
    c: Pick<
      BoxRecord,
      "tenant" | "name" | "env" | "labels" | "keepAlive" | "idleTimeoutSeconds" | "networkPolicy" | "initCommand"
    >,
  ): void {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `UPDATE boxes SET tenant = @tenant, name = @name, env = @env, labels = @labels, keep_alive = @keepAlive,
           idle_timeout_seconds = @idle, network_policy = @policy, init_command = @initCommand,
           created_at = @now, last_active_at = @now, status = 'idle', paused_at = NULL, pause_kind = NULL
         WHERE id = @id AND status = 'pooled'`,
      )
      .run({
        id,
        tenant: c.tenant,
        name: c.name,
        env: JSON.stringify(c.env),
        labels: JSON.stringify(c.labels),
        keepAlive: c.keepAlive ? 1 : 0,
        idle: c.idleTimeoutSeconds,
        policy: JSON.stringify(c.networkPolicy),
        initCommand: c.initCommand,
        now,
      });
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
