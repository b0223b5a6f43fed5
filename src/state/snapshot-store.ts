// Persistence of snapshots.
import type { Db } from "./db.js";
import type { PageKey } from "./page-cursor.js";

export const SNAPSHOT_STATUSES = ["creating", "ready", "error"] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export interface SnapshotRecord {
  id: string;
  tenant: string;
  name: string;
  boxId: string;
  runtime: string;
  image: string;
  status: SnapshotStatus;
  sizeBytes: number;
  createdAt: string;
  error: string | null;
}

interface Row {
  id: string;
  tenant: string;
  name: string;
  box_id: string;
  runtime: string;
  image: string;
  status: string;
  size_bytes: number;
  created_at: string;
  error: string | null;
}

const fromRow = (r: Row): SnapshotRecord => ({
  id: r.id,
  tenant: r.tenant,
  name: r.name,
  boxId: r.box_id,
  runtime: r.runtime,
  image: r.image,
  status: r.status as SnapshotStatus,
  sizeBytes: r.size_bytes,
  createdAt: r.created_at,
  error: r.error,
});

export class SnapshotStore {
  constructor(private readonly db: Db) {}

  insert(s: SnapshotRecord): void {
    this.db
      .prepare(
        `INSERT INTO snapshots (id, tenant, name, box_id, runtime, image, status, size_bytes, created_at, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.id, s.tenant, s.name, s.boxId, s.runtime, s.image, s.status, s.sizeBytes, s.createdAt, s.error);
  }

  update(id: string, patch: { status: SnapshotStatus; sizeBytes?: number; error?: string | null }): void {
    this.db
      .prepare("UPDATE snapshots SET status = ?, size_bytes = COALESCE(?, size_bytes), error = ? WHERE id = ?")
      .run(patch.status, patch.sizeBytes ?? null, patch.error ?? null, id);
  }

  get(id: string): SnapshotRecord | null {
    const r = this.db.prepare("SELECT * FROM snapshots WHERE id = ?").get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  getByName(tenant: string, name: string): SnapshotRecord | null {
    const r = this.db.prepare("SELECT * FROM snapshots WHERE tenant = ? AND name = ?").get(tenant, name) as
      | Row
      | undefined;
    return r ? fromRow(r) : null;
  }

  list(filter: { tenant?: string; boxId?: string } = {}): SnapshotRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.tenant !== undefined) {
      where.push("tenant = ?");
      args.push(filter.tenant);
    }
    if (filter.boxId !== undefined) {
      where.push("box_id = ?");
      args.push(filter.boxId);
    }
    const sql = `SELECT * FROM snapshots ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  /** Up to n snapshots of the tenant (of one box, when given) after `after` (created_at, id), oldest first. */
  pageOfTenant(
    tenant: string,
    boxId: string | undefined,
    after: PageKey | null,
    n: number,
  ): { snapshot: SnapshotRecord; key: PageKey }[] {
    const ofBox = boxId === undefined ? "" : "AND box_id = ?";
    const from = after ? "AND (created_at, id) > (?, ?)" : "";
    const rows = this.db
      .prepare(`SELECT * FROM snapshots WHERE tenant = ? ${ofBox} ${from} ORDER BY created_at, id LIMIT ?`)
      .all(tenant, ...(boxId === undefined ? [] : [boxId]), ...(after ?? []), n) as Row[];
    return rows.map((r) => ({ snapshot: fromRow(r), key: [r.created_at, r.id] }));
  }

  delete(id: string): void {
    this.db.prepare("DELETE FROM snapshots WHERE id = ?").run(id);
  }
}
