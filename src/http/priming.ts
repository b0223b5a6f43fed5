// Priming events on POST streams, per session. MCP 2025-11-25 says a server that opens an SSE stream SHOULD
// first send an event with only an id and an empty data field (the SDK writes `id: 7\nretry: 1000\ndata: \n\n`),
// so that a client whose connection drops before the first real message still has a Last-Event-ID to resume
// from. The SDK already leaves it out for clients that negotiated an older version, whose parsers were never
// told to expect it. Some clients negotiate 2025-11-25 and still JSON-parse the data of every event, so every
// POST of theirs reports a transport error: the Vercel AI SDK's MCP client (`@ai-sdk/mcp`, 1.x and 2.x) is
// one, and it never resumes a POST stream either. Its sessions get no priming events; every real event keeps
// its id, so its Last-Event-ID resume of the GET stream (the one stream it does resume) is unchanged.
// This module only decides and applies that; it owns no other HTTP or MCP logic.
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

/** `clientInfo.name` values of clients that cannot parse a priming event (the AI SDK's default name). */
const CLIENT_NAMES = new Set(["ai-sdk-mcp-client"]);

/** The AI SDK adds `ai-sdk/<version>` to its User-Agent whatever name the application gives its client. */
const USER_AGENT = /(?:^|\s)ai-sdk\//;

function clientName(message: unknown): string | undefined {
  const params = (message as { params?: { clientInfo?: { name?: unknown } } } | null)?.params;
  const name = params?.clientInfo?.name;
  return typeof name === "string" ? name : undefined;
}

/**
 * Whether the client opening a session (its initialize request, alone or in a batch, and its User-Agent)
 * is known to fail on priming events.
 */
export function rejectsPriming(initialize: unknown, userAgent: string | undefined): boolean {
  if (userAgent && USER_AGENT.test(userAgent)) return true;
  const messages = Array.isArray(initialize) ? initialize : [initialize];
  return messages.some((m) => {
    const name = clientName(m);
    return name !== undefined && CLIENT_NAMES.has(name);
  });
}

interface PrimingHook {
  writePrimingEvent?: unknown;
}

/**
 * Makes a session's transport open its POST streams without the priming event. The SDK has no option for
 * it, so this replaces the one method that writes the event on the transport's inner web-standard
 * transport; returns false (nothing changed) when this SDK version has no such method.
 * test/unit/priming.test.ts fails on an SDK upgrade that moves it.
 */
export function withoutPriming(transport: StreamableHTTPServerTransport): boolean {
  const inner = (transport as unknown as { _webStandardTransport?: PrimingHook })._webStandardTransport;
  if (!inner || typeof inner.writePrimingEvent !== "function") return false;
  inner.writePrimingEvent = async () => {};
  return true;
}
