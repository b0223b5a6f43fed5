// HTTP-level refusals of the MCP endpoint, in one shape: a JSON-RPC error without an id (what the spec lets a
// server put in the body of a 4xx/5xx) whose message starts with the contract's error code, so a client
// that only shows the text still sees `CODE: what to do`.
import type { ServerResponse } from "node:http";
import type { ErrorCode } from "../errors.js";

/** JSON-RPC error codes: the spec's parse / invalid-request codes and the SDK's server-error range. */
export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_SERVER_ERROR = -32000;
export const RPC_SESSION_NOT_FOUND = -32001;

export interface Refusal {
  status: number;
  code: ErrorCode;
  message: string;
  rpcCode?: number;
  headers?: Record<string, string>;
}

export function refuse(res: ServerResponse, r: Refusal): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    jsonrpc: "2.0",
    error: { code: r.rpcCode ?? RPC_SERVER_ERROR, message: `${r.code}: ${r.message}`, data: { code: r.code } },
    id: null,
  });
  res.writeHead(r.status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    ...r.headers,
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(body);
}
