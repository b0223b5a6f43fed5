// IPv4 addresses and CIDR ranges: parsing, membership, and the ranges no box may ever reach.

export interface Cidr {
  text: string;
  base: number;
  bits: number;
}

export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

export function parseCidr(text: string): Cidr | null {
  const [ip, bitsText, extra] = text.trim().split("/");
  if (extra !== undefined || ip === undefined) return null;
  const addr = parseIpv4(ip);
  const bits = bitsText === undefined ? 32 : /^\d{1,2}$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (addr === null || !(bits >= 0 && bits <= 32)) return null;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const base = (addr & mask) >>> 0;
  return { text: `${formatIpv4(base)}/${bits}`, base, bits };
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export function cidrContains(c: Cidr, addr: number): boolean {
  const mask = c.bits === 0 ? 0 : (0xffffffff << (32 - c.bits)) >>> 0;
  return (addr & mask) >>> 0 === c.base;
}

/** Two ranges overlap when one contains the other's base. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}

/**
 * Never reachable from a box, whatever its policy says: this host and its loopback, private ranges
 * (RFC 1918), CGNAT, link-local (cloud metadata lives at 169.254.169.254), "this network", multicast and
 * reserved space. Other boxes live in private ranges too, so box-to-box traffic is covered.
 */
export const ALWAYS_BLOCKED = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map((c) => parseCidr(c) as Cidr);

export function isAlwaysBlocked(addr: number): boolean {
  return ALWAYS_BLOCKED.some((c) => cidrContains(c, addr));
}
