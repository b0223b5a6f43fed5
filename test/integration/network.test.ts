// Egress policy against a stand-in internet made of this test's own containers: what must connect
// connects, what must not fails fast, and the invariants hold in every mode.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BoxResult, type Harness, startHarness } from "../helpers/harness.js";
import { type StandInInternet, startStandInInternet } from "../helpers/stand-in-internet.js";

interface Exec {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

describe("network policy", () => {
  let inet: StandInInternet;
  let h: Harness;
  let hostServer: net.Server;
  let hostPort = 0;

  const sh = (box: string, command: string) => h.callOk<Exec>("box_exec", { box, command, timeoutSeconds: 60 });
  // curl: short timeouts so "blocked" means "fails fast", never a hang. What must connect gets a generous
  // timeout instead: on a loaded 2-core CI machine a TLS handshake through the proxy can take seconds.
  const curl = (box: string, args: string) => sh(box, `curl -sS -m 6 --connect-timeout 4 ${args}; echo " rc=$?"`);
  const curlOk = (box: string, args: string) => sh(box, `curl -sS -m 30 ${args}; echo " rc=$?"`);
  const tcp = (box: string, ip: string, port: number, seconds = 6) =>
    sh(
      box,
      `timeout ${seconds} bash -c 'exec 3<>/dev/tcp/${ip}/${port}; echo ping >&3; head -c 100 <&3' 2>&1; echo " rc=$?"`,
    );

  beforeAll(async () => {
    inet = await startStandInInternet();
    h = await startHarness({ env: { BOXD_DNS_SERVERS: inet.dns } });
    // A service on the host itself: boxes must never reach it.
    hostServer = net.createServer((s) => s.end("host-secret\n"));
    await new Promise<void>((r) => hostServer.listen(0, "0.0.0.0", () => r()));
    hostPort = (hostServer.address() as net.AddressInfo).port;
  }, 180_000);

  afterAll(async () => {
    hostServer?.close();
    await h?.close();
    await inet?.close();
  });

  function gatewayOf(box: BoxResult): string {
    const record = h.services.boxes.mustGet(box.id);
    const [a, b] = h.services.config.networkPool.split(".");
    const offset = (record.subnetIndex as number) * 16;
    return `${a}.${b}.${Math.floor(offset / 256)}.${(offset % 256) + 1}`;
  }

  it("allow-all: HTTP, HTTPS with SNI by name, raw TCP connect; invariants still hold", async () => {
    const box = await h.createBox({ name: "open" });
    const other = await h.createBox({ name: "neighbour" });
    expect((await curlOk(box.id, `http://${inet.webA}/`)).stdout).toContain("web-a host=");
    expect((await curlOk(box.id, "-k https://allowed.test/")).stdout).toContain("web-a host=allowed.test");
    expect((await tcp(box.id, inet.webB, 7000, 30)).stdout).toContain("web-b echo ping");

    // Private ranges (a private host this test made), other boxes, the host's own services: refused fast.
    const priv = await curl(box.id, `http://${inet.privateWeb}/`);
    expect(priv.stdout).toMatch(/rc=[1-9]/);
    expect(priv.durationMs).toBeLessThan(5000);
    const otherIp = (await sh(other.id, "hostname -I")).stdout.trim();
    expect((await tcp(box.id, otherIp, 80)).stdout).toMatch(/rc=[1-9]/);
    const toHost = await tcp(box.id, gatewayOf(box), hostPort);
    expect(toHost.stdout).not.toContain("host-secret");
    expect(toHost.stdout).toMatch(/rc=[1-9]/);

    // Metadata and link-local are never sent to: prove the rule exists instead.
    const rules = await h.services.network.instanceRules();
    const boxRules = rules.filter((l) => l.includes(box.id.slice(4)));
    expect(boxRules.some((l) => l.includes("169.254.0.0/16") && l.includes("REJECT"))).toBe(true);

    // No raw sockets, no way to change routes or the firewall from inside.
    const raw = await sh(
      box.id,
      "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>&1; echo rc=$?",
    );
    // gVisor's hostinet has no raw sockets at all (EAFNOSUPPORT); runc refuses them (no NET_RAW).
    expect(raw.stdout).toMatch(/Operation not permitted|PermissionError|Address family not supported/);
    expect(raw.stdout).toMatch(/rc=[1-9]/);
    const hosts = await sh(box.id, "{ echo '198.51.100.99 allowed.test' >> /etc/hosts; } 2>&1; echo rc=$?");
    expect(hosts.stdout).toMatch(/Permission denied/);
  });

  it("deny-all: nothing connects, and it fails fast", async () => {
    const box = await h.createBox({ name: "closed", networkPolicy: { mode: "deny-all" } });
    const r = await curl(box.id, `http://${inet.webA}/`);
    expect(r.stdout).toMatch(/rc=[1-9]/);
    expect(r.durationMs).toBeLessThan(5000);
    expect((await tcp(box.id, inet.webB, 7000)).stdout).toMatch(/rc=[1-9]/);
    expect((await curl(box.id, "http://allowed.test/")).stdout).toMatch(/rc=[1-9]/);
  });

  it("custom: domains through the egress proxy (Host and SNI re-resolved outside the box), CIDRs with deny winning", async () => {
    const box = await h.createBox({
      name: "custom",
      networkPolicy: {
        mode: "custom",
        allowedDomains: ["allowed.test", "*.wild.test", "evil.test"],
        allowedCidrs: [`${inet.webB}/32`, "10.0.0.0/8"],
        deniedCidrs: [],
      },
    });
    expect((box as { notes?: string[] }).notes?.join(" ")).toMatch(/10\.0\.0\.0\/8.*stays blocked/);
    expect((await curlOk(box.id, "http://allowed.test/")).stdout).toContain("web-a host=allowed.test");
    expect((await curlOk(box.id, "-k https://allowed.test/")).stdout).toContain("web-a host=allowed.test");
    expect((await curlOk(box.id, "http://api.wild.test/")).stdout).toContain("web-a host=api.wild.test");
    // other.test is web-b, reachable only as the allowed CIDR; by name over HTTP it is refused by the proxy.
    const denied = await curl(box.id, `-H 'Host: other.test' http://${inet.webA}/`);
    expect(denied.stdout).toContain("denied by this box's network policy");
    // DNS tricks: the box points allowed.test at another of our hosts (the DNS server, no web server there);
    // the proxy re-resolves the name outside the box and goes to web-a.
    const trick = await curlOk(box.id, `--resolve allowed.test:80:${inet.dns} http://allowed.test/`);
    expect(trick.stdout).toContain("web-a");
    // A name that resolves to a private address never gets there, even though it is listed.
    const evil = await curl(box.id, "http://evil.test/");
    expect(evil.stdout).not.toContain("web-private");
    expect(evil.stdout).toMatch(/rc=[1-9]|blocked addresses/);
    // Raw TCP: only to the allowed CIDR.
    expect((await tcp(box.id, inet.webB, 7000, 30)).stdout).toContain("web-b echo");
    expect((await tcp(box.id, inet.webA, 7000)).stdout).toMatch(/rc=[1-9]/);
    // Listed private ranges stay blocked.
    expect((await curl(box.id, `http://${inet.privateWeb}/`)).stdout).toMatch(/rc=[1-9]|denied/);

    const deny = await h.createBox({
      name: "deny-wins",
      networkPolicy: {
        mode: "custom",
        allowedDomains: ["evil.test"],
        allowedCidrs: [`${inet.webA.replace(/\d+$/, "0")}/24`],
        deniedCidrs: [`${inet.webB}/32`],
      },
    });
    // Through the proxy: the listed name resolves (outside the box) to a private address, so it is refused.
    expect((await curl(deny.id, "http://evil.test/")).stdout).toContain("blocked addresses");
    expect((await tcp(deny.id, inet.webA, 7000, 30)).stdout).toContain("web-a echo");
    expect((await tcp(deny.id, inet.webB, 7000)).stdout).toMatch(/rc=[1-9]/);
  });

  it("changes a live box's policy on its next connection, without restarting it", async () => {
    const box = await h.createBox({ name: "switch" });
    await sh(box.id, "sleep 600 >/dev/null 2>&1 & echo $! > /tmp/keeper.pid");
    expect((await curlOk(box.id, `http://${inet.webA}/`)).stdout).toContain("web-a");
    const changed = await h.callOk<{ networkPolicy: { mode: string } }>("box_set_network_policy", {
      box: box.id,
      networkPolicy: { mode: "deny-all" },
    });
    expect(changed.networkPolicy.mode).toBe("deny-all");
    expect((await curl(box.id, `http://${inet.webA}/`)).stdout).toMatch(/rc=[1-9]/);
    await h.callOk("box_set_network_policy", { box: box.id, networkPolicy: { mode: "allow-all" } });
    expect((await curlOk(box.id, `http://${inet.webA}/`)).stdout).toContain("web-a");
    // Same container, process still alive.
    expect((await sh(box.id, "kill -0 $(cat /tmp/keeper.pid) && echo alive")).stdout).toBe("alive\n");
  });

  it("refuses malformed policies with INVALID_ARGUMENT and creates nothing", async () => {
    for (const allowedDomains of [["*"], ["a.*.b"], ["-bad.com"], ["exa mple.com"]]) {
      const err = await h.callErr("box_create", { networkPolicy: { mode: "custom", allowedDomains } });
      expect(err.code).toBe("INVALID_ARGUMENT");
    }
    for (const allowedCidrs of [["300.1.1.1/32"], ["1.2.3.4/33"], ["nonsense"]]) {
      expect((await h.callErr("box_create", { networkPolicy: { mode: "custom", allowedCidrs } })).code).toBe(
        "INVALID_ARGUMENT",
      );
    }
    expect(
      (await h.callErr("box_create", { networkPolicy: { mode: "deny-all", allowedDomains: ["a.com"] } })).code,
    ).toBe("INVALID_ARGUMENT");
    expect((await h.callErr("box_create", { networkPolicy: { mode: "open" } })).code).toBe("INVALID_ARGUMENT");
    const box = await h.createBox({ name: "keeps-policy" });
    const bad = await h.callErr("box_set_network_policy", {
      box: box.id,
      networkPolicy: { mode: "custom", allowedDomains: ["*"] },
    });
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect((await h.callOk<{ networkPolicy: { mode: string } }>("box_get", { box: box.id })).networkPolicy.mode).toBe(
      "allow-all",
    );
  });

  it("deleting 20 boxes leaves no network or firewall rule behind", async () => {
    const before = await h.services.engine.networks.list({ "boxd.instance": h.app.instanceId });
    const made: BoxResult[] = [];
    for (let i = 0; i < 20; i++)
      made.push(
        await h.createBox({
          networkPolicy: i % 2 ? { mode: "deny-all" } : { mode: "custom", allowedDomains: ["allowed.test"] },
        }),
      );
    for (const b of made) await h.callOk("box_delete", { box: b.id });
    const after = await h.services.engine.networks.list({ "boxd.instance": h.app.instanceId });
    expect(after.length).toBe(before.length);
    const rules = await h.services.network.instanceRules();
    for (const b of made) expect(rules.filter((l) => l.includes(b.id.slice(4)))).toEqual([]);
  });
});
