// The web console's JSON API under /console/api (the page in web/ is its only intended client): sign-in
// with a tenant's bearer token (exchanged for a session cookie), the tenant's boxes and one box with its
// runs, the live streams, and the actions (pause, resume, snapshot, delete). Every box is resolved for the
// session's tenant, so another tenant's box id is a 404 like an unknown one. Writes need the header
// X-Boxd-Console: 1, which no cross-site form can send and a cross-site script can only send after a CORS
// preflight this server never grants; the session cookie is SameSite=Strict besides.
import type { IncomingMessage, ServerResponse } from "node:http";
import { BoxdError, type ErrorCode } from "../errors.js";
import { readJsonBody } from "../http/body.js";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import { fileViews } from "./console-files.js";
import { ConsoleSessions, clearedCookie, sessionCookie } from "./console-sessions.js";
import { SECURITY_HEADERS } from "./console-static.js";
import { streamBoxList, streamBoxLog } from "./console-streams.js";

/** Who may sign in: a token's tenant, or null for a wrong token. */
export type TokenCheck = (token: string) => string | null;

export interface ConsoleApiDeps {
  services: Services;
  checkToken: TokenCheck;
  log: Logger;
  /** Set the cookie's Secure flag (the console is reached over HTTPS through a proxy). */
  secureCookie: boolean;
}

const STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  TIMEOUT: 504,
  POLICY_DENIED: 403,
  LIMIT_EXCEEDED: 429,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ENGINE_UNAVAILABLE: 503,
  INTERNAL: 500,
};
const MAX_BODY = 16 * 1024;
/** Wrong tokens allowed per client address per minute before sign-in answers 429 (guessing is slow). */
const MAX_FAILED_SIGN_INS = 10;
const RUNS_SHOWN = 50;

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export class ConsoleApi {
  readonly sessions = new ConsoleSessions();
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly deps: ConsoleApiDeps) {}

  /** Handles a request whose path starts with /console/api/. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      const reply = await this.route(req, res, path);
      if (reply) send(res, reply);
    } catch (err) {
      const e = err instanceof BoxdError ? err : null;
      if (!e) this.deps.log.error("console request failed", { path, error: String(err) });
      send(res, fail(e?.code ?? "INTERNAL", e?.message ?? "unexpected failure (see the server log)"));
    }
  }

  /** The reply, or null when the handler answered itself (a stream). */
  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<Reply | null> {
    const method = req.method ?? "GET";
    const write = method !== "GET" && method !== "HEAD";
    if (write && req.headers["x-boxd-console"] !== "1") {
      return fail("FORBIDDEN", "console writes need the header X-Boxd-Console: 1");
    }
    if (path === "/console/api/session") return this.session(req, method);
    const tenant = this.sessions.tenantOf(req.headers.cookie);
    if (!tenant) return fail("UNAUTHENTICATED", "sign in first");
    const s = this.deps.services;
    if (path === "/console/api/boxes" && method === "GET") return ok({ boxes: s.boxes.list(tenant) });
    if (path === "/console/api/events" && method === "GET") {
      streamBoxList(req, res, SECURITY_HEADERS, () => s.boxes.list(tenant));
      return null;
    }
    const m = /^\/console\/api\/boxes\/([^/]+)(?:\/([a-z]+)(?:\/([^/]+))?)?$/.exec(path);
    if (!m) return fail("NOT_FOUND", `no ${path} in the console's API`);
    const box = s.boxes.resolve(tenant, decodePart(m[1] ?? ""));
    const action = m[2] ?? "";
    if (m[3] && action !== "runs") return fail("NOT_FOUND", `no ${path} in the console's API`);
    if (method === "GET" && action === "") {
      const runs = s.runs.page(tenant, box.id, { limit: RUNS_SHOWN }).items;
      const snapshots = s.snapshots.list(tenant, box.id);
      return ok({ box: s.boxes.view(box), runs, snapshots, exposures: s.previews.list(tenant, box.id).exposed });
    }
    if (method === "GET") {
      const files = await fileViews(s, tenant, box.id, action, req, res);
      if (files) return files.status === 0 ? null : files;
    }
    if (method === "GET" && action === "usage") return ok({ samples: s.usageHistory(box.id) });
    if (method === "GET" && action === "runs" && m[3]) return ok({ run: await runView(s, box.id, decodePart(m[3])) });
    if (method === "GET" && action === "log") {
      streamBoxLog(req, res, SECURITY_HEADERS, s.boxLog, box.id);
      return null;
    }
    if (method === "DELETE" && action === "") return ok(await s.boxes.delete(tenant, box.id));
    if (method === "POST" && action === "pause") return ok({ box: await s.lifecycle.pause(tenant, box.id) });
    if (method === "POST" && action === "resume") return ok({ box: (await s.lifecycle.resume(tenant, box.id)).box });
    if (method === "POST" && action === "snapshot") {
      const body = await readJsonBody(req, MAX_BODY);
      const name =
        body.ok && typeof (body.body as { name?: unknown })?.name === "string"
          ? (body.body as { name: string }).name
          : undefined;
      return ok({ snapshot: await s.snapshots.create(tenant, box.id, name) });
    }
    return fail("NOT_FOUND", `no ${method} ${path} in the console's API`);
  }

  /** Sign in (POST {token}), who am I (GET), sign out (DELETE). */
  private async session(req: IncomingMessage, method: string): Promise<Reply> {
    if (method === "GET") {
      const tenant = this.sessions.tenantOf(req.headers.cookie);
      return tenant ? ok({ tenant }) : fail("UNAUTHENTICATED", "sign in first");
    }
    if (method === "DELETE") {
      this.sessions.close(req.headers.cookie);
      return { status: 204, headers: { "Set-Cookie": clearedCookie } };
    }
    if (method !== "POST") return fail("NOT_FOUND", `no ${method} on the console's session`);
    const from = req.socket.remoteAddress ?? "";
    if (this.throttled(from)) return fail("LIMIT_EXCEEDED", "too many wrong tokens from here: wait a minute");
    const body = await readJsonBody(req, MAX_BODY);
    const token = body.ok ? (body.body as { token?: unknown })?.token : undefined;
    if (typeof token !== "string" || token.length === 0 || token.length > 4096) {
      return fail("INVALID_ARGUMENT", 'send { "token": "<your bearer token>" }');
    }
    const tenant = this.deps.checkToken(token);
    if (!tenant) {
      this.noteFailure(from);
      this.deps.log.info("console sign-in refused", { from });
      return fail("UNAUTHENTICATED", "that token is not valid here");
    }
    const session = this.sessions.open(tenant);
    return {
      status: 200,
      body: { tenant },
      headers: { "Set-Cookie": sessionCookie(session.id, session.maxAgeSeconds, this.deps.secureCookie) },
    };
  }

  private throttled(from: string, now = Date.now()): boolean {
    const f = this.failures.get(from);
    if (f && now - f.since > 60_000) this.failures.delete(from);
    return (this.failures.get(from)?.count ?? 0) >= MAX_FAILED_SIGN_INS;
  }

  private noteFailure(from: string, now = Date.now()): void {
    if (this.failures.size > 10_000) this.failures.clear();
    const f = this.failures.get(from) ?? { count: 0, since: now };
    f.count++;
    this.failures.set(from, f);
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body });

/** A run with its output as text (kept output: a run's record holds the first and last of a long one). */
async function runView(s: Services, boxId: string, runId: string) {
  const { stdout, stderr, ...run } = await s.runs.get(boxId, runId);
  return { ...run, stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8") };
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BoxdError("INVALID_ARGUMENT", "the box in the path is not valid percent-encoding");
  }
}

function fail(code: ErrorCode, message: string): Reply {
  return { status: STATUS[code], body: { error: { code, message } } };
}

function send(res: ServerResponse, r: Reply): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = r.body === undefined ? "" : JSON.stringify(r.body);
  res.writeHead(r.status, {
    ...(body ? { "Content-Type": "application/json" } : {}),
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    ...SECURITY_HEADERS,
    ...r.headers,
  });
  res.end(body);
}
