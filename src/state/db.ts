// Opens the instance's SQLite database (better-sqlite3, WAL) in the data dir and applies migrations.
// The instance id lives here: it is what every Docker object of this instance is labelled with.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { BoxdError } from "../errors.js";

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE boxes (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT NOT NULL,
     runtime TEXT NOT NULL,
     size TEXT NOT NULL,
     status TEXT NOT NULL,
     keep_alive INTEGER NOT NULL,
     idle_timeout_seconds INTEGER NOT NULL,
     network_policy TEXT NOT NULL,
     image TEXT NOT NULL,
     env TEXT NOT NULL,
     labels TEXT NOT NULL,
     from_snapshot TEXT,
     container_id TEXT,
     network_name TEXT,
     subnet_index INTEGER,
     created_at TEXT NOT NULL,
     last_active_at TEXT NOT NULL,
     paused_at TEXT,
     pause_kind TEXT,
     deleted_at TEXT,
     error TEXT,
     cpu_ns INTEGER NOT NULL DEFAULT 0,
     memory_peak_bytes INTEGER NOT NULL DEFAULT 0,
     runs INTEGER NOT NULL DEFAULT 0
   );
   CREATE UNIQUE INDEX boxes_live_name ON boxes(tenant, name) WHERE status != 'deleted';
   CREATE UNIQUE INDEX boxes_live_subnet ON boxes(subnet_index) WHERE status != 'deleted';
   CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     box_id TEXT NOT NULL,
     type TEXT NOT NULL,
     command TEXT NOT NULL,
     status TEXT NOT NULL,
     exit_code INTEGER,
     timed_out INTEGER NOT NULL DEFAULT 0,
     cpu_ns INTEGER,
     memory_peak_bytes INTEGER,
     started_at TEXT NOT NULL,
     completed_at TEXT,
     duration_ms INTEGER,
     stdout BLOB,
     stderr BLOB,
     stdout_bytes INTEGER NOT NULL DEFAULT 0,
     stderr_bytes INTEGER NOT NULL DEFAULT 0,
     error TEXT
   );
   CREATE INDEX runs_by_box ON runs(box_id, started_at);`,
  `ALTER TABLE boxes ADD COLUMN init_command TEXT;
   CREATE TABLE snapshots (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     name TEXT NOT NULL,
     box_id TEXT NOT NULL,
     runtime TEXT NOT NULL,
     image TEXT NOT NULL,
     status TEXT NOT NULL,
     size_bytes INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL,
     error TEXT
   );
   CREATE UNIQUE INDEX snapshots_name ON snapshots(tenant, name);
   CREATE TABLE logs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     box_id TEXT NOT NULL,
     timestamp TEXT NOT NULL,
     level TEXT NOT NULL,
     source TEXT NOT NULL,
     message TEXT NOT NULL
   );
   CREATE INDEX logs_by_box ON logs(box_id, seq);`,
  // Agent runs: harness, model, token usage, cost and session, as one JSON object (null for shell runs).
  `ALTER TABLE runs ADD COLUMN agent TEXT;`,
  // Sizes as the product defines them: the CPUs and memory each container got (JSON; null for older
  // boxes). Runs are typed command, code or agent: earlier shell runs were box_exec and box_run_code
  // alike (not told apart then), so they read back as command runs.
  `ALTER TABLE boxes ADD COLUMN limits TEXT;
   UPDATE runs SET type = 'command' WHERE type = 'shell';`,
  // Lifetimes: when a box's ttlSeconds runs out (null: permanent); the expiry job asks for the soonest.
  `ALTER TABLE boxes ADD COLUMN expires_at TEXT;
   CREATE INDEX boxes_expiry ON boxes(expires_at) WHERE expires_at IS NOT NULL AND status != 'deleted';`,
  // Exact usage from the container's cgroup: per box, the CPU ns and memory peak of its earlier container
  // lifetimes (base) and the last reading of the current one, whose StartedAt tells a new lifetime.
  // (IF NOT EXISTS: a test rolls user_version back to replay the earlier migrations.)
  `CREATE TABLE IF NOT EXISTS box_usage (
     box_id TEXT PRIMARY KEY,
     base_cpu_ns INTEGER NOT NULL,
     base_memory_peak_bytes INTEGER NOT NULL,
     last_cpu_ns INTEGER NOT NULL,
     last_memory_peak_bytes INTEGER NOT NULL,
     started_at TEXT,
     sampled_at TEXT NOT NULL,
     source TEXT NOT NULL
   );`,
  // Background agent runs: each run's structured events (text, tool, done, ...), durable so a client can
  // read them from a cursor long after (box_run_events); bounded per run by the recorder. Runs a schedule
  // made carry its id.
  `CREATE TABLE IF NOT EXISTS run_events (
     run_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     type TEXT NOT NULL,
     data TEXT NOT NULL,
     at TEXT NOT NULL,
     PRIMARY KEY (run_id, seq)
   ) WITHOUT ROWID;
   ALTER TABLE runs ADD COLUMN schedule_id TEXT;`,
  // Schedules: a command or an agent prompt run in a box on a cron expression (src/schedules/). next_run_at
  // is the next fire (UTC ISO time); a server that starts after it fires once then (a missed fire).
  `CREATE TABLE IF NOT EXISTS schedules (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     box_id TEXT NOT NULL,
     cron TEXT NOT NULL,
     timezone TEXT NOT NULL,
     command TEXT,
     prompt TEXT,
     agent TEXT,
     timeout_seconds INTEGER,
     webhook_url TEXT,
     status TEXT NOT NULL,
     created_at TEXT NOT NULL,
     next_run_at TEXT,
     last_run_at TEXT,
     last_run_status TEXT,
     last_run_id TEXT,
     total_runs INTEGER NOT NULL DEFAULT 0,
     total_failures INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX IF NOT EXISTS schedules_by_box ON schedules(box_id);`,
  // Agent defaults per box (box_create { agent }): harness, model and options as one JSON object.
  `CREATE TABLE IF NOT EXISTS box_agent_defaults (box_id TEXT PRIMARY KEY, defaults TEXT NOT NULL);`,
  // Preview URLs: a box's exposed ports and each one's credentials (kept so that exposing a port again
  // returns the same URL and credentials; the data dir is 0700). Rows go with their box.
  `CREATE TABLE IF NOT EXISTS box_exposures (
     box_id TEXT NOT NULL,
     port INTEGER NOT NULL,
     auth TEXT NOT NULL,
     username TEXT,
     secret TEXT,
     created_at TEXT NOT NULL,
     PRIMARY KEY (box_id, port)
   );`,
  // Isolation tiers: the container runtime a box runs under (runc, or gVisor's runsc), and whether root is
  // allowed in it (gVisor boxes only). Boxes made before are runc boxes without root.
  `ALTER TABLE boxes ADD COLUMN isolation TEXT NOT NULL DEFAULT 'runc';
   ALTER TABLE boxes ADD COLUMN root INTEGER NOT NULL DEFAULT 0;`,
  // Tenant secrets (sealed with AES-256-GCM; never the plain value) and each box's attachHeaders templates
  // (JSON; they name secrets, never hold them). A table of their own, so the box rows stay as they were.
  `CREATE TABLE IF NOT EXISTS secrets (
     tenant TEXT NOT NULL,
     name TEXT NOT NULL,
     iv BLOB NOT NULL,
     tag BLOB NOT NULL,
     value BLOB NOT NULL,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (tenant, name)
   );
   CREATE TABLE IF NOT EXISTS box_attach_headers (box_id TEXT PRIMARY KEY, headers TEXT NOT NULL);`,
  // The web console's usage chart: each usage meter pass's reading of a box that is up (its whole CPU time
  // so far and its memory in use then), kept for a day.
  `CREATE TABLE IF NOT EXISTS usage_samples (
     box_id TEXT NOT NULL,
     at TEXT NOT NULL,
     cpu_ns INTEGER NOT NULL,
     memory_bytes INTEGER NOT NULL
   );
   CREATE INDEX IF NOT EXISTS usage_samples_box ON usage_samples(box_id, at);`,
];

/** Distinct SQL texts kept prepared (the stores build a bounded few hundred at most from column names). */
const STATEMENTS_KEPT = 512;

/**
 * Every store prepares its SQL where it runs it; compiling it again each time was a seventh of the
 * server's CPU under load (bench:http). Prepared statements are kept by SQL text instead: no store uses
 * iterate() or a statement mode (pluck, raw, expand), so one statement serves every caller.
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const kept = new Map<string, ReturnType<Db["prepare"]>>();
  db.prepare = ((sql: string) => {
    let statement = kept.get(sql);
    if (!statement) {
      if (kept.size >= STATEMENTS_KEPT) kept.delete(kept.keys().next().value as string);
      statement = prepare(sql);
      kept.set(sql, statement);
    }
    return statement;
  }) as Db["prepare"];
}

export function openDb(dataDir: string): Db {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = new Database(path.join(dataDir, "boxd.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    cacheStatements(db);
    return db;
  } catch (err) {
    throw new BoxdError(
      "INTERNAL",
      `cannot open the state database in ${dataDir}: ${(err as Error).message}. Check that BOXD_DATA_DIR is writable (boxd doctor).`,
      { cause: err },
    );
  }
}

function migrate(db: Db): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** This data dir's instance id, created on first use. */
export function instanceId(db: Db): string {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'instance_id'").get() as { value: string } | undefined;
  if (row) return row.value;
  const id = randomBytes(6).toString("hex");
  db.prepare("INSERT INTO meta (key, value) VALUES ('instance_id', ?)").run(id);
  return id;
}
