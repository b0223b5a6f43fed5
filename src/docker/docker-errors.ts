// Maps what dockerode throws to boxd's error codes, with the operation named, so callers never see raw
// socket errors or HTTP status codes.
import { BoxdError, engineUnavailable, internal } from "../errors.js";

const ENGINE_DOWN = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

interface DockerLikeError {
  code?: string;
  statusCode?: number;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

export function dockerStatus(err: unknown): number | undefined {
  return (err as DockerLikeError | undefined)?.statusCode;
}

export function dockerMessage(err: unknown): string {
  const e = err as DockerLikeError;
  return e?.json?.message ?? e?.reason ?? e?.message ?? String(err);
}

export function isEngineDown(err: unknown): boolean {
  const e = err as DockerLikeError;
  if (e?.code && ENGINE_DOWN.has(e.code)) return true;
  return /socket hang up|connect ECONNREFUSED/.test(e?.message ?? "");
}

/** Rethrows a dockerode failure as a BoxdError naming what was being done. */
export function asBoxdError(err: unknown, doing: string): BoxdError {
  if (err instanceof BoxdError) return err;
  if (isEngineDown(err)) return engineUnavailable(`${doing}: ${dockerMessage(err)}`, err);
  const status = dockerStatus(err);
  const msg = `${doing}: ${dockerMessage(err)}`;
  if (status === 404) return new BoxdError("NOT_FOUND", msg, { cause: err });
  if (status === 409) return new BoxdError("CONFLICT", msg, { cause: err });
  return internal(msg, err);
}
