// Reads a container's CPU and memory accounting straight from the host's cgroup files, where the engine is
// local: cgroup v1 (cpuacct.usage in ns, memory.max_usage_in_bytes) or v2 (cpu.stat usage_usec,
// memory.peak, else memory.current). Box code cannot write these files (a box has no mounts and a
// read-only /sys/fs/cgroup), so what they say is the kernel's word. No dockerode here: the caller finds
// the container (its full id and init pid) and falls back to the engine's stats API when this answers null.
import { readFileSync } from "node:fs";
import path from "node:path";

export interface CgroupReading {
  /** CPU time of every process that ran in the cgroup (v1: ns; v2: µs, given here in ns). */
  cpuNs: number;
  /** The cgroup's memory high-water mark (v2 before kernel 5.19: its current use at this reading). */
  memoryPeakBytes: number;
  /** Its memory in use now (the usage history's figure). */
  memoryBytes: number;
  source: "cgroup-v1" | "cgroup-v2";
}

/** /proc/<pid>/cgroup, parsed: v1 controller -> path, and the v2 (unified) path when there is one. */
export interface ProcCgroups {
  v1: Map<string, { dir: string; path: string }>;
  v2: string | null;
}

/**
 * Parses /proc/<pid>/cgroup: `hierarchy-id:controllers:path` per line; v2's line is `0::path`. A v1
 * hierarchy with several controllers ("cpu,cpuacct") is mounted under that joint name.
 */
export function parseProcCgroup(text: string): ProcCgroups {
  const v1 = new Map<string, { dir: string; path: string }>();
  let v2: string | null = null;
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, p] = m as unknown as [string, string, string, string];
    if (id === "0" && controllers === "") v2 = p;
    for (const c of controllers.split(",").filter(Boolean)) v1.set(c, { dir: controllers, path: p });
  }
  return { v1, v2 };
}

/** cgroup v2 cpu.stat's `usage_usec`, in ns; null when the file has no such line. */
export function parseCpuStat(text: string): number | null {
  const m = /^usage_usec (\d+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}

/** A counter file holding one integer (cpuacct.usage, memory.peak, ...); null when it holds none. */
export function parseCounter(text: string): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Where a container's cgroup lives: the path /proc says, then the cgroupfs and systemd drivers' own. */
export function candidatePaths(containerId: string, fromProc: string | null): string[] {
  const known = [`/docker/${containerId}`, `/system.slice/docker-${containerId}.scope`];
  // The path must name the container: a pid of a remote engine's host may be another process here.
  const own = fromProc?.includes(containerId) ? [fromProc] : [];
  return [...new Set([...own, ...known])];
}

// Read at once rather than through the thread pool: these are kernel pseudo-files a few bytes long, read
// for every box that is up each usage interval, where four pool round trips each cost more than the read.
async function readText(file: string): Promise<string | null> {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

async function readCounter(...parts: string[]): Promise<number | null> {
  return parseCounter((await readText(path.join(...parts))) ?? "");
}

/** Where the host's cgroup tree and /proc are mounted (other places only in tests, with fixture trees). */
export interface HostPaths {
  cgroup: string;
  proc: string;
}

const HOST: HostPaths = { cgroup: "/sys/fs/cgroup", proc: "/proc" };

/**
 * The container's accounting from the host's cgroup files, or null when they are not there (a remote
 * engine, a server inside a container without the host's cgroups, a container that stopped).
 */
export async function readCgroupUsage(
  containerId: string,
  pid: number,
  host: HostPaths = HOST,
): Promise<CgroupReading | null> {
  const root = host.cgroup;
  const procs = parseProcCgroup(pid > 0 ? ((await readText(path.join(host.proc, String(pid), "cgroup"))) ?? "") : "");
  // Hybrid hosts have both: the engine then accounts in v1 (the unified tree has no controllers there).
  if (procs.v1.has("cpuacct") || (await readText(path.join(root, "cpuacct", "cpuacct.usage"))) !== null) {
    return readV1(containerId, procs, root);
  }
  return readV2(containerId, procs.v2, root);
}

async function readV1(containerId: string, procs: ProcCgroups, root: string): Promise<CgroupReading | null> {
  const cpu = procs.v1.get("cpuacct");
  const memory = procs.v1.get("memory");
  for (const p of candidatePaths(containerId, cpu?.path ?? null)) {
    const dirs = [...new Set([cpu?.dir, "cpuacct", "cpu,cpuacct"].filter((d): d is string => !!d))];
    for (const dir of dirs) {
      const cpuNs = await readCounter(root, dir, p, "cpuacct.usage");
      if (cpuNs === null) continue;
      const memPath = memory?.path.includes(containerId) ? memory.path : p;
      const peak = await readCounter(root, "memory", memPath, "memory.max_usage_in_bytes");
      const now = await readCounter(root, "memory", memPath, "memory.usage_in_bytes");
      return { cpuNs, memoryPeakBytes: peak ?? 0, memoryBytes: now ?? 0, source: "cgroup-v1" };
    }
  }
  return null;
}

async function readV2(containerId: string, fromProc: string | null, root: string): Promise<CgroupReading | null> {
  for (const p of candidatePaths(containerId, fromProc)) {
    const cpuNs = parseCpuStat((await readText(path.join(root, p, "cpu.stat"))) ?? "");
    if (cpuNs === null) continue;
    // memory.peak needs kernel 5.19; before it the current use is the best a sample can say.
    const now = await readCounter(root, p, "memory.current");
    const peak = (await readCounter(root, p, "memory.peak")) ?? now;
    return { cpuNs, memoryPeakBytes: peak ?? 0, memoryBytes: now ?? 0, source: "cgroup-v2" };
  }
  return null;
}

/**
 * When the process started, in clock ticks since boot (/proc/<pid>/stat's 22nd field): with the pid it
 * names one process for the host's uptime, as a pid alone does not (pids are reused). Null when gone.
 */
export function processStart(pid: number, host: HostPaths = HOST): string | null {
  if (pid <= 0) return null;
  try {
    const stat = readFileSync(path.join(host.proc, String(pid), "stat"), "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
