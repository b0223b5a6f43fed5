// The error vocabulary of boxd. Every expected failure is a BoxdError with a stable code from the contract
// and a message that tells the caller what to do next. Anything else that escapes is reported as INTERNAL.

export const ERROR_CODES = [
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "CONFLICT",
  "TIMEOUT",
  "POLICY_DENIED",
  "LIMIT_EXCEEDED",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "ENGINE_UNAVAILABLE",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class BoxdError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "BoxdError";
  }

  /** The contract's text form: `CODE: message`. */
  toText(): string {
    return `${this.code}: ${this.message}`;
  }
}

export const invalidArgument = (message: string) => new BoxdError("INVALID_ARGUMENT", message);
export const notFound = (message: string) => new BoxdError("NOT_FOUND", message);
export const alreadyExists = (message: string) => new BoxdError("ALREADY_EXISTS", message);
export const conflict = (message: string) => new BoxdError("CONFLICT", message);
export const limitExceeded = (message: string) => new BoxdError("LIMIT_EXCEEDED", message);
export const timeoutError = (message: string) => new BoxdError("TIMEOUT", message);
export const forbidden = (message: string) => new BoxdError("FORBIDDEN", message);
export const internal = (message: string, cause?: unknown) => new BoxdError("INTERNAL", message, { cause });

export const ENGINE_HINT =
  "Start the Docker engine (on Debian as root: `bash tools/provision-engine.sh`) or point DOCKER_HOST at one, then retry; `boxd doctor` shows what is wrong.";

export const engineUnavailable = (detail: string, cause?: unknown) =>
  new BoxdError("ENGINE_UNAVAILABLE", `Docker engine not reachable (${detail}). ${ENGINE_HINT}`, {
    cause,
  });

/** Turns anything thrown into a BoxdError, keeping codes that are already there. */
export function toBoxdError(err: unknown): BoxdError {
  if (err instanceof BoxdError) return err;
  const sqlite = (err as { code?: string } | undefined)?.code;
  if (sqlite === "SQLITE_BUSY" || sqlite === "SQLITE_LOCKED") {
    return new BoxdError("TIMEOUT", "the state database is locked by another process: retry in a moment", {
      cause: err,
    });
  }
  if (sqlite === "SQLITE_FULL" || sqlite === "SQLITE_IOERR_WRITE") {
    return new BoxdError("LIMIT_EXCEEDED", "the disk holding BOXD_DATA_DIR is full: free space, then retry", {
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return internal(`unexpected failure: ${message}`, err);
}
