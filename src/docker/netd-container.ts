// The network helper's container (netd, see src/netd/): one per boxd instance on its engine, in the engine
// host's network namespace with NET_ADMIN and NET_RAW only, its program copied in before it starts and
// its stdin and stdout attached: the only channel to it (no port is opened). StdinOnce makes the engine
// close its stdin when the attach goes (the server stopped or died), the helper then exits and AutoRemove
// deletes the container: a helper never outlives its server's connection.

import { PassThrough, type Readable, type Writable } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import type { ArchiveClient, RootFile } from "./archive.js";
import { demuxStream } from "./demux.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";
import { instanceLabels, LABEL_KIND, labelFilter } from "./labels.js";

export interface NetdSpec {
  instanceId: string;
  image: string;
  /** The program's files (absolute paths in the container). */
  files: RootFile[];
  /** The command that starts it. */
  cmd: string[];
  env?: string[];
}

/** An attached, started helper. */
export interface NetdLink {
  containerId: string;
  input: Writable;
  output: Readable;
  errors: Readable;
  /** Resolves when the attach ends (the helper exited or the engine went away). */
  ended: Promise<void>;
  /** Ends its stdin (the helper exits) and makes sure the container is gone. */
  close(): Promise<void>;
}

const KIND = "netd";
const GONE_TIMEOUT_MS = 5000;

export const netdName = (instanceId: string) => `boxd-netd-${instanceId}`;

export class NetdContainerClient {
  constructor(
    private readonly docker: Docker,
    private readonly archives: ArchiveClient,
    private readonly log: Logger,
  ) {}

  /** Removes any helper of this instance (a server that died) and starts a new one. */
  async launch(spec: NetdSpec): Promise<NetdLink> {
    await this.removeAll(spec.instanceId);
    let id: string;
    try {
      const container = await this.docker.createContainer({
        name: netdName(spec.instanceId),
        Image: spec.image,
        Labels: instanceLabels(spec.instanceId, { [LABEL_KIND]: KIND }),
        Cmd: spec.cmd,
        Env: spec.env ?? [],
        User: "0:0",
        Tty: false,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          NetworkMode: "host",
          CapDrop: ["ALL"],
          CapAdd: ["NET_ADMIN", "NET_RAW"],
          SecurityOpt: ["no-new-privileges"],
          AutoRemove: true,
          Memory: 256 * 1024 * 1024,
          PidsLimit: 256,
          LogConfig: { Type: "none", Config: {} },
        },
      });
      id = container.id;
    } catch (err) {
      throw asBoxdError(err, `create the network helper from ${spec.image}`);
    }
    try {
      await this.archives.putRootFiles(id, spec.files);
      const link = await this.attach(id);
      await this.docker.getContainer(id).start();
      this.log.debug("network helper started", { container: id.slice(0, 12) });
      return link;
    } catch (err) {
      await this.remove(id);
      throw asBoxdError(err, "start the network helper");
    }
  }

  /**
   * Runs one command in the engine host's network namespace in a throwaway container of the helper's
   * image (doctor's checks, tests' look at the engine host's firewall); its stdout, or a BoxdError with
   * its stderr when it fails.
   */
  async probe(image: string, cmd: string[], instanceId: string): Promise<string> {
    let id = "";
    try {
      const container = await this.docker.createContainer({
        Image: image,
        Cmd: cmd,
        Labels: instanceLabels(instanceId, { [LABEL_KIND]: "netd-probe" }),
        User: "0:0",
        HostConfig: { NetworkMode: "host", CapDrop: ["ALL"], CapAdd: ["NET_ADMIN", "NET_RAW"] },
      });
      id = container.id;
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
      const out = new PassThrough();
      const err = new PassThrough();
      const chunks: Buffer[] = [];
      const errs: Buffer[] = [];
      out.on("data", (c: Buffer) => chunks.push(c));
      err.on("data", (c: Buffer) => errs.push(c));
      demuxStream(stream, out, err);
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      const text = Buffer.concat(chunks).toString("utf8");
      if (StatusCode !== 0) {
        throw new Error(
          `${cmd.join(" ")} exited with ${StatusCode}: ${Buffer.concat(errs).toString("utf8").trim().slice(-500)}`,
        );
      }
      return text;
    } catch (err) {
      throw asBoxdError(err, "run a command in the engine host's network namespace");
    } finally {
      if (id) await this.remove(id);
    }
  }

  /** Every helper container of this instance goes (stopped ones stay until removed). */
  async removeAll(instanceId: string): Promise<void> {
    const filters = labelFilter(instanceLabels(instanceId, { [LABEL_KIND]: KIND }));
    const found = await this.docker.listContainers({ all: true, filters });
    for (const c of found) {
      await this.remove(c.Id);
      // A helper whose server just died may be mid-removal (AutoRemove): its name is free only once it is gone.
      await this.untilRemoved(c.Id);
    }
  }

  /** Waits (GONE_TIMEOUT_MS at most) until the engine has deleted the container. */
  private async untilRemoved(id: string): Promise<void> {
    const gone = this.docker
      .getContainer(id)
      .wait({ condition: "removed" })
      .catch(() => {});
    await Promise.race([gone, new Promise((r) => setTimeout(r, GONE_TIMEOUT_MS).unref())]);
  }

  private async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (err) {
      const status = dockerStatus(err);
      // 404: gone already; 409: AutoRemove is removing it right now.
      if (status !== 404 && status !== 409) throw asBoxdError(err, "remove the network helper");
    }
  }

  private async attach(id: string): Promise<NetdLink> {
    const container = this.docker.getContainer(id);
    const socket = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as NodeJS.ReadWriteStream & { destroy?: () => void; end: () => void };
    const output = new PassThrough();
    const errors = new PassThrough();
    demuxStream(socket, output, errors);
    const ended = new Promise<void>((resolve) => {
      const done = () => {
        output.end();
        errors.end();
        resolve();
      };
      socket.on("end", done);
      socket.on("close", done);
      socket.on("error", done);
    });
    const close = async () => {
      socket.end();
      // The helper exits on stdin's end and AutoRemove deletes it; waited for, then made sure of.
      await this.untilRemoved(id);
      socket.destroy?.();
      await this.remove(id);
    };
    return { containerId: id, input: socket as unknown as Writable, output, errors, ended, close };
  }
}
