// boxd's prompts (one file per prompt) and their argument completers, keyed by prompt name, for
// src/mcp/completions.ts.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ToolServices } from "../../services.js";
import type { CompletionTable } from "../completions.js";
import { INVESTIGATE_BOX, registerInvestigateBox } from "./investigate-box.js";
import { registerWorkOnRepository, WORK_ON_REPOSITORY } from "./work-on-repository.js";

export function registerPrompts(
  server: McpServer,
  s: Pick<ToolServices, "boxes" | "boxLog">,
  tenantOf: (extra: unknown) => string,
): CompletionTable["prompts"] {
  return {
    [WORK_ON_REPOSITORY]: registerWorkOnRepository(server),
    [INVESTIGATE_BOX]: registerInvestigateBox(server, s, tenantOf),
  };
}
