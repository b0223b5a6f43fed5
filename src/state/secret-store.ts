// Persistence of tenant secrets: sealed values (src/secrets/secret-cipher.ts) and their timestamps, and
// each box's attachHeaders templates (which name secrets, never hold their values). Pure data access.
import type { AttachHeaders } from "../model/box.js";
import type { Sealed } from "../secrets/secret-cipher.js";
import type { Db } from "./db.js";

export interface SecretRow extends Sealed {
  name: string;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  name: string;
  iv: Buffer;
  tag: Buffer;
  value: Buffer;
  created_at: string;
  updated_at: string;
}

const fromRow = (r: Row): SecretRow => ({
  name: r.name,
  iv: r.iv,
  tag: r.tag,
  data: r.value,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class SecretStore {
  constructor(private readonly db: Db) {}

  /** Inserts or replaces a tenant's secret; keeps its createdAt when it existed. */
  put(tenant: string, name: string, sealed: Sealed, now: string): void {
    this.db
      .prepare(
        `INSERT INTO secrets (tenant, name, iv, tag, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, name) DO UPDATE SET iv = excluded.iv, tag = excluded.tag, value = excluded.value,
           updated_at = excluded.updated_at`,
      )
      .run(tenant, name, sealed.iv, sealed.tag, sealed.data, now, now);
  }

  get(tenant: string, name: string): SecretRow | null {
    const r = this.db.prepare("SELECT * FROM secrets WHERE tenant = ? AND name = ?").get(tenant, name) as
      | Row
      | undefined;
    return r ? fromRow(r) : null;
  }

  list(tenant: string): SecretRow[] {
    return (this.db.prepare("SELECT * FROM secrets WHERE tenant = ? ORDER BY name").all(tenant) as Row[]).map(fromRow);
  }

  count(tenant: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM secrets WHERE tenant = ?").get(tenant) as { n: number }).n;
  }

  /** Any one sealed row of any tenant (checks at start-up that the key opens the store). */
  any(): (SecretRow & { tenant: string }) | null {
    const r = this.db.prepare("SELECT * FROM secrets LIMIT 1").get() as (Row & { tenant: string }) | undefined;
    return r ? { ...fromRow(r), tenant: r.tenant } : null;
  }

  delete(tenant: string, name: string): boolean {
    return this.db.prepare("DELETE FROM secrets WHERE tenant = ? AND name = ?").run(tenant, name).changes > 0;
  }

  attachOf(boxId: string): AttachHeaders | null {
    const r = this.db.prepare("SELECT headers FROM box_attach_headers WHERE box_id = ?").get(boxId) as
      | { headers: string }
      | undefined;
    return r ? (JSON.parse(r.headers) as AttachHeaders) : null;
  }

  /** Sets (or with null or {} removes) a box's attachHeaders. */
  setAttach(boxId: string, headers: AttachHeaders | null): void {
    if (!headers || Object.keys(headers).length === 0) {
      this.db.prepare("DELETE FROM box_attach_headers WHERE box_id = ?").run(boxId);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO box_attach_headers (box_id, headers) VALUES (?, ?)
         ON CONFLICT (box_id) DO UPDATE SET headers = excluded.headers`,
      )
      .run(boxId, JSON.stringify(headers));
  }
}
