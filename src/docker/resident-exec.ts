// The fast exec path: boxes whose image carries the resident executor (images/base/boxd-executor, the
// container's main process) run commands through one attached stdin/stdout connection per container,
// instead of a Docker exec's create/start/inspect round trips. Requests and replies are JSON lines
// (protocol in the executor's header), multiplexed by id. Anything this path cannot serve the same way
// (another user than the box user, streamed stdin, bulk output, a container without a privilege-separated
// executor, an executor that does not answer) goes to Docker exec, so callers see one behaviour.
// Everything read from the connection is bounded: lines are scanned once (never re-scanned), a line longer
// than any reply is a broken executor (the connection is dropped), and a box's replies are read at most
// MAX_BYTES_PER_SECOND, so one flooding box cannot take the event loop from everyone else.
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import { BOX_USER } from "../model/box-user.js";
import { demuxStream } from "./demux.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";
import type { ExecRequest, ExecResult } from "./exec-types.js";
import { Channel, type Pending } from "./executor-channel.js";
import { EXECUTOR_VERSION, LABEL_EXECUTOR } from "./labels.js";

/** The user the executor runs processes as: requests as this user may use it. */
const EXECUTOR_SERVES = BOX_USER;
const EXECUTOR_PATH = "/usr/local/bin/boxd-executor";
/** After a failed hello, Docker exec serves the container for this long before the next try. */
const RETRY_AFTER_MS = 10_000;
/** Stdin bigger than this goes through Docker exec's raw stream (base64 lines cost CPU). */
const MAX_RESIDENT_STDIN = 4 * 1024 * 1024;
/** Remembered per container; containers are few, but removed ones must not pile up. */
const MAX_KNOWN = 4096;

interface Support {
  /** The container runs a privilege-separated executor with an open stdin. */
  executor: boolean;
}

export class ResidentExec {
  private readonly support = new Map<string, Support>();
  private readonly channels = new Map<string, Promise<Channel | null>>();
  private readonly retryAt = new Map<string, number>();

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /**
   * Runs the request through the container's executor, or returns null when this request or container
   * is for Docker exec (see the header).
   */
  async tryRun(req: ExecRequest): Promise<ExecResult | null> {
    if (req.bulk) return null;
    if (req.stdin !== undefined && (!Buffer.isBuffer(req.stdin) || req.stdin.length > MAX_RESIDENT_STDIN)) {
      return null;
    }
    const support = await this.supportOf(req.containerId);
    if (!support?.executor || req.user !== EXECUTOR_SERVES) return null;
    const channel = await this.channel(req.containerId);
    return channel && !channel.closed ? channel.run(req) : null;
  }

  /**
   * Opens the container's connection ahead of its first command (after a create or a start, before a
   * pooled box is pooled). `fresh`: the container was just started, so whatever was known of its last
   * lifetime (a connection, an open still waiting for an answer, a retry delay) is dropped first.
   */
  prepare(containerId: string, fresh = false): Promise<void> {
    if (fresh) this.dropChannel(containerId);
    return this.supportOf(containerId)
      .then((s) => (s?.executor ? this.channel(containerId) : null))
      .then(
        () => {},
        () => {},
      );
  }

  /** Drops what is known about a container (it was removed). */
  forget(containerId: string): void {
    this.support.delete(containerId);
    this.dropChannel(containerId);
  }

  /** Closes the container's connection (or open) and forgets it and any retry delay. */
  private dropChannel(containerId: string): void {
    this.retryAt.delete(containerId);
    const ch = this.channels.get(containerId);
    this.channels.delete(containerId);
    ch?.then((c) => c?.close()).catch(() => {});
  }

  /** Closes every connection (server shutdown). */
  closeAll(): void {
    for (const id of [...this.channels.keys()]) this.forget(id);
  }

  /**
   * Commands whose connection ended before their exit: when the engine went away that is its error (as a
   * Docker exec would fail); otherwise the container stopped under them and they end without an exit code.
   */
  private async settleLost(lost: Pending[], short: string): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      const error = asBoxdError(err, `exec in container ${short}`);
      for (const p of lost) p.reject(error);
      return;
    }
    for (const p of lost) p.resolve({ exitCode: null, aborted: false });
  }

  private async supportOf(containerId: string): Promise<Support | null> {
    const known = this.support.get(containerId);
    if (known) return known;
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(containerId).inspect();
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw err;
    }
    const cmd = [...(info.Config.Entrypoint ?? []), ...(info.Config.Cmd ?? [])];
    const support = {
      // Containers made before the executor existed run `sleep infinity` without stdin, and those of the
      // first executor run it as the box user: both use Docker exec.
      executor:
        info.Config.Labels?.[LABEL_EXECUTOR] === EXECUTOR_VERSION &&
        info.Config.OpenStdin &&
        cmd.includes(EXECUTOR_PATH) &&
        (info.Config.User === "0:0" || info.Config.User === "root" || info.Config.User === "0"),
    };
    if (this.support.size >= MAX_KNOWN) this.support.delete(this.support.keys().next().value as string);
    this.support.set(containerId, support);
    return support;
  }

  private channel(containerId: string): Promise<Channel | null> {
    const open = this.channels.get(containerId);
    if (open) return open;
    if ((this.retryAt.get(containerId) ?? 0) > Date.now()) return Promise.resolve(null);
    const opening = this.open(containerId).then((ch) => {
      if (ch === "asleep") {
        this.channels.delete(containerId); // it answers once thawed: the next call tries again
        return null;
      }
      if (!ch) {
        this.channels.delete(containerId);
        this.retryAt.set(containerId, Date.now() + RETRY_AFTER_MS);
      }
      return ch;
    });
    this.channels.set(containerId, opening);
    return opening;
  }

  private async open(containerId: string): Promise<Channel | "asleep" | null> {
    const short = containerId.slice(0, 12);
    const isFrozen = async () => (await this.docker.getContainer(containerId).inspect()).State.Paused;
    let socket: NodeJS.ReadWriteStream & { destroy?: () => void };
    try {
      socket = (await this.docker.getContainer(containerId).attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as NodeJS.ReadWriteStream & { destroy?: () => void };
    } catch (err) {
      this.log.debug("could not attach to the executor; using docker exec", { container: short, error: String(err) });
      return null;
    }
    const channel = new Channel(
      socket,
      (lost) => {
        // Only drop the map entry if it is still this channel (a newer one may have replaced it).
        void this.channels.get(containerId)?.then((c) => {
          if (c === channel) this.channels.delete(containerId);
        });
        if (lost.length) void this.settleLost(lost, short);
      },
      isFrozen,
      this.log,
    );
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on("data", (chunk: Buffer) => channel.onData(chunk));
    stderr.on("data", (chunk: Buffer) =>
      this.log.warn("box executor says", { container: short, text: chunk.toString("utf8").slice(0, 500) }),
    );
    demuxStream(socket, stdout, stderr);
    const close = () => channel.close();
    socket.on("end", close);
    socket.on("close", close);
    socket.on("error", close);
    if (await channel.hello()) return channel;
    // The stream ended under the hello (the container stopped: a box paused right after its create, then
    // stopped), or the hello timed out in a frozen or stopped container: its executor was not at fault,
    // so the next command tries again at once rather than after RETRY_AFTER_MS. (Checking the state alone
    // raced with a wake that had started the container again by the time the inspect answered.)
    const ended = channel.closed;
    channel.close();
    const asleep =
      ended ||
      (await this.docker
        .getContainer(containerId)
        .inspect()
        .then((i) => i.State.Paused || !i.State.Running)
        .catch(() => false));
    if (asleep) return "asleep";
    this.log.warn("box executor did not answer; using docker exec for now", { container: short });
    return null;
  }
}
