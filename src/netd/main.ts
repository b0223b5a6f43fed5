// The network helper's program (netd): runs in a container in the engine host's network namespace (host
// network, NET_ADMIN and NET_RAW only), so one code path enforces box policies for a local engine, a
// remote one and Docker Desktop's VM alike. It programs the per-box firewall, runs the egress proxy and
// the DNS gate, and does only what the server asks over its stdin (protocol.ts); the server holds every
// decision's inputs. It exits when its stdin ends: the engine closes it when the server's attach goes.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import tls from "node:tls";
import { promisify } from "node:util";
import { createLogger } from "../log.js";
import { DnsGate } from "../network/dns-gate.js";
import { EgressCa } from "../network/egress-ca.js";
import { EgressProxy } from "../network/egress-proxy.js";
import { Firewall } from "../network/firewall.js";
import { injectHeaders } from "../network/inject-headers.js";
import { type CompiledPolicy, compilePolicy } from "../network/policy.js";
import { hostResolvers } from "../network/resolvers.js";
import type { Interception } from "../network/tls-intercept.js";
import {
  NETD_PROTOCOL,
  type NetdBox,
  type NetdDown,
  type NetdInit,
  type NetdRequest,
  type NetdUp,
  type RenderedHeaders,
} from "./protocol.js";

const run = promisify(execFile);
const STATE_DIR = "/run/boxd-netd";
// Its log (stderr) goes to the server's debug log; `--debug` makes it say more.
const log = createLogger(process.argv.includes("--debug") ? "debug" : "info", "netd");

function send(msg: NetdUp): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

/** The iptables the engine's own rules are in: the helper's changes must go to the same tables. */
async function backendOfEngine(): Promise<string> {
  const count = async (backend: string) => {
    try {
      const { stdout } = await run(`iptables-${backend}-save`, [], { maxBuffer: 64 * 1024 * 1024 });
      return stdout.split("\n").filter((l) => l.startsWith(":DOCKER")).length;
    } catch {
      return -1;
    }
  };
  const [nft, legacy] = await Promise.all([count("nft"), count("legacy")]);
  return legacy > nft ? "legacy" : "nft";
}

class Netd {
  private readonly boxes = new Map<string, { box: NetdBox; policy: CompiledPolicy }>();
  private firewall: Firewall | null = null;
  private proxy: EgressProxy | null = null;
  private dnsGate: DnsGate | null = null;
  private readonly asks = new Map<number, (h: RenderedHeaders | null) => void>();
  private nextAsk = 1;

  async handle(req: NetdRequest): Promise<unknown> {
    switch (req.op) {
      case "init":
        return this.init(req.init);
      case "apply":
        return this.apply(req.box);
      case "remove":
        if (req.ip) this.boxes.delete(req.ip);
        return this.mustFirewall().remove(req.boxId);
      case "removeParents":
        return this.mustFirewall().removeParents();
      case "rules":
        return this.mustFirewall().instanceRules();
      case "ping":
        return "pong";
    }
  }

  answer(to: number, headers: RenderedHeaders | null): void {
    this.asks.get(to)?.(headers);
    this.asks.delete(to);
  }

  async stop(): Promise<void> {
    await this.proxy?.stop();
    this.dnsGate?.stop();
  }

  private mustFirewall(): Firewall {
    if (!this.firewall) throw new Error("the helper got a request before init");
    return this.firewall;
  }

  private async init(init: NetdInit) {
    const backend = await backendOfEngine();
    const resolvers = init.dnsServers.length ? init.dnsServers : hostResolvers();
    this.firewall = new Firewall(init.instanceId, resolvers, log.child("firewall"), backend);
    const ca = init.ca ? await this.writeCa(init.ca, init.instanceId) : undefined;
    const policyFor = (ip: string) => this.boxes.get(ip)?.policy ?? null;
    this.proxy = new EgressProxy({
      policyFor,
      dnsServers: init.dnsServers,
      log: log.child("proxy"),
      ca,
      trustedUpstream: [...tls.rootCertificates, systemBundle(), init.upstreamCa].join("\n"),
      interceptFor: (ip, host) => this.interceptFor(ip, host),
      onDenied: (ip, host, why) => send({ t: "denied", ip, host, why }),
    });
    this.dnsGate = new DnsGate({ policyFor, upstreams: resolvers, log: log.child("dns") });
    await this.proxy.start();
    await this.dnsGate.start();
    for (const box of init.boxes) this.remember(box);
    await this.firewall.init(
      init.boxes.map((b) => this.rulesOf(b)),
      this.ports(),
    );
    return { ports: this.ports(), backend, node: process.version };
  }

  private async apply(box: NetdBox): Promise<void> {
    const rules = this.rulesOf(box);
    await this.mustFirewall().apply(rules, this.ports());
    this.remember(box);
  }

  private rulesOf(box: NetdBox) {
    return { boxId: box.boxId, bridge: box.bridge, policy: compilePolicy(box.policy), intercept: box.intercept };
  }

  private remember(box: NetdBox): void {
    this.boxes.set(box.ip, { box, policy: compilePolicy(box.policy) });
  }

  private ports() {
    return { http: this.proxy?.ports.http ?? 0, tls: this.proxy?.ports.tls ?? 0, dns: this.dnsGate?.port ?? 0 };
  }

  /** The CA files the server made, written where an EgressCa reads them (the helper's own folder). */
  private async writeCa(ca: { cert: string; key: string; leafKey: string }, instanceId: string): Promise<EgressCa> {
    const dir = path.join(STATE_DIR, "egress-ca");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, "ca.crt"), ca.cert);
    writeFileSync(path.join(dir, "ca.key"), ca.key, { mode: 0o600 });
    writeFileSync(path.join(dir, "leaf.key"), ca.leafKey, { mode: 0o600 });
    const egress = new EgressCa(STATE_DIR, instanceId);
    await egress.init();
    return egress;
  }

  /** Boxes with attachHeaders: the server renders their headers for this host as the connection opens. */
  private async interceptFor(ip: string, host: string): Promise<Interception | null> {
    if (!this.boxes.get(ip)?.box.intercept) return null;
    const ask = this.nextAsk++;
    const rendered = await new Promise<RenderedHeaders | null>((resolve) => {
      this.asks.set(ask, resolve);
      send({ t: "ask", ask, ip, host });
    });
    if (!rendered) return null;
    return {
      rewrite: (head) =>
        "missing" in rendered
          ? `attachHeaders for ${host} name secret ${rendered.missing}, which no longer exists`
          : injectHeaders(head, rendered.headers),
    };
  }
}

function systemBundle(): string {
  try {
    return readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8");
  } catch {
    return "";
  }
}

function main(): void {
  const netd = new Netd();
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (line) => {
    let msg: NetdDown;
    try {
      msg = JSON.parse(line) as NetdDown;
    } catch {
      return; // a line cut off by a server that went away mid-write
    }
    if ("to" in msg) return netd.answer(msg.to, msg.headers);
    netd.handle(msg).then(
      (value) => send({ t: "reply", re: msg.id, ok: true, value }),
      (err: Error) => send({ t: "reply", re: msg.id, ok: false, error: err.message }),
    );
  });
  // The server's attach is gone (it stopped or died): the rules stay in the kernel, the proxy goes.
  lines.on("close", () => {
    void netd.stop().finally(() => process.exit(0));
  });
  send({ t: "hello", version: NETD_PROTOCOL });
}

main();
