// Egress policy of every box: compiles and checks policies, and keeps the network helper (netd, a container
// in the engine host's network namespace: src/netd/) in step with the boxes (create, delete, live policy
// changes, start-up). The helper programs the firewall and runs the egress proxy and the DNS gate; it asks
// back "which headers does this box attach for this host?" (attachHeaders), answered here by box address.
import { readFileSync } from "node:fs";
import { subnetAt } from "../box/network-pool.js";
import type { NetdLink } from "../docker/netd-container.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import type { BoxRecord, NetworkPolicy } from "../model/box.js";
import type { NetdBox, NetdInit, NetdReady, RenderedHeaders } from "../netd/protocol.js";
import { type AttachHeaders, headersFor, renderHeaders } from "../secrets/attach-headers.js";
import type { EgressCa } from "./egress-ca.js";
import { bridgeName, type ProxyPorts } from "./firewall.js";
import { NetdClient } from "./netd-client.js";
import { type CompiledPolicy, compilePolicy, policyNotes } from "./policy.js";

export { hostResolvers } from "./resolvers.js";

/** What the proxy needs to attach headers: a box's templates and its tenant's secret values. */
export interface Attachments {
  attachOf(boxId: string): AttachHeaders | null;
  reveal(tenant: string, name: string): string | null;
}

export interface NetworkServiceDeps {
  instanceId: string;
  networkPool: string;
  mode: "helper" | "off";
  dnsServers: string[];
  log: Logger;
  boxLog: BoxLog;
  /** An operator's CA file intercepted hosts' certificates may also chain to ("" for none). */
  upstreamCaFile: string;
  /** The egress CA (initialised at start when enforcement is on). */
  ca?: EgressCa;
  attachments?: Attachments;
  /** Starts the network helper on the engine (required unless mode is "off"). */
  launch?: () => Promise<NetdLink>;
}

/** How a box's policy is enforced, for doctor and the leak checks. */
export interface Enforcement {
  path: "network helper" | "off";
  container?: string;
  backend?: string;
  node?: string;
  ports?: ProxyPorts;
}

/** The operator's CA file's certificates (PEM), read once at start. */
function operatorCa(file: string): string {
  if (!file) return "";
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new BoxdError(
      "INVALID_ARGUMENT",
      `BOXD_EGRESS_UPSTREAM_CA_FILE ${file} cannot be read (${(err as Error).message}): fix the path or unset it`,
    );
  }
}

export class NetworkService {
  private readonly helper: NetdClient | null;
  /** Every box the helper enforces, by id (what a new helper is started with). */
  private readonly boxes = new Map<string, NetdBox & { tenant: string }>();
  private readonly byIp = new Map<string, string>();
  private upstreamCa = "";
  /** The egress CA (null with enforcement off: nothing can be intercepted then). */
  readonly ca: EgressCa | null;
  /** What the containers of new boxes get as DNS servers (empty: the engine's default). */
  readonly containerDns: string[];

  constructor(private readonly deps: NetworkServiceDeps) {
    this.containerDns = deps.dnsServers;
    this.ca = deps.mode === "off" ? null : (deps.ca ?? null);
    if (deps.mode === "off") this.helper = null;
    else {
      if (!deps.launch) throw new Error("the network helper needs a launcher");
      this.helper = new NetdClient(
        deps.launch,
        {
          init: () => this.initOf(),
          render: (ip, host) => this.render(ip, host),
          denied: (ip, host, why) => {
            const boxId = this.byIp.get(ip);
            if (boxId) deps.boxLog.append(boxId, "warn", "system", `egress to ${host} denied: ${why}`);
          },
        },
        deps.log.child("netd"),
      );
    }
  }

  get enforced(): boolean {
    return this.helper !== null;
  }

  /** Validates a policy for a new box or a change; refuses non-default policies when enforcement is off. */
  check(policy: NetworkPolicy): { compiled: CompiledPolicy; notes: string[] } {
    const compiled = compilePolicy(policy);
    if (!this.helper && compiled.mode !== "allow-all") {
      throw new BoxdError(
        "POLICY_DENIED",
        "this server runs with BOXD_FIREWALL=off, so it cannot enforce network policies: use allow-all or enable the firewall",
      );
    }
    return { compiled, notes: policyNotes(compiled) };
  }

  /** Start-up: the helper, with every live box's rules in one go. */
  async start(boxes: BoxRecord[]): Promise<void> {
    if (!this.helper) return;
    if (this.ca && !this.ca.certificate) await this.ca.init();
    this.upstreamCa = operatorCa(this.deps.upstreamCaFile);
    for (const b of boxes) if (b.status !== "deleted" && b.subnetIndex !== null) this.remember(b);
    await this.ready("start");
  }

  /**
   * Server shutdown. Rules stay while boxes exist (they must hold while the server is down; only custom
   * domain rules need the proxy, and those connections simply fail meanwhile); with no box left, the
   * instance's chains go too. The helper goes either way.
   */
  async stop(liveBoxes: number): Promise<void> {
    if (!this.helper) return;
    if (liveBoxes === 0 && (await this.helper.current()))
      await this.helper.request({ op: "removeParents" }).catch(() => {});
    await this.helper.close();
  }

  /** Installs or replaces a box's rules (before its container first starts, and on every policy change). */
  async apply(box: BoxRecord): Promise<void> {
    if (!this.helper) return;
    const netd = this.netdBox(box);
    try {
      await this.helper.request({ op: "apply", box: netd });
    } catch (err) {
      throw new BoxdError(
        "INTERNAL",
        `cannot program the firewall for box ${box.id} (${(err as Error).message.split("\n")[0]}): run \`boxd doctor\` to see why the network helper fails; BOXD_FIREWALL=off runs without egress enforcement (unsafe)`,
        { cause: err },
      );
    }
    this.remember(box, netd);
  }

  async remove(box: Pick<BoxRecord, "id" | "subnetIndex">): Promise<void> {
    const known = this.boxes.get(box.id);
    this.boxes.delete(box.id);
    if (known) this.byIp.delete(known.ip);
    await this.helper?.request({ op: "remove", boxId: box.id, ip: known?.ip ?? null });
  }

  /** All firewall lines of this instance on the engine's host (for leak checks). */
  async instanceRules(): Promise<string[]> {
    return this.helper ? this.helper.request<string[]>({ op: "rules" }) : [];
  }

  /** The egress proxy's and DNS gate's ports on the engine's host (zeros with enforcement off). */
  ports(): Promise<ProxyPorts> {
    return this.helper ? this.helper.ready().then((r) => r.ports) : Promise.resolve({ http: 0, tls: 0, dns: 0 });
  }

  /** Which path enforces policies, with the helper's facts (starting it if it is not running). */
  async enforcement(): Promise<Enforcement> {
    if (!this.helper) return { path: "off" };
    const ready = await this.ready("doctor");
    const live = await this.helper.current();
    return { path: "network helper", container: live?.link.containerId.slice(0, 12), ...ready };
  }

  bridgeFor(boxId: string): string | undefined {
    return this.helper ? bridgeName(boxId) : undefined;
  }

  private async ready(why: string): Promise<NetdReady> {
    try {
      return await (this.helper as NetdClient).ready();
    } catch (err) {
      throw new BoxdError(
        "ENGINE_UNAVAILABLE",
        `the network helper could not start (${why}): ${(err as Error).message.split("\n")[0]}. Is the helper image built (\`boxd images build\`)? \`boxd doctor\` checks it`,
        { cause: err },
      );
    }
  }

  private initOf(): NetdInit {
    return {
      instanceId: this.deps.instanceId,
      dnsServers: this.deps.dnsServers,
      ca: this.ca?.certificate ? this.ca.files() : null,
      upstreamCa: this.upstreamCa,
      boxes: [...this.boxes.values()].map(({ tenant: _t, ...b }) => b),
    };
  }

  private netdBox(box: BoxRecord): NetdBox {
    return {
      boxId: box.id,
      bridge: bridgeName(box.id),
      ip: subnetAt(this.deps.networkPool, box.subnetIndex ?? 0).boxIp,
      policy: box.networkPolicy,
      intercept: !!this.deps.attachments?.attachOf(box.id),
    };
  }

  private remember(box: BoxRecord, netd = this.netdBox(box)): void {
    if (box.subnetIndex === null) return;
    this.boxes.set(box.id, { ...netd, tenant: box.tenant });
    this.byIp.set(netd.ip, box.id);
  }

  /**
   * The box's headers for `host`, rendered as each connection through the proxy opens (so a rotated
   * secret applies to the next one), or null. Read from the store each time: box_update changes apply to
   * the next connection.
   */
  private render(ip: string, host: string): RenderedHeaders | null {
    const boxId = this.byIp.get(ip);
    const box = boxId ? this.boxes.get(boxId) : undefined;
    const attach = box ? this.deps.attachments?.attachOf(box.boxId) : null;
    const templates = box && attach ? headersFor(attach, host) : null;
    if (!box || !templates) return null;
    const headers = renderHeaders(templates, (name) => this.deps.attachments?.reveal(box.tenant, name) ?? null);
    return "missing" in headers ? { missing: headers.missing } : { headers };
  }
}
