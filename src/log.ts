// A small leveled logger that writes to stderr only: stdout belongs to the stdio MCP transport.

export type LogLevel = "error" | "warn" | "info" | "debug";
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  debug(msg: string, extra?: Record<string, unknown>): void;
  child(namespace: string): Logger;
}

export function createLogger(
  level: LogLevel,
  namespace = "boxd",
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const emit = (at: LogLevel, msg: string, extra?: Record<string, unknown>) => {
    if (ORDER[at] > ORDER[level]) return;
    const tail = extra && Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : "";
    write(`${new Date().toISOString()} ${at.padEnd(5)} ${namespace} ${msg}${tail}\n`);
  };
  return {
    error: (m, e) => emit("error", m, e),
    warn: (m, e) => emit("warn", m, e),
    info: (m, e) => emit("info", m, e),
    debug: (m, e) => emit("debug", m, e),
    child: (ns) => createLogger(level, `${namespace}:${ns}`, write),
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = createLogger("error", "boxd", () => {});
