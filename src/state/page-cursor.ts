// Opaque cursors for keyset pagination (box_list, box_snapshot_list, box_runs). A cursor is
// base64url(JSON { list, tenant, scope, key }) "." base64url(HMAC-SHA256 of that JSON), keyed by a random
// secret kept in this data dir's meta table: a client can neither forge a key nor replay a cursor in
// another tenant or another list, and a refused cursor says nothing about what it pointed at.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { invalidArgument } from "../errors.js";
import type { Db } from "./db.js";

/** The last item's sort key on a page: the values of the ORDER BY columns, in order. */
export type PageKey = (string | number)[];

/** Where a cursor may be used: the tool's name, and its filter when a cursor must not cross filters. */
export interface CursorScope {
  list: string;
  tenant: string;
  /** The list's own filter (a box id for box_runs): a cursor for one box's runs is refused for another's. */
  scope?: string;
}

interface Payload {
  l: string;
  t: string;
  s: string;
  k: PageKey;
}

export class PageCursors {
  constructor(private readonly secret: Buffer) {}

  /** The cursors of this data dir: the secret is created on first use and kept, so cursors outlive restarts. */
  static of(db: Db): PageCursors {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'cursor_secret'").get() as { value: string } | undefined;
    if (row) return new PageCursors(Buffer.from(row.value, "base64url"));
    const secret = randomBytes(32);
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('cursor_secret', ?)").run(secret.toString("base64url"));
    // Another process may have won the insert: use what is stored.
    const stored = db.prepare("SELECT value FROM meta WHERE key = 'cursor_secret'").get() as { value: string };
    return new PageCursors(Buffer.from(stored.value, "base64url"));
  }

  encode(where: CursorScope, key: PageKey): string {
    const json = JSON.stringify({ l: where.list, t: where.tenant, s: where.scope ?? "", k: key } satisfies Payload);
    return `${Buffer.from(json).toString("base64url")}.${this.mac(json).toString("base64url")}`;
  }

  /** The key a cursor carries; INVALID_ARGUMENT when it is garbled, forged, or for another tenant or list. */
  decode(where: CursorScope, cursor: string): PageKey {
    const restart = `call ${where.list} without cursor to start over`;
    const payload = this.verified(cursor);
    if (!payload) throw invalidArgument(`this cursor is not valid (garbled or not from this server): ${restart}`);
    // Another tenant's cursor gets the same answer as another list's: nothing says whose it was.
    if (payload.l !== where.list || payload.t !== where.tenant || payload.s !== (where.scope ?? "")) {
      throw invalidArgument(`this cursor belongs to another list: ${restart}`);
    }
    return payload.k;
  }

  private verified(cursor: string): Payload | null {
    const [body, sig, extra] = cursor.split(".");
    if (!body || !sig || extra !== undefined) return null;
    const json = Buffer.from(body, "base64url").toString("utf8");
    const given = Buffer.from(sig, "base64url");
    const expected = this.mac(json);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const p = JSON.parse(json) as Payload;
      const keyOk = Array.isArray(p.k) && p.k.every((v) => typeof v === "string" || typeof v === "number");
      return typeof p.l === "string" && typeof p.t === "string" && typeof p.s === "string" && keyOk ? p : null;
    } catch {
      return null;
    }
  }

  private mac(json: string): Buffer {
    return createHmac("sha256", this.secret).update(json).digest();
  }
}

/** One page of a list and the cursor to the next (absent on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** What a paged list call asks for. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/**
 * Collects one page by keyset: `fetch(after, n)` returns up to n rows after `after` in the list's order
 * (SQL), `keep` filters what SQL cannot (a box's shown status), and the page ends once `limit` kept rows
 * are found and one more proves there is a next page. Rows created meanwhile sort after the key (or before,
 * for newest-first lists) and are never seen twice; no row that existed is skipped.
 */
export function collectPage<R, T>(opts: {
  request: PageRequest;
  cursors: PageCursors;
  where: CursorScope;
  fetch: (after: PageKey | null, n: number) => R[];
  keyOf: (row: R) => PageKey;
  toItem: (row: R) => T;
  keep?: (item: T) => boolean;
}): Page<T> {
  const { request, cursors, where } = opts;
  let after = request.cursor ? cursors.decode(where, request.cursor) : null;
  const items: T[] = [];
  let lastKey: PageKey | null = null;
  for (;;) {
    const rows = opts.fetch(after, request.limit + 1);
    for (const row of rows) {
      const item = opts.toItem(row);
      if (opts.keep && !opts.keep(item)) continue;
      if (items.length === request.limit) return { items, nextCursor: cursors.encode(where, lastKey as PageKey) };
      items.push(item);
      lastKey = opts.keyOf(row);
    }
    if (rows.length < request.limit + 1) return { items };
    after = opts.keyOf(rows[rows.length - 1] as R);
  }
}
