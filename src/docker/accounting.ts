// A container's CPU and memory accounting for one lifetime (from its start to its stop): the host's cgroup
// files where the engine is local (src/docker/cgroup-usage.ts), else the engine's stats API (a remote
// DOCKER_HOST), which reads the same cgroup counters on the engine's host.
import { type CgroupReading, readCgroupUsage } from "./cgroup-usage.js";
import type { ContainerClient } from "./containers.js";

export interface ContainerAccounting {
  /** CPU time of everything that ran in the container since `startedAt`, in ns. */
  cpuNs: number;
  /** Its memory high-water mark since `startedAt` (a current figure where the kernel keeps no peak). */
  memoryPeakBytes: number;
  /** The engine's StartedAt: a new value means new counters (the container was stopped and started). */
  startedAt: string;
  source: "cgroup-v1" | "cgroup-v2" | "engine-stats";
}

export class AccountingClient {
  constructor(
    private readonly containers: ContainerClient,
    /** The host-side reader (tests pass one that finds nothing, to take the stats API path). */
    private readonly readLocal: (id: string, pid: number) => Promise<CgroupReading | null> = readCgroupUsage,
  ) {}

  /** The running (or frozen) container's counters; null when it is stopped or gone (it has no cgroup then). */
  async read(containerId: string): Promise<ContainerAccounting | null> {
    const state = await this.containers.inspect(containerId);
    if (!state?.running) return null;
    const local = await this.readLocal(state.id, state.pid);
    if (local) return { ...local, startedAt: state.startedAt };
    const stats = await this.containers.usage(state.id);
    if (!stats) return null;
    // cgroup v1 engines report a peak; v2 ones only the current use (the meter keeps the highest seen).
    const memoryPeakBytes = Math.max(stats.memoryPeakBytes, stats.memoryBytes);
    return { cpuNs: stats.cpuNs, memoryPeakBytes, startedAt: state.startedAt, source: "engine-stats" };
  }
}
