// Egress policy of every box: compiles policies, keeps the host firewall and the egress proxy in step with
// the boxes (create, delete, live policy changes, start-up), and answers the proxy's "whose connection is
// this?" by box address, and "which headers does it attach to this host?" (attachHeaders).
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { subnetAt } from "../box/network-pool.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxRecord, NetworkPolicy } from "../model/box.js";
import { type AttachHeaders, headersFor, injectHeaders, renderHeaders } from "../secrets/attach-headers.js";
import { parseIpv4 } from "./cidr.js";
import { DnsGate } from "./dns-gate.js";
import type { EgressCa } from "./egress-ca.js";
import { EgressProxy } from "./egress-proxy.js";
import { bridgeName, Firewall, type ProxyPorts } from "./firewall.js";
import { type CompiledPolicy, compilePolicy, policyNotes } from "./policy.js";
import type { Interception } from "./tls-intercept.js";

/** What the proxy needs to attach headers: a box's templates and its tenant's secret values. */
export interface Attachments {
  attachOf(boxId: string): AttachHeaders | null;
  reveal(tenant: string, name: string): string | null;
}

export interface NetworkServiceDeps {
  instanceId: string;
  networkPool: string;
  mode: "iptables" | "off";
  dnsServers: string[];
  log: Logger;
  boxLog: BoxLog;
  /** Where the egress CA lives (the data dir). */
  dataDir: string;
  /** An operator's CA file intercepted hosts' certificates may also chain to ("" for none). */
  upstreamCaFile: string;
  /** The egress CA (initialised at start when the firewall is on). */
  ca?: EgressCa;
  attachments?: Attachments;
}

const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The certificates an intercepted host's own must chain to: Node's roots, the system's and the operator's. */
function trustedUpstream(operatorFile: string): string {
  const parts = [...tls.rootCertificates];
  try {
    parts.push(readFileSync(SYSTEM_BUNDLE, "utf8"));
  } catch {
    // no system bundle on this host: Node's own roots remain
  }
  if (operatorFile) {
    try {
      parts.push(readFileSync(operatorFile, "utf8"));
    } catch (err) {
      throw new BoxdError(
        "INVALID_ARGUMENT",
        `BOXD_EGRESS_UPSTREAM_CA_FILE ${operatorFile} cannot be read (${(err as Error).message}): fix the path or unset it`,
      );
    }
  }
  return parts.join("\n");
}

/** The host's upstream resolvers (what the engine's DNS in each box forwards to when none is configured). */
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

export class NetworkService {
  private readonly firewall: Firewall | null;
  private readonly proxy: EgressProxy | null;
  private readonly dnsGate: DnsGate | null;
  private readonly byIp = new Map<string, { boxId: string; tenant: string; policy: CompiledPolicy }>();
  /** The egress CA (null with enforcement off: nothing can be intercepted then). */
  readonly ca: EgressCa | null;
  /** What the containers of new boxes get as DNS servers (empty: the engine's default). */
  readonly containerDns: string[];

  constructor(private readonly deps: NetworkServiceDeps) {
    this.containerDns = deps.dnsServers;
    const resolvers = deps.dnsServers.length ? deps.dnsServers : hostResolvers();
    if (deps.mode === "iptables") {
      this.firewall = new Firewall(deps.instanceId, resolvers, deps.log.child("firewall"));
      this.ca = deps.ca ?? null;
      this.proxy = new EgressProxy({
        interceptFor: (ip, host) => this.interceptFor(ip, host),
        ca: this.ca ?? undefined,
        trustedUpstream: trustedUpstream(deps.upstreamCaFile),
        policyFor: (ip) => this.byIp.get(ip)?.policy ?? null,
        dnsServers: deps.dnsServers,
        log: deps.log.child("proxy"),
        onDenied: (ip, host, why) => {
          const box = this.byIp.get(ip);
          if (box) deps.boxLog.append(box.boxId, "warn", "system", `egress to ${host} denied: ${why}`);
        },
      });
      this.dnsGate = new DnsGate({
        policyFor: (ip) => this.byIp.get(ip)?.policy ?? null,
        upstreams: resolvers,
        log: deps.log.child("dns"),
      });
    } else {
      this.firewall = null;
      this.ca = null;
      this.proxy = null;
      this.dnsGate = null;
    }
  }

  get enforced(): boolean {
    return this.firewall !== null;
  }

  /** Validates a policy for a new box or a change; refuses non-default policies when enforcement is off. */
  check(policy: NetworkPolicy): { compiled: CompiledPolicy; notes: string[] } {
    const compiled = compilePolicy(policy);
    if (!this.firewall && compiled.mode !== "allow-all") {
      throw new BoxdError(
        "POLICY_DENIED",
        "this server runs with BOXD_FIREWALL=off, so it cannot enforce network policies: use allow-all or enable the firewall",
      );
    }
    return { compiled, notes: policyNotes(compiled) };
  }

  /** Start-up: proxy first (its ports go into the rules), then every live box's rules in one go. */
  async start(boxes: BoxRecord[]): Promise<void> {
    if (!this.firewall || !this.proxy) return;
    if (this.ca && !this.ca.certificate) await this.ca.init();
    if (this.proxy.ports.http === 0) await this.proxy.start();
    if (this.dnsGate && this.dnsGate.port === 0) await this.dnsGate.start();
    const live = boxes.filter((b) => b.status !== "deleted" && b.subnetIndex !== null);
    for (const b of live) this.remember(b, compilePolicy(b.networkPolicy));
    await this.firewall.init(
      live.map((b) => ({ ...this.rulesOf(b), policy: compilePolicy(b.networkPolicy) })),
      this.ports(),
    );
  }

  /**
   * Server shutdown. Rules stay while boxes exist (they must hold while the server is down; only custom
   * domain rules need the proxy, and those connections simply fail meanwhile); with no box left, the
   * instance's chains go too.
   */
  async stop(liveBoxes: number): Promise<void> {
    await this.proxy?.stop();
    this.dnsGate?.stop();
    if (liveBoxes === 0) await this.firewall?.removeParents();
  }

  /** Installs or replaces a box's rules (before its container first starts, and on every policy change). */
  async apply(box: BoxRecord): Promise<void> {
    if (!this.firewall || !this.proxy) return;
    const policy = compilePolicy(box.networkPolicy);
    try {
      await this.firewall.apply({ ...this.rulesOf(box), policy }, this.ports());
    } catch (err) {
      throw new BoxdError(
        "INTERNAL",
        `cannot program the host firewall for box ${box.id} (${(err as Error).message.split("\n")[0]}): boxd needs root and iptables on the engine's host; set BOXD_FIREWALL=off to run without egress enforcement (unsafe)`,
        { cause: err },
      );
    }
    this.remember(box, policy);
  }

  async remove(box: Pick<BoxRecord, "id" | "subnetIndex">): Promise<void> {
    if (box.subnetIndex !== null) this.byIp.delete(subnetAt(this.deps.networkPool, box.subnetIndex).boxIp);
    await this.firewall?.remove(box.id);
  }

  /** All firewall lines of this instance (for leak checks). */
  async instanceRules(): Promise<string[]> {
    return this.firewall ? this.firewall.instanceRules() : [];
  }

  /** The egress proxy's and DNS gate's ports (0 before start or with enforcement off). */
  ports(): ProxyPorts {
    return { http: this.proxy?.ports.http ?? 0, tls: this.proxy?.ports.tls ?? 0, dns: this.dnsGate?.port ?? 0 };
  }

  bridgeFor(boxId: string): string | undefined {
    return this.firewall ? bridgeName(boxId) : undefined;
  }

  private rulesOf(box: BoxRecord): { boxId: string; bridge: string; intercept: boolean } {
    return { boxId: box.id, bridge: bridgeName(box.id), intercept: !!this.deps.attachments?.attachOf(box.id) };
  }

  private remember(box: BoxRecord, policy: CompiledPolicy): void {
    if (box.subnetIndex === null) return;
    const ip = subnetAt(this.deps.networkPool, box.subnetIndex).boxIp;
    if (parseIpv4(ip) !== null) this.byIp.set(ip, { boxId: box.id, tenant: box.tenant, policy });
  }

  /**
   * The box's headers for `host`, rendered at each request (so a rotated secret applies at once), or null.
   * Read from the store at each connection: box_update changes apply to the next one.
   */
  private interceptFor(ip: string, host: string): Interception | null {
    const box = this.byIp.get(ip);
    const attach = box ? this.deps.attachments?.attachOf(box.boxId) : null;
    const templates = box && attach ? headersFor(attach, host) : null;
    if (!box || !templates) return null;
    const reveal = (name: string) => this.deps.attachments?.reveal(box.tenant, name) ?? null;
    return {
      rewrite: (head) => {
        const headers = renderHeaders(templates, reveal);
        if ("missing" in headers)
          return `attachHeaders for ${host} name secret ${headers.missing}, which no longer exists`;
        return injectHeaders(head, headers);
      },
    };
  }
}
