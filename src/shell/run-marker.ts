// Every run's command starts by exporting BOXD_RUN_ID, so each process it starts carries the run's id in
// its environment, also one that left the run's process group with setsid (a daemon, `setsid sleep &`):
// boxd-kill ends the group, then the sweep below ends every process of boxuser still marked with the run.
// (A process that replaced its environment, env -i, is not found: a known limit.) The export is on the
// command's first line, so bash's line numbers in error messages stay those of the caller's command.
import { shellSafe } from "../box/env-guard.js";

export const RUN_MARKER_VAR = "BOXD_RUN_ID";

/** The command as boxd-run gets it: the marker exported first. Run ids are [a-z0-9_] only. */
export function markedCommand(runId: string, command: string): string {
  return `export ${RUN_MARKER_VAR}=${runId}; ${command}`;
}

// Builtins only in the loops (no fork per process: the box may be out of processes). A few rounds, since a
// marked process may fork while the sweep runs.
const SWEEP = `id="$1"
for _ in 1 2 3 4 5; do
  found=0
  for d in /proc/[0-9]*; do
    [[ -r $d/environ ]] || continue
    while IFS= read -r -d '' v; do
      if [[ $v == "${RUN_MARKER_VAR}=$id" ]]; then kill -KILL "\${d#/proc/}" 2>/dev/null && found=1; break; fi
    done < "$d/environ" 2>/dev/null
  done
  [[ $found == 0 ]] && break
done
exit 0`;

/** The argv that ends every process still marked with the run (run as boxuser). */
export function sweepCommand(runId: string): string[] {
  return shellSafe(["bash", "-p", "-c", SWEEP, "boxd-sweep", runId]);
}
