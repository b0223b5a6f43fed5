// The processes an SSH channel starts in a box (a login shell, a command, sftp-server), always as boxuser
// in its home. Each records the id of the session it leads in /tmp/.boxd-runs/ssh-<id>.pid, so that when
// the client goes away (or the gateway stops) every process of that session is ended from inside the box
// with one kill pass over /proc: a client that vanished leaves nothing running. Caller data (the command)
// travels only as an argv element, never spliced into a script.
import { randomBytes } from "node:crypto";
import type { DockerEngine } from "../docker/engine.js";
import type { SessionExec } from "../docker/exec.js";
import { BOX_HOME, BOX_USER } from "../model/box-user.js";

const RUN_DIR = "/tmp/.boxd-runs";

/**
 * $0: pid file, $1: what to run ("shell", "sftp" or "command"), $2: the command, $3 $4: the terminal's rows
 * and columns. The size is set here, before the shell starts: the exec's own resize can land after the
 * shell first asks (0 0 then).
 */
const LAUNCH = `mkdir -p -m 700 ${RUN_DIR} 2>/dev/null; echo $$ > "$0"
[ -n "$3" ] && stty rows "$3" cols "$4" 2>/dev/null
case "$1" in
  shell) exec bash -l ;;
  sftp) for p in /usr/lib/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server; do
          [ -x "$p" ] && exec "$p"
        done
        echo "boxd: this box has no sftp-server (install openssh-sftp-server)" >&2; exit 127 ;;
  *) exec bash -c "$2" ;;
esac`;

/**
 * $1: the session's id. Waits up to 2 s for its pid file (a channel closed right after its start), then kills every process whose session is the recorded one, a few rounds (members can
 * fork meanwhile), with builtins only (a fork bomb may have used every process slot).
 */
const KILL = `f=${RUN_DIR}/$1.pid
for i in 1 2 3 4 5 6 7 8 9 10; do [ -f "$f" ] && break; sleep 0.2; done
[ -f "$f" ] || exit 0
read -r sid < "$f"
[[ "$sid" =~ ^[0-9]+$ ]] || exit 0
for round in 1 2 3 4 5 6 7 8; do
  found=0
  for s in /proc/[0-9]*/stat; do
    read -r l < "$s" 2>/dev/null || continue
    set -- \${l##*) }
    if [ "$4" = "$sid" ]; then p=\${s#/proc/}; kill -KILL "\${p%/stat}" 2>/dev/null; found=1; fi
  done
  [ "$found" = 0 ] && break
done
rm -f -- "$f"
exit 0`;

export type BoxProcessKind = "shell" | "sftp" | "command";

export interface BoxProcessSpec {
  kind: BoxProcessKind;
  command?: string;
  /** A terminal (shell, or `ssh -t` commands): its type and size. */
  tty?: { term: string; cols: number; rows: number };
  /** Client-sent variables that passed the allow-list. */
  env: Record<string, string>;
}

export interface BoxProcess {
  boxId: string;
  exec: SessionExec;
  /** Ends every process of its session in the box (idempotent; safe after it exited). */
  kill(): Promise<void>;
}

export async function startBoxProcess(
  engine: DockerEngine,
  box: { boxId: string; containerId: string },
  spec: BoxProcessSpec,
): Promise<BoxProcess> {
  const { containerId } = box;
  const id = `ssh-${randomBytes(8).toString("hex")}`;
  const pidFile = `${RUN_DIR}/${id}.pid`;
  const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  if (spec.tty) env.push(`TERM=${spec.tty.term}`);
  env.push(`HOME=${BOX_HOME}`, "USER=boxuser", "LOGNAME=boxuser", "SHELL=/bin/bash");
  // On a terminal the exec is already a session leader with the terminal as its controlling tty (runc
  // makes it so); without one, setsid makes it lead a session of its own (-w: keep its exit status).
  const size = spec.tty ? [String(Math.trunc(spec.tty.rows)), String(Math.trunc(spec.tty.cols))] : [];
  const launch = ["bash", "-p", "-c", LAUNCH, pidFile, spec.kind, spec.command ?? "", ...size];
  const exec = await engine.execs.session({
    containerId,
    cmd: spec.tty ? launch : ["setsid", "-w", ...launch],
    user: BOX_USER,
    env,
    workingDir: BOX_HOME,
    tty: spec.tty !== undefined,
    size: spec.tty,
  });
  if (spec.tty) void exec.resize(spec.tty);
  let killing: Promise<void> | null = null;
  return {
    boxId: box.boxId,
    exec,
    kill: () => {
      killing ??= engine.execs
        .run({ containerId, cmd: ["bash", "-p", "-c", KILL, "boxd-ssh-kill", id], user: BOX_USER })
        .then(() => undefined);
      return killing;
    },
  };
}
