// Phase 1 of createApp: the data dir's database and every store kept in it, opened once.
import type { ConfigSections } from "./config-sections.js";
import type { Logger } from "./log.js";
import { BoxLog } from "./logs/box-log.js";
import { openSecrets } from "./secrets/secret-service.js";
import { AgentDefaultsStore } from "./state/agent-defaults-store.js";
import { BoxStore } from "./state/box-store.js";
import { instanceId, openDb } from "./state/db.js";
import { ExposureStore } from "./state/exposure-store.js";
import { LogStore } from "./state/log-store.js";
import { PageCursors } from "./state/page-cursor.js";
import { RunEventStore } from "./state/run-event-store.js";
import { RunStore } from "./state/run-store.js";
import { ScheduleStore } from "./state/schedule-store.js";
import { SnapshotStore } from "./state/snapshot-store.js";
import { UsageStore } from "./state/usage-store.js";

/** Phase 1: the data dir's database and what is kept in it. */
export function openStores(sections: ConfigSections, log: Logger) {
  const db = openDb(sections.store.dataDir);
  return {
    ...openSecrets(db, sections.secrets, log.child("secrets")),
    db,
    id: instanceId(db),
    boxStore: new BoxStore(db),
    runStore: new RunStore(db),
    runEvents: new RunEventStore(db),
    schedules: new ScheduleStore(db),
    agentDefaults: new AgentDefaultsStore(db),
    snapshotStore: new SnapshotStore(db),
    usageStore: new UsageStore(db),
    exposures: new ExposureStore(db),
    boxLog: new BoxLog(new LogStore(db, sections.store.maxLogEntries)),
    cursors: PageCursors.of(db),
  };
}
export type Stores = ReturnType<typeof openStores>;
