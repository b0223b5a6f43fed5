// DNS-rebinding and cross-site defence of the HTTP transport, checked before anything else (even before the
// token), as the MCP transport spec asks. A web page the user visits can send requests to 127.0.0.1, and
// through DNS rebinding even under its own host name: so a request with an Origin that is not explicitly
// allowed is refused with 403, and on a loopback bind the Host header must name the loopback address and
// port we listen on. A request without Origin comes from a non-browser client and passes this check (its
// token is what lets it in).
import type { IncomingHttpHeaders } from "node:http";

export interface OriginPolicyInput {
  /** The address the server is bound to (BOXD_HTTP_HOST). */
  host: string;
  /** The port actually listened on. */
  port: number;
  /** BOXD_HTTP_ALLOWED_ORIGINS. */
  allowedOrigins: string[];
  /** BOXD_HTTP_ALLOWED_HOSTS. */
  allowedHosts: string[];
}

export interface OriginPolicy {
  origins: Set<string>;
  /** null: no Host check (bound to a non-loopback address with no BOXD_HTTP_ALLOWED_HOSTS). */
  hosts: Set<string> | null;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The loopback names a local client may use for a server on `port`. */
function loopbackAuthorities(host: string, port: number): string[] {
  const names = ["127.0.0.1", "localhost", "[::1]"];
  if (!names.includes(host) && host !== "::1") names.push(host);
  // Clients leave the default port out of Host and Origin.
  return names.flatMap((n) => (port === 80 ? [`${n}:${port}`, n] : [`${n}:${port}`]));
}

export function originPolicy(input: OriginPolicyInput): OriginPolicy {
  const origins = new Set<string>();
  for (const o of input.allowedOrigins) origins.add(normalizeOrigin(o));
  const loopback = isLoopbackHost(input.host);
  if (loopback) {
    for (const a of loopbackAuthorities(input.host, input.port)) origins.add(`http://${a}`);
  }
  const configuredHosts = input.allowedHosts.map((h) => h.toLowerCase());
  const hosts = loopback
    ? new Set([...loopbackAuthorities(input.host, input.port), ...configuredHosts])
    : configuredHosts.length
      ? new Set(configuredHosts)
      : null;
  return { origins, hosts };
}

/** null when the request may go on; otherwise why it is refused (the caller answers 403). */
export function checkOrigin(policy: OriginPolicy, headers: IncomingHttpHeaders): string | null {
  if (policy.hosts) {
    const host = headers.host?.toLowerCase();
    if (!host || !policy.hosts.has(host)) {
      return `Host "${headers.host ?? ""}" is not one this server answers to (set BOXD_HTTP_ALLOWED_HOSTS to add one)`;
    }
  }
  const origin = headers.origin;
  if (origin === undefined) return null;
  // Node joins repeated Origin headers with ", ": such a value matches nothing and is refused.
  if (!policy.origins.has(origin.toLowerCase())) {
    return `Origin "${origin}" is not allowed (set BOXD_HTTP_ALLOWED_ORIGINS to allow a browser app)`;
  }
  return null;
}

function normalizeOrigin(o: string): string {
  try {
    return new URL(o).origin.toLowerCase();
  } catch {
    return o.toLowerCase();
  }
}
