// Shell tools: box_exec, box_run_code, box_runs, box_run_get, box_run_kill.

import { z } from "zod";
import { CONTENT_ENCODINGS } from "../../fs/content-encoding.js";
import { RUN_STATUSES } from "../../model/box.js";
import type { ToolServices } from "../../services.js";
import type { ExecOutcome, OutputListener, RunOutput } from "../../shell/run-service.js";
import { CODE_LANGS } from "../../shell/run-types.js";
import { defineBoxTool } from "../define-box-tool.js";
import { defineTool, type ToolContext } from "../define-tool.js";
import { jsonBytes, PAGE_BUDGET_BYTES, type PageEncoding, pageOf, preview } from "../fit.js";
import {
  boxRef,
  envMap,
  moreLine,
  nextCursorOutput,
  pageInput,
  runObject,
  runSchema,
  timeoutSeconds,
} from "../schemas.js";
import { oneShellLine } from "../strict-input.js";

/** Progress streamed per call at most (the run record keeps the rest); each message at most STREAM_PIECE. */
const MAX_STREAMED = 8 * 1024 * 1024;
const STREAM_PIECE = 64 * 1024;
/** In box_runs each command is cut to this (box_run_get has it whole). */
const LIST_COMMAND_CHARS = 2048;

const execOutput = {
  runId: z.string().describe("Id of the run (box_run_get, box_run_kill)"),
  status: z.enum(RUN_STATUSES).optional().describe("Set for background runs"),
  exitCode: z.number().nullable().optional().describe("The command's exit code (non-zero is a result, not an error)"),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  durationMs: z.number().optional(),
  truncated: z
    .boolean()
    .optional()
    .describe("true when output was cut to fit the answer; box_run_get with offset pages through the rest"),
  stdoutBytes: z.number().optional().describe("Bytes of stdout the command wrote in all"),
  stderrBytes: z.number().optional().describe("Bytes of stderr the command wrote in all"),
  timedOut: z.boolean().optional().describe("true when the command was ended by its timeout"),
};

/**
 * Streams run output as progress notifications, coalesced so a flood of small chunks stays cheap, in
 * pieces of at most STREAM_PIECE and MAX_STREAMED per call (a flood must not fill the client's pipe).
 */
function progressStreamer(ctx: ToolContext): OutputListener & { flush(): void } {
  let pending = "";
  let streamed = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    for (let i = 0; i < pending.length; i += STREAM_PIECE) ctx.progress(pending.slice(i, i + STREAM_PIECE));
    pending = "";
  };
  const fn = ((_stream, text) => {
    if (streamed >= MAX_STREAMED) return;
    streamed += text.length;
    pending += streamed < MAX_STREAMED ? text : `${text}\n[boxd: output goes on; box_run_get has it]\n`;
    if (pending.length > 16 * 1024) flush();
    else if (!timer) timer = setTimeout(flush, 50);
  }) as OutputListener & { flush(): void };
  fn.flush = flush;
  return fn;
}

/** A command's inline output, fitted to one answer: each stream gets half the page budget. */
function inlineResult(r: ExecOutcome) {
  const half = Math.floor(PAGE_BUDGET_BYTES / 2);
  const out = pageOf(r.stdout, 0, r.stdout.length, half, "utf8");
  const err = pageOf(r.stderr, 0, r.stderr.length, half, "utf8");
  const truncated = r.stdoutBytes > out.end || r.stderrBytes > err.end;
  const text = execText(r, r.stdout.subarray(0, out.end), r.stderr.subarray(0, err.end), truncated);
  const { stdout: _o, stderr: _e, ...rest } = r;
  return { text, structured: { ...rest, stdout: out.text, stderr: err.text, truncated } };
}

/** The text block: exit code and a preview of each stream; the whole inline output is in structuredContent. */
function execText(r: ExecOutcome, stdout: Buffer, stderr: Buffer, truncated: boolean) {
  const head = r.timedOut ? "timed out" : `exit code ${r.exitCode}`;
  const where = "structuredContent has the inline output";
  const parts = [head];
  if (stdout.length) parts.push(`stdout:\n${preview(stdout, where)}`);
  if (stderr.length) parts.push(`stderr:\n${preview(stderr, where)}`);
  if (truncated) parts.push(`(output truncated: box_run_get with runId ${r.runId} and offset pages through the rest)`);
  return parts.join("\n");
}

export const boxExec = defineBoxTool({
  name: "box_exec",
  title: "Run a shell command",
  description:
    "Run a command with bash in the box as boxuser and return its exit code, stdout and stderr. A non-zero exit code is a normal result. " +
    "Output streams as progress notifications when you pass a progressToken. With background: true it returns a runId at once; poll box_run_get.",
  input: {
    command: z.string({ error: oneShellLine }).describe("The command line, run by bash -c (pipes, &&, redirects work)"),
    cwd: z.string().optional().describe("Working directory in the box (default /workspace/home); must exist"),
    env: envMap
      .optional()
      .describe("Extra environment variables for this command (the same names are refused as in box_create)"),
    timeoutSeconds: timeoutSeconds(
      "End the command after this many seconds (default from the server; none for background runs)",
    ),
    stdin: z.string().optional().describe("Text fed to the command's standard input"),
    background: z.boolean().optional().describe("Return at once with a runId; the command goes on"),
    user: z
      .enum(["boxuser", "root"])
      .optional()
      .describe(
        "Who runs it: boxuser (default) or root, which only gVisor boxes created with root: true allow (e.g. apt-get install); elsewhere POLICY_DENIED",
      ),
  },
  output: execOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const stream = progressStreamer(ctx);
    const r = await s.runs.exec(box.boxId, args, stream);
    stream.flush();
    if (r.background) {
      return {
        text: `started run ${r.runId} in the background`,
        structured: { runId: r.runId, status: "running" as const },
      };
    }
    const { background: _b, ...outcome } = r;
    return inlineResult(outcome);
  },
});

export const boxRunCode = defineBoxTool({
  name: "box_run_code",
  title: "Run code",
  description:
    "Run a snippet of code in the box: js (Node.js), ts (TypeScript, transpiled) or python. Returns like box_exec.",
  input: {
    code: z.string().min(1).describe("The program text"),
    lang: z.enum(CODE_LANGS).describe("js and ts need a node box, python works in every box"),
    timeoutSeconds: timeoutSeconds("End the program after this many seconds"),
  },
  output: execOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(args, ctx, box, s) {
    const stream = progressStreamer(ctx);
    const r = await s.runs.runCode(box.boxId, args, stream);
    stream.flush();
    return inlineResult(r);
  },
});

export const boxRuns = defineTool({
  name: "box_runs",
  title: "List runs",
  description: "List the box's runs (commands and agent runs), newest first.",
  input: { box: boxRef, ...pageInput(50) },
  output: { runs: z.array(runObject), nextCursor: nextCursorOutput },
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const page = s.runs.page(ctx.tenant, box.id, { limit: args.limit ?? 50, cursor: args.cursor });
    const runs = page.items.map((r) => ({ ...r, command: listed(r.command) }));
    const text = runs.length
      ? runs.map((r) => `${r.id} ${r.status} ${r.exitCode ?? ""} ${r.command.slice(0, 80)}`).join("\n")
      : "no runs";
    return { text: text + moreLine(page.nextCursor), structured: { runs, nextCursor: page.nextCursor } };
  },
});

const runView = {
  ...runSchema,
  stdout: z.string().describe("This page of stdout (from offset; empty when only stderr was asked for)"),
  stderr: z.string().describe("This page of stderr (from offset; empty when only stdout was asked for)"),
  encoding: z.enum(CONTENT_ENCODINGS).describe("How stdout and stderr are encoded"),
  offset: z.number().describe("Offset of the first byte of each page"),
  stdoutBytes: z.number().describe("Bytes of stdout the record keeps (all can be read by paging)"),
  stderrBytes: z.number().describe("Bytes of stderr the record keeps (all can be read by paging)"),
  stdoutNextOffset: z.number().optional().describe("Set when stdout has more after this page: the next offset"),
  stderrNextOffset: z.number().optional().describe("Set when stderr has more after this page: the next offset"),
  more: z.boolean().describe("true when a page stopped before the end of what is kept: call again at the next offset"),
  truncated: z
    .boolean()
    .describe("true when the run wrote more than the record keeps (BOXD_MAX_RUN_OUTPUT_BYTES): the head is kept"),
};

interface PageArgs {
  offset?: number;
  length?: number;
  stream?: "stdout" | "stderr" | "both";
  encoding?: PageEncoding;
}

/** One page of a run's kept output per stream, fitted with the run's other fields into one answer. */
function runPage(run: RunOutput, args: PageArgs) {
  const { stdout, stderr, stdoutProduced, stderrProduced, ...record } = run;
  const offset = args.offset ?? 0;
  const enc = args.encoding ?? "utf8";
  const want = args.stream ?? "both";
  const length = args.length ?? Number.MAX_SAFE_INTEGER;
  const avail = Math.max(64 * 1024, PAGE_BUDGET_BYTES - jsonBytes(record));
  const none = { text: "", end: offset };
  const err = want === "stdout" ? none : pageOf(stderr, offset, length, want === "both" ? avail / 2 : avail, enc);
  const out = want === "stderr" ? none : pageOf(stdout, offset, length, avail - jsonBytes(err.text), enc);
  const next = (page: { end: number }, buf: Buffer, asked: boolean) =>
    asked && page.end < buf.length ? Math.max(page.end, offset + 1) : undefined;
  const stdoutNextOffset = next(out, stdout, want !== "stderr");
  const stderrNextOffset = next(err, stderr, want !== "stdout");
  const more = stdoutNextOffset !== undefined || stderrNextOffset !== undefined;
  const structured = {
    ...record,
    stdout: out.text,
    stderr: err.text,
    encoding: enc,
    offset,
    stdoutBytes: stdout.length,
    stderrBytes: stderr.length,
    stdoutNextOffset,
    stderrNextOffset,
    more,
    truncated: stdoutProduced > stdout.length || stderrProduced > stderr.length,
  };
  return { text: runText(structured, stdout.subarray(offset, out.end), stderr.subarray(offset, err.end)), structured };
}

function runText(
  r: { id: string; status: string; exitCode: number | null; offset: number; more: boolean } & Record<string, unknown>,
  stdout: Buffer,
  stderr: Buffer,
) {
  const where = "structuredContent has the whole page";
  const parts = [`${r.id} ${r.status}${r.exitCode !== null ? ` exit ${r.exitCode}` : ""}`];
  if (stdout.length) parts.push(`stdout (from byte ${r.offset}):\n${preview(stdout, where)}`);
  if (stderr.length) parts.push(`stderr (from byte ${r.offset}):\n${preview(stderr, where)}`);
  if (r.more) {
    const at = [
      r.stdoutNextOffset && `stdout at ${r.stdoutNextOffset}`,
      r.stderrNextOffset && `stderr at ${r.stderrNextOffset}`,
    ];
    parts.push(`(more output: call box_run_get with offset, ${at.filter(Boolean).join(", ")})`);
  }
  return parts.join("\n");
}

export const boxRunGet = defineTool({
  name: "box_run_get",
  title: "Get a run",
  description:
    "Get a run with its output so far. With wait: true, first wait (up to waitSeconds) for a running run to end. " +
    "Output comes in pages that fit one answer: from offset (bytes), as much as fits (or at most length bytes) of each stream; " +
    "when more is true, call again with offset = stdoutNextOffset (stream: stdout) or stderrNextOffset (stream: stderr). " +
    "encoding base64 returns the exact bytes.",
  input: {
    box: boxRef,
    runId: z.string().describe("The run id from box_exec or box_runs"),
    wait: z.boolean().optional().describe("Wait for the run to end before answering"),
    waitSeconds: z.number().int().min(1).max(600).optional().describe("Longest wait (default 60)"),
    offset: z.number().int().min(0).optional().describe("First byte of each stream to return (default 0)"),
    length: z.number().int().min(1).optional().describe("Bytes per stream at most (default: as much as fits)"),
    stream: z
      .enum(["stdout", "stderr", "both"])
      .optional()
      .describe("Which stream to page through (default both, from the same offset)"),
    encoding: z.enum(CONTENT_ENCODINGS).optional().describe("utf8 (default) or base64 for exact bytes"),
  },
  output: runView,
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  tooBig: "pass a smaller length, or stream: stdout / stderr one at a time",
  async handler(args, ctx, s: ToolServices) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const run = await s.runs.get(box.id, args.runId, args.wait ? (args.waitSeconds ?? 60) : 0);
    return runPage(run, args);
  },
});

export const boxRunKill = defineTool({
  name: "box_run_kill",
  title: "Kill a run",
  description: "End a running run and every process it started. A finished run is returned unchanged.",
  input: { box: boxRef, runId: z.string().describe("The run id") },
  output: runView,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, ctx, s: ToolServices) {
    const box = s.boxes.resolve(ctx.tenant, args.box);
    const run = await s.runs.kill(box.id, args.runId);
    return { ...runPage(run, {}), text: `${run.id} ${run.status}` };
  },
});

/** A command as box_runs lists it: cut, so a list of long commands stays one small answer. */
function listed(command: string): string {
  return command.length > LIST_COMMAND_CHARS ? `${command.slice(0, LIST_COMMAND_CHARS)}[... cut]` : command;
}

export const shellTools = [boxExec, boxRunCode, boxRuns, boxRunGet, boxRunKill];
