// The host-side cgroup reader (src/docker/cgroup-usage.ts) against fixture trees laid out as cgroup v1
// (cgroupfs and systemd drivers, separate and co-mounted cpu/cpuacct) and v2 hosts lay them out, with a
// fixture /proc: the right counters in the right units, and null wherever the container's files are not.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  candidatePaths,
  type HostPaths,
  parseCounter,
  parseCpuStat,
  parseProcCgroup,
  processStart,
  readCgroupUsage,
} from "../../src/docker/cgroup-usage.js";

const ID = "7916cc76be57b498f18a03f92e034262dca56a81ebb0f28f8ce673f0dfc56d42";
const PID = 4242;

const V1_PROC = `12:hugetlb:/docker/${ID}
9:name=systemd:/docker/${ID}
4:memory:/docker/${ID}
2:cpuacct:/docker/${ID}
1:cpu:/docker/${ID}
0::/docker/${ID}
`;

const V1_COMOUNTED_SYSTEMD = `10:memory:/system.slice/docker-${ID}.scope
3:cpu,cpuacct:/system.slice/docker-${ID}.scope
1:name=systemd:/system.slice/docker-${ID}.scope
`;

const V2_CPU_STAT = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n";

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A fixture host: files given relative to its cgroup root (`cg/...`) or its /proc (`proc/...`). */
function host(files: Record<string, string>): HostPaths {
  const root = mkdtempSync(path.join(os.tmpdir(), "boxd-cgroup-"));
  dirs.push(root);
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return { cgroup: path.join(root, "cg"), proc: path.join(root, "proc") };
}

describe("cgroup parsers", () => {
  it("parses /proc/<pid>/cgroup for v1 (separate and co-mounted controllers) and v2", () => {
    const v1 = parseProcCgroup(V1_PROC);
    expect(v1.v1.get("cpuacct")).toEqual({ dir: "cpuacct", path: `/docker/${ID}` });
    expect(v1.v1.get("memory")?.path).toBe(`/docker/${ID}`);
    expect(v1.v2).toBe(`/docker/${ID}`);
    const co = parseProcCgroup(V1_COMOUNTED_SYSTEMD);
    expect(co.v1.get("cpuacct")).toEqual({ dir: "cpu,cpuacct", path: `/system.slice/docker-${ID}.scope` });
    expect(co.v2).toBeNull();
    const v2 = parseProcCgroup(`0::/system.slice/docker-${ID}.scope\n`);
    expect(v2.v1.size).toBe(0);
    expect(v2.v2).toBe(`/system.slice/docker-${ID}.scope`);
    expect(parseProcCgroup("garbage\n\n").v1.size).toBe(0);
  });

  it("reads v2 cpu.stat's usage_usec as ns and single counters strictly", () => {
    expect(parseCpuStat(V2_CPU_STAT)).toBe(1_234_567_000);
    expect(parseCpuStat("user_usec 5\n")).toBeNull();
    expect(parseCounter("35260658\n")).toBe(35_260_658);
    expect(parseCounter("max\n")).toBeNull();
    expect(parseCounter("")).toBeNull();
  });

  it("uses the path /proc gives only when it names the container", () => {
    expect(candidatePaths(ID, `/docker/${ID}`)[0]).toBe(`/docker/${ID}`);
    expect(candidatePaths(ID, "/user.slice/something-else")).toEqual([
      `/docker/${ID}`,
      `/system.slice/docker-${ID}.scope`,
    ]);
  });
});

describe("readCgroupUsage", () => {
  it("cgroup v1, cgroupfs driver: cpuacct.usage (ns) and memory.max_usage_in_bytes", async () => {
    const h = host({
      [`proc/${PID}/cgroup`]: V1_PROC,
      "cg/cpuacct/cpuacct.usage": "999999999\n",
      [`cg/cpuacct/docker/${ID}/cpuacct.usage`]: "35260658\n",
      [`cg/memory/docker/${ID}/memory.max_usage_in_bytes`]: "3567616\n",
      [`cg/memory/docker/${ID}/memory.usage_in_bytes`]: "2097152\n",
    });
    expect(await readCgroupUsage(ID, PID, h)).toEqual({
      cpuNs: 35_260_658,
      memoryPeakBytes: 3_567_616,
      memoryBytes: 2_097_152,
      source: "cgroup-v1",
    });
  });

  it("cgroup v1, systemd driver with cpu,cpuacct co-mounted", async () => {
    const h = host({
      [`proc/${PID}/cgroup`]: V1_COMOUNTED_SYSTEMD,
      [`cg/cpu,cpuacct/system.slice/docker-${ID}.scope/cpuacct.usage`]: "500\n",
      [`cg/memory/system.slice/docker-${ID}.scope/memory.max_usage_in_bytes`]: "4096\n",
    });
    expect(await readCgroupUsage(ID, PID, h)).toEqual({
      cpuNs: 500,
      memoryPeakBytes: 4096,
      memoryBytes: 0,
      source: "cgroup-v1",
    });
  });

  it("cgroup v1 without a readable /proc entry: the driver's known path", async () => {
    const h = host({
      "cg/cpuacct/cpuacct.usage": "1\n",
      [`cg/cpuacct/docker/${ID}/cpuacct.usage`]: "77\n",
      [`cg/memory/docker/${ID}/memory.max_usage_in_bytes`]: "88\n",
    });
    expect(await readCgroupUsage(ID, 0, h)).toEqual({
      cpuNs: 77,
      memoryPeakBytes: 88,
      memoryBytes: 0,
      source: "cgroup-v1",
    });
  });

  it("cgroup v2, systemd driver: usage_usec in ns and memory.peak", async () => {
    const scope = `system.slice/docker-${ID}.scope`;
    const h = host({
      [`proc/${PID}/cgroup`]: `0::/${scope}\n`,
      "cg/cgroup.controllers": "cpu memory pids\n",
      [`cg/${scope}/cpu.stat`]: V2_CPU_STAT,
      [`cg/${scope}/memory.peak`]: "8192\n",
      [`cg/${scope}/memory.current`]: "4096\n",
    });
    expect(await readCgroupUsage(ID, PID, h)).toEqual({
      cpuNs: 1_234_567_000,
      memoryPeakBytes: 8192,
      memoryBytes: 4096,
      source: "cgroup-v2",
    });
  });

  it("cgroup v2 before kernel 5.19 (no memory.peak): the current use", async () => {
    const h = host({
      "cg/cgroup.controllers": "cpu memory\n",
      [`cg/docker/${ID}/cpu.stat`]: "usage_usec 10\n",
      [`cg/docker/${ID}/memory.current`]: "2048\n",
    });
    expect(await readCgroupUsage(ID, 0, h)).toEqual({
      cpuNs: 10_000,
      memoryPeakBytes: 2048,
      memoryBytes: 2048,
      source: "cgroup-v2",
    });
  });

  it("null where the container's files are not (a remote engine; another container's pid)", async () => {
    const other = "a".repeat(64);
    const h = host({
      [`proc/${PID}/cgroup`]: `2:cpuacct:/docker/${other}\n4:memory:/docker/${other}\n`,
      [`cg/cpuacct/docker/${other}/cpuacct.usage`]: "123\n",
    });
    expect(await readCgroupUsage(ID, PID, h)).toBeNull();
    expect(await readCgroupUsage(ID, PID, host({}))).toBeNull();
  });
});

describe("processStart", () => {
  it("reads field 22 of /proc/<pid>/stat, whatever the command name holds; null when the process is gone", () => {
    const stat = `${PID} (a) (b c) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615\n`;
    const h = host({ [`proc/${PID}/stat`]: stat });
    expect(processStart(PID, h)).toBe("987654");
    expect(processStart(PID + 1, h)).toBeNull();
    expect(processStart(0, h)).toBeNull();
  });
});
