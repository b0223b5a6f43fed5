// The one wrapper every tool goes through: typed zod input/output, progress, the caller's tenant, and the
// single catch that turns failures into `isError` results carrying the contract's `CODE: message`.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ContentBlock, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { BoxdError, limitExceeded, toBoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import { jsonBytes, MAX_RESULT_BYTES } from "./fit.js";
import { strictInput } from "./strict-input.js";

export interface ToolContext {
  /** Whose boxes this call may see: "local" over stdio, the token's tenant over HTTP. */
  tenant: string;
  /** Sends a progress notification when the request carries a progressToken; a no-op otherwise. */
  progress: (message: string) => void;
  signal: AbortSignal;
  /** true over HTTP: the client runs on another machine (so its roots say nothing about this one). */
  remote: boolean;
  /** Host folders the client declared as roots (file:// URIs turned into paths). */
  clientRoots: () => Promise<string[]>;
}

export interface ToolResult<O> {
  text: string;
  structured: O;
  /** Extra content blocks after the text (e.g. an embedded resource). */
  content?: ContentBlock[];
}

export interface ToolDefinition<I extends z.ZodRawShape, O extends z.ZodRawShape, S> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: Omit<ToolAnnotations, "title">;
  /** How to ask for less when an answer would pass the result ceiling (MAX_RESULT_BYTES). */
  tooBig?: string;
  handler: (
    args: z.output<z.ZodObject<I>>,
    ctx: ToolContext,
    services: S,
  ) => Promise<ToolResult<z.output<z.ZodObject<O>>>>;
}

/** Identity, for type inference at each tool's definition. */
export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape, S>(
  def: ToolDefinition<I, O, S>,
): ToolDefinition<I, O, S> {
  return def;
}

export function errorResult(err: BoxdError) {
  return {
    isError: true,
    content: [{ type: "text" as const, text: err.toText() }],
    structuredContent: { error: { code: err.code, message: err.message } },
  };
}

export interface RegisterOptions {
  tenantOf: (extra: { authInfo?: { extra?: Record<string, unknown> } }) => string;
  /** The transport is remote (HTTP): see ToolContext.remote. */
  remote: boolean;
  log: Logger;
}

export function registerTool<I extends z.ZodRawShape, O extends z.ZodRawShape, S>(
  server: McpServer,
  def: ToolDefinition<I, O, S>,
  services: S,
  opts: RegisterOptions,
): void {
  const strict = z.object(def.output);
  server.registerTool(
    def.name,
    {
      title: def.title,
      description: def.description,
      inputSchema: strictInput(def.input),
      outputSchema: advertisedOutput(def.output),
      annotations: { title: def.title, ...def.annotations },
    },
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's callback type is generic over the shape
    (async (args: any, extra: any) => {
      const ctx = toolContext(server, extra, opts);
      try {
        const result = await def.handler(args, ctx, services);
        const checked = strict.safeParse(result.structured);
        if (!checked.success) {
          throw new BoxdError(
            "INTERNAL",
            `tool ${def.name} produced a result outside its schema: ${checked.error.message}`,
          );
        }
        const answer = {
          content: [{ type: "text", text: result.text }, ...(result.content ?? [])],
          structuredContent: result.structured,
        };
        checkResultSize(def.name, answer, def.tooBig);
        return answer;
      } catch (err) {
        const e = toBoxdError(err);
        if (e.code === "INTERNAL")
          opts.log.error(`tool ${def.name} failed`, { error: String(err), stack: (err as Error)?.stack });
        return errorResult(e);
      }
    }) as never,
  );
}

/** What a handler knows of its call: the tenant, the transport, progress, cancellation, the client's roots. */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's request extra is generic over the request types
function toolContext(server: McpServer, extra: any, opts: RegisterOptions): ToolContext {
  const token = extra?._meta?.progressToken as string | number | undefined;
  let sent = 0;
  return {
    tenant: opts.tenantOf(extra),
    remote: opts.remote,
    signal: extra.signal,
    progress: (message) => {
      if (token === undefined) return;
      sent += 1;
      extra
        .sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: sent, message },
        })
        .catch(() => {});
    },
    clientRoots: async () => {
      const caps = server.server.getClientCapabilities();
      if (!caps?.roots) return [];
      const { roots } = await server.server.listRoots();
      return roots.filter((r) => r.uri.startsWith("file://")).map((r) => decodeURIComponent(new URL(r.uri).pathname));
    },
  };
}

/**
 * The ceiling on every answer: a client drops a message it cannot take (the SDK's stdio client above 10 MiB,
 * which also ends a stdio server), so an answer that would pass it is a LIMIT_EXCEEDED saying how to page.
 */
export function checkResultSize(tool: string, answer: unknown, hint?: string): void {
  const size = jsonBytes(answer);
  if (size <= MAX_RESULT_BYTES) return;
  throw limitExceeded(
    `the answer of ${tool} would be ${size} bytes, more than the ${MAX_RESULT_BYTES} one answer may carry: ${hint ?? "ask for less at a time"}`,
  );
}

/**
 * The SDK answers schema-invalid arguments itself, as plain text. Route those answers through the
 * contract's error form too (INVALID_ARGUMENT with structuredContent.error), so clients see one shape.
 */
export function useContractErrorsForValidation(server: McpServer): void {
  const target = server as unknown as { createToolError: (message: string) => unknown };
  target.createToolError = (message: string) => {
    const code = /Input validation error|Invalid arguments/i.test(message) ? "INVALID_ARGUMENT" : "INTERNAL";
    const clean = message.replace(/^MCP error -?\d+: /, "");
    return errorResult(new BoxdError(code, `${clean}. Check the tool's input schema (tools/list).`));
  };
}

export const errorShape = z.object({ code: z.string(), message: z.string() });

/**
 * The output schema clients see. Error results carry `structuredContent.error` (the contract), and the SDK's
 * client validates structuredContent against the output schema even when isError is set; so every field is
 * advertised as optional (present on success) beside an optional `error` (present on failure). The handler's
 * own result is still typed and checked against the full shape by the wrapper.
 */
function advertisedOutput(shape: z.ZodRawShape): z.ZodRawShape {
  const out: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const s = schema as z.ZodType;
    out[key] = s instanceof z.ZodOptional ? s : s.optional();
  }
  out.error = errorShape
    .optional()
    .describe("Only on failure (isError): the contract's error code (INVALID_ARGUMENT, NOT_FOUND, ...) and message");
  return out;
}
