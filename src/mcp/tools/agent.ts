// Agent tool: box_agent_run hands a whole task to a coding agent working inside the box.
import { z } from "zod";
import { AGENT_RESULT_STATUSES } from "../../agent/agent-service.js";
import { HARNESSES } from "../../agent/events.js";
import { defineBoxTool } from "../define-box-tool.js";
import { timeoutSeconds } from "../schemas.js";

const usageShape = z.object({
  inputTokens: z.number().describe("Input tokens, cached ones included"),
  outputTokens: z.number(),
  cachedInputTokens: z.number().describe("Input tokens served from the provider's cache"),
});

export const boxAgentRun = defineBoxTool({
  name: "box_agent_run",
  title: "Run a coding agent in a box",
  description:
    "Hand a task to a coding agent that works inside the box (its shell, files and git) and return its final answer. " +
    "Harnesses: claude-code (the claude CLI; needs BOXD_ANTHROPIC_API_KEY on the server), codex (the codex CLI; needs " +
    "BOXD_OPENAI_API_KEY), custom (your own program in the box speaking the box-sse-v1 event stream). The CLIs must be " +
    "in the box (runtime node-agent, or npm install -g them). Text, thinking and tool events stream as progress " +
    "notifications when you pass a progressToken. Pass the returned sessionId to continue the same agent session. " +
    "The run is listed by box_runs (type agent) and can be ended with box_run_kill. " +
    "With background: true it answers { runId, status: running } at once and the run goes on without you: read its " +
    "events from a cursor with box_run_events (wait to long-poll) and its result with box_run_get (wait: true).",
  input: {
    prompt: z.string().describe("The task for the agent"),
    harness: z
      .enum(HARNESSES)
      .optional()
      .describe("claude-code, codex or custom (default: the box's agent default, else claude-code)"),
    model: z
      .string()
      .optional()
      .describe("Model name passed to the harness (default: the box's agent default, else the harness's own)"),
    responseSchema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "A JSON Schema the final answer must match: the agent is asked to answer with JSON, which is parsed and validated into `structured`",
      ),
    timeoutSeconds: timeoutSeconds(
      "End the agent and every process it started after this many seconds (default from the server)",
    ),
    sessionId: z.string().optional().describe("Continue this earlier session of the agent in the same box"),
    command: z
      .string()
      .optional()
      .describe(
        "harness custom only: the command line that starts your harness in the box; boxd appends -p <prompt> --model <model> --stream [--session <id>]",
      ),
    background: z
      .boolean()
      .optional()
      .describe(
        "Return { runId, status: running } at once; the run goes on without this call (box_run_events, box_run_get)",
      ),
    webhookUrl: z
      .string()
      .max(2048)
      .optional()
      .describe(
        "http(s) URL boxd POSTs the run's final result to (JSON) when it ends, retrying with backoff until a 2xx; private, loopback and metadata addresses are refused unless the operator allows them",
      ),
    options: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "Options that keep cost and behaviour in check: maxTurns, systemPrompt, appendSystemPrompt, allowedTools, disallowedTools, maxBudgetUsd (claude-code); reasoningEffort minimal|low|medium|high (codex); custom gets them all as JSON in BOXD_AGENT_OPTIONS. Unsupported ones are refused. Merged over the box's defaults",
      ),
    webhookHeaders: z
      .record(z.string(), z.string())
      .optional()
      .describe("Extra headers for the webhook request (e.g. Authorization); kept in memory only"),
  },
  output: {
    runId: z.string().describe("The run (box_runs, box_run_get, box_run_kill)"),
    status: z
      .enum([...AGENT_RESULT_STATUSES, "running"])
      .describe("cancelled when box_run_kill ended it; running for a background run (the other fields come later)"),
    output: z.string().optional().describe("The agent's final answer"),
    truncated: z.boolean().optional().describe("true when output was cut at the server's inline limit"),
    structured: z.unknown().optional().describe("The parsed answer, when responseSchema was given"),
    usage: usageShape.optional(),
    sessionId: z.string().nullable().optional().describe("Pass this as sessionId to continue the session"),
    durationMs: z.number().optional(),
    harness: z.enum(HARNESSES).optional(),
    model: z.string().nullable().optional().describe("The model, when known"),
    costUsd: z.number().nullable().optional().describe("Cost the harness reported, in US dollars (codex reports none)"),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const { box: _box, background, ...input } = args;
    if (background) {
      const { runId, result } = await s.agents.start(box.boxId, input);
      // Its end is recorded with the run (box_run_get, box_run_events); nobody waits for it here.
      result.catch(() => {});
      const text = `agent run ${runId} started in the background: box_run_events and box_run_get (wait) follow it`;
      return { text, structured: { runId, status: "running" as const } };
    }
    const r = await s.agents.run(box.boxId, input, { progress: ctx.progress, signal: ctx.signal });
    const u = r.usage;
    const head = `agent run ${r.runId} ${r.status} in ${r.durationMs} ms (${u.inputTokens} in / ${u.outputTokens} out tokens${r.costUsd !== null ? `, $${r.costUsd.toFixed(4)}` : ""})`;
    return { text: `${head}\n${r.output}${r.truncated ? "\n(output truncated)" : ""}`, structured: r };
  },
});

export const agentTools = [boxAgentRun];
