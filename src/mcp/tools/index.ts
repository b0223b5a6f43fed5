// Every MCP tool of boxd, registered in one place.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ToolServices } from "../../services.js";
import { type RegisterOptions, registerTool } from "../define-tool.js";
import { agentTools } from "./agent.js";
import { boxTools } from "./boxes.js";
import { fileTools } from "./files.js";
import { gitTools } from "./git.js";
import { lifecycleTools } from "./lifecycle.js";
import { logTools } from "./logs.js";
import { networkTools } from "./network.js";
import { previewTools } from "./preview.js";
import { runEventTools } from "./run-events.js";
import { scheduleTools } from "./schedules.js";
import { secretTools } from "./secrets.js";
import { shellTools } from "./shell.js";
import { snapshotTools } from "./snapshots.js";

export const allTools = [
  ...boxTools,
  ...lifecycleTools,
  ...shellTools,
  ...fileTools,
  ...snapshotTools,
  ...logTools,
  ...networkTools,
  ...previewTools,
  ...gitTools,
  ...agentTools,
  ...runEventTools,
  ...scheduleTools,
  ...secretTools,
];

export function registerAllTools(server: McpServer, services: ToolServices, opts: RegisterOptions): void {
  for (const tool of allTools) registerTool(server, tool as Parameters<typeof registerTool>[1], services, opts);
}
