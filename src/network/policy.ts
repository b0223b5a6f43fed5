// Network policies: validation and normalisation of what a client asks for (Upstash Box's semantics).

import { invalidArgument } from "../errors.js";
import type { NetworkPolicy } from "../model/box.js";
import { ALWAYS_BLOCKED, type Cidr, cidrsOverlap, parseCidr, parseIpv4 } from "./cidr.js";

export interface CompiledPolicy {
  mode: NetworkPolicy["mode"];
  allowedDomains: string[];
  allowedCidrs: Cidr[];
  deniedCidrs: Cidr[];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function checkDomain(raw: string): string {
  const d = raw.trim().toLowerCase().replace(/\.$/, "");
  const name = d.startsWith("*.") ? d.slice(2) : d;
  const labels = name.split(".");
  const ok = d.length <= 253 && labels.length >= 1 && labels.every((l) => LABEL.test(l)) && !name.includes("*");
  if (!ok || d === "*" || (d.startsWith("*.") && labels.length < 1)) {
    throw invalidArgument(
      `allowedDomains entry "${raw}" is not valid: use an exact name (api.example.com) or a "*.suffix" wildcard (*.example.com); "*" alone and wildcards inside a name are not accepted`,
    );
  }
  return d;
}

function checkCidrs(list: string[] | undefined, field: string): Cidr[] {
  return (list ?? []).map((raw) => {
    const c = parseCidr(raw);
    if (!c) throw invalidArgument(`${field} entry "${raw}" is not an IPv4 address or CIDR range (e.g. 203.0.113.0/24)`);
    return c;
  });
}

/** Validates a policy; limits keep the firewall rules of one box small. */
export function compilePolicy(policy: NetworkPolicy): CompiledPolicy {
  if (policy.mode !== "custom") {
    if (policy.allowedDomains?.length || policy.allowedCidrs?.length || policy.deniedCidrs?.length) {
      throw invalidArgument(
        `allowedDomains/allowedCidrs/deniedCidrs only apply to mode "custom" (got "${policy.mode}")`,
      );
    }
    return { mode: policy.mode, allowedDomains: [], allowedCidrs: [], deniedCidrs: [] };
  }
  const allowedDomains = [...new Set((policy.allowedDomains ?? []).map(checkDomain))];
  const allowedCidrs = checkCidrs(policy.allowedCidrs, "allowedCidrs");
  const deniedCidrs = checkCidrs(policy.deniedCidrs, "deniedCidrs");
  if (allowedDomains.length > 100 || allowedCidrs.length > 100 || deniedCidrs.length > 100) {
    throw invalidArgument("at most 100 entries in each of allowedDomains, allowedCidrs, deniedCidrs");
  }
  return { mode: "custom", allowedDomains, allowedCidrs, deniedCidrs };
}

/** Notes for the caller about entries that are accepted but can never take effect. */
export function policyNotes(p: CompiledPolicy): string[] {
  const blocked = p.allowedCidrs
    .filter((c) => ALWAYS_BLOCKED.some((b) => cidrsOverlap(b, c)))
    .map(
      (c) =>
        `allowedCidrs ${c.text} overlaps a range boxes never reach (private, loopback, link-local/metadata, reserved): that part stays blocked`,
    );
  const addresses = p.allowedDomains
    .filter((d) => parseIpv4(d) !== null)
    .map(
      (d) => `allowedDomains ${d} is an IP address: addresses are allowed only by allowedCidrs (list ${d}/32 there)`,
    );
  return [...blocked, ...addresses];
}

export function domainAllowed(p: CompiledPolicy, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return p.allowedDomains.some((d) =>
    d.startsWith("*.") ? h.endsWith(d.slice(1)) && h.length > d.length - 1 : h === d,
  );
}
