// Schedules: a shell command or an agent prompt run in a box on a cron expression (box_schedule_*). This
// service keeps them (checked, per tenant); the Scheduler (scheduler.ts) fires them. A schedule belongs to
// its box: deleting the box deletes it.
import { newScheduleId } from "../box/ids.js";
import { invalidArgument, notFound } from "../errors.js";
import type { BoxRecord } from "../model/box.js";
import { validateExec } from "../shell/run-types.js";
import type { ScheduleAgent, ScheduleRecord, ScheduleStatus, ScheduleStore } from "../state/schedule-store.js";
import { checkCron, checkTimezone, nextFire } from "./cron.js";

export interface ScheduleInput {
  cron: string;
  /** A shell command (run like box_exec in the background) ... */
  command?: string;
  /** ... or a prompt for the box's agent (run like box_agent_run in the background). */
  prompt?: string;
  harness?: string;
  model?: string;
  harnessCommand?: string;
  options?: Record<string, unknown>;
  timeoutSeconds?: number;
  webhookUrl?: string;
  timezone?: string;
}

/** What clients see: the record without its tenant. */
export type ScheduleView = Omit<ScheduleRecord, "tenant">;

export interface ScheduleServiceDeps {
  store: ScheduleStore;
  boxes: { resolve(tenant: string, ref: string): BoxRecord };
  /** Checks an agent schedule's run settings as box_agent_run would (harness, model, key, prompt). */
  checkAgent: (
    boxId: string,
    input: { prompt: string; harness?: string; model?: string; command?: string; options?: Record<string, unknown> },
  ) => void;
  checkWebhook: (url: string) => Promise<unknown>;
  minIntervalSeconds: number;
  /** The scheduler re-arms its timer (a new or resumed schedule may be the soonest). */
  changed: () => void;
}

export class ScheduleService {
  constructor(private readonly deps: ScheduleServiceDeps) {}

  async create(tenant: string, boxRef: string, input: ScheduleInput): Promise<ScheduleView> {
    const box = this.deps.boxes.resolve(tenant, boxRef);
    const timezone = checkTimezone(input.timezone ?? "UTC");
    const first = checkCron(input.cron, timezone, this.deps.minIntervalSeconds);
    const agent = this.checkWork(box.id, input);
    if (input.timeoutSeconds !== undefined && !(Number.isInteger(input.timeoutSeconds) && input.timeoutSeconds > 0)) {
      throw invalidArgument("timeoutSeconds must be a positive whole number of seconds");
    }
    if (input.webhookUrl !== undefined) await this.deps.checkWebhook(input.webhookUrl);
    const record: ScheduleRecord = {
      id: newScheduleId(),
      tenant,
      boxId: box.id,
      cron: input.cron.trim(),
      timezone,
      command: input.command ?? null,
      prompt: input.prompt ?? null,
      agent,
      timeoutSeconds: input.timeoutSeconds ?? null,
      webhookUrl: input.webhookUrl ?? null,
      status: "active",
      createdAt: new Date().toISOString(),
      nextRunAt: first.toISOString(),
      lastRunAt: null,
      lastRunStatus: null,
      lastRunId: null,
      totalRuns: 0,
      totalFailures: 0,
    };
    this.deps.store.insert(record);
    this.deps.changed();
    return view(record);
  }

  list(tenant: string, boxRef?: string): ScheduleView[] {
    const boxId = boxRef !== undefined ? this.deps.boxes.resolve(tenant, boxRef).id : undefined;
    return this.deps.store.list(tenant, boxId).map(view);
  }

  get(tenant: string, id: string): ScheduleView {
    return view(this.mine(tenant, id));
  }

  pause(tenant: string, id: string): ScheduleView {
    return this.setStatus(this.mine(tenant, id), "paused");
  }

  /** Active again from now: the next fire is the next one after now (fires missed while paused are not made up). */
  resume(tenant: string, id: string): ScheduleView {
    return this.setStatus(this.mine(tenant, id), "active");
  }

  delete(tenant: string, id: string): { id: string; deleted: true } {
    this.mine(tenant, id);
    this.deps.store.delete(id);
    this.deps.changed();
    return { id, deleted: true };
  }

  private setStatus(s: ScheduleRecord, status: ScheduleStatus): ScheduleView {
    const next = status === "active" ? nextFire(s.cron, s.timezone, new Date()) : null;
    this.deps.store.setStatus(s.id, status, next ? next.toISOString() : null);
    this.deps.changed();
    return view(this.deps.store.get(s.id) as ScheduleRecord);
  }

  private mine(tenant: string, id: string): ScheduleRecord {
    const s = typeof id === "string" ? this.deps.store.get(id) : null;
    if (!s || s.tenant !== tenant) {
      throw notFound(`no schedule "${String(id).slice(0, 60)}": box_schedule_list lists your schedules`);
    }
    return s;
  }

  /** Exactly one of command and prompt, each checked as its run would be; the agent settings of a prompt. */
  private checkWork(boxId: string, input: ScheduleInput): ScheduleAgent | null {
    if ((input.command === undefined) === (input.prompt === undefined)) {
      throw invalidArgument("pass exactly one of command (a shell command) and prompt (a task for the box's agent)");
    }
    const agentFields = [input.harness, input.model, input.harnessCommand, input.options];
    if (input.command !== undefined) {
      if (agentFields.some((f) => f !== undefined)) {
        throw invalidArgument("harness, model, harnessCommand and options go with prompt, not command");
      }
      validateExec({ command: input.command });
      return null;
    }
    const prompt = input.prompt as string;
    const { harness, model, options } = input;
    this.deps.checkAgent(boxId, { prompt, harness, model, command: input.harnessCommand, options });
    return {
      ...(input.harness !== undefined ? { harness: input.harness } : {}),
      ...(input.model !== undefined ? { model: input.model } : {}),
      ...(input.harnessCommand !== undefined ? { harnessCommand: input.harnessCommand } : {}),
      ...(input.options !== undefined ? { options: input.options } : {}),
    };
  }
}

function view(s: ScheduleRecord): ScheduleView {
  const { tenant: _t, ...rest } = s;
  return rest;
}
