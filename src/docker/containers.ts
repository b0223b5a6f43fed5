// Container operations: the only code that creates, inspects, pauses or removes containers.
import { existsSync } from "node:fs";
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";
import { EXECUTOR_VERSION, LABEL_EXECUTOR, LABEL_RUNTIME_VERSION, labelFilter } from "./labels.js";

const KERNEL_HAS_IPV6 = existsSync("/proc/sys/net/ipv6");
const NO_IPV6 = { "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1" };

export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: string[];
  /** The box user; box code runs as this user (see create() for the executor's own user). */
  user: string;
  workingDir: string;
  hostname: string;
  cmd?: string[];
  network?: { name: string; ip?: string };
  dns?: string[];
  /** Only for the test suite's own helper containers; boxes never get capabilities. */
  capAdd?: string[];
  limits: { nanoCpus: number; memoryBytes: number; pids: number };
  /** The engine runtime (e.g. runsc for gVisor); the engine's default (runc) when absent. */
  runtime?: string;
  /**
   * Root allowed in the box (gVisor boxes only): Docker's default capability set instead of none, so a
   * root process (box_exec user "root") can install packages. Never set for a runc box (create-settings
   * refuses it). no-new-privileges stays: root comes from the exec's user, never from a setuid binary.
   */
  rootAllowed?: boolean;
}

export interface ContainerState {
  id: string;
  name: string;
  status: string; // created, running, paused, restarting, removing, exited, dead
  running: boolean;
  paused: boolean;
  oomKilled: boolean;
  startedAt: string;
  /** The container's init process on the engine's host (0 when it is not running). */
  pid: number;
  labels: Record<string, string>;
  image: string;
  hostConfig: {
    capDrop: string[];
    securityOpt: string[];
    pidsLimit: number | null;
    memory: number;
    nanoCpus: number;
  };
}

export interface ContainerSummary {
  id: string;
  names: string[];
  state: string;
  labels: Record<string, string>;
  created: number; // unix seconds
}

export interface ContainerUsage {
  cpuNs: number;
  memoryBytes: number;
  memoryPeakBytes: number;
  pids: number;
  pidsLimit: number;
}

interface ImageFacts {
  separatedExecutor: boolean;
  runtimeVersion?: string;
}

export class ContainerClient {
  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
    /** Told when a container is gone, so that per-container state elsewhere (exec channels) is dropped. */
    private readonly onRemoved: (id: string) => void = () => {},
  ) {}

  /** What containers of an image need and report, by image reference (see imageFacts). */
  private readonly facts = new Map<string, ImageFacts>();

  async create(spec: ContainerSpec): Promise<string> {
    try {
      const separated = await this.separatedExecutor(spec.image);
      const capAdd = [...(separated ? ["SETUID", "SETGID"] : []), ...(spec.capAdd ?? [])];
      const container = await this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Labels: spec.labels,
        Env: spec.env,
        // A privilege-separated executor starts as root with CAP_SETUID/CAP_SETGID only, and drops every
        // process it starts to the box user: box code then cannot open, signal or trace it or PID 1, so
        // the server's channel is out of its reach. no-new-privileges and the dropped capabilities hold
        // for box code as before (setuid() from root clears every capability).
        User: separated ? "0:0" : spec.user,
        WorkingDir: spec.workingDir,
        Hostname: spec.hostname,
        // Unless told otherwise, the image's own command: the resident executor in boxd's images, which
        // reads its requests from the container's stdin (kept open across attaches).
        Cmd: spec.cmd,
        Tty: false,
        OpenStdin: true,
        StdinOnce: false,
        HostConfig: hostConfig(spec, capAdd),
        NetworkingConfig: spec.network
          ? {
              EndpointsConfig: {
                [spec.network.name]: spec.network.ip ? { IPAMConfig: { IPv4Address: spec.network.ip } } : {},
              },
            }
          : undefined,
      });
      this.log.debug("container created", { name: spec.name, id: container.id.slice(0, 12) });
      return container.id;
    } catch (err) {
      throw asBoxdError(err, `create container ${spec.name}`);
    }
  }

  /** Whether the image runs the privilege-separated resident executor (label boxd.executor=2). */
  private async separatedExecutor(image: string): Promise<boolean> {
    return (await this.imageFacts(image)).separatedExecutor;
  }

  /** The runtime's toolchain versions, once this client has looked at the image (create, or rememberImages). */
  knownRuntimeVersion(image: string): string | undefined {
    return this.facts.get(image)?.runtimeVersion;
  }

  /** Learns the facts of listed images at once (startup), so boxes made before a restart report them too. */
  rememberImages(images: Array<{ tags: string[]; labels: Record<string, string> }>): void {
    for (const img of images) for (const tag of img.tags) this.remember(tag, img.labels);
  }

  private async imageFacts(image: string): Promise<ImageFacts> {
    const known = this.facts.get(image);
    if (known) return known;
    try {
      const info = await this.docker.getImage(image).inspect();
      return this.remember(image, info.Config?.Labels ?? {});
    } catch (err) {
      if (dockerStatus(err) === 404) return { separatedExecutor: false }; // create() reports the missing image
      throw err;
    }
  }

  private remember(image: string, labels: Record<string, string>): ImageFacts {
    const facts: ImageFacts = {
      separatedExecutor: labels[LABEL_EXECUTOR] === EXECUTOR_VERSION,
      ...(labels[LABEL_RUNTIME_VERSION] ? { runtimeVersion: labels[LABEL_RUNTIME_VERSION] } : {}),
    };
    // boxd's image tags name their content (a definition hash, a snapshot id): the facts cannot change.
    if (this.facts.size >= 1024) this.facts.clear();
    this.facts.set(image, facts);
    return facts;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (dockerStatus(err) === 304) return; // already started
      throw asBoxdError(err, `start container ${id.slice(0, 12)}`);
    }
  }

  async stop(id: string, timeoutSeconds = 0): Promise<void> {
    try {
      const container = this.docker.getContainer(id);
      // gVisor (runsc) leaves its sandbox state behind when a paused container is stopped, and the next
      // start fails with "id already in use": thaw it first (it is killed right after).
      const info = await container.inspect();
      if (info.State.Paused && info.HostConfig.Runtime && info.HostConfig.Runtime !== "runc") await container.unpause();
      await container.stop({ t: timeoutSeconds });
    } catch (err) {
      if (dockerStatus(err) === 304) return; // already stopped
      throw asBoxdError(err, `stop container ${id.slice(0, 12)}`);
    }
  }

  async pause(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).pause();
    } catch (err) {
      throw asBoxdError(err, `pause container ${id.slice(0, 12)}`);
    }
  }

  async unpause(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).unpause();
    } catch (err) {
      throw asBoxdError(err, `unpause container ${id.slice(0, 12)}`);
    }
  }

  /** Removes a container with its anonymous volumes; absent is fine (idempotent). */
  async remove(id: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.docker.getContainer(id).remove({ force: true, v: true });
        this.onRemoved(id);
        this.log.debug("container removed", { id: id.slice(0, 12) });
        return;
      } catch (err) {
        if (dockerStatus(err) === 404) return this.onRemoved(id);
        // A gVisor sandbox that just ended can sit unreaped for some seconds ("PID … is zombie and can not
        // be killed"); the engine removes it once it is reaped.
        if (attempt < 4 && /is zombie|Could not kill running container/.test(String(err))) {
          await new Promise((r) => setTimeout(r, 2000 * attempt));
          continue;
        }
        throw asBoxdError(err, `remove container ${id.slice(0, 12)}`);
      }
    }
  }

  /** The container's state, or null when it does not exist. */
  async inspect(id: string): Promise<ContainerState | null> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ""),
        status: info.State.Status,
        running: info.State.Running,
        paused: info.State.Paused,
        oomKilled: info.State.OOMKilled,
        startedAt: info.State.StartedAt,
        pid: info.State.Pid ?? 0,
        labels: info.Config.Labels ?? {},
        image: info.Config.Image,
        hostConfig: {
          capDrop: info.HostConfig.CapDrop ?? [],
          securityOpt: info.HostConfig.SecurityOpt ?? [],
          pidsLimit: info.HostConfig.PidsLimit ?? null,
          memory: info.HostConfig.Memory ?? 0,
          nanoCpus: info.HostConfig.NanoCpus ?? 0,
        },
      };
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `inspect container ${id.slice(0, 12)}`);
    }
  }

  /** The container's IPv4 address on one of its networks (null when it is not on it or does not exist). */
  async address(id: string, network: string): Promise<string | null> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      const net = info.NetworkSettings.Networks?.[network];
      // Boxes get a fixed address (IPAMConfig), which holds while the container is stopped too.
      return net?.IPAMConfig?.IPv4Address || net?.IPAddress || null;
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `inspect container ${id.slice(0, 12)}`);
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    try {
      const all = await this.docker.listContainers({ all: true, filters: labelFilter(labels) });
      return all.map((c) => ({
        id: c.Id,
        names: c.Names.map((n) => n.replace(/^\//, "")),
        state: c.State,
        labels: c.Labels ?? {},
        created: c.Created,
      }));
    } catch (err) {
      throw asBoxdError(err, "list containers");
    }
  }

  /** Bytes the container's writable layer holds (its files beyond the image), or null when it is gone. */
  async diskUsage(id: string): Promise<number | null> {
    try {
      const info = (await this.docker.getContainer(id).inspect({ size: true } as Docker.ContainerInspectOptions)) as {
        SizeRw?: number;
      };
      return info.SizeRw ?? 0;
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `measure disk use of container ${id.slice(0, 12)}`);
    }
  }

  /** One sample of the container's cgroup accounting (API 1.41 one-shot: no 1 s wait for a second sample). */
  async usage(id: string): Promise<ContainerUsage | null> {
    try {
      const stats = (await this.docker
        .getContainer(id)
        .stats({ stream: false, "one-shot": true } as { stream: false })) as {
        cpu_stats?: { cpu_usage?: { total_usage?: number } };
        memory_stats?: { usage?: number; max_usage?: number };
        pids_stats?: { current?: number; limit?: number };
      };
      return {
        cpuNs: stats.cpu_stats?.cpu_usage?.total_usage ?? 0,
        memoryBytes: stats.memory_stats?.usage ?? 0,
        memoryPeakBytes: stats.memory_stats?.max_usage ?? 0,
        pids: stats.pids_stats?.current ?? 0,
        pidsLimit: stats.pids_stats?.limit ?? 0,
      };
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `read usage of container ${id.slice(0, 12)}`);
    }
  }
}

/**
 * A root box's capabilities (gVisor only): Docker's default set, what apt-get as root needs. They are
 * capabilities in gVisor's kernel; the host sees only the sandbox's own, which gVisor keeps minimal.
 */
const ROOT_BOX_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "MKNOD",
  "AUDIT_WRITE",
  "SETFCAP",
];

/** The host side of every box container: the hardening, the limits, its network and DNS. */
function hostConfig(spec: ContainerSpec, capAdd: string[]): Docker.ContainerCreateOptions["HostConfig"] {
  const caps = spec.rootAllowed ? [...new Set([...ROOT_BOX_CAPS, ...capAdd])] : capAdd;
  return {
    // Hardening that every box gets; see docs/SECURITY notes in ARCHITECTURE.md.
    CapDrop: ["ALL"],
    ...(caps.length ? { CapAdd: caps } : {}),
    SecurityOpt: ["no-new-privileges:true"],
    ...(spec.runtime ? { Runtime: spec.runtime } : {}),
    PidsLimit: spec.limits.pids,
    Memory: spec.limits.memoryBytes,
    MemorySwap: spec.limits.memoryBytes, // no swap beyond the memory limit
    NanoCpus: spec.limits.nanoCpus,
    Init: true, // a real PID 1 that reaps orphaned processes of runs
    Privileged: false,
    ReadonlyRootfs: false,
    NetworkMode: spec.network?.name ?? "none",
    RestartPolicy: { Name: "no" },
    LogConfig: { Type: "none", Config: {} },
    ...(spec.dns?.length ? { Dns: spec.dns } : {}),
    // No IPv6 in the box, whatever the engine's default: the host firewall filters IPv4 only, and
    // the bridge's link-local address would otherwise reach the host's services.
    // (A kernel booted without IPv6 has no such sysctls, and the engine would refuse them.)
    ...(KERNEL_HAS_IPV6 ? { Sysctls: NO_IPV6 } : {}),
    // glibc sends A and AAAA at once from one socket; through Docker's DNS NAT one answer is sometimes
    // dropped (a conntrack race), which stalls a lookup for the default 5 s. Separate sockets and a
    // short retry keep name lookups in boxes quick.
    DnsOptions: ["single-request-reopen", "timeout:2", "attempts:3"],
  };
}
