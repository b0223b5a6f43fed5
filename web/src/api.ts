// The console API client: JSON over fetch with the session cookie, and EventSource streams.
// Every write sends X-Boxd-Console: 1 and Content-Type: application/json (the server's CSRF check).

export const API = "/console/api";

export interface BoxLimits {
  cpus?: number;
  memoryBytes?: number;
  diskBytes?: number;
}

export interface BoxUsage {
  cpuNs?: number;
  memoryPeakBytes?: number;
  memoryBytes?: number;
  runs?: number;
  diskUsedBytes?: number;
  prompts?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

export interface NetworkPolicy {
  mode?: string;
  allowedDomains?: string[];
  allowedCidrs?: string[];
  deniedCidrs?: string[];
}

/** What the server sends for a box (src/model/box.ts BoxView); every field is read defensively. */
export interface BoxView {
  id: string;
  name: string;
  runtime?: string;
  runtimeVersion?: string;
  size?: string;
  status?: string;
  statusReason?: string;
  keepAlive?: boolean;
  idleTimeoutSeconds?: number;
  networkPolicy?: NetworkPolicy;
  image?: string;
  createdAt?: string;
  lastActiveAt?: string;
  pausedAt?: string;
  pauseKind?: string;
  fromSnapshot?: string;
  labels?: Record<string, string>;
  envKeys?: string[];
  limits?: BoxLimits | null;
  usage?: BoxUsage;
  expiresAt?: string | null;
  isolation?: string;
  root?: boolean;
}

export interface RunView {
  id?: string;
  runId?: string;
  type?: string;
  command?: string;
  status?: string;
  exitCode?: number | null;
  timedOut?: boolean;
  startedAt?: string;
  endedAt?: string | null;
  completedAt?: string | null;
  durationMs?: number | null;
  reason?: string | null;
  /** Agent runs only (src/model/box.ts AgentRunInfo): what the agent reported it used. */
  agent?: AgentRunInfo;
}

/** A run with its kept output as text (GET .../runs/<runId>): a long stream keeps its first and last bytes. */
export interface RunOutputView extends RunView {
  stdout?: string;
  stderr?: string;
  /** Bytes each stream produced in all (more than kept when the run passed the record's cap). */
  stdoutProduced?: number;
  stderrProduced?: number;
}

export interface AgentRunInfo {
  harness?: string;
  model?: string | null;
  usage?: { inputTokens?: number; outputTokens?: number; cachedInputTokens?: number } | null;
  costUsd?: number | null;
}

/** One usage meter pass: the box's total CPU time so far and its memory in use then. */
export interface UsageSample {
  at: string;
  cpuNs: number;
  memoryBytes: number;
}

export interface SnapshotView {
  id: string;
  name?: string;
  status?: string;
  sizeBytes?: number;
  createdAt?: string;
  reason?: string;
}

/** An exposed port (its token or password, if the server sends one, is never shown). */
export interface ExposureView {
  port: number;
  url?: string;
  auth?: string;
  createdAt?: string;
}

export interface FileEntry {
  name: string;
  path: string;
  type: "file" | "directory" | "symlink" | "other" | string;
  size?: number;
  mode?: string;
  modifiedAt?: string;
}

export interface Listing {
  path: string;
  entries?: FileEntry[];
  truncated?: boolean;
}

export interface FileText {
  path: string;
  size?: number;
  binary?: boolean;
  truncated?: boolean;
  text?: string;
}

export interface BoxResponse {
  box: BoxView;
  runs?: RunView[];
  snapshots?: SnapshotView[];
  exposures?: ExposureView[];
}

export interface LogEntry {
  seq: number;
  ts?: string;
  level?: string;
  source?: string;
  message?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let onUnauthorized: () => void = () => {};

/** Called on any 401 (except a failed sign-in, which shows its own message). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type Method = "GET" | "POST" | "DELETE";

async function request<T>(method: Method, path: string, body?: unknown, opts: { signIn?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") {
    headers["X-Boxd-Console"] = "1";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  let res: Response;
  try {
    res = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, "network", "Could not reach the boxd server.");
  }
  let data: unknown = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const message =
      typeof err?.message === "string" && err.message ? err.message : `Request failed (HTTP ${res.status}).`;
    const code = typeof err?.code === "string" ? err.code : `http_${res.status}`;
    if (res.status === 401 && !opts.signIn) onUnauthorized();
    throw new ApiError(res.status, code, message);
  }
  return data as T;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export const api = {
  session: () => request<{ tenant?: string }>("GET", "/session"),
  signIn: (token: string) => request<{ tenant?: string }>("POST", "/session", { token }, { signIn: true }),
  signOut: () => request<unknown>("DELETE", "/session"),
  boxes: () => request<{ boxes?: BoxView[] }>("GET", "/boxes"),
  box: (id: string) => request<BoxResponse>("GET", `/boxes/${encodeURIComponent(id)}`),
  files: (id: string, path: string) =>
    request<Listing>("GET", `/boxes/${encodeURIComponent(id)}/files?path=${encodeURIComponent(path)}`),
  file: (id: string, path: string) =>
    request<FileText>("GET", `/boxes/${encodeURIComponent(id)}/file?path=${encodeURIComponent(path)}`),
  run: (id: string, runId: string) =>
    request<{ run?: RunOutputView }>("GET", `/boxes/${encodeURIComponent(id)}/runs/${encodeURIComponent(runId)}`),
  usage: (id: string) => request<{ samples?: UsageSample[] }>("GET", `/boxes/${encodeURIComponent(id)}/usage`),
  pause: (id: string) => request<unknown>("POST", `/boxes/${encodeURIComponent(id)}/pause`, {}),
  resume: (id: string) => request<unknown>("POST", `/boxes/${encodeURIComponent(id)}/resume`, {}),
  snapshot: (id: string, name?: string) =>
    request<Record<string, unknown> | null>("POST", `/boxes/${encodeURIComponent(id)}/snapshot`, name ? { name } : {}),
  deleteBox: (id: string) => request<unknown>("DELETE", `/boxes/${encodeURIComponent(id)}`),
};

export const streams = {
  events: () => `${API}/events`,
  log: (id: string) => `${API}/boxes/${encodeURIComponent(id)}/log`,
};

/** A file as an attachment (the server sends Content-Disposition: attachment). */
export function downloadUrl(id: string, path: string): string {
  return `${API}/boxes/${encodeURIComponent(id)}/download?path=${encodeURIComponent(path)}`;
}

/** The box's terminal (a WebSocket on the same origin). */
export function terminalUrl(id: string, cols: number, rows: number): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${API}/boxes/${encodeURIComponent(id)}/terminal?cols=${cols}&rows=${rows}`;
}
