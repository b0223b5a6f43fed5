// Where a run's webhook may go. The server makes the request, outside every box's firewall, so a webhook
// URL is a caller's way to make the server connect somewhere: its own loopback services, private networks,
// cloud metadata. A URL is checked when the run is asked for (a refusal is INVALID_ARGUMENT at once) and
// again before each delivery attempt, whose connection is pinned to the address just checked (a DNS answer
// that changes in between changes nothing). Allowed: public addresses (as for server-side git), or hosts
// the operator lists in BOXD_WEBHOOK_ALLOWED_HOSTS (a receiver on a private network or loopback).
import { promises as dns, type LookupAddress } from "node:dns";
import net from "node:net";
import type { AllowedHost } from "../allowed-host.js";
import { invalidArgument } from "../errors.js";
import { isPublic } from "../git/remote-guard.js";
import { hostAddresses } from "../network/host-addresses.js";

export interface WebhookTarget {
  url: URL;
  headers: Record<string, string>;
}

export interface PinnedTarget extends WebhookTarget {
  address: string;
  family: 4 | 6;
}

const MAX_URL = 2048;
const MAX_HEADERS = 20;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Headers the server sets itself (framing, the body's type) or that would change where the request goes. */
const RESERVED = new Set(["host", "content-length", "content-type", "transfer-encoding", "connection", "upgrade"]);

type Lookup = (host: string) => Promise<LookupAddress[]>;
const systemLookup: Lookup = (host) => dns.lookup(host, { all: true, verbatim: true });

export class WebhookGuard {
  constructor(
    private readonly allowed: AllowedHost[],
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /** Checks a webhook URL and headers as a caller passed them; the refusal says what to pass instead. */
  async check(rawUrl: string, headers: Record<string, string> = {}): Promise<WebhookTarget> {
    const url = parseUrl(rawUrl);
    const target = { url, headers: checkHeaders(headers) };
    await this.pin(target);
    return target;
  }

  /** Resolves the target's host and picks an address it may connect to, or throws INVALID_ARGUMENT. */
  async pin(target: WebhookTarget): Promise<PinnedTarget> {
    const host = target.url.hostname.replace(/^\[(.*)\]$/, "$1");
    const literal = net.isIP(host);
    const found = literal ? [{ address: host, family: literal }] : await this.lookup(host).catch(() => []);
    if (found.length === 0) throw invalidArgument(`webhookUrl host ${host} does not resolve: pass a reachable URL`);
    const own = hostAddresses();
    for (const { address, family } of found) {
      const fam = family === 6 ? 6 : 4;
      if (this.allows(target.url, address, fam) || (isPublic(address, fam) && !own.check(address, `ipv${fam}`))) {
        return { ...target, address, family: fam };
      }
    }
    throw invalidArgument(
      `webhookUrl ${target.url.origin} leads to a loopback, private, link-local (metadata) or the server's own address: boxd does not send webhooks there unless the operator lists the host in BOXD_WEBHOOK_ALLOWED_HOSTS; pass a public URL`,
    );
  }

  private allows(url: URL, address: string, family: 4 | 6): boolean {
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    return this.allowed.some(
      (a) =>
        (a.port === undefined || a.port === port) &&
        (a.name !== undefined ? a.name === url.hostname : !!a.addresses?.check(address, `ipv${family}`)),
    );
  }
}

function parseUrl(raw: string): URL {
  if (typeof raw !== "string" || raw.length > MAX_URL) {
    throw invalidArgument(`webhookUrl must be an http(s) URL of at most ${MAX_URL} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument("webhookUrl is not a URL: pass e.g. https://example.com/hooks/boxd");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidArgument(`webhookUrl must use http or https, not ${url.protocol.replace(/:$/, "")}`);
  }
  if (url.username || url.password) {
    throw invalidArgument("webhookUrl must not carry credentials: pass them in webhookHeaders (e.g. Authorization)");
  }
  return url;
}

function checkHeaders(headers: Record<string, string>): Record<string, string> {
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) throw invalidArgument(`webhookHeaders: at most ${MAX_HEADERS} headers`);
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name)) throw invalidArgument(`webhookHeaders: "${name.slice(0, 40)}" is not a header name`);
    if (RESERVED.has(name.toLowerCase())) throw invalidArgument(`webhookHeaders: ${name} is set by boxd itself`);
    if (typeof value !== "string" || /[\r\n\0]/.test(value) || value.length > 4096) {
      throw invalidArgument(`webhookHeaders: the value of ${name} must be one line of at most 4096 characters`);
    }
  }
  return { ...headers };
}
