// The egress proxy for domain rules: boxes' connections to ports 80/443 are redirected here by the
// firewall (custom policies with allowedDomains). It reads what the connection really asks for (HTTP
// Host / TLS SNI), checks it against the box's policy, resolves the name itself (outside the box, so the
// box's /etc/hosts or DNS tricks don't matter), refuses private/metadata/denied addresses, then splices.
import { promises as dnsPromises } from "node:dns";
import net from "node:net";
import type { Logger } from "../log.js";
import { cidrContains, isAlwaysBlocked, parseIpv4 } from "./cidr.js";
import { type CompiledPolicy, domainAllowed } from "./policy.js";
import { readHttpHost, readSni } from "./sni.js";

export interface ProxyDeps {
  /** The policy of the box at this source address, or null when it is no box of ours. */
  policyFor: (sourceIp: string) => CompiledPolicy | null;
  dnsServers: string[];
  log: Logger;
  onDenied?: (sourceIp: string, host: string, why: string) => void;
}

const HEAD_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;

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
      server.listen(0, "0.0.0.0", () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  private handle(client: net.Socket, kind: "http" | "tls"): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => client.destroy());
    const source = (client.remoteAddress ?? "").replace(/^::ffff:/, "");
    const policy = this.deps.policyFor(source);
    if (!policy) {
      client.destroy();
      return;
    }
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const host = kind === "tls" ? readSni(head) : readHttpHost(head);
      if (host === undefined) return;
      client.off("data", onData);
      client.pause();
      clearTimeout(timer);
      if (host === null) return this.deny(client, kind, source, "(none)", "no host name in the request");
      void this.forward(client, kind, source, host, head, policy);
    };
    client.on("data", onData);
  }

  private async forward(
    client: net.Socket,
    kind: "http" | "tls",
    source: string,
    host: string,
    head: Buffer,
    policy: CompiledPolicy,
  ): Promise<void> {
    if (!domainAllowed(policy, host)) return this.deny(client, kind, source, host, "not in allowedDomains");
    let addresses: string[];
    try {
      addresses = net.isIPv4(host) ? [host] : await this.resolver.resolve4(host);
    } catch (err) {
      return this.deny(client, kind, source, host, `cannot resolve (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    const usable = addresses.filter((a) => {
      const n = parseIpv4(a);
      return n !== null && !isAlwaysBlocked(n) && !policy.deniedCidrs.some((c) => cidrContains(c, n));
    });
    const target = usable[0];
    if (!target)
      return this.deny(client, kind, source, host, `resolves only to blocked addresses (${addresses.join(", ")})`);
    const upstream = net.connect({ host: target, port: kind === "tls" ? 443 : 80 });
    this.sockets.add(upstream);
    upstream.on("close", () => this.sockets.delete(upstream));
    upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy());
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  }

  private deny(client: net.Socket, kind: "http" | "tls", source: string, host: string, why: string): void {
    this.deps.log.debug("egress denied", { source, host, why });
    this.deps.onDenied?.(source, host, why);
    if (kind === "http") {
      const body = `boxd: egress to ${host} denied by this box's network policy (${why})\n`;
      client.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    } else {
      client.destroy();
    }
  }
}
