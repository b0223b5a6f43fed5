// The network helper (netd): one container per instance in the engine host's network namespace, as
// confined as its job allows, the only channel its attached stdio; a helper that dies is replaced at the
// next change with every box's rules, the rules hold meanwhile, and none outlives its server.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { netdName } from "../../src/docker/netd-container.js";
import { type Harness, startHarness } from "../helpers/harness.js";
import { type StandInInternet, startStandInInternet } from "../helpers/stand-in-internet.js";
import { testRoot } from "../helpers/test-root.js";

const CLI = path.resolve(import.meta.dirname, "../../dist/cli.js");

interface Exec {
  exitCode: number;
  stdout: string;
  durationMs: number;
}

describe("network helper", () => {
  let inet: StandInInternet;
  let h: Harness;
  const sh = (box: string, command: string) => h.callOk<Exec>("box_exec", { box, command, timeoutSeconds: 60 });
  const curl = (box: string, url: string) => sh(box, `curl -sS -m 8 --connect-timeout 5 ${url}; echo " rc=$?"`);
  const helpers = () => h.services.engine.containers.list({ "boxd.instance": h.app.instanceId, "boxd.kind": "netd" });

  beforeAll(async () => {
    inet = await startStandInInternet();
    h = await startHarness({ env: { BOXD_DNS_SERVERS: inet.dns } });
  });
  afterAll(async () => {
    await h?.close();
    await inet?.close();
  });

  it("runs one helper per instance: host network, NET_ADMIN and NET_RAW only, no mounts, no ports", async () => {
    const found = await helpers();
    expect(found.map((c) => c.names[0])).toEqual([netdName(h.app.instanceId)]);
    const state = await h.services.engine.containers.inspect(found[0]?.id as string);
    // The helper's own process (the engine runs it in this host's process namespace here): NET_ADMIN
    // (bit 12) and NET_RAW (bit 13), nothing else, and no way to gain more.
    const status = readFileSync(`/proc/${state?.pid}/status`, "utf8");
    expect(status).toMatch(/CapEff:\s+0000000000003000/);
    expect(status).toMatch(/CapBnd:\s+0000000000003000/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    expect(state?.hostConfig.capDrop).toEqual(["ALL"]);
    expect(state?.hostConfig.securityOpt).toContain("no-new-privileges");
    const facts = await h.services.network.enforcement();
    expect(facts).toMatchObject({ path: "network helper", backend: expect.stringMatching(/^(nft|legacy)$/) });
    expect(facts.node).toMatch(/^v2\d\./);
  });

  it("boxd doctor says which path enforces policies, proved on the engine's host, and when none does", () => {
    const doctor = (env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, "doctor"], {
        env: { ...process.env, BOXD_DATA_DIR: mkdtempSync(path.join(testRoot(), "doctor-")), ...env },
        encoding: "utf8",
        timeout: 120_000,
      }).stdout;
    const out = doctor({});
    const who = process.getuid?.() === 0 ? "as root" : "(no root needed)";
    expect(out).toMatch(
      /ok {3}network policy: enforced by the network helper \(a boxd\/netd:\w+ container in the engine host's network namespace: iptables-(nft|legacy)/,
    );
    expect(out).toContain(who);
    expect(doctor({ BOXD_FIREWALL: "off" })).toContain("off  network policy: NOT enforced (BOXD_FIREWALL=off)");
  });

  it("a killed helper is replaced by itself, with every box's rules and the proxy working; the rules held meanwhile", async () => {
    const closed = await h.createBox({ name: "closed", networkPolicy: { mode: "deny-all" } });
    const domains = await h.createBox({
      name: "domains",
      networkPolicy: { mode: "custom", allowedDomains: ["allowed.test"] },
    });
    expect((await curl(domains.id, "http://allowed.test/")).stdout).toContain("web-a");
    const [first] = await helpers();
    await h.services.engine.containers.remove(first?.id as string);
    // Rules live in the kernel: the deny-all box stays closed while no helper runs.
    expect((await curl(closed.id, `http://${inet.webA}/`)).stdout).toMatch(/rc=[1-9]/);
    // A new helper comes up by itself (no change needed), with every box: the proxy answers the old box.
    let second = first;
    for (let i = 0; i < 100 && (!second || second.id === first?.id); i++) {
      await new Promise((r) => setTimeout(r, 200));
      [second] = await helpers();
    }
    expect(second?.id).toBeTruthy();
    expect(second?.id).not.toBe(first?.id);
    expect((await h.services.network.enforcement()).container).toBe(second?.id.slice(0, 12)); // its init done
    expect((await curl(domains.id, "http://allowed.test/")).stdout).toContain("web-a");
    const open = await h.createBox({ name: "open" });
    expect((await helpers()).map((c) => c.id)).toEqual([second?.id]);
    expect((await curl(open.id, `http://${inet.webA}/`)).stdout).toContain("web-a");
    expect((await curl(domains.id, "http://other.test/")).stdout).toMatch(/403|rc=[1-9]/);
    expect((await curl(closed.id, `http://${inet.webA}/`)).stdout).toMatch(/rc=[1-9]/);
  });

  it("goes with its server: none is left after close, and rules of kept boxes stay", async () => {
    const dataDir = h.dataDir;
    const other = await startHarness({ keepBoxes: true, keepData: true });
    const box = await other.createBox({ name: "kept", networkPolicy: { mode: "deny-all" } });
    const id = other.app.instanceId;
    await other.close();
    const left = await h.services.engine.containers.list({ "boxd.instance": id, "boxd.kind": "netd" });
    expect(left).toEqual([]);
    // Its box's rules are still on the engine's host (read there through a probe of the helper image).
    const again = await startHarness({ dataDir: other.dataDir });
    try {
      const rules = await again.services.network.instanceRules();
      expect(rules.some((l) => l.includes(box.id.slice(4)))).toBe(true);
      expect(
        (
          await again.callOk<Exec>("box_exec", {
            box: box.id,
            command: `curl -sS -m 5 http://${inet.webA}/; echo " rc=$?"`,
          })
        ).stdout,
      ).toMatch(/rc=[1-9]/);
    } finally {
      await again.close();
    }
    expect(dataDir).toBeTruthy();
  });
});
