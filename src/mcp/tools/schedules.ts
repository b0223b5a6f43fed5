// Schedule tools: box_schedule_create/list/get/pause/resume/delete. Plain defineTools: creating or reading
// a schedule must not wake its box (a fire does, when it is due).
import { z } from "zod";
import { HARNESSES } from "../../agent/events.js";
import type { ScheduleView } from "../../schedules/schedule-service.js";
import type { ToolServices } from "../../services.js";
import { SCHEDULE_RUN_STATUSES, SCHEDULE_STATUSES } from "../../state/schedule-store.js";
import { defineTool } from "../define-tool.js";
import { boxRef, timeoutSeconds } from "../schemas.js";

const scheduleShape = {
  id: z.string().describe("The schedule id (sched_...)"),
  boxId: z.string(),
  cron: z.string(),
  timezone: z.string().describe("IANA time zone the cron expression is read in"),
  command: z.string().nullable().describe("The shell command it runs, or null for a prompt schedule"),
  prompt: z.string().nullable().describe("The agent prompt it runs, or null for a command schedule"),
  agent: z
    .object({
      harness: z.string().optional(),
      model: z.string().optional(),
      harnessCommand: z.string().optional(),
      options: z.record(z.string(), z.unknown()).optional(),
    })
    .nullable()
    .describe("A prompt schedule's agent settings"),
  timeoutSeconds: z.number().nullable(),
  webhookUrl: z.string().nullable(),
  status: z.enum(SCHEDULE_STATUSES),
  createdAt: z.string(),
  nextRunAt: z.string().nullable().describe("Its next fire (UTC ISO time); null while paused"),
  lastRunAt: z.string().nullable(),
  lastRunStatus: z
    .enum(SCHEDULE_RUN_STATUSES)
    .nullable()
    .describe("How its last fire went; null before the first and while its last run is still going"),
  lastRunId: z.string().nullable(),
  totalRuns: z.number().describe("Runs it started"),
  totalFailures: z.number().describe("Runs that failed, and fires that could not start a run"),
};
const scheduleRef = z
  .string()
  .min(1)
  .max(100)
  .describe("The schedule id from box_schedule_create or box_schedule_list");

function line(s: ScheduleView): string {
  const what = s.command !== null ? `$ ${s.command}` : `agent: ${s.prompt}`;
  return `${s.id} ${s.status} "${s.cron}" (${s.timezone}) next ${s.nextRunAt ?? "-"} runs ${s.totalRuns} failures ${s.totalFailures} last ${s.lastRunStatus ?? "-"}: ${what.slice(0, 200)}`;
}

export const boxScheduleCreate = defineTool({
  name: "box_schedule_create",
  title: "Schedule a command or agent prompt",
  description:
    "Run a shell command or an agent prompt in a box on a cron schedule (five fields: minute hour day month weekday, " +
    'e.g. "0 9 * * 1-5"; UTC unless timezone is given). Pass exactly one of command and prompt (prompt: with harness, ' +
    "model, harnessCommand for harness custom, options, as box_agent_run). A due schedule wakes a paused box; a fire " +
    "while its previous run is still going is skipped. Runs it starts carry its scheduleId (box_runs). " +
    "Schedules may not fire more often than the server's minimum interval (60 s by default).",
  input: {
    box: boxRef,
    cron: z.string().max(200).describe('Cron expression, e.g. "*/15 * * * *" (every 15 minutes)'),
    command: z.string().optional().describe("A shell command to run (as box_exec in the background)"),
    prompt: z.string().optional().describe("A task for the box's coding agent (as box_agent_run in the background)"),
    harness: z
      .enum(HARNESSES)
      .optional()
      .describe("prompt only: the agent harness (default: the box's, else claude-code)"),
    model: z.string().optional().describe("prompt only: the model"),
    harnessCommand: z.string().optional().describe("prompt with harness custom: the command line of your harness"),
    options: z.record(z.string(), z.unknown()).optional().describe("prompt only: agent options, as box_agent_run's"),
    timeoutSeconds: timeoutSeconds(
      "End each run after this many seconds (default: none for commands, the server's for agents)",
    ),
    webhookUrl: z.string().max(2048).optional().describe("POST each run's result here when it ends (as box_agent_run)"),
    timezone: z.string().max(100).optional().describe("IANA time zone for the cron expression (default UTC)"),
  },
  output: scheduleShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, s: ToolServices) {
    const { box, ...input } = args;
    const schedule = await s.schedules.create(ctx.tenant, box, input);
    return { text: `created ${line(schedule)}`, structured: schedule };
  },
});

export const boxScheduleList = defineTool({
  name: "box_schedule_list",
  title: "List schedules",
  description: "List your schedules, or one box's (box), oldest first.",
  input: { box: boxRef.optional() },
  output: { schedules: z.array(z.object(scheduleShape)) },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const schedules = s.schedules.list(ctx.tenant, args.box);
    return { text: [`${schedules.length} schedules`, ...schedules.map(line)].join("\n"), structured: { schedules } };
  },
});

function byId(
  name: string,
  title: string,
  description: string,
  act: (s: ToolServices, tenant: string, id: string) => ScheduleView,
  readOnly: boolean,
) {
  return defineTool({
    name,
    title,
    description,
    input: { schedule: scheduleRef },
    output: scheduleShape,
    annotations: { readOnlyHint: readOnly, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx, s: ToolServices) {
      const schedule = act(s, ctx.tenant, args.schedule);
      return { text: line(schedule), structured: schedule };
    },
  });
}

export const boxScheduleGet = byId(
  "box_schedule_get",
  "Get a schedule",
  "A schedule with its status, next fire, last run (id, time, status) and run and failure counts.",
  (s, t, id) => s.schedules.get(t, id),
  true,
);
export const boxSchedulePause = byId(
  "box_schedule_pause",
  "Pause a schedule",
  "Stop a schedule from firing until box_schedule_resume (a run already going is not ended).",
  (s, t, id) => s.schedules.pause(t, id),
  false,
);
export const boxScheduleResume = byId(
  "box_schedule_resume",
  "Resume a schedule",
  "Let a paused schedule fire again, from its next fire after now (missed fires are not made up).",
  (s, t, id) => s.schedules.resume(t, id),
  false,
);

export const boxScheduleDelete = defineTool({
  name: "box_schedule_delete",
  title: "Delete a schedule",
  description:
    "Delete a schedule (a run it started goes on; box_run_kill ends it). Deleting a box deletes its schedules.",
  input: { schedule: scheduleRef },
  output: { id: z.string(), deleted: z.literal(true) },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const r = s.schedules.delete(ctx.tenant, args.schedule);
    return { text: `deleted schedule ${r.id}`, structured: r };
  },
});

export const scheduleTools = [
  boxScheduleCreate,
  boxScheduleList,
  boxScheduleGet,
  boxSchedulePause,
  boxScheduleResume,
  boxScheduleDelete,
];
