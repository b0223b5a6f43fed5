// The box list (route "/"): a table of the tenant's boxes, kept live by the `boxes` SSE stream.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type BoxView, errorMessage, streams } from "./api";
import { formatAge, formatAgo, formatCpuSeconds, formatDateTime, formatSize, statusClass } from "./format";
import { boxPath, linkClick } from "./router";
import { StreamBadge, useEventStream } from "./sse";

const BASE_STATUSES = ["idle", "running", "paused", "stopped", "error"];

/** "key=value" (exact), or "key" (the label is set); several separated by commas or spaces. */
export function parseLabelFilter(text: string): { key: string; value?: string }[] {
  return text
    .split(/[,\s]+/)
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      const i = t.indexOf("=");
      return i < 0 ? { key: t } : { key: t.slice(0, i), value: t.slice(i + 1) };
    });
}

function matchesLabels(box: BoxView, filters: { key: string; value?: string }[]): boolean {
  const labels = box.labels ?? {};
  return filters.every((f) =>
    f.value === undefined ? Object.hasOwn(labels, f.key) : Object.hasOwn(labels, f.key) && labels[f.key] === f.value,
  );
}

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

export function BoxList() {
  const [boxes, setBoxes] = useState<BoxView[] | null>(null);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("all");
  const [labelText, setLabelText] = useState("");
  const now = useNow(15_000);

  useEffect(() => {
    document.title = "Boxes · boxd console";
    let live = true;
    api
      .boxes()
      .then((r) => {
        if (!live) return;
        setBoxes((prev) => prev ?? r?.boxes ?? []);
        setError("");
      })
      .catch((e) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, []);

  const stream = useEventStream<{ boxes?: BoxView[] }>(streams.events(), "boxes", (data) => {
    if (Array.isArray(data?.boxes)) {
      setBoxes(data.boxes);
      setError("");
    }
  });

  const statuses = useMemo(() => {
    const set = new Set(BASE_STATUSES);
    for (const b of boxes ?? []) if (b.status) set.add(b.status);
    if (status !== "all") set.add(status);
    return ["all", ...set];
  }, [boxes, status]);

  const labelFilters = useMemo(() => parseLabelFilter(labelText), [labelText]);
  const shown = useMemo(
    () =>
      (boxes ?? [])
        .filter((b) => status === "all" || b.status === status)
        .filter((b) => matchesLabels(b, labelFilters))
        .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.name.localeCompare(b.name)),
    [boxes, status, labelFilters],
  );

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Boxes</h1>
        <StreamBadge state={stream} />
      </div>
      <form class="filters" aria-label="Filter boxes" onSubmit={(e) => e.preventDefault()}>
        <div class="field field-inline">
          <label for="status-filter">Status</label>
          <select
            id="status-filter"
            value={status}
            onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}
          >
            {statuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field field-inline">
          <label for="label-filter">Label</label>
          <input
            id="label-filter"
            type="search"
            placeholder="key=value"
            spellcheck={false}
            autoComplete="off"
            value={labelText}
            onInput={(e) => setLabelText((e.currentTarget as HTMLInputElement).value)}
          />
        </div>
        {boxes ? (
          <p class="muted count" aria-live="polite">
            {shown.length === boxes.length
              ? `${boxes.length} ${boxes.length === 1 ? "box" : "boxes"}`
              : `${shown.length} of ${boxes.length} boxes`}
          </p>
        ) : null}
      </form>
      {error ? (
        <p class="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
      {boxes === null ? (
        error ? null : (
          <p class="muted">Loading boxes…</p>
        )
      ) : boxes.length === 0 ? (
        <p class="empty">No boxes yet. Boxes that agents create appear here.</p>
      ) : shown.length === 0 ? (
        <p class="empty">No boxes match the filters.</p>
      ) : (
        <div class="table-wrap">
          <table class="table boxes">
            <caption class="visually-hidden">Boxes</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Runtime</th>
                <th scope="col">Size</th>
                <th scope="col">Age</th>
                <th scope="col">Last activity</th>
                <th scope="col" class="num">
                  CPU used
                </th>
                <th scope="col">Labels</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((b) => (
                <tr key={b.id} data-box-id={b.id}>
                  <th scope="row" class="name">
                    <a href={boxPath(b.id)} onClick={linkClick}>
                      {b.name || b.id}
                    </a>
                  </th>
                  <td>
                    <span class={statusClass(b.status)} data-testid="status">
                      {b.status ?? "unknown"}
                    </span>
                  </td>
                  <td>{b.runtime ?? "—"}</td>
                  <td>{formatSize(b)}</td>
                  <td>
                    <time dateTime={b.createdAt} title={formatDateTime(b.createdAt)}>
                      {formatAge(b.createdAt, now)}
                    </time>
                  </td>
                  <td>
                    <time dateTime={b.lastActiveAt} title={formatDateTime(b.lastActiveAt)}>
                      {formatAgo(b.lastActiveAt, now)}
                    </time>
                  </td>
                  <td class="num">{formatCpuSeconds(b.usage?.cpuNs)}</td>
                  <td>
                    <Labels labels={b.labels} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function Labels({ labels }: { labels: Record<string, string> | undefined }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="labels">
      {entries.map(([k, v]) => (
        <li key={k} class="label">
          {k}={v}
        </li>
      ))}
    </ul>
  );
}
