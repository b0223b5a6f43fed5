// Box sizes: CPU, memory and process limits. CPUs are clamped to the host (the engine refuses more).
import type { Size } from "../model/box.js";

export interface SizeLimits {
  cpus: number;
  memoryBytes: number;
  pids: number;
}

const GiB = 1024 ** 3;

export const SIZE_LIMITS: Record<Size, SizeLimits> = {
  small: { cpus: 1, memoryBytes: 1 * GiB, pids: 512 },
  medium: { cpus: 2, memoryBytes: 4 * GiB, pids: 1024 },
  large: { cpus: 4, memoryBytes: 8 * GiB, pids: 2048 },
};

export function limitsFor(size: Size, hostCpus: number): { nanoCpus: number; memoryBytes: number; pids: number } {
  const l = SIZE_LIMITS[size];
  const cpus = Math.min(l.cpus, Math.max(1, hostCpus));
  return { nanoCpus: Math.round(cpus * 1e9), memoryBytes: l.memoryBytes, pids: l.pids };
}
