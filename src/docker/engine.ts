// The Docker layer's front door: one dockerode instance (DOCKER_HOST etc. as dockerode reads them) and a
// small client per resource. Nothing outside src/docker/ imports dockerode.
import Docker from "dockerode";
import type { Logger } from "../log.js";
import { AccountingClient } from "./accounting.js";
import { ArchiveClient } from "./archive.js";
import { ContainerClient } from "./containers.js";
import { asBoxdError } from "./docker-errors.js";
import { ExecClient } from "./exec.js";
import { ImageClient } from "./images.js";
import { NetdContainerClient } from "./netd-container.js";
import { NetworkClient } from "./networks.js";

export interface EngineInfo {
  serverVersion: string;
  apiVersion: string;
  cpus: number;
  memoryBytes: number;
  cgroupVersion: string;
  storageDriver: string;
  /** The container runtimes the engine has registered (runc, and e.g. runsc for gVisor). */
  runtimes: string[];
}

export class DockerEngine {
  readonly containers: ContainerClient;
  /** Containers' CPU and memory accounting (host cgroup files, else the stats API). */
  readonly accounting: AccountingClient;
  /** Root-owned files written into containers (the egress CA certificate). */
  readonly archives: ArchiveClient;
  readonly execs: ExecClient;
  readonly images: ImageClient;
  readonly networks: NetworkClient;
  /** The network helper's container (firewall, egress proxy and DNS gate in the engine host's namespace). */
  readonly netd: NetdContainerClient;
  private readonly docker: Docker;

  constructor(log: Logger, opts: { docker?: Docker; fastExec?: boolean } = {}) {
    this.docker = opts.docker ?? new Docker();
    const dlog = log.child("docker");
    this.execs = new ExecClient(this.docker, dlog, opts.fastExec ?? true);
    this.containers = new ContainerClient(this.docker, dlog, (id) => this.execs.forget(id));
    this.accounting = new AccountingClient(this.containers);
    this.archives = new ArchiveClient(this.docker, dlog);
    this.images = new ImageClient(this.docker, dlog);
    this.networks = new NetworkClient(this.docker, dlog);
    this.netd = new NetdContainerClient(this.docker, this.archives, dlog);
  }

  /** Engine facts; throws ENGINE_UNAVAILABLE when the engine cannot be reached. */
  async info(): Promise<EngineInfo> {
    try {
      const [version, info] = await Promise.all([this.docker.version(), this.docker.info()]);
      return {
        serverVersion: version.Version,
        apiVersion: version.ApiVersion,
        cpus: info.NCPU,
        memoryBytes: info.MemTotal,
        cgroupVersion: info.CgroupVersion ?? "1",
        storageDriver: info.Driver,
        runtimes: Object.keys((info as { Runtimes?: Record<string, unknown> }).Runtimes ?? {}),
      };
    } catch (err) {
      throw asBoxdError(err, "reach the engine");
    }
  }

  /**
   * Follows the engine's event stream for objects with these labels until it ends (the engine stopped or
   * restarted) or `signal` aborts. Resolves when the stream ends; rejects when it cannot be opened.
   */
  async followEvents(
    labels: Record<string, string>,
    onEvent: (e: { type: string; action: string; id: string }) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let stream: NodeJS.ReadableStream;
    try {
      const opening = this.docker.getEvents({
        filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      }) as Promise<NodeJS.ReadableStream>;
      // The engine may hold the response back until a first matching event: an abort meanwhile (the
      // server closing before any box event) must not wait for one. A stream that comes later is closed.
      const aborted = new Promise<null>((resolve) => {
        if (signal.aborted) resolve(null);
        signal.addEventListener("abort", () => resolve(null), { once: true });
      });
      const first = await Promise.race([opening, aborted]);
      if (first === null) {
        void opening.then((late) => (late as unknown as { destroy?: () => void }).destroy?.()).catch(() => {});
        return;
      }
      stream = first;
    } catch (err) {
      throw asBoxdError(err, "follow engine events");
    }
    // Stopped while the stream was being opened (a start that failed right after): an aborted signal
    // never fires "abort" again, so waiting below would never end.
    if (signal.aborted) {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      return;
    }
    await new Promise<void>((resolve) => {
      let buffered = "";
      const done = () => resolve();
      stream.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string } };
            onEvent({ type: e.Type ?? "", action: e.Action ?? "", id: e.Actor?.ID ?? "" });
          } catch {
            // a partial or foreign line: ignore
          }
          nl = buffered.indexOf("\n");
        }
      });
      stream.on("end", done);
      stream.on("close", done);
      stream.on("error", done);
      signal.addEventListener("abort", () => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        done();
      });
    });
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw asBoxdError(err, "ping the engine");
    }
  }
}
