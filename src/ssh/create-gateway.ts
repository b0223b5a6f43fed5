// Builds the SSH gateway from the app's services (createApp's phase 4), or nothing when SSH is off: the
// gateway sees only what GatewayDeps names, never the services themselves.
import type { BoxService } from "../box/box-service.js";
import type { ConfigSections } from "../config-sections.js";
import type { DockerEngine } from "../docker/engine.js";
import type { LiveRunIndex } from "../events/live-runs.js";
import type { DiskAllowance } from "../lifecycle/disk-guard.js";
import type { LifecycleService } from "../lifecycle/lifecycle-service.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import { SshGateway } from "./ssh-gateway.js";

export interface GatewayParts {
  engine: DockerEngine;
  boxes: BoxService;
  lifecycle: LifecycleService;
  liveRuns: LiveRunIndex;
  diskAllowance: DiskAllowance;
  boxLog: BoxLog;
  log: Logger;
}

export function createSshGateway(settings: ConfigSections["ssh"], parts: GatewayParts): SshGateway | null {
  const { port, ...rest } = settings;
  if (port === null) return null;
  const { boxes, lifecycle, liveRuns, boxLog } = parts;
  return new SshGateway(
    { ...rest, port },
    {
      engine: parts.engine,
      resolve: (tenant, ref) => boxes.resolve(tenant, ref),
      ensureLive: (boxId) => lifecycle.ensureLive(boxId),
      // A box over its disk allowance starts no shell, command or sftp-server, as it starts no run.
      admit: (boxId) => parts.diskAllowance.assertWithinAllowance(boxId),
      hold: (boxId) => liveRuns.hold(boxId),
      touch: (boxId) => boxes.touch(boxId),
      // Sessions are the user's doing, like box_exec calls: logged with source "user".
      boxLog: (boxId, level, message) => boxLog.append(boxId, level, "user", message),
      log: parts.log,
    },
  );
}
