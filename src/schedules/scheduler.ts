// Fires schedules: one timer for the soonest next_run_at (re-armed after each change, and at least every
// 30 s), each due schedule started as a background run (a command like box_exec, a prompt like
// box_agent_run) with its scheduleId. Starting a run wakes a paused box. A schedule whose previous run is
// still going is recorded `skipped` for that fire. At start, a schedule whose fire passed while the server
// was down fires once, then goes on from now (missed fires are not made up one by one).
import type { AgentRunInput, AgentService } from "../agent/agent-service.js";
import type { BackgroundService } from "../background.js";
import { toBoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { RunRecord, RunStatus } from "../model/box.js";
import type { RunService } from "../shell/run-service.js";
import type { ScheduleRecord, ScheduleStore } from "../state/schedule-store.js";
import { runPayload } from "../webhooks/run-payload.js";
import type { WebhookSender } from "../webhooks/webhook-sender.js";
import { nextFire } from "./cron.js";

/** Longest the timer sleeps: a clock change or a missed wake-up costs at most this. */
const MAX_SLEEP_MS = 30_000;

export interface SchedulerDeps {
  store: ScheduleStore;
  runs: Pick<RunService, "exec">;
  agents: Pick<AgentService, "start">;
  runRecord: (runId: string) => RunRecord | null;
  webhooks: Pick<WebhookSender, "check" | "deliver">;
  onLog: (boxId: string, level: "info" | "warn", message: string) => void;
  log: Logger;
}

export class Scheduler implements BackgroundService {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Schedules whose run is being started (waking a box takes a while): a fire meanwhile is skipped. */
  private readonly starting = new Set<string>();

  constructor(private readonly deps: SchedulerDeps) {}

  start(): void {
    this.running = true;
    const now = new Date();
    for (const s of this.deps.store.active()) {
      if (s.nextRunAt && Date.parse(s.nextRunAt) <= now.getTime()) {
        this.deps.onLog(
          s.boxId,
          "info",
          `schedule ${s.id}: its fire at ${s.nextRunAt} was missed (server down): firing once now`,
        );
      }
    }
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A schedule was created, resumed, paused or deleted: the soonest fire may have changed. */
  rearm(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const soonest = this.deps.store.active()[0]?.nextRunAt;
    const wait = soonest ? Math.max(0, Date.parse(soonest) - Date.now()) : MAX_SLEEP_MS;
    this.timer = setTimeout(() => this.tick(), Math.min(wait, MAX_SLEEP_MS)).unref();
  }

  /** Fires every due schedule once (its next fire set first, from now), then re-arms. */
  private tick(): void {
    this.timer = null;
    if (!this.running) return;
    const now = new Date();
    for (const s of this.deps.store.active()) {
      if (!s.nextRunAt || Date.parse(s.nextRunAt) > now.getTime()) break;
      let next: Date | null = null;
      try {
        next = nextFire(s.cron, s.timezone, now);
      } catch (err) {
        this.deps.log.warn("a stored schedule no longer parses", { schedule: s.id, error: String(err) });
      }
      this.deps.store.setNext(s.id, next ? next.toISOString() : null);
      this.fire(s, now).catch((err: unknown) =>
        this.deps.log.warn("could not record a schedule's fire", { schedule: s.id, error: String(err) }),
      );
    }
    this.rearm();
  }

  private async fire(s: ScheduleRecord, at: Date): Promise<void> {
    const when = at.toISOString();
    const last = s.lastRunId ? this.deps.runRecord(s.lastRunId) : null;
    if (this.starting.has(s.id) || last?.status === "running") {
      this.deps.store.recordFire(s.id, when, "skipped", null);
      this.deps.onLog(s.boxId, "info", `schedule ${s.id}: skipped, its run ${s.lastRunId ?? ""} is still going`);
      return;
    }
    this.starting.add(s.id);
    try {
      const runId = await this.startRun(s);
      this.deps.store.recordFire(s.id, when, null, runId);
      this.deps.onLog(s.boxId, "info", `schedule ${s.id}: started run ${runId}`);
    } catch (err) {
      const e = toBoxdError(err);
      this.deps.store.recordFire(s.id, when, "failed", null);
      this.deps.onLog(s.boxId, "warn", `schedule ${s.id}: could not start its run: ${e.code}: ${e.message}`);
    } finally {
      this.starting.delete(s.id);
    }
  }

  private async startRun(s: ScheduleRecord): Promise<string> {
    const timeoutSeconds = s.timeoutSeconds ?? undefined;
    if (s.command !== null) {
      const r = await this.deps.runs.exec(s.boxId, {
        command: s.command,
        background: true,
        timeoutSeconds,
        scheduleId: s.id,
      });
      return r.runId;
    }
    const a = s.agent ?? {};
    const input: AgentRunInput = {
      prompt: s.prompt ?? "",
      harness: a.harness,
      model: a.model,
      command: a.harnessCommand,
      options: a.options,
      timeoutSeconds,
      webhookUrl: s.webhookUrl ?? undefined,
    };
    const { runId, result } = await this.deps.agents.start(s.boxId, input, { scheduleId: s.id });
    result.catch(() => {});
    return runId;
  }

  /** The box was deleted: its schedules go with it. */
  forgetBox(boxId: string): void {
    if (this.deps.store.deleteByBox(boxId) > 0) this.rearm();
  }

  /** A run ended: if a schedule made it, record how it went (and send a command run's webhook). */
  runEnded({ runId, status }: { runId: string; status: RunStatus }): void {
    const run = this.deps.runRecord(runId);
    if (!run?.scheduleId) return;
    const s = this.deps.store.get(run.scheduleId);
    if (!s) return;
    this.deps.store.recordEnd(s.id, runId, status === "completed" ? "completed" : "failed");
    // Agent runs send their own webhook (the agent service has their result).
    if (s.webhookUrl && run.type !== "agent") {
      const url = s.webhookUrl;
      this.deps.webhooks
        .check(url)
        .then((target) => this.deps.webhooks.deliver(run.boxId, runId, target, runPayload(run)))
        .catch((err: unknown) =>
          this.deps.onLog(run.boxId, "warn", `schedule ${s.id}: webhook refused: ${toBoxdError(err).message}`),
        );
    }
  }
}
