// A box's page (route "/boxes/<id>"): its fields, usage charts, runs, live log and the pause/resume/snapshot/delete actions.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError,
  api,
  type BoxView,
  type ExposureView,
  errorMessage,
  type RunOutputView,
  type RunView,
  type SnapshotView,
  streams,
} from "./api";
import { Labels } from "./box-list";
import { FilesPanel } from "./files-panel";
import {
  formatAgo,
  formatBytes,
  formatCpuSeconds,
  formatDateTime,
  formatDuration,
  runDurationMs,
  runId,
  statusClass,
} from "./format";
import { LogPanel } from "./log-panel";
import { linkClick, navigate } from "./router";
import { RunOutput } from "./run-output";
import { useEventStream } from "./sse";
import { TerminalPanel } from "./terminal-panel";
import { UsagePanel } from "./usage-panel";

type Action = "pause" | "resume" | "snapshot" | "delete";

export function BoxPage({ id }: { id: string }) {
  const [box, setBox] = useState<BoxView | null>(null);
  const [runs, setRuns] = useState<RunView[]>([]);
  const [snapshots, setSnapshots] = useState<SnapshotView[]>([]);
  const [exposures, setExposures] = useState<ExposureView[]>([]);
  const [loadError, setLoadError] = useState<{ status: number; message: string } | null>(null);
  const [busy, setBusy] = useState<Action | null>(null);
  const [actionError, setActionError] = useState("");
  const [notice, setNotice] = useState("");
  const [snapshotName, setSnapshotName] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  const deleting = useRef(false);

  const refresh = useCallback(async () => {
    try {
      const r = await api.box(id);
      setBox(r.box);
      setRuns(Array.isArray(r.runs) ? r.runs : []);
      setSnapshots(Array.isArray(r.snapshots) ? r.snapshots : []);
      setExposures(Array.isArray(r.exposures) ? r.exposures : []);
      setLoadError(null);
    } catch (e) {
      if (deleting.current) return;
      setLoadError({ status: e instanceof ApiError ? e.status : 0, message: errorMessage(e) });
    }
  }, [id]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    document.title = `${box?.name ?? "Box"} · boxd console`;
  }, [box?.name]);

  // The boxes stream keeps the status and usage live; a new run or a status change reloads the runs too.
  const last = useRef<{ status?: string; runs?: number; lastActiveAt?: string } | null>(null);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEventStream<{ boxes?: BoxView[] }>(streams.events(), "boxes", (data) => {
    const b = data?.boxes?.find((x) => x.id === id);
    if (!b) return;
    setBox((prev) => (prev ? { ...prev, ...b } : prev));
    const key = { status: b.status, runs: b.usage?.runs, lastActiveAt: b.lastActiveAt };
    const prev = last.current;
    last.current = key;
    if (prev && (prev.status !== key.status || prev.runs !== key.runs || prev.lastActiveAt !== key.lastActiveAt)) {
      clearTimeout(reloadTimer.current);
      reloadTimer.current = setTimeout(() => void refresh(), 300);
    }
  });
  useEffect(() => () => clearTimeout(reloadTimer.current), []);

  const act = async (action: Exclude<Action, "delete">) => {
    setBusy(action);
    setActionError("");
    setNotice("");
    try {
      if (action === "pause") {
        await api.pause(id);
        setNotice("Box paused.");
      } else if (action === "resume") {
        await api.resume(id);
        setNotice("Box resumed.");
      } else {
        const name = snapshotName.trim();
        const r = await api.snapshot(id, name || undefined);
        const snap = (r && typeof r === "object" && "snapshot" in r ? r.snapshot : r) as Record<string, unknown> | null;
        const label = [snap?.name, snap?.id, name].find((v) => typeof v === "string" && v) as string | undefined;
        setNotice(label ? `Snapshot created: ${label}` : "Snapshot created.");
        setSnapshotName("");
      }
      await refresh();
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setBusy(null);
    }
  };

  const confirmDelete = async () => {
    setBusy("delete");
    setActionError("");
    setNotice("");
    deleting.current = true;
    try {
      await api.deleteBox(id);
      dialog.current?.close();
      navigate("/");
    } catch (e) {
      deleting.current = false;
      dialog.current?.close();
      setActionError(errorMessage(e));
      setBusy(null);
    }
  };

  const name = box?.name || id;

  if (loadError && !box) {
    return (
      <>
        <BackToBoxes />
        <h1 tabIndex={-1}>{loadError.status === 404 ? "Box not found" : "Could not load the box"}</h1>
        <p class="banner banner-error" role="alert">
          {loadError.message}
        </p>
      </>
    );
  }

  const status = box?.status;
  const paused = status === "paused" || status === "stopped";
  return (
    <>
      <BackToBoxes />
      <div class="page-head">
        <h1 tabIndex={-1}>{name}</h1>
        {box ? (
          <span class={statusClass(status)} data-testid="box-status-badge" aria-hidden="true">
            {status ?? "unknown"}
          </span>
        ) : null}
      </div>

      {box ? (
        <>
          <section class="actions" aria-label="Actions">
            <button type="button" class="btn" onClick={() => act("pause")} disabled={busy !== null || paused}>
              Pause
            </button>
            <button type="button" class="btn" onClick={() => act("resume")} disabled={busy !== null || !paused}>
              Resume
            </button>
            <form
              class="snapshot-form"
              onSubmit={(e) => {
                e.preventDefault();
                void act("snapshot");
              }}
            >
              <label for="snapshot-name" class="visually-hidden">
                Snapshot name (optional)
              </label>
              <input
                id="snapshot-name"
                type="text"
                placeholder="snapshot name (optional)"
                spellcheck={false}
                autoComplete="off"
                value={snapshotName}
                onInput={(e) => setSnapshotName((e.currentTarget as HTMLInputElement).value)}
              />
              <button type="submit" class="btn" disabled={busy !== null}>
                Snapshot
              </button>
            </form>
            <span class="spacer" />
            <button
              type="button"
              class="btn btn-danger"
              disabled={busy !== null}
              onClick={() => {
                setActionError("");
                dialog.current?.showModal();
              }}
            >
              Delete
            </button>
          </section>
          <div class="action-messages">
            {busy ? <p class="muted">Working…</p> : null}
            <p role="status" class={notice ? "banner banner-ok" : "visually-hidden"}>
              {notice}
            </p>
            {actionError ? (
              <p class="banner banner-error" role="alert">
                {actionError}
              </p>
            ) : null}
          </div>

          <dialog ref={dialog} class="dialog" aria-labelledby="delete-title" aria-describedby="delete-desc">
            <form
              method="dialog"
              onSubmit={(e) => {
                e.preventDefault();
                void confirmDelete();
              }}
            >
              <h2 id="delete-title">Delete this box?</h2>
              <p id="delete-desc">
                The box <strong>{name}</strong> and everything in it will be deleted. This cannot be undone.
              </p>
              <div class="dialog-buttons">
                <button type="button" class="btn" onClick={() => dialog.current?.close()} disabled={busy === "delete"}>
                  Cancel
                </button>
                <button type="submit" class="btn btn-danger" disabled={busy === "delete"}>
                  Delete box
                </button>
              </div>
            </form>
          </dialog>

          <BoxDetails box={box} />
          <UsagePanel boxId={id} status={status} runs={runs} />
          <TerminalPanel boxId={id} />
          <FilesPanel boxId={id} />
          <Runs boxId={id} runs={runs} />
          <SnapshotsAndPorts snapshots={snapshots} exposures={exposures} />
        </>
      ) : (
        <p class="muted">Loading…</p>
      )}
      {box ? <LogPanel boxId={id} /> : null}
    </>
  );
}

function BoxDetails({ box }: { box: BoxView }) {
  const u = box.usage ?? {};
  const l = box.limits;
  const np = box.networkPolicy;
  return (
    <section class="card" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <div class="details-grid">
        <dl class="fields">
          <dt>Status</dt>
          <dd>
            <span class={statusClass(box.status)} data-testid="box-status">
              {box.status ?? "unknown"}
            </span>
            {box.pauseKind && box.status === "paused" ? <span class="muted"> ({box.pauseKind})</span> : null}
            {box.statusReason ? <span class="reason">{box.statusReason}</span> : null}
          </dd>
          <dt>ID</dt>
          <dd class="mono">{box.id}</dd>
          <dt>Runtime</dt>
          <dd>
            {box.runtime ?? "—"}
            {box.runtimeVersion ? <span class="muted"> — {box.runtimeVersion}</span> : null}
          </dd>
          <dt>Created</dt>
          <dd>
            <time dateTime={box.createdAt}>{formatDateTime(box.createdAt)}</time>
          </dd>
          <dt>Last activity</dt>
          <dd>
            <time dateTime={box.lastActiveAt} title={formatDateTime(box.lastActiveAt)}>
              {formatAgo(box.lastActiveAt)}
            </time>
          </dd>
          {box.expiresAt ? (
            <>
              <dt>Expires</dt>
              <dd>{formatDateTime(box.expiresAt)}</dd>
            </>
          ) : null}
          <dt>Network policy</dt>
          <dd>
            <span data-testid="network-mode">{np?.mode ?? "—"}</span>
            {np?.mode === "custom" ||
            np?.allowedDomains?.length ||
            np?.allowedCidrs?.length ||
            np?.deniedCidrs?.length ? (
              <dl class="policy" data-testid="network-policy">
                <PolicyList title="Allowed domains" items={np?.allowedDomains} />
                <PolicyList title="Allowed CIDRs" items={np?.allowedCidrs} />
                <PolicyList title="Denied CIDRs" items={np?.deniedCidrs} />
              </dl>
            ) : null}
          </dd>
          <dt>Labels</dt>
          <dd>
            <Labels labels={box.labels} />
          </dd>
        </dl>
        <dl class="fields">
          <dt>Size</dt>
          <dd>{box.size ?? "—"}</dd>
          <dt>Limits</dt>
          <dd>
            {l
              ? [
                  typeof l.cpus === "number" ? `${l.cpus} CPU` : null,
                  typeof l.memoryBytes === "number" ? `${formatBytes(l.memoryBytes)} memory` : null,
                  typeof l.diskBytes === "number" ? `${formatBytes(l.diskBytes)} disk` : null,
                ]
                  .filter(Boolean)
                  .join(" · ") || "—"
              : "—"}
          </dd>
          <dt>CPU used</dt>
          <dd>{formatCpuSeconds(u.cpuNs)}</dd>
          <dt>Memory peak</dt>
          <dd>{formatBytes(u.memoryPeakBytes ?? u.memoryBytes)}</dd>
          {typeof u.diskUsedBytes === "number" ? (
            <>
              <dt>Disk used</dt>
              <dd>{formatBytes(u.diskUsedBytes)}</dd>
            </>
          ) : null}
          <dt>Runs</dt>
          <dd>{typeof u.runs === "number" ? u.runs : "—"}</dd>
          {typeof u.prompts === "number" && u.prompts > 0 ? (
            <>
              <dt>Agent usage</dt>
              <dd>
                {u.prompts} prompts · {u.inputTokens ?? 0} in / {u.outputTokens ?? 0} out tokens
                {typeof u.costUsd === "number" ? ` · $${u.costUsd.toFixed(4)}` : ""}
              </dd>
            </>
          ) : null}
          <dt>Isolation</dt>
          <dd>
            {box.isolation ?? "—"}
            {box.root ? " (root allowed)" : ""}
          </dd>
          {box.image ? (
            <>
              <dt>Image</dt>
              <dd class="mono">{box.image}</dd>
            </>
          ) : null}
          {box.fromSnapshot ? (
            <>
              <dt>From snapshot</dt>
              <dd class="mono">{box.fromSnapshot}</dd>
            </>
          ) : null}
        </dl>
      </div>
    </section>
  );
}

function Runs({ boxId, runs }: { boxId: string; runs: RunView[] }) {
  const sorted = [...runs].sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
  const [shown, setShown] = useState<RunOutputView | null>(null);
  const [loadingRun, setLoadingRun] = useState("");
  const [error, setError] = useState("");
  const seq = useRef(0);
  const opener = useRef<HTMLElement | null>(null);
  const head = useRef<HTMLHeadingElement>(null);

  const load = useCallback(
    async (rid: string, focus: boolean) => {
      const n = ++seq.current;
      setLoadingRun(rid);
      setError("");
      try {
        const r = await api.run(boxId, rid);
        if (n !== seq.current) return;
        const run = r?.run;
        if (!run || typeof run !== "object") throw new Error("The server sent no run.");
        setShown({ ...run, runId: runId(run) || rid });
        if (focus) requestAnimationFrame(() => head.current?.focus());
      } catch (e) {
        if (n !== seq.current) return;
        setError(errorMessage(e));
      } finally {
        if (n === seq.current) setLoadingRun("");
      }
    },
    [boxId],
  );

  // Another box's page: nothing of this one's runs stays open.
  useEffect(() => {
    seq.current++;
    setShown(null);
    setError("");
    setLoadingRun("");
  }, [boxId]);

  // The table (kept live by the events stream) says the run shown has ended: fetch its final output.
  const shownId = shown ? runId(shown) : "";
  const listedStatus = shownId ? sorted.find((r) => runId(r) === shownId)?.status : undefined;
  useEffect(() => {
    if (shownId && shown?.status === "running" && listedStatus && listedStatus !== "running") {
      void load(shownId, false);
    }
  }, [shownId, shown?.status, listedStatus, load]);

  const close = () => {
    seq.current++;
    setShown(null);
    setLoadingRun("");
    const el = opener.current;
    opener.current = null;
    if (el?.isConnected) el.focus();
  };

  return (
    <section class="card" aria-labelledby="runs-title">
      <h2 id="runs-title">Runs</h2>
      {error ? (
        <p class="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
      {sorted.length === 0 ? (
        <p class="muted">No runs yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="table runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Command</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Exit code
                </th>
                <th scope="col">Started</th>
                <th scope="col" class="num">
                  Duration
                </th>
                <th scope="col">
                  <span class="visually-hidden">Output</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((r, i) => (
                <tr key={runId(r) || i}>
                  <td class="mono">{runId(r) || "—"}</td>
                  <td class="command">
                    <code>{r.command ?? ""}</code>
                    {r.reason ? <span class="reason">{r.reason}</span> : null}
                  </td>
                  <td>
                    <span class={statusClass(r.status)}>{r.status ?? "unknown"}</span>
                    {r.timedOut ? <span class="muted"> (timed out)</span> : null}
                  </td>
                  <td class="num">{typeof r.exitCode === "number" ? r.exitCode : "—"}</td>
                  <td>
                    <time dateTime={r.startedAt}>{formatDateTime(r.startedAt)}</time>
                  </td>
                  <td class="num">{formatDuration(runDurationMs(r))}</td>
                  <td>
                    {runId(r) ? (
                      <button
                        type="button"
                        class="btn btn-small"
                        aria-label={`Output of ${runId(r)}`}
                        aria-busy={loadingRun === runId(r)}
                        aria-expanded={shownId === runId(r)}
                        aria-controls={shownId === runId(r) ? "run-output" : undefined}
                        onClick={(e) => {
                          opener.current = e.currentTarget;
                          void load(runId(r), true);
                        }}
                      >
                        Output
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown ? (
        <RunOutput
          run={shown}
          loading={loadingRun === shownId}
          headRef={head}
          onRefresh={() => void load(shownId, false)}
          onClose={close}
        />
      ) : null}
    </section>
  );
}

function PolicyList({ title, items }: { title: string; items?: string[] }) {
  const list = Array.isArray(items) ? items : [];
  return (
    <>
      <dt>{title}</dt>
      <dd>
        {list.length === 0 ? (
          <span class="muted">none</span>
        ) : (
          <ul class="policy-items">
            {list.map((x, i) => (
              <li class="mono" key={`${i}:${x}`}>
                {x}
              </li>
            ))}
          </ul>
        )}
      </dd>
    </>
  );
}

function SnapshotsAndPorts({ snapshots, exposures }: { snapshots: SnapshotView[]; exposures: ExposureView[] }) {
  const snaps = [...snapshots].sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
  const ports = [...exposures].sort((a, b) => a.port - b.port);
  return (
    <section class="card" aria-labelledby="snapshots-title">
      <div class="details-grid">
        <div>
          <h2 id="snapshots-title">Snapshots</h2>
          {snaps.length === 0 ? (
            <p class="muted">None</p>
          ) : (
            <div class="table-wrap">
              <table class="table" aria-labelledby="snapshots-title">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">ID</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">
                      Size
                    </th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {snaps.map((s) => (
                    <tr key={s.id}>
                      <td class="name">
                        {s.name ?? "—"}
                        {s.reason ? <span class="reason">{s.reason}</span> : null}
                      </td>
                      <td class="mono">{s.id}</td>
                      <td>
                        <span class={statusClass(s.status)}>{s.status ?? "unknown"}</span>
                      </td>
                      <td class="num">{formatBytes(s.sizeBytes)}</td>
                      <td>
                        <time dateTime={s.createdAt}>{formatDateTime(s.createdAt)}</time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
        <div>
          <h2 id="ports-title">Exposed ports</h2>
          {ports.length === 0 ? (
            <p class="muted">None</p>
          ) : (
            <div class="table-wrap">
              <table class="table" aria-labelledby="ports-title">
                <thead>
                  <tr>
                    <th scope="col" class="num">
                      Port
                    </th>
                    <th scope="col">URL</th>
                    <th scope="col">Auth</th>
                  </tr>
                </thead>
                <tbody>
                  {ports.map((x) => (
                    <tr key={x.port}>
                      <td class="num">{x.port}</td>
                      <td class="command">
                        {typeof x.url === "string" && /^https?:\/\//i.test(x.url) ? (
                          <a href={x.url} target="_blank" rel="noopener noreferrer">
                            {x.url}
                          </a>
                        ) : (
                          <span class="mono">{x.url ?? "—"}</span>
                        )}
                      </td>
                      <td>{x.auth ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </div>
    </section>
  );
}

/** The way back to the box list, above the page's heading. */
function BackToBoxes() {
  return (
    <p class="crumbs">
      <a href="/" onClick={linkClick}>
        ← Boxes
      </a>
    </p>
  );
}
