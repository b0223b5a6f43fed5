// Box sizes as the product defines them: CPUs, memory, disk allowance and processes. A host smaller than a
// size clamps CPUs (the engine refuses more than it has) and memory (a box may not take the host's last
// memory: the server and the engine need some). One function gives what a container is made with and what
// box results report, so the two match by construction.
import type { BoxLimits, Isolation, Size } from "../model/box.js";

export interface SizeSpec {
  cpus: number;
  memoryBytes: number;
  /** Disk allowance: bytes written beyond the image (measured by the disk guard). */
  diskBytes: number;
  pids: number;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const SIZE_LIMITS: Record<Size, SizeSpec> = {
  small: { cpus: 2, memoryBytes: 4 * GiB, diskBytes: 5 * GiB, pids: 512 },
  medium: { cpus: 4, memoryBytes: 8 * GiB, diskBytes: 10 * GiB, pids: 1024 },
  large: { cpus: 8, memoryBytes: 16 * GiB, diskBytes: 20 * GiB, pids: 2048 },
};

/** Memory a box leaves to the host at least, and the least a box gets on any host. */
export const HOST_MEMORY_HEADROOM_BYTES = 512 * MiB;
export const MIN_BOX_MEMORY_BYTES = 256 * MiB;

/** What the engine's host has (Docker's NCPU and MemTotal). */
export interface HostResources {
  cpus: number;
  memoryBytes: number;
}

/** The CPUs and memory a box of this size gets on this host. */
export function effectiveLimits(size: Size, host: HostResources): Pick<BoxLimits, "cpus" | "memoryBytes"> {
  const l = SIZE_LIMITS[size];
  const cpus = Math.min(l.cpus, Math.max(1, host.cpus));
  const hostMax = Math.max(MIN_BOX_MEMORY_BYTES, host.memoryBytes - HOST_MEMORY_HEADROOM_BYTES);
  return { cpus, memoryBytes: Math.min(l.memoryBytes, hostMax) };
}

/** The disk allowance of a box of this size; `overrideBytes` (BOXD_MAX_DISK_BYTES, 0 = unset) wins. */
export function diskAllowanceFor(size: Size, overrideBytes: number): number {
  return overrideBytes > 0 ? overrideBytes : SIZE_LIMITS[size].diskBytes;
}

/**
 * Host tasks per box process in a gVisor box. Its ptrace platform backs each box process with a host stub
 * process plus a thread per sentry thread that ran it: measured here 8-10 host tasks per idle process
 * (38 for the sandbox itself). The pids cgroup sees host tasks, so a gVisor box gets this many per process
 * of its size's figure, plus the sandbox's own, or an agent with a few dozen processes would end the sandbox.
 */
const GVISOR_TASKS_PER_PROCESS = 10;
const GVISOR_SANDBOX_TASKS = 256;

/** The container's limits (HostConfig NanoCpus, Memory, PidsLimit) for a box of this size on this host. */
export function limitsFor(
  size: Size,
  host: HostResources,
  isolation: Isolation = "runc",
): { nanoCpus: number; memoryBytes: number; pids: number } {
  const { cpus, memoryBytes } = effectiveLimits(size, host);
  const processes = SIZE_LIMITS[size].pids;
  const pids = isolation === "gvisor" ? processes * GVISOR_TASKS_PER_PROCESS + GVISOR_SANDBOX_TASKS : processes;
  return { nanoCpus: Math.round(cpus * 1e9), memoryBytes, pids };
}
