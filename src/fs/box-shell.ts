// Runs the file scripts inside a box, as the box user, and turns their failures into boxd errors. Caller
// data only ever travels as argv ("$1", "$2", ...) or stdin, never spliced into a script, so no path or
// content can change what a script does. Scripts report expected failures with a marker line
// (`boxd-error:CODE:path`, exit 97); other failures are classified from stderr, which is English because
// every script runs with LC_ALL=C.
import type { Readable } from "node:stream";
import { shellSafe } from "../box/env-guard.js";
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError, conflict, forbidden, internal, invalidArgument, limitExceeded, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import { BOX_USER } from "../model/box-user.js";

const FAIL_EXIT = 97;
const MAX_STDERR = 64 * 1024;
/**
 * Collected stdout of a script that names no smaller bound: scripts print little, but they run over files
 * (and git hooks) that box code controls, so what the server holds for them is bounded all the same.
 */
const DEFAULT_MAX_STDOUT = 64 * 1024 * 1024;

/**
 * A fixed environment for every script: a PATH of root-owned folders only (the box user could otherwise
 * shadow `tar` or `mv` from ~/.local/bin), and no BASH_ENV/ENV that would make bash source a box file.
 */
const SCRIPT_ENV = [
  "LC_ALL=C",
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "BASH_ENV=",
  "ENV=",
];

/** Helpers every script starts with. `need` tells a missing path from one the box user may not see. */
const PRELUDE = `printf 'boxd-pid:%s\\n' "$$" >&2
set -u
fail() { printf 'boxd-error:%s:%s\\n' "$1" "\${2:-}" >&2; exit ${FAIL_EXIT}; }
need() {
  [ -e "$1" ] || [ -L "$1" ] && return 0
  case "$(stat -- "$1" 2>&1 >/dev/null)" in *"Permission denied"*) fail DENIED "$1" ;; esac
  fail NOT_FOUND "$1"
}
`;

export type Marker =
  | "NOT_FOUND"
  | "IS_DIR"
  | "NOT_DIR"
  | "EXISTS"
  | "NOT_EMPTY"
  | "DENIED"
  | "TOO_BIG"
  | "SPECIAL"
  | "LINKED";

export interface ShellResult {
  exitCode: number | null;
  stdout: Buffer;
  stderr: string;
  /** The script's own failure marker, when it reported one. */
  marker: { code: Marker; subject: string } | null;
  /** Collected stdout passed maxStdout: reading stopped early. */
  overflow: boolean;
}

export interface ShellOptions {
  stdin?: Readable | Buffer;
  /** Receives stdout instead of collecting it; a promise returned holds reading back until it settles. */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** Stop reading (and report overflow) once this much stdout was collected. */
  maxStdout?: number;
}

export class BoxShell {
  constructor(
    private readonly engine: DockerEngine,
    private readonly log: Logger,
  ) {}

  async run(containerId: string, script: string, args: string[], opts: ShellOptions = {}): Promise<ShellResult> {
    const chunks: Buffer[] = [];
    let collected = 0;
    let overflow = false;
    let stderr = "";
    const stop = new AbortController();
    const res = await this.engine.execs.run({
      containerId,
      // No shell-startup variable of the box's env (SHELLOPTS=xtrace, BASHOPTS, ...) reaches the script.
      cmd: shellSafe(["/bin/bash", "-c", PRELUDE + script, "bash", ...args]),
      user: BOX_USER,
      env: SCRIPT_ENV,
      workingDir: "/",
      stdin: opts.stdin,
      signal: stop.signal,
      // Streamed output is a download: it stays on Docker exec's raw stream.
      bulk: opts.onStdout !== undefined,
      onStdout:
        opts.onStdout ??
        ((chunk) => {
          if (overflow) return;
          collected += chunk.length;
          chunks.push(chunk);
          if (collected > (opts.maxStdout ?? DEFAULT_MAX_STDOUT)) {
            overflow = true;
            stop.abort();
          }
        }),
      onStderr: (chunk) => {
        if (stderr.length < MAX_STDERR) stderr += chunk.toString("utf8");
      },
    });
    const pid = /^boxd-pid:(\d+)$/m.exec(stderr)?.[1];
    stderr = stderr.replace(/^boxd-pid:\d+\n/m, "");
    // Reading stopped early, but the engine keeps the process running: end its whole process group.
    if (overflow && pid) await this.killGroup(containerId, pid);
    const marker = parseMarker(stderr);
    if (res.exitCode !== 0 && !overflow) {
      this.log.debug("file script failed", {
        container: containerId.slice(0, 12),
        exitCode: res.exitCode,
        stderr: stderr.slice(0, 500),
      });
    }
    return {
      exitCode: res.exitCode,
      stdout: Buffer.concat(chunks),
      stderr,
      marker: res.exitCode === FAIL_EXIT ? marker : null,
      overflow,
    };
  }

  private async killGroup(containerId: string, pid: string): Promise<void> {
    try {
      await this.engine.execs.run({
        containerId,
        cmd: shellSafe(["/bin/bash", "-c", 'kill -TERM -- "-$1" 2>/dev/null; true', "bash", pid]),
        user: BOX_USER,
      });
    } catch (err) {
      this.log.warn("could not end an abandoned file script", { pid, error: String(err) });
    }
  }
}

function parseMarker(stderr: string): ShellResult["marker"] {
  const lines = stderr.split("\n").filter((l) => l.startsWith("boxd-error:"));
  const last = lines[lines.length - 1];
  if (!last) return null;
  const rest = last.slice("boxd-error:".length);
  const colon = rest.indexOf(":");
  const code = (colon < 0 ? rest : rest.slice(0, colon)) as Marker;
  return { code, subject: colon < 0 ? "" : rest.slice(colon + 1) };
}

export const DENIED_HINT = "the box user (boxuser) has no permission there: work under /workspace/home or /tmp";

/** Per-operation wording for the markers, so that each message says what to do next. */
export type Hints = Partial<Record<Marker, string>>;

/** The boxd error for a failed script: its marker if it set one, else a classification of stderr. */
export function failure(res: ShellResult, path: string, hints: Hints = {}): BoxdError {
  const subject = res.marker?.subject || path;
  const hint = (m: Marker) => (hints[m] ? `: ${hints[m]}` : "");
  switch (res.marker?.code) {
    case "NOT_FOUND":
      return notFound(`${subject} does not exist in the box${hint("NOT_FOUND")}`);
    case "IS_DIR":
      return invalidArgument(`${subject} is a folder${hint("IS_DIR")}`);
    case "NOT_DIR":
      return invalidArgument(`${subject} is not a folder${hint("NOT_DIR")}`);
    case "EXISTS":
      return new BoxdError("ALREADY_EXISTS", `${subject} already exists${hint("EXISTS")}`);
    case "NOT_EMPTY":
      return conflict(`folder ${subject} is not empty${hint("NOT_EMPTY")}`);
    case "DENIED":
      return forbidden(`${subject}: ${DENIED_HINT}`);
    case "SPECIAL":
      return invalidArgument(`${subject} is not a regular file or folder${hint("SPECIAL")}`);
    case "TOO_BIG":
      return limitExceeded(`${path} is ${subject} bytes${hint("TOO_BIG")}`);
    case "LINKED":
      return invalidArgument(`${subject} is a symlink (or lies under one) that leads outside ${path}${hint("LINKED")}`);
  }
  return classify(res.stderr, res.exitCode, path, hints);
}

function classify(stderr: string, exitCode: number | null, path: string, hints: Hints): BoxdError {
  const text = stderr.trim().split("\n").slice(-3).join(" | ").slice(0, 600);
  const hint = (m: Marker) => (hints[m] ? `: ${hints[m]}` : "");
  if (/Permission denied|Operation not permitted|Read-only file system/.test(stderr)) {
    return forbidden(`${path}: ${DENIED_HINT} (${text})`);
  }
  if (/No space left on device|Disk quota exceeded/.test(stderr)) {
    return limitExceeded(`the box's disk is full while working on ${path}: delete files in the box first (${text})`);
  }
  if (/No such file or directory/.test(stderr)) return notFound(`${path}: ${text}${hint("NOT_FOUND")}`);
  if (/Directory not empty/.test(stderr)) return conflict(`${path}: ${text}${hint("NOT_EMPTY")}`);
  if (/Is a directory|Not a directory|subdirectory of itself|cannot overwrite/.test(stderr)) {
    return invalidArgument(`${path}: ${text}`);
  }
  return internal(
    `file operation on ${path} failed (exit code ${exitCode ?? "unknown"}): ${text || "no error output"}`,
  );
}
