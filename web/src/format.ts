// Formatting helpers: all output is plain text (rendered by Preact as text nodes).
import type { BoxView, RunView } from "./api";

export function formatBytes(n: number | null | undefined): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i === 0 || v >= 100 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits)} ${units[i]}`;
}

export function formatCpuSeconds(ns: number | null | undefined): string {
  if (typeof ns !== "number" || !Number.isFinite(ns)) return "—";
  const s = ns / 1e9;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 1000) return `${s.toFixed(1)} s`;
  return `${Math.round(s).toLocaleString()} s`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "42s", "5m", "3h", "2d" since the given time (or "—"). */
export function formatAge(iso: string | null | undefined, now = Date.now()): string {
  const t = parseTime(iso);
  if (t === null) return "—";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  const age = formatAge(iso, now);
  return age === "—" ? age : `${age} ago`;
}

export function formatDateTime(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return iso ? String(iso) : "—";
  return new Date(t).toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function formatTimeOfDay(iso: string | null | undefined): string {
  const t = parseTime(iso);
  if (t === null) return "";
  const d = new Date(t);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatSize(box: BoxView): string {
  const l = box.limits;
  if (l && (typeof l.cpus === "number" || typeof l.memoryBytes === "number")) {
    const parts: string[] = [];
    if (typeof l.cpus === "number") parts.push(`${l.cpus} CPU`);
    if (typeof l.memoryBytes === "number") parts.push(formatBytes(l.memoryBytes));
    return parts.join(" · ");
  }
  return box.size ?? "—";
}

export function runId(run: RunView): string {
  return run.runId ?? run.id ?? "";
}

export function runDurationMs(run: RunView, now = Date.now()): number | null {
  if (typeof run.durationMs === "number") return run.durationMs;
  const start = parseTime(run.startedAt);
  if (start === null) return null;
  const end = parseTime(run.endedAt ?? run.completedAt);
  if (end !== null) return end - start;
  return run.status === "running" ? now - start : null;
}

/** Known statuses get their own badge colour; anything else gets the neutral one. */
const KNOWN = new Set([
  "creating",
  "idle",
  "running",
  "paused",
  "stopped",
  "error",
  "deleted",
  "completed",
  "failed",
  "cancelled",
]);

export function statusClass(status: string | undefined): string {
  return `badge badge-${status && KNOWN.has(status) ? status : "other"}`;
}
