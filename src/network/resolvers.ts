// The host's upstream resolvers: what the engine's DNS in each box forwards to when none is configured,
// and where the DNS gate sends allowed queries. Read in the network helper, so on the engine's host.
import { readFileSync } from "node:fs";

/** The nameservers of `file` other than loopback ones (those answer only on the host itself). */
export function hostResolvers(file = "/etc/resolv.conf"): string[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .map((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1])
      .filter((ip): ip is string => !!ip && !ip.startsWith("127."));
  } catch {
    return [];
  }
}
