// Builds the schedule service (box_schedule_* tools) and the scheduler (a background job that fires
// schedules) around one store, for the composition root.
import type { AgentService } from "../agent/agent-service.js";
import type { Logger } from "../log.js";
import type { BoxRecord, RunRecord } from "../model/box.js";
import type { RunService } from "../shell/run-service.js";
import type { ScheduleStore } from "../state/schedule-store.js";
import type { WebhookSender } from "../webhooks/webhook-sender.js";
import { ScheduleService } from "./schedule-service.js";
import { Scheduler } from "./scheduler.js";

export interface SchedulesDeps {
  store: ScheduleStore;
  boxes: { resolve(tenant: string, ref: string): BoxRecord };
  runs: RunService;
  agents: AgentService;
  runRecord: (runId: string) => RunRecord | null;
  webhooks: WebhookSender;
  onLog: (boxId: string, level: "info" | "warn", message: string) => void;
  minIntervalSeconds: number;
  log: Logger;
}

export function createSchedules(d: SchedulesDeps): { service: ScheduleService; scheduler: Scheduler } {
  const scheduler = new Scheduler({
    store: d.store,
    runs: d.runs,
    agents: d.agents,
    runRecord: d.runRecord,
    webhooks: d.webhooks,
    onLog: d.onLog,
    log: d.log,
  });
  const service = new ScheduleService({
    store: d.store,
    boxes: d.boxes,
    checkAgent: (boxId, input) => d.agents.check(boxId, input),
    checkWebhook: (url) => d.webhooks.check(url),
    minIntervalSeconds: d.minIntervalSeconds,
    changed: () => scheduler.rearm(),
  });
  return { service, scheduler };
}
