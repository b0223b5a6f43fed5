// How a prompt reports a failure. prompts/get has no result-level error as tools have, so a failure is a
// JSON-RPC error whose message keeps the contract's `CODE: message` text (a bad argument or an unknown box
// is the caller's to fix: invalid params; anything else is internal).
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { toBoxdError } from "../../errors.js";

export function promptError(err: unknown): McpError {
  const e = toBoxdError(err);
  const callers = e.code === "INVALID_ARGUMENT" || e.code === "NOT_FOUND";
  return new McpError(callers ? ErrorCode.InvalidParams : ErrorCode.InternalError, e.toText());
}
