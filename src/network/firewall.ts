// Host firewall rules that enforce each box's egress policy outside the box (boxes have no NET_ADMIN).
// Each box's traffic enters the host on its own bridge (bx<box>), so rules match the interface:
//   filter DOCKER-USER -> BOXD-F-<inst> -> BF<inst><box>   forwarded traffic (to the world, other boxes)
//   filter INPUT       -> BOXD-I-<inst> -> BI<inst><box>   traffic to the host itself (its services); replies
//                                                         to connections the host opened (previews) pass
//   nat PREROUTING     -> BOXD-N-<inst> -> BN<inst><box>   custom domains or attachHeaders: ports 80/443 to the egress proxy;
//                                                         not allow-all: UDP port 53 to the DNS gate
// Every change goes through one iptables-restore (atomic per table), so a box is never left unenforced.
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import type { Logger } from "../log.js";
import { ALWAYS_BLOCKED } from "./cidr.js";
import type { CompiledPolicy } from "./policy.js";

const run = promisify(execFile);
/** The iptables tool of the chosen backend (set by the Firewall; one backend per process). */
let tool = (name: string) => name;

export interface BoxRules {
  boxId: string;
  bridge: string;
  policy: CompiledPolicy;
  /** The box has attachHeaders: its 80/443 traffic goes through the proxy whatever its policy allows. */
  intercept?: boolean;
}

export interface ProxyPorts {
  http: number;
  tls: number;
  /** The DNS gate (UDP); 0 when there is none. */
  dns: number;
}

const shortBox = (boxId: string) => boxId.replace(/^box_/, "");
export const bridgeName = (boxId: string) => `bx${shortBox(boxId)}`;

export class Firewall {
  private readonly parents: { f: string; i: string; n: string };
  /** Each box's installed rules (its own chains' lines): the same rules again are not installed again. */
  private readonly installed = new Map<string, string>();

  constructor(
    private readonly instanceId: string,
    private readonly dnsServers: string[],
    private readonly log: Logger,
    /** Which iptables the engine's host uses ("nft", "legacy"; "" for plain `iptables`): the engine's rules are there. */
    backend = "",
  ) {
    tool = (name) => (backend ? name.replace(/^(ip6?tables)/, `$1-${backend}`) : name);
    this.parents = { f: `BOXD-F-${instanceId}`, i: `BOXD-I-${instanceId}`, n: `BOXD-N-${instanceId}` };
  }

  private chains(boxId: string) {
    const k = `${this.instanceId}${shortBox(boxId)}`;
    return { f: `BF${k}`, i: `BI${k}`, n: `BN${k}` };
  }

  /** Creates this instance's parent chains and their jumps, then installs every given box (start-up). */
  async init(boxes: BoxRules[], ports: ProxyPorts): Promise<void> {
    const { f, i, n } = this.parents;
    for (const [table, chain, parent] of [
      ["filter", f, "DOCKER-USER"],
      ["filter", i, "INPUT"],
      ["nat", n, "PREROUTING"],
    ] as const) {
      await ipt(["-t", table, "-N", chain]).catch(() => {}); // exists already
      const present = await ipt(["-t", table, "-C", parent, "-j", chain]).then(
        () => true,
        () => false,
      );
      if (!present) await ipt(["-t", table, "-I", parent, "1", "-j", chain]);
    }
    await this.initIpv6();
    await this.removeOrphans(new Set(boxes.map((b) => b.boxId)));
    const lines = {
      filter: [
        `:${f} - [0:0]`,
        `:${i} - [0:0]`,
        // Replies to connections a box opened (and its rules allowed). Needed where the other end is on
        // another Docker bridge: the engine's inter-network isolation would drop the replies otherwise.
        `-A ${f} -o bx+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        // Replies of connections the host opened to a box (the preview listener proxying to an exposed
        // port, the SSH gateway's -L forwarding): only the reply direction of a connection that exists, so the box opens nothing to the host.
        `-A ${i} -i bx+ -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -j ACCEPT`,
        // The proxy and the DNS gate listen on every address (each box reaches them on its own gateway) and
        // serve only sources that are boxes of this instance. No host rule guards their ports: their port
        // numbers are random and the rules outlive the server, so another program that later binds one of
        // those numbers would have its connections reset.
      ],
      nat: [`:${n} - [0:0]`],
    };
    const installing = new Map<string, string>();
    for (const b of boxes) {
      const own = this.boxLines(b, ports);
      addLines(lines, own, this.jumpLines(b));
      installing.set(b.boxId, keyOf(own));
    }
    await restore(lines);
    this.installed.clear();
    for (const [boxId, key] of installing) this.installed.set(boxId, key);
    this.log.debug("firewall ready", { boxes: boxes.length });
  }

  /**
   * Boxes have no IPv6 (their containers disable it), and ip6tables refuses anything on a box bridge
   * anyway: the bridges get IPv6 link-local addresses, and nothing else filters IPv6.
   */
  private async initIpv6(): Promise<void> {
    const chain = `BOXD-6-${this.instanceId}`;
    try {
      await ip6t(["-N", chain]).catch(() => {}); // exists already
      await ip6t(["-F", chain]);
      await ip6t(["-A", chain, "-i", "bx+", "-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"]);
      await ip6t(["-A", chain, "-o", "bx+", "-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"]);
      for (const parent of ["INPUT", "FORWARD"]) {
        const present = await ip6t(["-C", parent, "-j", chain]).then(
          () => true,
          () => false,
        );
        if (!present) await ip6t(["-I", parent, "1", "-j", chain]);
      }
    } catch (err) {
      // A host without IPv6 has nothing to filter; the containers' sysctls still hold.
      this.log.warn("ip6tables rules for box bridges not installed", { error: (err as Error).message });
    }
  }

  /** Installs or replaces one box's rules, atomically. */
  async apply(box: BoxRules, ports: ProxyPorts): Promise<void> {
    const own = this.boxLines(box, ports);
    const key = keyOf(own);
    // Unchanged (a claimed pooled box keeping the default policy, a policy set to what it was): nothing to do.
    if (this.installed.get(box.boxId) === key) return;
    const lines = { filter: [] as string[], nat: [] as string[] };
    addLines(lines, own, this.installed.has(box.boxId) ? { filter: [], nat: [] } : this.jumpLines(box));
    await restore(lines);
    this.installed.set(box.boxId, key);
  }

  /** Removes one box's rules; absent rules are fine. */
  async remove(boxId: string): Promise<void> {
    const c = this.chains(boxId);
    const bridge = bridgeName(boxId);
    const { f, i, n } = this.parents;
    const steps: string[][] = [
      ["-t", "filter", "-D", f, "-i", bridge, "-j", c.f],
      ["-t", "filter", "-D", i, "-i", bridge, "-j", c.i],
      ["-t", "nat", "-D", n, "-i", bridge, "-j", c.n],
      ["-t", "filter", "-F", c.f],
      ["-t", "filter", "-X", c.f],
      ["-t", "filter", "-F", c.i],
      ["-t", "filter", "-X", c.i],
      ["-t", "nat", "-F", c.n],
      ["-t", "nat", "-X", c.n],
    ];
    for (const s of steps) await ipt(s).catch(() => {});
    this.installed.delete(boxId);
  }

  /** Removes this instance's parent chains and their jumps (when it has no boxes left to protect). */
  async removeParents(): Promise<void> {
    const { f, i, n } = this.parents;
    for (const [table, chain, parent] of [
      ["filter", f, "DOCKER-USER"],
      ["filter", i, "INPUT"],
      ["nat", n, "PREROUTING"],
    ] as const) {
      await ipt(["-t", table, "-D", parent, "-j", chain]).catch(() => {});
      await ipt(["-t", table, "-F", chain]).catch(() => {});
      await ipt(["-t", table, "-X", chain]).catch(() => {});
    }
    const v6 = `BOXD-6-${this.instanceId}`;
    for (const parent of ["INPUT", "FORWARD"]) await ip6t(["-D", parent, "-j", v6]).catch(() => {});
    await ip6t(["-F", v6]).catch(() => {});
    await ip6t(["-X", v6]).catch(() => {});
  }

  /** Every rule line of this instance (tests and doctor use it to prove nothing is left). */
  async instanceRules(): Promise<string[]> {
    const { stdout } = await run(tool("iptables-save"), [], { maxBuffer: 64 * 1024 * 1024 });
    const v6 = await run(tool("ip6tables-save"), [], { maxBuffer: 64 * 1024 * 1024 }).then(
      (r) => r.stdout,
      () => "",
    );
    return `${stdout}\n${v6}`.split("\n").filter((l) => l.includes(this.instanceId));
  }

  /** Removes per-box chains of this instance whose box is not in `keep` (a crash mid-delete). */
  private async removeOrphans(keep: Set<string>): Promise<void> {
    const { stdout } = await run(tool("iptables-save"), [], { maxBuffer: 64 * 1024 * 1024 });
    const re = new RegExp(`^:B[FIN]${this.instanceId}([0-9a-z]{12}) `);
    const orphans = new Set<string>();
    for (const line of stdout.split("\n")) {
      const m = re.exec(line);
      if (m && !keep.has(`box_${m[1]}`)) orphans.add(`box_${m[1]}`);
    }
    for (const boxId of orphans) await this.remove(boxId);
  }

  /** A new box's jumps from this instance's parent chains into its own (traffic entering on its bridge). */
  private jumpLines(b: BoxRules): Lines {
    const c = this.chains(b.boxId);
    const { f, i, n } = this.parents;
    return {
      filter: [`-A ${f} -i ${b.bridge} -j ${c.f}`, `-A ${i} -i ${b.bridge} -j ${c.i}`],
      nat: [`-A ${n} -i ${b.bridge} -j ${c.n}`],
    };
  }

  /** The box's own chains, (re)declared (emptied) and filled. */
  private boxLines(b: BoxRules, ports: ProxyPorts): Lines {
    const c = this.chains(b.boxId);
    const p = b.policy;
    const reject = (match: string) => [
      `-A ${c.f} ${match} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${c.f} ${match} -j REJECT --reject-with icmp-admin-prohibited`,
    ];
    const f: string[] = [`:${c.f} - [0:0]`, `:${c.i} - [0:0]`];
    // The host itself, whatever range its addresses are in: nothing forwarded may be bound for one of
    // them, nor have been (a port the host publishes is DNATed on to another host: no stepping stone).
    f.push(...reject("-m addrtype --dst-type LOCAL"), ...reject("-m conntrack --ctstate DNAT"));
    const gated = p.mode !== "allow-all" && ports.dns > 0;
    if (!gated && p.mode !== "deny-all") {
      // Name resolution: the engine's resolver in the box forwards queries from the box's own network.
      // (Gated boxes' UDP queries are redirected to the DNS gate instead, and TCP ones refused below.)
      for (const dns of this.dnsServers) {
        f.push(
          `-A ${c.f} -d ${dns}/32 -p udp --dport 53 -j ACCEPT`,
          `-A ${c.f} -d ${dns}/32 -p tcp --dport 53 -j ACCEPT`,
        );
      }
    }
    for (const blocked of ALWAYS_BLOCKED) f.push(...reject(`-d ${blocked.text}`));
    if (p.mode === "allow-all") f.push(`-A ${c.f} -j ACCEPT`);
    else if (p.mode === "deny-all") f.push(...reject(""));
    else {
      for (const d of p.deniedCidrs) f.push(...reject(`-d ${d.text}`));
      for (const a of p.allowedCidrs) f.push(`-A ${c.f} -d ${a.text} -j ACCEPT`);
      f.push(...reject(""));
    }
    // To the host itself: nothing, except the egress proxy when domains are allowed or headers attached
    // (a deny-all box reaches nothing, so it needs no proxy).
    const viaProxy = (p.mode === "custom" && p.allowedDomains.length > 0) || (!!b.intercept && p.mode !== "deny-all");
    if (viaProxy) {
      f.push(`-A ${c.i} -p tcp --dport ${ports.http} -j ACCEPT`, `-A ${c.i} -p tcp --dport ${ports.tls} -j ACCEPT`);
    }
    if (gated) f.push(`-A ${c.i} -p udp --dport ${ports.dns} -j ACCEPT`);
    f.push(
      `-A ${c.i} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${c.i} -j REJECT --reject-with icmp-admin-prohibited`,
    );

    const n: string[] = [`:${c.n} - [0:0]`];
    if (gated) n.push(`-A ${c.n} -p udp --dport 53 -j REDIRECT --to-ports ${ports.dns}`);
    if (viaProxy) {
      for (const d of p.deniedCidrs) n.push(`-A ${c.n} -d ${d.text} -j RETURN`);
      for (const a of p.allowedCidrs) n.push(`-A ${c.n} -d ${a.text} -j RETURN`);
      n.push(
        `-A ${c.n} -p tcp --dport 80 -j REDIRECT --to-ports ${ports.http}`,
        `-A ${c.n} -p tcp --dport 443 -j REDIRECT --to-ports ${ports.tls}`,
      );
    }
    return { filter: f, nat: n };
  }
}

interface Lines {
  filter: string[];
  nat: string[];
}

/** Appends each part's lines to `out`, table by table, in order. */
function addLines(out: Lines, ...parts: Lines[]): void {
  for (const p of parts) {
    out.filter.push(...p.filter);
    out.nat.push(...p.nat);
  }
}

/** What the firewall remembers of a box's installed rules. */
const keyOf = (own: Lines) => [...own.filter, "*nat", ...own.nat].join("\n");

async function ipt(args: string[]): Promise<void> {
  await run(tool("iptables"), ["-w", "5", ...args]);
}

async function ip6t(args: string[]): Promise<void> {
  await run(tool("ip6tables"), ["-w", "5", ...args]);
}

/** One iptables-restore for both tables (each table commits atomically). */
function restore(lines: { filter: string[]; nat: string[] }): Promise<void> {
  const text = [
    ...(lines.filter.length ? ["*filter", ...lines.filter, "COMMIT"] : []),
    ...(lines.nat.length ? ["*nat", ...lines.nat, "COMMIT"] : []),
    "",
  ].join("\n");
  return new Promise((resolve, reject) => {
    const child = spawn(tool("iptables-restore"), ["-w", "5", "--noflush"], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`iptables-restore failed (${code}): ${err.trim()}\n${text}`)),
    );
    child.stdin.end(text);
  });
}
