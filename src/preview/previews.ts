// The preview feature assembled: host routing, the targets (exposure -> awake box -> address), the
// listener (a background job) and the service the tools call. Only the methods named below are used.
import type { BackgroundService } from "../background.js";
import type { BoxService } from "../box/box-service.js";
import { isExpired } from "../box/ttl.js";
import type { ContainerClient } from "../docker/containers.js";
import type { LiveRunIndex } from "../events/live-runs.js";
import type { LifecycleService } from "../lifecycle/lifecycle-service.js";
import type { Logger } from "../log.js";
import type { BoxStore } from "../state/box-store.js";
import type { ExposureStore } from "../state/exposure-store.js";
import { PreviewHosts } from "./preview-host.js";
import { PreviewListener } from "./preview-listener.js";
import { PreviewService } from "./preview-service.js";
import { PreviewTargets } from "./preview-targets.js";

export interface PreviewsDeps {
  exposures: ExposureStore;
  boxStore: Pick<BoxStore, "get">;
  boxes: Pick<BoxService, "resolve" | "touch">;
  lifecycle: Pick<LifecycleService, "ensureLive">;
  liveRuns: Pick<LiveRunIndex, "hold">;
  /** The Docker layer (types only here): the box container's address. */
  engine: { containers: Pick<ContainerClient, "address"> };
}

export interface Previews {
  service: PreviewService;
  listener: PreviewListener;
  /** The listener as a background job; its start also drops exposures of boxes deleted during a crash. */
  job: BackgroundService;
}

export function createPreviews(
  section: { port: number | null; host: string; domain: string; publicUrl: string },
  deps: PreviewsDeps,
  log: Logger,
): Previews {
  const { exposures, boxStore, boxes, lifecycle, liveRuns, engine } = deps;
  const hosts = new PreviewHosts(section.domain, section.publicUrl);
  const targets = new PreviewTargets({
    exposures,
    // A tenant's live box: pooled, deleted and expired boxes serve no previews.
    box: (id) => {
      const b = boxStore.get(id);
      return b && b.status !== "deleted" && b.status !== "pooled" && !isExpired(b) ? b : null;
    },
    ensureLive: (boxId) => lifecycle.ensureLive(boxId),
    address: (containerId, network) => engine.containers.address(containerId, network),
    hold: (boxId) => liveRuns.hold(boxId),
    touch: (boxId) => boxes.touch(boxId),
  });
  const listener = new PreviewListener({ port: section.port, host: section.host, hosts, targets, log });
  const service = new PreviewService({ exposures, hosts, resolve: (t, r) => boxes.resolve(t, r), listener });
  const job: BackgroundService = {
    start: () => {
      exposures.pruneOrphans();
      return listener.start();
    },
    stop: () => listener.stop(),
  };
  return { service, listener, job };
}
