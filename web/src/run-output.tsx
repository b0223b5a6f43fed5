// One run's output (GET .../runs/<runId>), shown below the Runs table: its command, status and exit code, and
// stdout and stderr as text in <pre>s, with a note when the record kept less than the run produced.
import type { RunOutputView } from "./api";
import { formatDuration, runDurationMs, runId, statusClass } from "./format";

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

function exitText(run: RunOutputView): string {
  if (typeof run.exitCode === "number") return `exit ${run.exitCode}${run.timedOut ? " (timed out)" : ""}`;
  if (run.status === "running") return "no exit code yet";
  return run.timedOut ? "no exit code (timed out)" : "no exit code";
}

export function RunOutput({
  run,
  loading,
  headRef,
  onRefresh,
  onClose,
}: {
  run: RunOutputView;
  loading: boolean;
  headRef: { current: HTMLHeadingElement | null };
  onRefresh: () => void;
  onClose: () => void;
}) {
  const id = runId(run);
  const running = run.status === "running";
  return (
    // biome-ignore lint/a11y/useSemanticElements: the panel is named by its run and found as a region
    <div id="run-output" class="run-output" role="region" aria-label={`Run ${id}`} data-testid="run-output">
      <div class="card-head">
        <h3 id="run-output-title" class="mono" tabIndex={-1} ref={headRef}>
          Run {id}
        </h3>
        {loading ? <span class="muted">Loading…</span> : null}
        <span class="spacer" />
        {running ? (
          <button type="button" class="btn btn-small" onClick={onRefresh} disabled={loading}>
            Refresh
          </button>
        ) : null}
        <button type="button" class="btn btn-small" onClick={onClose}>
          Close
        </button>
      </div>
      <dl class="fields">
        <dt>Command</dt>
        <dd class="command">
          <code data-testid="run-command">{run.command ?? ""}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <span class={statusClass(run.status)} data-testid="run-status">
            {run.status ?? "unknown"}
          </span>
          {run.reason ? <span class="reason">{run.reason}</span> : null}
        </dd>
        <dt>Exit code</dt>
        <dd data-testid="run-exit">{exitText(run)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDurationMs(run))}</dd>
      </dl>
      <Stream name="stdout" runLabel={id} text={run.stdout} produced={run.stdoutProduced} />
      <Stream name="stderr" runLabel={id} text={run.stderr} produced={run.stderrProduced} />
    </div>
  );
}

function Stream({
  name,
  runLabel,
  text,
  produced,
}: {
  name: "stdout" | "stderr";
  runLabel: string;
  text: unknown;
  produced: unknown;
}) {
  const shown = typeof text === "string" ? text : "";
  const kept = byteLength(shown);
  const total = typeof produced === "number" && Number.isFinite(produced) ? produced : null;
  const cut = total !== null && total > kept;
  return (
    <div class="run-stream">
      <h4>
        {name}
        {shown === "" ? <span class="muted"> (empty)</span> : null}
      </h4>
      {cut ? (
        <p class="muted" data-testid={`run-${name}-cut`}>
          output cut: {kept} of {total} bytes kept
        </p>
      ) : null}
      {/* biome-ignore lint/a11y/useSemanticElements: the text stays a <pre>, named as a region */}
      <pre
        class="file-text run-text"
        role="region"
        aria-label={`${name} of ${runLabel}`}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
        tabIndex={0}
        data-testid={`run-${name}`}
      >
        {shown}
      </pre>
    </div>
  );
}
