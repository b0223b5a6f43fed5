// Making a box's Docker objects: its network (a /28 from the pool; subnets another instance holds on the
// engine are skipped), its firewall rules, then its hardened container, each labelled with the instance
// and box ids. Called by BoxService.create under the box's lock.

import type { DockerEngine } from "../docker/engine.js";
import { instanceLabels, LABEL_BOX_ID, LABEL_KIND, LABEL_RUNTIME } from "../docker/labels.js";
import { limitExceeded } from "../errors.js";
import type { BoxNetwork, BoxRecord } from "../model/box.js";
import { BOX_HOME, BOX_USER } from "../model/box-user.js";
import type { BoxStore } from "../state/box-store.js";
import type { BoxAttach } from "./box-service-deps.js";
import { SUBNETS_PER_POOL, subnetAt } from "./network-pool.js";
import { effectiveLimits, type HostResources, limitsFor } from "./sizes.js";

/** What making a box needs (BoxService passes its own deps). */
export interface ProvisionDeps {
  engine: DockerEngine;
  boxStore: BoxStore;
  instanceId: string;
  networkPool: string;
  network?: BoxNetwork;
  /** The engine runtime name gVisor boxes get. */
  isolation: { gvisorRuntime: string };
  attach?: Pick<BoxAttach, "get" | "installTrust">;
}

export async function provisionBox(deps: ProvisionDeps, box: BoxRecord, host: HostResources): Promise<void> {
  const { engine, boxStore, instanceId } = deps;
  const labels = instanceLabels(instanceId, { [LABEL_BOX_ID]: box.id });
  const networkName = `boxd-${instanceId}-${box.id}`;
  const skipped = new Set<number>();
  let subnet: ReturnType<typeof subnetAt> | null = null;
  for (let attempt = 0; attempt < 64 && !subnet; attempt++) {
    const index = freeIndex(deps, skipped);
    const candidate = subnetAt(deps.networkPool, index);
    boxStore.update(box.id, { subnetIndex: index, networkName });
    box.subnetIndex = index;
    box.networkName = networkName;
    try {
      await engine.networks.create({
        name: networkName,
        subnet: candidate.cidr,
        gateway: candidate.gateway,
        labels: { ...labels, [LABEL_KIND]: "box-network" },
        bridgeName: deps.network?.bridgeFor(box.id),
      });
      subnet = candidate;
    } catch (err) {
      if (!/overlap/i.test((err as Error).message)) throw err;
      skipped.add(index); // held by another instance or network on this engine
    }
  }
  if (!subnet) throw limitExceeded(`no free subnet in ${deps.networkPool}: set BOXD_NETWORK_POOL`);

  box.containerId = await engine.containers.create({
    name: `boxd-${instanceId}-${box.id}`,
    image: box.image,
    labels: { ...labels, [LABEL_KIND]: "box", [LABEL_RUNTIME]: box.runtime },
    // No box env in the container: it rides on every exec (src/shell/run-service.ts), so box_update can
    // set and unset it for new commands, as for a pooled box (made before its env was known).
    env: [],
    user: BOX_USER,
    workingDir: BOX_HOME,
    hostname: box.name.replace(/[^a-z0-9-]/g, "-").slice(0, 63),
    network: { name: networkName, ip: subnet.boxIp },
    dns: deps.network?.containerDns,
    limits: limitsFor(box.size, host, box.isolation),
    runtime: box.isolation === "gvisor" ? deps.isolation.gvisorRuntime : undefined,
    rootAllowed: box.root,
  });
  // Recorded with the container, from the same function, so box results report what it really got.
  box.limits = effectiveLimits(box.size, host);
  boxStore.update(box.id, { containerId: box.containerId, limits: box.limits });
  // The egress CA is trusted and the policy in force before the box's first process starts.
  if (deps.attach?.get(box.id)) await deps.attach.installTrust(box.containerId);
  await deps.network?.apply(box);
  await engine.containers.start(box.containerId);
  if (box.isolation === "gvisor") await preloadGvisorShim(engine, box.containerId);
}

/**
 * Where the base image keeps the shim (images/base/gvisor-compat.c says why gVisor boxes need it); images
 * built before it was widened carry only the statx part, under its old name.
 */
const GVISOR_SHIMS = ["/usr/local/lib/boxd/libboxd-gvisor.so", "/usr/local/lib/boxd/libboxd-statx.so"];

/** Makes every process of a gVisor box load the shim; images from before any shim are left as they are. */
async function preloadGvisorShim(engine: DockerEngine, containerId: string): Promise<void> {
  const script = `for f in ${GVISOR_SHIMS.join(" ")}; do [ -f "$f" ] && { echo "$f" > /etc/ld.so.preload; exit 0; }; done; exit 0`;
  const r = await engine.execs.run({ containerId, cmd: ["/bin/sh", "-c", script], user: "0:0" });
  if (r.exitCode !== 0) throw new Error(`could not set up the gVisor shim in the box (exit ${r.exitCode})`);
}

function freeIndex(deps: ProvisionDeps, skipped: Set<number>): number {
  // Synchronous pick-and-record (no await in between), so concurrent creates never take one subnet.
  const index = deps.boxStore.freeSubnetIndex(SUBNETS_PER_POOL, skipped);
  if (index === null) {
    throw limitExceeded(`no free subnet in ${deps.networkPool}: delete boxes or set BOXD_NETWORK_POOL`);
  }
  return index;
}
