// The /mcp endpoint of the Streamable HTTP transport, for a request already past the Origin check and
// authenticated. An initialize without a session id opens a session (one McpServer and one SDK transport,
// with its own event store for resumability); every other request goes to the caller's session. The spec's
// session errors are answered here, before any transport sees the request: 400 without a session id (405
// for a GET: there is no stream to offer), 404
// for an unknown, expired or closed session, and 404 too for another tenant's session (a session id is not
// a credential, and its existence is not revealed to other tenants).
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../log.js";
import { readJsonBody } from "./body.js";
import type { EventBuffer } from "./event-store.js";
import type { OriginPolicy } from "./origin.js";
import { rejectsPriming, withoutPriming } from "./priming.js";
import { type Refusal, RPC_SESSION_NOT_FOUND, refuse } from "./replies.js";
import type { Session, SessionRegistry } from "./sessions.js";

export interface McpEndpointDeps {
  /** A new MCP server over the app's shared services (src/mcp/server.ts createServer). */
  newServer: () => { server: McpServer; close(): Promise<void> };
  sessions: SessionRegistry;
  events: EventBuffer;
  maxBodyBytes: number;
  /** The Origin/Host policy, also handed to the SDK's own DNS-rebinding check as a second wall. */
  policy: () => OriginPolicy;
  /** SSE `retry:` hint: how soon a client whose stream broke should reconnect. */
  retryMs: number;
  log: Logger;
}

export type AuthedRequest = IncomingMessage & { auth?: AuthInfo };

const SESSION_NOT_FOUND: Refusal = {
  status: 404,
  code: "NOT_FOUND",
  rpcCode: RPC_SESSION_NOT_FOUND,
  message: "session not found (unknown, expired or closed): initialize a new session",
};

const SESSION_REQUIRED: Refusal = {
  status: 400,
  code: "INVALID_ARGUMENT",
  message: "Mcp-Session-Id header is required: send initialize first, then its session id on every request",
};

// The spec lets a GET that gets no stream be answered only with 405; without a session there is no stream to
// offer. Clients that open their GET stream before initialize (the AI SDK's) take 405 as "no stream" quietly.
const NO_STREAM_WITHOUT_SESSION: Refusal = {
  status: 405,
  code: "INVALID_ARGUMENT",
  message: "no SSE stream without a session: POST initialize first, then GET with its Mcp-Session-Id",
  headers: { Allow: "POST" },
};

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** 256 random bits, visible ASCII only (the spec's rule for session ids). */
const newSessionId = () => randomBytes(32).toString("base64url");

export class McpEndpoint {
  constructor(private readonly deps: McpEndpointDeps) {}

  async handle(req: AuthedRequest, res: ServerResponse, tenant: string): Promise<void> {
    switch (req.method) {
      case "POST":
        return this.post(req, res, tenant);
      case "GET":
      case "DELETE":
        return this.existing(req, res, tenant);
      default:
        return refuse(res, {
          status: 405,
          code: "INVALID_ARGUMENT",
          message: `method ${req.method} is not used by MCP: POST, GET or DELETE`,
          headers: { Allow: "GET, POST, DELETE" },
        });
    }
  }

  private async post(req: AuthedRequest, res: ServerResponse, tenant: string): Promise<void> {
    const read = await readJsonBody(req, this.deps.maxBodyBytes);
    if (!read.ok) return refuse(res, read.refusal);
    const sessionId = header(req, "mcp-session-id");
    if (sessionId) {
      const session = this.deps.sessions.get(sessionId, tenant);
      if (!session) return refuse(res, SESSION_NOT_FOUND);
      return this.forward(session, req, res, read.body, true);
    }
    const body = read.body;
    const initializes = Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
    if (!initializes) return refuse(res, SESSION_REQUIRED);
    return this.open(req, res, body, tenant);
  }

  private async existing(req: AuthedRequest, res: ServerResponse, tenant: string): Promise<void> {
    const sessionId = header(req, "mcp-session-id");
    if (!sessionId) return refuse(res, req.method === "GET" ? NO_STREAM_WITHOUT_SESSION : SESSION_REQUIRED);
    const session = this.deps.sessions.get(sessionId, tenant);
    if (!session) return refuse(res, SESSION_NOT_FOUND);
    const lastEventId = req.method === "GET" ? header(req, "last-event-id") : undefined;
    if (lastEventId && !session.events.has(lastEventId)) {
      return refuse(res, {
        status: 400,
        code: "INVALID_ARGUMENT",
        message: `event ${lastEventId} is no longer kept (BOXD_HTTP_EVENT_BUFFER_BYTES): box_run_get returns a run's whole output`,
      });
    }
    return this.forward(session, req, res, undefined, false);
  }

  /** Opens a session for an initialize request; it is registered once the SDK has accepted the initialize. */
  private async open(req: AuthedRequest, res: ServerResponse, body: unknown, tenant: string): Promise<void> {
    const admission = await this.deps.sessions.admit(tenant);
    if (!admission.ok) {
      return refuse(res, {
        status: 503,
        code: "LIMIT_EXCEEDED",
        message: `no new session now: ${admission.why}; retry later, and end unused sessions (DELETE /mcp)`,
        headers: { "Retry-After": "5" },
      });
    }
    const { sessions, log } = this.deps;
    const events = this.deps.events.forSession();
    const mcp = this.deps.newServer();
    const policy = this.deps.policy();
    const priming = !rejectsPriming(body, header(req, "user-agent"));
    let session: Session | null = null;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      events.close();
      if (session) sessions.remove(session.id);
      await mcp.close().catch(() => {});
    };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: newSessionId,
      eventStore: events,
      retryInterval: this.deps.retryMs,
      // The same lists src/http/origin.ts already enforced for every request; kept on as a second wall.
      enableDnsRebindingProtection: true,
      allowedOrigins: [...policy.origins],
      allowedHosts: policy.hosts ? [...policy.hosts] : undefined,
      onsessioninitialized: (id) => {
        const now = Date.now();
        session = { id, tenant, transport, events, createdAt: now, lastActiveAt: now, inflight: 0, close };
        sessions.add(session);
        admission.release();
        log.debug("session opened", { session: id.slice(0, 8), tenant, priming, sessions: sessions.size });
      },
    });
    if (!priming && !withoutPriming(transport)) log.warn("cannot turn off priming events with this SDK version");
    // Set before connect(): the SDK chains its own close handling after ours. Covers DELETE and errors.
    transport.onclose = () => void close();
    try {
      await mcp.server.connect(transport);
      await this.forward(null, req, res, body, true, transport);
    } finally {
      admission.release();
      // The SDK refused the initialize (or it failed): nothing was registered, so free what was made.
      if (!session) await close();
    }
  }

  private async forward(
    session: Session | null,
    req: AuthedRequest,
    res: ServerResponse,
    body: unknown,
    inflight: boolean,
    transport: StreamableHTTPServerTransport | undefined = session?.transport,
  ): Promise<void> {
    if (!transport) return refuse(res, SESSION_NOT_FOUND);
    const { sessions } = this.deps;
    sessions.begin(session, inflight);
    // 'close' fires once the response has ended or the client went away: either way the request is over.
    res.once("close", () => sessions.end(session, inflight));
    await transport.handleRequest(req, res, body);
  }
}
