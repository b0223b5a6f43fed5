// Persistence of preview exposures (box_expose_port): which ports of which box are reachable through the
// preview listener, and with what credentials. Pure data access; the rules live in src/preview/.
import type { Exposure, PreviewAuth } from "../model/exposure.js";
import type { Db } from "./db.js";

interface Row {
  box_id: string;
  port: number;
  auth: PreviewAuth;
  username: string | null;
  secret: string | null;
  created_at: string;
}

const fromRow = (r: Row): Exposure => ({
  boxId: r.box_id,
  port: r.port,
  auth: r.auth,
  username: r.username,
  secret: r.secret,
  createdAt: r.created_at,
});

export class ExposureStore {
  /** Prepared once: the preview listener looks an exposure up on every request. */
  private readonly byKey;

  constructor(private readonly db: Db) {
    this.byKey = db.prepare("SELECT * FROM box_exposures WHERE box_id = ? AND port = ?");
  }

  get(boxId: string, port: number): Exposure | null {
    const r = this.byKey.get(boxId, port) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  list(boxId: string): Exposure[] {
    const rows = this.db.prepare("SELECT * FROM box_exposures WHERE box_id = ? ORDER BY port").all(boxId) as Row[];
    return rows.map(fromRow);
  }

  /** Stores `e` unless the port is exposed already; returns the exposure that holds (first one wins). */
  insertOrGet(e: Exposure): Exposure {
    this.db
      .prepare(
        `INSERT INTO box_exposures (box_id, port, auth, username, secret, created_at)
         VALUES (@boxId, @port, @auth, @username, @secret, @createdAt) ON CONFLICT(box_id, port) DO NOTHING`,
      )
      .run(e);
    return this.get(e.boxId, e.port) as Exposure;
  }

  /** Removes one exposure; true when there was one. */
  delete(boxId: string, port: number): boolean {
    return this.db.prepare("DELETE FROM box_exposures WHERE box_id = ? AND port = ?").run(boxId, port).changes > 0;
  }

  deleteBox(boxId: string): number {
    return this.db.prepare("DELETE FROM box_exposures WHERE box_id = ?").run(boxId).changes;
  }

  /** Drops exposures whose box is gone or deleted (a crash between a delete and its event). */
  pruneOrphans(): number {
    return this.db
      .prepare(`DELETE FROM box_exposures WHERE box_id NOT IN (SELECT id FROM boxes WHERE status != 'deleted')`)
      .run().changes;
  }
}
