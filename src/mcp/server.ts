// createServer(): one MCP server bound to the app's services. Transports (stdio, HTTP) connect to it; this
// module knows nothing about them.
import { createRequire } from "node:module";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type ToolServices, toolServices } from "../services.js";
import { registerCompletions } from "./completions.js";
import { useContractErrorsForValidation } from "./define-tool.js";
import { registerPrompts } from "./prompts/index.js";
import { LOG_TEMPLATE, logCompleters, registerLogResources } from "./resources/box-logs.js";
import { registerAllTools } from "./tools/index.js";

export const SERVER_NAME = "boxd";
/** package.json's version: two folders up both from src/mcp/ (tsx) and from dist/mcp/ (the build). */
export const SERVER_VERSION: string = createRequire(import.meta.url)("../../package.json").version;

export interface CreateServerOptions {
  /** The tenant of calls that carry no auth info (stdio: the local user). */
  defaultTenant?: string;
  /**
   * The client runs on another machine (HTTP sessions): its MCP roots say nothing about this machine, so
   * host paths are confined to each tenant's folder in BOXD_ROOTS (src/fs/host-paths.ts).
   */
  remote?: boolean;
}

/** `services` may be the app's full set: the tools get only their narrow view of it (no engine, config or pool). */
export function createServer(services: ToolServices, opts: CreateServerOptions = {}) {
  const tools = toolServices(services);
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: { tools: {}, logging: {} },
      instructions:
        "boxd gives you durable Linux boxes. Start with box_create (or box_list to reuse one), then box_exec to run commands " +
        "and the box_*_file tools to move files. Boxes keep their files across calls and pause when idle.",
    },
  );
  useContractErrorsForValidation(server);
  const defaultTenant = opts.defaultTenant ?? "local";
  const tenantOf = (extra: unknown) => {
    const t = (extra as { authInfo?: { extra?: Record<string, unknown> } } | undefined)?.authInfo?.extra?.tenant;
    return typeof t === "string" && t ? t : defaultTenant;
  };
  registerAllTools(server, tools, { log: tools.log.child("mcp"), tenantOf, remote: opts.remote ?? false });
  const stopLogUpdates = registerLogResources(server, tools, tenantOf);
  const prompts = registerPrompts(server, tools, tenantOf);
  registerCompletions(server, { prompts, templates: { [LOG_TEMPLATE]: logCompleters(tools) } }, tenantOf);
  return {
    server,
    async close() {
      stopLogUpdates();
      await server.close();
    },
  };
}
