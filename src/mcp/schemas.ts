// Zod shapes shared by several tools' inputs and outputs (the contract's Box, Run, network policy).
import { z } from "zod";
import { HARNESSES } from "../agent/events.js";
import { BOX_STATUSES, ISOLATIONS, NETWORK_MODES, PAUSE_KINDS, RUN_STATUSES, RUN_TYPES, SIZES } from "../model/box.js";
import { strictInput } from "./strict-input.js";

export const boxRef = z
  .string()
  .min(1)
  .max(200)
  .describe("The box: its id (box_…) or its name, as returned by box_create or box_list");

/**
 * Environment variables: values are strings, but agents often write `{ PORT: 3000 }` or `{ DEBUG: true }`;
 * a number or boolean has only one string form, so it is taken as that string instead of refused.
 */
export const envMap = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)),
);

export const networkPolicySchema = strictInput({
  mode: z.enum(NETWORK_MODES).describe("allow-all (default), deny-all, or custom rules"),
  allowedDomains: z
    .array(z.string())
    .optional()
    .describe('custom: domains the box may reach: exact names or "*.suffix" wildcards'),
  allowedCidrs: z.array(z.string()).optional().describe("custom: address ranges the box may reach"),
  deniedCidrs: z.array(z.string()).optional().describe("custom: address ranges refused (wins over allowed)"),
}).describe("Egress policy of the box");

export const usageSchema = z.object({
  cpuNs: z.number().describe("Active CPU time used, in nanoseconds"),
  memoryPeakBytes: z.number().describe("Highest memory use seen, in bytes"),
  runs: z.number().describe("Number of runs"),
  diskUsedBytes: z
    .number()
    .optional()
    .describe("Disk written beyond the image, in bytes, as last measured (absent until the disk guard measured it)"),
  prompts: z.number().optional().describe("Agent runs (prompts) in the box"),
  inputTokens: z.number().optional().describe("Input tokens of all its agent runs, as the harnesses reported them"),
  outputTokens: z.number().optional().describe("Output tokens of all its agent runs"),
  costUsd: z.number().optional().describe("Cost of all its agent runs in US dollars, as the harnesses reported it"),
});

/** A box's agent defaults (box_create { agent }). */
export const agentDefaultsSchema = strictInput({
  harness: z.enum(HARNESSES).optional().describe("claude-code, codex or custom"),
  model: z.string().max(200).optional().describe("The model runs use when they name none"),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "Agent options: maxTurns, systemPrompt, appendSystemPrompt, allowedTools, disallowedTools, maxBudgetUsd (claude-code); reasoningEffort (codex); any (custom, as JSON in BOXD_AGENT_OPTIONS)",
    ),
}).describe("Agent defaults: what box_agent_run in this box uses when a run names no harness, model or options");

export const limitsSchema = z
  .object({
    cpus: z.number().describe("CPUs the box may use (its size's, capped at the host's)"),
    memoryBytes: z.number().describe("Memory limit in bytes (its size's, capped below the host's memory)"),
    diskBytes: z.number().describe("Disk allowance in bytes beyond the image (its size's, or the operator's)"),
  })
  .describe("The box's effective limits: what its container really got");

export const boxSchema = {
  id: z.string(),
  name: z.string(),
  runtime: z.string(),
  runtimeVersion: z
    .string()
    .optional()
    .describe('The toolchain in the box, e.g. "Node.js 20.19.2 (npm 9.2.0, TypeScript 4.9.5)"'),
  size: z.enum(SIZES),
  status: z.enum(BOX_STATUSES),
  keepAlive: z.boolean(),
  idleTimeoutSeconds: z.number(),
  networkPolicy: networkPolicySchema,
  image: z.string(),
  createdAt: z.string(),
  lastActiveAt: z.string(),
  pausedAt: z.string().optional(),
  pauseKind: z.enum(PAUSE_KINDS).optional(),
  fromSnapshot: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  envKeys: z.array(z.string()),
  limits: limitsSchema.optional(),
  usage: usageSchema,
  initCommand: z.string().optional(),
  statusReason: z.string().optional().describe("Why the box is in error"),
  expiresAt: z
    .string()
    .nullable()
    .describe("When the box is deleted because its ttlSeconds runs out (ISO time); null: it lives until deleted"),
  isolation: z.enum(ISOLATIONS).describe("runc or gvisor: the kernel boundary the box runs behind"),
  root: z.boolean().describe('Whether root is allowed in the box (box_exec user "root"; gvisor boxes only)'),
  attachHeaders: z
    .record(z.string(), z.array(z.string()))
    .optional()
    .describe("Hosts the egress proxy attaches headers for, with the header names (values are never shown)"),
  notes: z.array(z.string()).optional().describe("Warnings about the request, e.g. policy entries that stay blocked"),
  agent: agentDefaultsSchema.optional(),
};

/** box_create's and box_update's attachHeaders. */
export const attachHeadersInput = z.record(z.string(), z.record(z.string(), z.string())).describe(
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder syntax agents must write
  'Headers the egress proxy adds (or replaces) on the box\'s HTTP and HTTPS requests to chosen hosts, outside the box: { "<host or *.suffix>": { "<Header-Name>": "<value>" } }, where a value may name your secrets as ${secret:NAME} (secret_set first; a missing one is refused). ' +
    "The box never sees the values; it trusts the proxy's CA for these hosts only (other hosts are not decrypted). " +
    'Refused: "*" alone, header names that are not HTTP tokens, Host/Content-Length/Transfer-Encoding/Connection/Upgrade and the like, CR/LF/NUL in values. At most 20 hosts, 20 headers each',
);
export const boxObject = z.object(boxSchema);

export const runSchema = {
  id: z.string(),
  boxId: z.string(),
  type: z.enum(RUN_TYPES).describe("command (box_exec), code (box_run_code) or agent (box_agent_run)"),
  command: z.string(),
  status: z.enum(RUN_STATUSES),
  exitCode: z.number().nullable(),
  timedOut: z.boolean(),
  cpuNs: z.number().nullable(),
  memoryPeakBytes: z.number().nullable(),
  startedAt: z.string(),
  completedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  reason: z.string().nullable().describe("Why the run failed or was interrupted"),
  agent: z
    .object({
      harness: z.string(),
      model: z.string().nullable(),
      usage: z.object({ inputTokens: z.number(), outputTokens: z.number(), cachedInputTokens: z.number() }).nullable(),
      costUsd: z.number().nullable().describe("US dollars, as the harness reported it"),
      sessionId: z.string().nullable(),
      output: z.string().optional().describe("The final answer (or the text so far, for a failed run)"),
    })
    .optional()
    .describe("Agent runs only: harness, model, token usage, cost and session"),
  scheduleId: z.string().optional().describe("The schedule that started the run (box_schedule_get)"),
};
export const runObject = z.object(runSchema);

/** Relative paths resolve from the box's working directory /workspace/home. */
export const boxPath = (what: string) =>
  z.string().min(1).max(4096).describe(`${what}: absolute in the box, or relative to /workspace/home`);

/** A command's time limit (box_exec, box_run_code, box_agent_run): whole seconds, at most a day. */
export const timeoutSeconds = (what: string) =>
  z
    .number()
    .int()
    .min(1)
    .max(24 * 3600)
    .optional()
    .describe(what);

/** The paging inputs of box_list, box_snapshot_list and box_runs. */
export const pageInput = (defaultLimit: number) => ({
  limit: z.number().int().min(1).max(500).optional().describe(`At most this many per page (default ${defaultLimit})`),
  cursor: z
    .string()
    .min(1)
    .max(2048)
    .optional()
    .describe("nextCursor from the previous page of the same list (omit for the first page)"),
});

export const nextCursorOutput = z
  .string()
  .optional()
  .describe("Pass as cursor to get the next page; absent on the last page");

/** The text line a paged list ends with when there is more. */
export const moreLine = (nextCursor: string | undefined) =>
  nextCursor ? `\n(more: call again with cursor ${nextCursor})` : "";
