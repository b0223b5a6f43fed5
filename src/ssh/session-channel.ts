// One SSH "session" channel: the requests before its start (pty-req, window-change, env) and what it
// starts (a login shell, `ssh box cmd`, the sftp subsystem), piped to a process in the box. X11, agent
// forwarding, signals and other subsystems are refused; the session stays usable. Closing the channel,
// for whatever reason, ends every process it started in the box (box-process.ts).
import type { ServerChannel, Session } from "ssh2";
import { toBoxdError } from "../errors.js";
import type { BoxProcess, BoxProcessSpec } from "./box-process.js";

/** What a channel needs from its connection: the box (woken), a process starter, the box log. */
export interface ChannelHost {
  start(spec: BoxProcessSpec): Promise<BoxProcess>;
  log(message: string): void;
  /** Processes still running, so the gateway's stop can end them. */
  running: Set<BoxProcess>;
}

/** Variables a client may set (`SendEnv`): locale, time zone, colour support; nothing that runs code. */
const SAFE_ENV = /^(LANG|LANGUAGE|LC_[A-Z]+|TZ|COLORTERM)$/;
const SAFE_VALUE = /^[\x20-\x7e]{0,256}$/;
const TERM_RE = /^[A-Za-z0-9._+-]{1,64}$/;
const COMMAND_LOG_MAX = 1000;

export function handleSession(session: Session, host: ChannelHost): void {
  const env: Record<string, string> = {};
  let tty: BoxProcessSpec["tty"];
  let current: BoxProcess | null = null;
  session.on("pty", (accept, _reject, info) => {
    tty = { term: TERM_RE.test(info.term) ? info.term : "xterm", cols: info.cols || 80, rows: info.rows || 24 };
    accept?.();
  });
  session.on("window-change", (accept, _reject, info) => {
    if (tty) tty = { ...tty, cols: info.cols || tty.cols, rows: info.rows || tty.rows };
    if (tty && current) void current.exec.resize(tty);
    accept?.();
  });
  session.on("env", (accept, reject, info) => {
    if (SAFE_ENV.test(info.key) && SAFE_VALUE.test(info.val)) {
      env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });
  session.on("x11", (_accept, reject) => reject?.());
  session.on("auth-agent", (_accept, reject) => reject?.());
  session.on("signal", (_accept, reject) => reject?.());
  const run = (spec: Omit<BoxProcessSpec, "env" | "tty">, accept: () => ServerChannel | undefined) => {
    const channel = accept();
    if (!channel) return;
    void runInChannel(channel, { ...spec, env, tty: spec.kind === "sftp" ? undefined : tty }, host, (p) => {
      current = p;
    });
  };
  session.on("shell", (accept) => {
    host.log("SSH shell opened");
    run({ kind: "shell" }, accept);
  });
  session.on("exec", (accept, _reject, info) => {
    const shown = info.command.length > COMMAND_LOG_MAX ? `${info.command.slice(0, COMMAND_LOG_MAX)}...` : info.command;
    host.log(`SSH exec: ${shown}`);
    run({ kind: "command", command: info.command }, accept);
  });
  session.on("subsystem", (accept, reject, info) => {
    if (info.name !== "sftp") return reject?.();
    host.log("SSH sftp opened");
    run({ kind: "sftp" }, accept);
  });
}

/** Starts the process and pipes it both ways until it exits or the channel closes. */
async function runInChannel(
  channel: ServerChannel,
  spec: BoxProcessSpec,
  host: ChannelHost,
  started: (p: BoxProcess) => void,
): Promise<void> {
  let closed = false;
  let proc: BoxProcess | null = null;
  channel.on("error", () => {});
  channel.once("close", () => {
    closed = true;
    if (proc) endProcess(proc, host);
  });
  try {
    proc = await host.start(spec);
  } catch (err) {
    if (!closed) {
      channel.stderr.write(`boxd: ${toBoxdError(err).toText()}\r\n`);
      channel.exit(1);
      channel.end();
    }
    return;
  }
  host.running.add(proc);
  started(proc);
  if (closed) return endProcess(proc, host);
  const { exec } = proc;
  exec.stdout.pipe(channel, { end: false });
  exec.stderr.pipe(channel.stderr, { end: false });
  // Without a terminal the client's EOF is the process's EOF (scp, `ssh box cat < file`); on a terminal
  // EOF is a byte the line discipline handles (Ctrl-D), so the stream stays open.
  channel.pipe(exec.stdin, { end: !spec.tty });
  const code = await exec.exited;
  if (closed) return;
  if (channel.writableNeedDrain) await new Promise((r) => channel.once("drain", r));
  if (code !== null) channel.exit(code);
  channel.end();
}

/** Drops the engine connection and ends the session's processes in the box. */
function endProcess(proc: BoxProcess, host: ChannelHost): void {
  proc.exec.detach();
  proc
    .kill()
    .catch(() => {})
    .finally(() => host.running.delete(proc));
}
