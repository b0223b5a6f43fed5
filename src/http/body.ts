// Reads and checks a POST body of the MCP endpoint before any session sees it: JSON media type, a size limit
// (checked on Content-Length first, then while reading, so an oversized body is never buffered whole), JSON
// syntax, and a bound on batches. Refusals carry their HTTP status and the contract's code.
import type { IncomingMessage } from "node:http";
import { type Refusal, RPC_INVALID_REQUEST, RPC_PARSE_ERROR } from "./replies.js";

/**
 * JSON-RPC batches are not part of MCP since 2025-06-18; older clients may still send them, so a few are
 * accepted (each message is then handled as if sent alone), but never enough to fan one request out widely.
 */
export const MAX_BATCH = 20;

export type BodyResult = { ok: true; body: unknown } | { ok: false; refusal: Refusal };

const isJsonMediaType = (ct: string | undefined) =>
  !!ct && ct.split(";")[0]?.trim().toLowerCase() === "application/json";

/** A refusal as a BodyResult. */
const refused = (status: number, message: string, rpcCode?: number, headers?: Record<string, string>): BodyResult => ({
  ok: false,
  refusal: {
    status,
    code: status === 413 ? "LIMIT_EXCEEDED" : "INVALID_ARGUMENT",
    message,
    ...(rpcCode === undefined ? {} : { rpcCode }),
    ...(headers ? { headers } : {}),
  },
});

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  if (!isJsonMediaType(req.headers["content-type"])) return refused(415, "Content-Type must be application/json");
  const tooLarge = refused(
    413,
    `request body over ${maxBytes} bytes (BOXD_HTTP_MAX_BODY_BYTES): send large files as box_upload archives in parts, or with hostPath`,
    undefined,
    // The rest of the body is read and thrown away (so the client sees this answer); the connection ends.
    { Connection: "close" },
  );
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return tooLarge;
  }
  let raw: Buffer | null;
  try {
    raw = await readUpTo(req, maxBytes);
  } catch (err) {
    return refused(400, `request body not received: ${(err as Error).message}`);
  }
  if (raw === null) return tooLarge;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return refused(400, "parse error: invalid JSON", RPC_PARSE_ERROR);
  }
  if (Array.isArray(body) && (body.length === 0 || body.length > MAX_BATCH)) {
    return refused(
      400,
      `a batch must hold 1 to ${MAX_BATCH} messages (send one message per request)`,
      RPC_INVALID_REQUEST,
    );
  }
  return { ok: true, body };
}

/**
 * The body, or null past `maxBytes`. Past the limit the rest is read and thrown away rather than the socket
 * destroyed, so the client gets to read the 413 instead of a reset connection.
 */
function readUpTo(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (over) return;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (!over) resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      if (!over) reject(err);
    };
    const onClose = () => {
      cleanup();
      if (!over) reject(new Error("the client closed the connection before the body ended"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
