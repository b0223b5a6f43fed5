// Shell tools: box_exec, box_run_code, box_runs, box_run_get, box_run_kill.
import { z } from "zod";
import type { Services } from "../../services.js";
import type { OutputListener } from "../../shell/run-service.js";
import { defineTool, type ToolContext } from "../define-tool.js";
import { boxRef, runObject, runSchema } from "../schemas.js";

const execOutput = {
  runId: z.string().describe("Id of the run (box_run_get, box_run_kill)"),
  status: z.enum(["running", "completed", "failed", "cancelled"]).optional().describe("Set for background runs"),
  exitCode: z.number().nullable().optional().describe("The command's exit code (non-zero is a result, not an error)"),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  durationMs: z.number().optional(),
  truncated: z.boolean().optional().describe("true when output was cut; box_run_get has more"),
  timedOut: z.boolean().optional().describe("true when the command was ended by its timeout"),
  resumed: z.boolean().optional().describe("true when the box was paused and was resumed for this call"),
};

/** Progress sent for one call at most: a flood goes to the run record (box_run_get), not to the client. */
const MAX_PROGRESS_BYTES = 4 * 1024 * 1024;

/** Streams run output as progress notifications, coalesced so a flood of small chunks stays cheap. */
function progressStreamer(ctx: ToolContext): OutputListener & { flush(): void } {
  let pending = "";
  let sent = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending) ctx.progress(pending);
    sent += pending.length;
    pending = "";
  };
  const fn = ((_stream, text) => {
    if (sent >= MAX_PROGRESS_BYTES) return;
    pending += text;
    if (sent + pending.length >= MAX_PROGRESS_BYTES) {
      pending = `${pending.slice(0, MAX_PROGRESS_BYTES - sent)}\n(boxd: progress stops here, after 4 MiB; box_run_get has the output)\n`;
      flush();
      return;
    }
    if (pending.length > 16 * 1024) flush();
    else if (!timer) timer = setTimeout(flush, 50);
  }) as OutputListener & { flush(): void };
  fn.flush = flush;
  return fn;
}

function execText(r: {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}) {
  const head = r.timedOut ? "timed out" : `exit code ${r.exitCode}`;
  const parts = [head];
  if (r.stdout) parts.push(`stdout:\n${r.stdout}`);
  if (r.stderr) parts.push(`stderr:\n${r.stderr}`);
  if (r.truncated) parts.push("(output truncated: box_run_get has the rest)");
  return parts.join("\n");
}

export const boxExec = defineTool({
  name: "box_exec",
  title: "Run a shell command",
  description:
    "Run a command with bash in the box as boxuser and return its exit code, stdout and stderr. A non-zero exit code is a normal result. " +
    "Output streams as progress notifications when you pass a progressToken. With background: true it returns a runId at once; poll box_run_get.",
  input: {
    box: boxRef,
    command: z.string().describe("The command line, run by bash -c (pipes, &&, redirects work)"),
    cwd: z.string().optional().describe("Working directory in the box (default /workspace/home); must exist"),
    env: z.record(z.string(), z.string()).optional().describe("Extra environment variables for this command"),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .optional()
      .describe("End the command after this many seconds (default from the server; none for background runs)"),
    stdin: z.string().optional().describe("Text fed to the command's standard input"),
    background: z.boolean().optional().describe("Return at once with a runId; the command goes on"),
  },
  output: execOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, s: Services) {
    const { boxId, resumed } = await s.liveBox(ctx.tenant, args.box);
    const stream = progressStreamer(ctx);
    const r = await s.runs.exec(boxId, args, stream);
    stream.flush();
    if (r.background) {
      return {
        text: `started run ${r.runId} in the background`,
        structured: { runId: r.runId, status: "running" as const, resumed },
      };
    }
    const { background: _b, ...result } = r;
    return { text: (resumed ? "(box resumed) " : "") + execText(r), structured: { ...result, resumed } };
  },
});

export const boxRunCode = defineTool({
  name: "box_run_code",
  title: "Run code",
  description:
    "Run a snippet of code in the box: js (Node.js), ts (TypeScript, transpiled) or python. Returns like box_exec.",
  input: {
    box: boxRef,
    code: z.string().min(1).describe("The program text"),
    lang: z.enum(["js", "ts", "python"]).describe("js and ts need a node box, python works in every box"),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600)
      .optional()
      .describe("End the program after this many seconds"),
  },
  output: execOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, s: Services) {
    const { boxId, resumed } = await s.liveBox(ctx.tenant, args.box);
    const stream = progressStreamer(ctx);
    const r = await s.runs.runCode(boxId, args, stream);
    stream.flush();
    return { text: (resumed ? "(box resumed) " : "") + execText(r), structured: { ...r, resumed } };
  },
});

export const boxRuns = defineTool({
  name: "box_runs",
  title: "List runs",
  description: "List the box's runs (commands and agent runs), newest first.",
  input: { box: boxRef, limit: z.number().int().min(1).max(500).optional().describe("At most this many (default 50)") },
  output: { runs: z.array(runObject) },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: Services) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const runs = s.runs.list(box.id, args.limit ?? 50);
    const text = runs.length
      ? runs.map((r) => `${r.id} ${r.status} ${r.exitCode ?? ""} ${r.command.slice(0, 80)}`).join("\n")
      : "no runs";
    return { text, structured: { runs } };
  },
});

const runView = { ...runSchema, stdout: z.string(), stderr: z.string(), truncated: z.boolean() };

export const boxRunGet = defineTool({
  name: "box_run_get",
  title: "Get a run",
  description:
    "Get a run with its output so far. With wait: true, first wait (up to waitSeconds) for a running run to end.",
  input: {
    box: boxRef,
    runId: z.string().describe("The run id from box_exec or box_runs"),
    wait: z.boolean().optional().describe("Wait for the run to end before answering"),
    waitSeconds: z.number().int().min(1).max(600).optional().describe("Longest wait (default 60)"),
  },
  output: runView,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: Services) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const run = await s.runs.get(box.id, args.runId, args.wait ? (args.waitSeconds ?? 60) : 0);
    return {
      text: `${run.id} ${run.status}${run.exitCode !== null ? ` exit ${run.exitCode}` : ""}\n${run.stdout}${run.stderr}`,
      structured: run,
    };
  },
});

export const boxRunKill = defineTool({
  name: "box_run_kill",
  title: "Kill a run",
  description: "End a running run and every process it started. A finished run is returned unchanged.",
  input: { box: boxRef, runId: z.string().describe("The run id") },
  output: runView,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: Services) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const run = await s.runs.kill(box.id, args.runId);
    return { text: `${run.id} ${run.status}`, structured: run };
  },
});

export const shellTools = [boxExec, boxRunCode, boxRuns, boxRunGet, boxRunKill];
