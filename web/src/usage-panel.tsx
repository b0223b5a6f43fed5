// A box's usage over time (GET /console/api/boxes/<id>/usage, one sample per usage meter pass while the box
// is up): CPU as % of one core between consecutive samples and memory in MiB, as two small charts (the
// uPlot chunk ./usage-chart, loaded when there is something to draw), refreshed every 30 s and when the
// box's status changes. Below them, the tokens and cost of the box's agent runs, when there are any.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorMessage, type RunView, type UsageSample } from "./api";
import { formatDateTime, formatTimeOfDay, runId } from "./format";
import type { ChartOptions, UsageChart } from "./usage-chart";

const REFRESH_MS = 30_000;
const MIB = 1024 * 1024;

export interface UsageSeries {
  /** Seconds since the epoch, ascending. */
  xs: number[];
  /** null breaks the line (a new container lifetime). */
  ys: (number | null)[];
}

interface Point {
  at: number;
  cpu: number | null;
  memory: number | null;
}

/** Each sample with the CPU % of one core since the previous one (null where there is no valid pair). */
export function usagePoints(samples: UsageSample[]): Point[] {
  const valid = samples
    .map((s) => ({ t: Date.parse(s.at), cpuNs: s.cpuNs, mem: s.memoryBytes }))
    .filter((s) => Number.isFinite(s.t))
    .sort((a, b) => a.t - b.t);
  const out: Point[] = [];
  for (let i = 0; i < valid.length; i++) {
    const b = valid[i] as (typeof valid)[number];
    const a = i > 0 ? valid[i - 1] : undefined;
    let cpu: number | null = null;
    if (a && typeof a.cpuNs === "number" && typeof b.cpuNs === "number") {
      const dt = b.t - a.t;
      const dc = b.cpuNs - a.cpuNs;
      // Δt ≤ 0 says nothing; cpuNs going down is a new container lifetime.
      if (dt > 0 && dc >= 0 && Number.isFinite(dc)) cpu = (dc / dt / 1e6) * 100;
    }
    const memory = typeof b.mem === "number" && Number.isFinite(b.mem) ? b.mem / MIB : null;
    out.push({ at: b.t, cpu, memory });
  }
  return out;
}

function series(points: Point[], pick: (p: Point) => number | null, skipFirst: boolean): UsageSeries {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  points.forEach((p, i) => {
    if (skipFirst && i === 0) return;
    const x = p.at / 1000;
    if (xs.length && x <= (xs[xs.length - 1] as number)) return; // uPlot wants x strictly ascending
    xs.push(x);
    ys.push(pick(p));
  });
  return { xs, ys };
}

function stats(ys: (number | null)[]): { now: number | null; peak: number | null } {
  let now: number | null = null;
  let peak: number | null = null;
  for (const y of ys) {
    if (y === null) continue;
    now = y;
    peak = peak === null || y > peak ? y : peak;
  }
  return { now, peak };
}

export function formatPercent(v: number): string {
  return v < 10 && v !== 0 && Math.round(v) !== v ? `${v.toFixed(1)}%` : `${Math.round(v)}%`;
}

export function formatMiB(v: number): string {
  return v < 10 && Math.round(v) !== v ? `${v.toFixed(1)} MiB` : `${Math.round(v)} MiB`;
}

let chartModule: Promise<typeof import("./usage-chart")> | null = null;
function loadCharts() {
  chartModule ??= import("./usage-chart").catch((e) => {
    chartModule = null;
    throw e;
  });
  return chartModule;
}

export function UsagePanel({ boxId, status, runs }: { boxId: string; status?: string; runs: RunView[] }) {
  const [samples, setSamples] = useState<UsageSample[] | null>(null);
  const [error, setError] = useState("");
  const seq = useRef(0);

  useEffect(() => {
    let alive = true;
    const load = async () => {
      const mine = ++seq.current;
      try {
        const r = await api.usage(boxId);
        if (!alive || mine !== seq.current) return;
        setSamples(Array.isArray(r?.samples) ? r.samples : []);
        setError("");
      } catch (e) {
        if (!alive || mine !== seq.current) return;
        setError(errorMessage(e));
      }
    };
    void load();
    const timer = setInterval(() => {
      if (!document.hidden) void load();
    }, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
    // status: a box that starts or stops shows it at once rather than at the next tick.
  }, [boxId, status]);

  const points = useMemo(() => usagePoints(samples ?? []), [samples]);
  const cpu = useMemo(() => series(points, (p) => p.cpu, true), [points]);
  const memory = useMemo(() => series(points, (p) => p.memory, false), [points]);
  const enough = points.length >= 2;
  const cpuStats = stats(cpu.ys);
  const memStats = stats(memory.ys);
  const last = points.slice(-10).reverse();

  return (
    <section class="card" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      {error ? (
        <p class="banner banner-error" role="alert">
          Could not load the usage: {error}
        </p>
      ) : null}
      {samples === null ? (
        error ? null : (
          <p class="muted">Loading…</p>
        )
      ) : !enough ? (
        <p class="muted" data-testid="usage-empty">
          Not enough data yet: usage is sampled every 30 s while the box runs.
        </p>
      ) : (
        <>
          <div class="usage-charts">
            <Chart
              testId="usage-cpu"
              caption="CPU (% of one core)"
              summary={
                cpuStats.now === null
                  ? "CPU: no data yet"
                  : `CPU ${formatPercent(cpuStats.now)} now, peak ${formatPercent(cpuStats.peak ?? cpuStats.now)}`
              }
              data={cpu}
              options={{
                label: "CPU",
                format: formatPercent,
                stroke: "#1f4fd1",
                fill: "rgba(31,79,209,0.12)",
                floor: 10,
              }}
            />
            <Chart
              testId="usage-memory"
              caption="Memory (MiB)"
              summary={
                memStats.now === null
                  ? "Memory: no data yet"
                  : `Memory ${formatMiB(memStats.now)} now, peak ${formatMiB(memStats.peak ?? memStats.now)}`
              }
              data={memory}
              options={{
                label: "Memory",
                format: formatMiB,
                tick: (v) => String(Math.round(v)),
                stroke: "#0f7b5f",
                fill: "rgba(15,123,95,0.12)",
                floor: 16,
              }}
            />
          </div>
          <table class="visually-hidden" data-testid="usage-table">
            <caption>Usage, latest {last.length} samples</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">CPU (% of one core)</th>
                <th scope="col">Memory (MiB)</th>
              </tr>
            </thead>
            <tbody>
              {last.map((p) => (
                <tr key={p.at}>
                  <td>{formatDateTime(new Date(p.at).toISOString())}</td>
                  <td>{p.cpu === null ? "—" : formatPercent(p.cpu)}</td>
                  <td>{p.memory === null ? "—" : formatMiB(p.memory)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <AgentUsage runs={runs} />
    </section>
  );
}

function Chart(props: { testId: string; caption: string; summary: string; data: UsageSeries; options: ChartOptions }) {
  const { testId, caption, summary, data, options } = props;
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<UsageChart | null>(null);
  const latest = useRef(data);
  latest.current = data;
  const [loadError, setLoadError] = useState("");

  useEffect(() => {
    let alive = true;
    loadCharts().then(
      (mod) => {
        const el = host.current;
        if (!alive || !el) return;
        chart.current = mod.createChart(el, options);
        chart.current.setData(latest.current.xs, latest.current.ys);
      },
      (e) => alive && setLoadError(`Could not load the chart: ${errorMessage(e)}`),
    );
    return () => {
      alive = false;
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setData(data.xs, data.ys);
  }, [data]);

  const first = data.xs[0];
  const lastX = data.xs[data.xs.length - 1];
  return (
    <figure class="usage-chart" data-testid={testId}>
      <figcaption>
        {caption}
        {first !== undefined && lastX !== undefined ? (
          <span class="muted">
            {" "}
            {formatTimeOfDay(new Date(first * 1000).toISOString()).slice(0, 5)}–
            {formatTimeOfDay(new Date(lastX * 1000).toISOString()).slice(0, 5)}
          </span>
        ) : null}
      </figcaption>
      {loadError ? <p class="muted">{loadError}</p> : null}
      <div class="usage-plot" role="img" aria-label={summary} ref={host} />
    </figure>
  );
}

function AgentUsage({ runs }: { runs: RunView[] }) {
  const rows = runs
    .filter((r) => r.agent && (r.agent.usage || typeof r.agent.costUsd === "number"))
    .sort((a, b) => (b.startedAt ?? "").localeCompare(a.startedAt ?? ""));
  if (rows.length === 0) return null;
  const num = (n: number | undefined) => (typeof n === "number" && Number.isFinite(n) ? n.toLocaleString() : "—");
  return (
    <div class="table-wrap">
      <table class="table" data-testid="usage-agent">
        <caption class="usage-subhead">Agent usage</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Agent</th>
            <th scope="col" class="num">
              Tokens in
            </th>
            <th scope="col" class="num">
              Tokens out
            </th>
            <th scope="col" class="num">
              Cost
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const a = r.agent ?? {};
            return (
              <tr key={runId(r) || i}>
                <td class="mono">{runId(r) || "—"}</td>
                <td>
                  {a.harness ?? "—"}
                  {a.model ? <span class="muted"> ({a.model})</span> : null}
                </td>
                <td class="num">{num(a.usage?.inputTokens)}</td>
                <td class="num">{num(a.usage?.outputTokens)}</td>
                <td class="num">
                  {typeof a.costUsd === "number" && Number.isFinite(a.costUsd) ? `$${a.costUsd.toFixed(4)}` : "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
