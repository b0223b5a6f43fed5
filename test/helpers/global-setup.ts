// Runs once around the whole suite: fail loudly when there is no engine or no images (never skip), and
// at the end check that no container, network or image of any test instance is left on the engine.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { DockerEngine } from "../../src/docker/engine.js";
import { LABEL_INSTANCE, LABEL_MANAGED } from "../../src/docker/labels.js";
import { loadImageSet, RUNTIMES, type Runtime } from "../../src/images/definitions.js";
import { silentLogger } from "../../src/log.js";
import { abuseSummary } from "./abuse-tally.js";
import { testRoot } from "./test-root.js";

export async function setup(): Promise<void> {
  const engine = new DockerEngine(silentLogger);
  try {
    await engine.ping();
  } catch (err) {
    throw new Error(
      `The tests need a real Docker engine and none is reachable (${(err as Error).message}). Run \`npm test\`, which provisions one, or start dockerd.`,
    );
  }
  const set = loadImageSet("");
  // A leg against another engine loads only the images its suites use (BOXD_TEST_RUNTIMES=node,python).
  const wanted = process.env.BOXD_TEST_RUNTIMES?.split(",") ?? RUNTIMES;
  const missing: string[] = [];
  for (const r of wanted) if (!(await engine.images.inspect(set.runtime(r as Runtime).ref))) missing.push(r);
  if (!(await engine.images.inspect(set.netd.ref))) missing.push("the network helper (netd)");
  if (missing.length) {
    throw new Error(`box images missing for ${missing.join(", ")}: run \`npm run setup\` (boxd images build) first`);
  }
}

/** Every iptables and ip6tables line on the engine's host, both backends. */
export function engineFirewall(engine: DockerEngine): Promise<string> {
  const save = "for t in iptables ip6tables; do for b in nft legacy; do $t-$b-save 2>/dev/null; done; done; true";
  return engine.netd.probe(loadImageSet("").netd.ref, ["sh", "-c", save], "leak-check");
}

export async function teardown(): Promise<void> {
  const root = testRoot();
  const engine = new DockerEngine(silentLogger);
  mkdirSync(path.join(root, "instances"), { recursive: true });
  const ids = readdirSync(path.join(root, "instances"));
  const leaks: string[] = [];
  // The engine host's firewall, read where the network helper writes it (the engine may be another
  // machine's, and this process need not be root).
  const firewall = ids.length ? await engineFirewall(engine) : "";
  for (const id of ids) {
    const labels = { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: id };
    for (const c of await engine.containers.list(labels)) {
      leaks.push(`container ${c.names[0]}`);
      await engine.containers.remove(c.id);
    }
    for (const n of await engine.networks.list(labels)) {
      leaks.push(`network ${n.name}`);
      await engine.networks.remove(n.id);
    }
    const rules = firewall.split("\n").filter((l) => l.includes(id));
    if (rules.length) leaks.push(`${rules.length} firewall rule lines of instance ${id}`);
    for (const i of await engine.images.list(labels)) {
      leaks.push(`image ${i.tags.join(",") || i.id}`);
      await engine.images.remove(i.id, true);
    }
  }
  const abuse = abuseSummary();
  if (abuse.tried > 0) {
    process.stderr.write(`${abuse.lines.map((l) => `[abuse] ${l}`).join("\n")}\n`);
    process.stderr.write(
      `[abuse] ${abuse.tried} cases tried, ${abuse.contained} contained, ${abuse.tried - abuse.contained} lost\n`,
    );
  }
  rmSync(root, { recursive: true, force: true });
  process.stderr.write(`[leak check] ${ids.length} test instances checked, ${leaks.length} objects left behind\n`);
  if (leaks.length) {
    // A throw here is only printed by vitest; the exit code must say it too.
    process.exitCode = 1;
    throw new Error(`tests left Docker objects behind (now removed): ${leaks.join("; ")}`);
  }
}
