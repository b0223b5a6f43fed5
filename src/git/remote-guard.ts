// Where server-side git may connect. git runs on the server, outside every box's firewall, so a remote URL
// is a caller's way to make the server connect somewhere: to its own loopback services, private networks,
// cloud metadata. Before each git command the remote's host is resolved here (through the system resolver,
// as git would), the addresses are checked, and git is pinned to the checked one (http(s): curl's resolve
// list; git://: the literal address in the URL), so a DNS answer that changes between the check and git's
// own lookup changes nothing. Redirects are not followed by git: remote-ops asks probeRedirect for the
// target and checks it like a new remote.
//
// Blocked: the egress proxy's always-blocked IPv4 ranges (loopback, private, link-local, CGNAT, ...), every
// IPv6 address outside global unicast, and every address of the server's own interfaces, unless the
// operator lists the host in BOXD_GIT_ALLOWED_HOSTS (a self-hosted git server). Every refusal and every
// connection failure gives one error, so a caller learns nothing about which ports are open where.
import { promises as dns, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { type AllowedHost, parseAllowedHost } from "../allowed-host.js";
import { BoxdError } from "../errors.js";
import { isAlwaysBlocked, parseIpv4 } from "../network/cidr.js";
import { hostAddresses } from "../network/host-addresses.js";
import type { RemoteUrl } from "./remote-url.js";

export { type AllowedHost, parseAllowedHost };

export interface PinnedRemote {
  url: RemoteUrl;
  address: string;
  family: 4 | 6;
}

type Lookup = (host: string) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (host) => dns.lookup(host, { all: true, verbatim: true });

// IPv6 is allowed only in global unicast (2000::/3), minus documentation space and the tunnels that carry
// an IPv4 address inside (6to4, Teredo). IPv4-mapped addresses are judged by their IPv4 part.
const V6_GLOBAL = new net.BlockList();
V6_GLOBAL.addSubnet("2000::", 3, "ipv6");
const V6_BLOCKED = new net.BlockList();
V6_BLOCKED.addSubnet("2001:db8::", 32, "ipv6");
V6_BLOCKED.addSubnet("2002::", 16, "ipv6");
V6_BLOCKED.addSubnet("2001::", 32, "ipv6");

export function isPublic(address: string, family: 4 | 6): boolean {
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : address;
  if (mapped !== undefined) {
    const n = parseIpv4(mapped);
    return n !== null && !isAlwaysBlocked(n);
  }
  return V6_GLOBAL.check(address, "ipv6") && !V6_BLOCKED.check(address, "ipv6");
}

/** The one error for a remote boxd will not connect to and for a connection that failed. */
export function unreachable(op: string, url: RemoteUrl): BoxdError {
  return new BoxdError(
    "NOT_FOUND",
    `${op} ${url.href} failed: cannot reach ${url.host} from the server: the connection was refused or the host is unreachable (server-side git never connects to loopback, private, link-local or the server's own addresses unless the operator lists the host in BOXD_GIT_ALLOWED_HOSTS)`,
  );
}

export class RemoteGuard {
  constructor(
    private readonly allowed: AllowedHost[],
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /** Resolves the remote's host and picks an address git may connect to, or throws `unreachable`. */
  async check(url: RemoteUrl, op: string): Promise<PinnedRemote> {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const literal = net.isIP(host);
    const found = literal
      ? [{ address: host, family: literal }]
      : await this.lookup(host).catch((): LookupAddress[] => []);
    const own = hostAddresses();
    for (const { address, family } of found) {
      const fam = family === 6 ? 6 : 4;
      const permitted = this.allows(url, address, fam) || (isPublic(address, fam) && !own.check(address, `ipv${fam}`));
      if (permitted) return { url, address, family: fam };
    }
    throw unreachable(op, url);
  }

  private allows(url: RemoteUrl, address: string, family: 4 | 6): boolean {
    return this.allowed.some(
      (a) =>
        (a.port === undefined || a.port === url.port) &&
        (a.name !== undefined ? a.name === url.hostname : !!a.addresses?.check(address, `ipv${family}`)),
    );
  }
}

/**
 * What git gets for a checked remote: the URL to use and command-scope config. http(s) names are pinned
 * with curl's resolve list (the name stays in the URL, so TLS still verifies it); git:// URLs carry the
 * address itself. Redirects are never followed by git (remote-ops follows them after a new check).
 */
export function pinnedGit(pin: PinnedRemote): { href: string; config: [string, string][] } {
  const config: [string, string][] = [["http.followRedirects", "false"]];
  const literal = pin.family === 6 ? `[${pin.address}]` : pin.address;
  if (pin.url.protocol === "git:") {
    const u = new URL(pin.url.href);
    u.hostname = literal;
    return { href: u.href, config };
  }
  if (!net.isIP(pin.url.hostname.replace(/^\[(.*)\]$/, "$1"))) {
    config.push(["http.curloptResolve", `${pin.url.hostname}:${pin.url.port}:${literal}`]);
  }
  return { href: pin.url.href, config };
}

const PROBE_TIMEOUT_MS = 15_000;

/**
 * Where a remote's first smart-HTTP request redirects to (the new repository URL, with git's
 * "info/refs?service=..." tail removed as git does), asked of the checked address; null when it does not
 * redirect there, or not to a URL of that shape. Sends no credentials; TLS is verified as usual.
 */
export function probeRedirect(pin: PinnedRemote, service: string): Promise<string | null> {
  const tail = `info/refs?service=${service}`;
  const base = pin.url.href.endsWith("/") ? pin.url.href : `${pin.url.href}/`;
  const target = new URL(tail, base);
  const lookup = (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
    o.all ? cb(null, [{ address: pin.address, family: pin.family }]) : cb(null, pin.address, pin.family);
  const get = target.protocol === "https:" ? https.get : http.get;
  return new Promise((resolve) => {
    const req = get(target, { lookup: lookup as never, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const location = status >= 300 && status < 400 ? res.headers.location : undefined;
      const next = location ? new URL(location, target).href : "";
      resolve(next.endsWith(`/${tail}`) ? next.slice(0, -tail.length - 1) : null);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
  });
}
