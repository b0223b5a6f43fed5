// `boxd serve --http`: MCP over Streamable HTTP at /mcp, liveness at /healthz, on node:http. This file owns
// the server's lifecycle and the order every /mcp request goes through: Origin/Host check (403), shutdown
// (503), bearer token (401), then the endpoint (src/http/mcp-endpoint.ts). Tokens, origins, sessions, bodies
// and the event store live in src/http/, one concept per file.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type App, createApp } from "../app.js";
import type { Config } from "../config.js";
import { configSections } from "../config-sections.js";
import { invalidArgument } from "../errors.js";
import { TokenTable } from "../http/auth.js";
import { EventBuffer } from "../http/event-store.js";
import { type AuthedRequest, McpEndpoint } from "../http/mcp-endpoint.js";
import { checkOrigin, isLoopbackHost, type OriginPolicy, originPolicy } from "../http/origin.js";
import { refuse, sendJson } from "../http/replies.js";
import { SessionRegistry } from "../http/sessions.js";
import type { Logger } from "../log.js";
import { createServer, SERVER_VERSION } from "../mcp/server.js";
import type { ConsoleApi } from "../web-console/console-api.js";
import type { ConsoleStatic } from "../web-console/console-static.js";
import { createWebConsole, type WebConsole } from "../web-console/web-console.js";

export interface HttpServeOptions {
  /** `--insecure-no-auth`: serve without tokens (loopback only); every caller is tenant "local". */
  insecureNoAuth?: boolean;
  /** The result of authFromConfig() when the caller already checked it (null: no auth). */
  auth?: TokenTable | null;
}

export interface HttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:7077/mcp. */
  url: string;
  port: number;
  sessions: SessionRegistry;
  events: EventBuffer;
  /** Stops accepting, lets calls in flight finish for up to `graceMs`, then closes every session. */
  close(graceMs?: number): Promise<void>;
}

/** SSE `retry:` hint sent to clients: how soon to reconnect a broken stream (with Last-Event-ID). */
const RECONNECT_MS = 1000;

/** The token table, or null for --insecure-no-auth; refuses configurations that would expose boxd. */
export function authFromConfig(config: Config, opts: HttpServeOptions, log: Logger): TokenTable | null {
  const { host, tokens: tokenList, tokensFile } = configSections(config).http;
  const tokens = TokenTable.load({ tokens: tokenList, tokensFile });
  for (const w of tokens.warnings) log.warn(w);
  if (tokens.size > 0) {
    if (opts.insecureNoAuth) log.warn("--insecure-no-auth ignored: tokens are configured, and every request needs one");
    return tokens;
  }
  if (!opts.insecureNoAuth) {
    throw invalidArgument(
      'no HTTP tokens configured: set BOXD_TOKENS="<token>:<tenant>,..." or BOXD_TOKENS_FILE (a JSON { "<token>": "<tenant>" }); for a local experiment only, pass --insecure-no-auth (loopback host only)',
    );
  }
  if (!isLoopbackHost(host)) {
    throw invalidArgument(
      `--insecure-no-auth is refused on --host ${host}: anyone who reaches it would own your boxes; configure BOXD_TOKENS or bind to 127.0.0.1`,
    );
  }
  log.warn("serving WITHOUT authentication (--insecure-no-auth): any local process can use boxd, as tenant local");
  return null;
}

/** Serves the app over HTTP. Tenant limits are the app's own (set at its construction, for every transport). */
export async function startHttpServer(
  app: App,
  config: Config,
  log: Logger,
  opts: HttpServeOptions = {},
): Promise<HttpServer> {
  const tokens = opts.auth !== undefined ? opts.auth : authFromConfig(config, opts, log);
  const settings = configSections(config).http;
  const sessions = new SessionRegistry({
    idleMs: settings.sessionIdleMs,
    maxSessions: settings.maxSessions,
    maxPerTenant: settings.maxSessionsPerTenant,
    log: log.child("http"),
  });
  const events = new EventBuffer(settings.eventBufferBytes);
  const policyFor = (port: number) =>
    originPolicy({
      host: settings.host,
      port,
      allowedOrigins: settings.allowedOrigins,
      allowedHosts: settings.allowedHosts,
    });
  const state: RouteState = { policy: policyFor(settings.port), draining: false };
  const endpoint = new McpEndpoint({
    // Every HTTP client is remote, even on loopback: its roots are not this machine's folders.
    newServer: () => createServer(app.services, { remote: true }),
    sessions,
    events,
    maxBodyBytes: settings.maxBodyBytes,
    policy: () => state.policy,
    retryMs: RECONNECT_MS,
    log: log.child("http"),
  });
  const webConsole = createWebConsole({
    services: app.services,
    // A token's tenant; without tokens (--insecure-no-auth, loopback only) any sign-in is tenant "local".
    checkToken: (token) => (tokens ? tokens.tenantOf(token) : "local"),
    log: log.child("console"),
  });
  const handle = router(state, tokens, endpoint, webConsole);
  const server = nodeServer(handle, webConsole, state, log);
  const port = await listen(server, settings.port, settings.host);
  state.policy = policyFor(port);
  sessions.start();
  const drain = drainer(server, sessions, state, log, settings.shutdownGraceMs);
  const close = (graceMs?: number) => {
    webConsole.close();
    return drain(graceMs);
  };
  const shownHost = settings.host.includes(":") ? `[${settings.host}]` : settings.host;
  return { url: `http://${shownHost}:${port}/mcp`, port, sessions, events, close };
}

/** The node:http server: requests through `handle`; WebSocket upgrades to the console after the same Origin/Host check. */
function nodeServer(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  webConsole: WebConsole,
  state: RouteState,
  log: Logger,
): http.Server {
  const server = http.createServer(
    // Bounds what one slow client can hold: its headers within 30 s, its whole request within 2 min (an SSE
    // response is not bounded by this, only the request).
    { requestTimeout: 120_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 },
    (req: IncomingMessage, res: ServerResponse) => {
      handle(req, res).catch((err: unknown) => {
        log.error("HTTP request failed", { error: String(err), stack: (err as Error)?.stack });
        refuse(res, { status: 500, code: "INTERNAL", message: "unexpected failure (see the server log)" });
      });
    },
  );
  // WebSockets: only the console's terminal, after the same Origin/Host check as every request.
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = checkOrigin(state.policy, req.headers)
      ? "403 Forbidden"
      : state.draining
        ? "503 Service Unavailable"
        : null;
    webConsole.upgrade(req, socket, head, refused);
  });
  return server;
}

/** What the request order reads and shutdown changes: the Origin/Host policy (it names the bound port). */
interface RouteState {
  policy: OriginPolicy;
  draining: boolean;
}

/**
 * The request order for /mcp: Origin/Host (403), shutdown (503), bearer token (401), then the endpoint.
 * The web console (its API under /console/api, its page everywhere else) passes the same Origin/Host check.
 */
function router(
  state: RouteState,
  tokens: TokenTable | null,
  endpoint: McpEndpoint,
  web: { api: ConsoleApi; files: ConsoleStatic },
) {
  return async (req: AuthedRequest, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://boxd").pathname;
    if (path === "/healthz") return health(req, res, state.draining);
    const rejected = checkOrigin(state.policy, req.headers);
    if (rejected) return refuse(res, { status: 403, code: "FORBIDDEN", message: rejected });
    if (path.startsWith("/console/api/")) return web.api.handle(req, res, path);
    if (path !== "/mcp") {
      if (req.method === "GET" || req.method === "HEAD") return web.files.serve(res, path, req.method === "HEAD");
      return refuse(res, { status: 404, code: "NOT_FOUND", message: `no ${req.method} ${path} here: MCP is at /mcp` });
    }
    if (state.draining) {
      return refuse(res, {
        status: 503,
        code: "CONFLICT",
        message: "boxd is shutting down: retry in a moment",
        headers: { "Retry-After": "5", Connection: "close" },
      });
    }
    const tenant = tokens ? authenticate(tokens, req, res) : "local";
    if (tenant !== null) await endpoint.handle(req, res, tenant);
  };
}

/** The token's tenant (set on the request as `req.auth`), or null after answering 401. */
function authenticate(tokens: TokenTable, req: AuthedRequest, res: ServerResponse): string | null {
  const result = tokens.authenticate(req.headers.authorization);
  if ("reason" in result) {
    refuse(res, {
      status: 401,
      code: "UNAUTHENTICATED",
      message:
        result.reason === "missing"
          ? "this server needs a bearer token: send Authorization: Bearer <token>"
          : "the bearer token is not valid here",
      headers: {
        "WWW-Authenticate":
          result.reason === "missing" ? 'Bearer realm="boxd"' : 'Bearer realm="boxd", error="invalid_token"',
      },
    });
    return null;
  }
  req.auth = result.auth;
  return result.auth.clientId;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Shutdown: stop listening, answer 503 on kept-alive connections, wait (bounded) for calls in flight, then
 * close the sessions. Calling it again returns the same promise.
 */
function drainer(
  server: http.Server,
  sessions: SessionRegistry,
  state: RouteState,
  log: Logger,
  defaultGraceMs: number,
) {
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let closing: Promise<void> | null = null;
  return (graceMs = defaultGraceMs) => {
    closing ??= (async () => {
      state.draining = true;
      server.close();
      server.closeIdleConnections();
      const inflight = sessions.inflight;
      if (inflight > 0) log.info("waiting for calls in flight", { calls: inflight, graceMs });
      if (!(await sessions.waitIdle(graceMs))) {
        log.warn("calls still running after the grace period; closing their sessions (their runs go on in the boxes)", {
          calls: sessions.inflight,
        });
      }
      sessions.stop();
      await sessions.closeAll();
      server.closeAllConnections();
      await closed;
    })();
    return closing;
  };
}

function health(req: IncomingMessage, res: ServerResponse, draining: boolean): void {
  if (req.method !== "GET" && req.method !== "HEAD") {
    refuse(res, {
      status: 405,
      code: "INVALID_ARGUMENT",
      message: "use GET /healthz",
      headers: { Allow: "GET, HEAD" },
    });
    return;
  }
  sendJson(res, draining ? 503 : 200, { status: draining ? "draining" : "ok", name: "boxd", version: SERVER_VERSION });
}

/** `boxd serve --http`: runs until SIGTERM/SIGINT, then shuts down gracefully (boxes keep running). */
export async function serveHttp(config: Config, log: Logger, opts: HttpServeOptions = {}): Promise<void> {
  const auth = authFromConfig(config, opts, log); // fail before touching the engine or the data dir
  const app = await createApp(config, log);
  let server: HttpServer;
  try {
    server = await startHttpServer(app, config, log, { ...opts, auth });
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`shutting down (${why}): finishing calls in flight; boxes keep running`);
    await server.close().catch((err) => log.warn("HTTP shutdown failed", { error: String(err) }));
    await app.close().catch((err) => log.warn("closing the app failed", { error: String(err) }));
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  log.info(`boxd serving MCP over HTTP at ${server.url}`, {
    instance: app.instanceId,
    dataDir: config.dataDir,
    auth: auth ? `bearer tokens (${auth.tenants().length} tenants)` : "none (--insecure-no-auth)",
  });
}
