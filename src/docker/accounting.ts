// A container's CPU and memory accounting for one lifetime (from its start to its stop): the host's cgroup
// files where the engine is local (src/docker/cgroup-usage.ts), else the engine's stats API (a remote
// DOCKER_HOST), which reads the same cgroup counters on the engine's host.
import { type CgroupReading, processStart, readCgroupUsage } from "./cgroup-usage.js";
import type { ContainerClient } from "./containers.js";

export interface ContainerAccounting {
  /** CPU time of everything that ran in the container since `startedAt`, in ns. */
  cpuNs: number;
  /** Its memory high-water mark since `startedAt` (a current figure where the kernel keeps no peak). */
  memoryPeakBytes: number;
  /** Its memory in use at this reading. */
  memoryBytes: number;
  /** The engine's StartedAt: a new value means new counters (the container was stopped and started). */
  startedAt: string;
  source: "cgroup-v1" | "cgroup-v2" | "engine-stats";
}

/** A lifetime read locally before: its init process (pid and start time) and the engine's StartedAt. */
interface KnownLifetime {
  id: string;
  pid: number;
  procStart: string;
  startedAt: string;
}

/** Lifetimes remembered at most (oldest forgotten first): a forgotten one costs one inspect again. */
const KNOWN_MAX = 4096;

export class AccountingClient {
  private readonly known = new Map<string, KnownLifetime>();

  constructor(
    private readonly containers: ContainerClient,
    /** The host-side reader (tests pass one that finds nothing, to take the stats API path). */
    private readonly readLocal: (id: string, pid: number) => Promise<CgroupReading | null> = readCgroupUsage,
    private readonly startOf: (pid: number) => string | null = processStart,
  ) {}

  /** The running (or frozen) container's counters; null when it is stopped or gone (it has no cgroup then). */
  async read(containerId: string): Promise<ContainerAccounting | null> {
    // The same init process as at the last inspect means the same lifetime: its counters are read without
    // asking the engine (with many boxes up, the usage meter's inspects were most of an idle server's work).
    const known = this.known.get(containerId);
    if (known && this.startOf(known.pid) === known.procStart) {
      const local = await this.readLocal(known.id, known.pid);
      if (local) return { ...local, startedAt: known.startedAt };
    }
    this.known.delete(containerId);
    const state = await this.containers.inspect(containerId);
    if (!state?.running) return null;
    const local = await this.readLocal(state.id, state.pid);
    if (local) {
      this.remember(containerId, state.id, state.pid, state.startedAt);
      return { ...local, startedAt: state.startedAt };
    }
    const stats = await this.containers.usage(state.id);
    if (!stats) return null;
    // cgroup v1 engines report a peak; v2 ones only the current use (the meter keeps the highest seen).
    const memoryPeakBytes = Math.max(stats.memoryPeakBytes, stats.memoryBytes);
    return {
      cpuNs: stats.cpuNs,
      memoryPeakBytes,
      memoryBytes: stats.memoryBytes,
      startedAt: state.startedAt,
      source: "engine-stats",
    };
  }

  private remember(key: string, id: string, pid: number, startedAt: string): void {
    const procStart = this.startOf(pid);
    if (procStart === null) return;
    if (this.known.size >= KNOWN_MAX) this.known.delete(this.known.keys().next().value as string);
    this.known.set(key, { id, pid, procStart, startedAt });
  }
}
