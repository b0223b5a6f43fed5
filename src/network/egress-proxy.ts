// The egress proxy for domain rules: boxes' connections to ports 80/443 are redirected here by the
// firewall (custom policies with allowedDomains). It reads what the connection really asks for (HTTP
// Host / TLS SNI), checks it against the box's policy, resolves the name itself (outside the box, so the
// box's /etc/hosts or DNS tricks don't matter), refuses private/metadata/denied addresses and every
// address of this host (the proxy connects from the host, where the box's firewall rules do not apply),
// then splices. Plain HTTP is checked request by request (see http-requests.ts); TLS once, by its SNI,
// except for hosts the box has attachHeaders for, whose TLS is intercepted (tls-intercept.ts) to add them.
import { promises as dnsPromises } from "node:dns";
import net from "node:net";
import type { Logger } from "../log.js";
import { cidrContains, formatIpv4, isAlwaysBlocked, parseIpv4 } from "./cidr.js";
import type { EgressCa } from "./egress-ca.js";
import { hostAddresses } from "./host-addresses.js";
import { forbidden, HttpConnection } from "./http-connection.js";
import { type CompiledPolicy, domainAllowed } from "./policy.js";
import { readSni } from "./sni.js";
import { type Interception, intercept } from "./tls-intercept.js";

export interface ProxyDeps {
  /** The policy of the box at this source address, or null when it is no box of ours. */
  policyFor: (sourceIp: string) => CompiledPolicy | null;
  dnsServers: string[];
  log: Logger;
  onDenied?: (sourceIp: string, host: string, why: string) => void;
  /** The headers the box at this address attaches to requests for `host`, or null (spliced as it is). */
  interceptFor?: (sourceIp: string, host: string) => Promise<Interception | null>;
  /** Signs the certificates intercepted hosts are presented with. */
  ca?: EgressCa;
  /** PEM certificates an intercepted host's real certificate must chain to (system store + operator's). */
  trustedUpstream?: string;
}

const HEAD_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;

/** Whether a box under `policy` may reach `addr` (IPv4) through the proxy. */
function addressAllowed(policy: CompiledPolicy, addr: number, local: net.BlockList): boolean {
  return (
    !isAlwaysBlocked(addr) &&
    !local.check(formatIpv4(addr), "ipv4") &&
    !policy.deniedCidrs.some((c) => cidrContains(c, addr))
  );
}

export class EgressProxy {
  private readonly servers: net.Server[] = [];
  private readonly resolver = new dnsPromises.Resolver({ timeout: 3000, tries: 2 });
  private readonly sockets = new Set<net.Socket>();
  ports = { http: 0, tls: 0 };

  constructor(private readonly deps: ProxyDeps) {
    if (deps.dnsServers.length) this.resolver.setServers(deps.dnsServers);
  }

  async start(): Promise<void> {
    this.ports.http = await this.listen("http");
    this.ports.tls = await this.listen("tls");
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  }

  private listen(kind: "http" | "tls"): Promise<number> {
    const server = net.createServer((socket) => this.handle(socket, kind));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      // Every address: the firewall redirects each box to its own gateway address. Sources that are no
      // box of ours are dropped in handle(), and the firewall lets boxes reach these ports only when
      // their policy has domains.
      server.listen(0, "0.0.0.0", () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  private handle(client: net.Socket, kind: "http" | "tls"): void {
    this.track(client);
    client.on("error", () => client.destroy());
    const source = (client.remoteAddress ?? "").replace(/^::ffff:/, "");
    const policy = this.deps.policyFor(source);
    if (!policy) {
      client.destroy();
      return;
    }
    if (kind === "http") this.http(client, source, policy);
    else this.tls(client, source, policy);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
  }

  /** TLS: the ClientHello's SNI decides the upstream once; what follows is encrypted and spliced. */
  private tls(client: net.Socket, source: string, policy: CompiledPolicy): void {
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const host = readSni(head);
      if (host === undefined) return;
      client.off("data", onData);
      client.pause();
      clearTimeout(timer);
      if (host === null) return this.deny(client, "tls", source, "(none)", "no host name in the request");
      void this.interception(source, host).then(async (interception) => {
        if (interception) return this.intercepted(client, source, policy, host, head, interception);
        const up = await this.open(host, policy, 443);
        if ("why" in up) return this.deny(client, "tls", source, host, up.why);
        up.socket.write(head);
        client.pipe(up.socket);
        up.socket.pipe(client);
        client.resume();
        client.on("close", () => up.socket.destroy());
        up.socket.on("close", () => client.destroy());
      });
    };
    client.on("data", onData);
  }

  /** The box's attachHeaders for `host` (asked for when the connection opens), or null: spliced as it is. */
  private async interception(source: string, host: string): Promise<Interception | null> {
    return (await this.deps.interceptFor?.(source, host).catch(() => null)) ?? null;
  }

  /** TLS to a host with attachHeaders: policy first, then the box talks to us, and we to the host. */
  private async intercepted(
    client: net.Socket,
    source: string,
    policy: CompiledPolicy,
    host: string,
    hello: Buffer,
    interception: Interception,
  ): Promise<void> {
    const target = await this.pickAddress(host, policy);
    if ("why" in target) return this.deny(client, "tls", source, host, target.why);
    const context = await this.deps.ca?.contextFor(host)?.catch(() => null);
    if (!context) return this.deny(client, "tls", source, host, "no certificate could be made for this name");
    intercept({
      client,
      hello,
      host,
      address: target.address,
      context,
      trusted: this.deps.trustedUpstream ?? "",
      interception,
      track: (s) => this.track(s),
      onRefused: (h, why) => this.noteDenied(source, h, why),
    });
  }

  /** Plain HTTP: checked request by request (http-connection.ts). */
  private http(client: net.Socket, source: string, policy: CompiledPolicy): void {
    let interception: Interception | null = null;
    new HttpConnection(client, {
      prepare: async (host) => {
        interception = await this.interception(source, host);
      },
      open: async (host) => {
        const up = await this.open(host, policy, 80);
        if ("why" in up) {
          this.deny(client, "http", source, host, up.why);
          return null;
        }
        client.on("close", () => up.socket.destroy());
        return up.socket;
      },
      onRefused: (host, why) => this.noteDenied(source, host, why),
      denyFirst: (host, why) => this.deny(client, "http", source, host, why),
      // Called for the connection's own host only (HttpConnection refuses any other).
      rewriteHead: (_host, head) => interception?.rewrite(head) ?? head,
    });
  }

  /** Checks a host against the policy, resolves it outside the box and connects to a permitted address. */
  private async open(
    host: string,
    policy: CompiledPolicy,
    port: number,
  ): Promise<{ socket: net.Socket } | { why: string }> {
    const target = await this.pickAddress(host, policy);
    if ("why" in target) return target;
    const socket = net.connect({ host: target.address, port });
    this.track(socket);
    socket.on("error", () => socket.destroy());
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy());
    socket.once("connect", () => socket.setTimeout(0));
    return { socket };
  }

  private async pickAddress(host: string, policy: CompiledPolicy): Promise<{ address: string } | { why: string }> {
    const local = hostAddresses();
    const literal = parseIpv4(host);
    if (literal !== null) {
      // An IP address is no domain: it passes only where the box's CIDR rules would let it connect
      // directly, so listing an address in allowedDomains opens nothing that allowedCidrs does not.
      const byCidr = policy.mode === "allow-all" || policy.allowedCidrs.some((c) => cidrContains(c, literal));
      if (!byCidr || !addressAllowed(policy, literal, local))
        return { why: "an IP address is allowed only by allowedCidrs (and never this host or a blocked range)" };
      return { address: host };
    }
    // Allow-all boxes come here only for their attachHeaders (their 80/443 traffic is redirected then).
    if (policy.mode !== "allow-all" && !domainAllowed(policy, host)) return { why: "not in allowedDomains" };
    let addresses: string[];
    try {
      addresses = await this.resolver.resolve4(host);
    } catch (err) {
      return { why: `cannot resolve (${(err as NodeJS.ErrnoException).code ?? err})` };
    }
    const usable = addresses.find((a) => {
      const n = parseIpv4(a);
      return n !== null && addressAllowed(policy, n, local);
    });
    if (!usable) return { why: `resolves only to blocked addresses (${addresses.join(", ")})` };
    return { address: usable };
  }

  private deny(client: net.Socket, kind: "http" | "tls", source: string, host: string, why: string): void {
    this.noteDenied(source, host, why);
    if (kind === "http") client.end(forbidden(host, why));
    else client.destroy();
  }

  private noteDenied(source: string, host: string, why: string): void {
    this.deps.log.debug("egress denied", { source, host, why });
    this.deps.onDenied?.(source, host, why);
  }
}
