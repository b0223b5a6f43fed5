// Host patterns an operator allows (BOXD_GIT_ALLOWED_HOSTS): a name, an IP address or a CIDR range,
// optionally with a port. Parsed by the config (to refuse a bad setting at start) and matched by the git
// remote guard; a leaf module (node:net only), so config does not depend on the git layer.
import net from "node:net";

/** One BOXD_GIT_ALLOWED_HOSTS entry: a host name, or addresses (IP or CIDR); optionally one port. */
export interface AllowedHost {
  text: string;
  name?: string;
  addresses?: net.BlockList;
  port?: number;
}

/** A BlockList of one address or one CIDR range, or null when `ip` is no IP address or `bits` out of range. */
function addressList(ip: string, bits?: number): net.BlockList | null {
  const family = net.isIPv4(ip) ? "ipv4" : net.isIPv6(ip) ? "ipv6" : null;
  if (!family || (bits !== undefined && !(bits >= 0 && bits <= (family === "ipv4" ? 32 : 128)))) return null;
  const list = new net.BlockList();
  if (bits === undefined) list.addAddress(ip, family);
  else list.addSubnet(ip, bits, family);
  return list;
}

/** Splits "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address into host and port text. */
function splitHostPort(text: string): [string, string | undefined] | null {
  if (net.isIPv6(text)) return [text, undefined];
  const m = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  return m ? [m[1] as string, m[2]] : null;
}

/** Parses "host", "host:port", "1.2.3.4", "1.2.3.4:port", "[::1]:port", "10.0.0.0/8", "fd00::/8"; null if none. */
export function parseAllowedHost(entry: string): AllowedHost | null {
  const text = entry.trim().toLowerCase();
  const cidr = /^([0-9a-f:.]+)\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const list = addressList(cidr[1] as string, Number(cidr[2]));
    return list ? { text, addresses: list } : null;
  }
  const split = splitHostPort(text);
  if (!split) return null;
  const [host, p] = split;
  const port = p === undefined ? undefined : Number(p);
  if (port !== undefined && !(port >= 1 && port <= 65535)) return null;
  if (net.isIP(host)) {
    const list = addressList(host);
    return list ? { text, addresses: list, port } : null;
  }
  if (!/^[a-z0-9]/.test(host) || /\.\.|^[\d.]+$/.test(host)) return null;
  return { text, name: host, port };
}
