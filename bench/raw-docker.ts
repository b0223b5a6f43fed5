// The raw-Docker baseline: plain dockerode on the same image with the same hardening as a box (user,
// capabilities, no-new-privileges, limits, init), but on the default bridge and without boxd's bookkeeping.
// Every container and image made here carries `boxd.bench=raw` and this run's id, and sweep() removes them.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import Docker from "dockerode";
import tar from "tar-stream";

export const LABEL_BENCH = "boxd.bench";
export const LABEL_BENCH_RUN = "boxd.bench.run";
const USER = "1000:1000";
const SNAPSHOT_REPO = "boxd-bench/raw-snapshot";

export interface ExecOutput {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export class RawDocker {
  readonly docker = new Docker();
  private readonly containers = new Set<string>();
  private readonly images = new Set<string>();
  private readonly networks = new Set<string>();
  private networkSeq = 0;

  constructor(
    readonly image: string,
    readonly runId: string,
    private readonly cpus: number,
    /** The engine runtime of its containers (runsc for the gVisor tier); the engine's default when absent. */
    private readonly runtime?: string,
  ) {}

  get labels(): Record<string, string> {
    return { [LABEL_BENCH]: "raw", [LABEL_BENCH_RUN]: this.runId };
  }

  /**
   * createContainer + start, hardened like a small box, on the default bridge; with `ownNetwork` first a
   * network of its own (as boxd gives every box), removed with the container.
   */
  async create(opts: { ownNetwork?: boolean } = {}): Promise<string> {
    let network = "bridge";
    if (opts.ownNetwork) {
      network = `boxd-bench-${this.runId}-${++this.networkSeq}`;
      await this.docker.createNetwork({ Name: network, Driver: "bridge", Labels: this.labels });
      this.networks.add(network);
    }
    const c = await this.docker.createContainer({
      Image: this.image,
      Cmd: ["sleep", "infinity"],
      User: USER,
      WorkingDir: "/workspace/home",
      Labels: this.labels,
      Tty: false,
      HostConfig: {
        Init: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges:true"],
        PidsLimit: 512,
        Memory: 1024 ** 3,
        MemorySwap: 1024 ** 3,
        NanoCpus: Math.min(1, this.cpus) * 1e9,
        NetworkMode: network,
        ...(this.runtime ? { Runtime: this.runtime } : {}),
        RestartPolicy: { Name: "no" },
        LogConfig: { Type: "none", Config: {} },
      },
    });
    this.containers.add(c.id);
    await c.start();
    return c.id;
  }

  /** Removes the container, and its own network if it had one. */
  async remove(id: string): Promise<void> {
    const c = this.docker.getContainer(id);
    const net = await c
      .inspect()
      .then((i) => i.HostConfig.NetworkMode)
      .catch(() => undefined);
    await c.remove({ force: true, v: true }).catch(notFoundOk);
    this.containers.delete(id);
    if (net && this.networks.has(net)) await this.removeNetwork(net);
  }

  private async removeNetwork(name: string): Promise<void> {
    await this.docker.getNetwork(name).remove().catch(notFoundOk);
    this.networks.delete(name);
  }

  /** exec create + start + read both streams to the end + inspect (the exit code). */
  async exec(id: string, cmd: string[]): Promise<ExecOutput> {
    const exec = await this.docker.getContainer(id).exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      User: USER,
    });
    const raw = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks: { out: Buffer[]; err: Buffer[] } = { out: [], err: [] };
    out.on("data", (c: Buffer) => chunks.out.push(c));
    err.on("data", (c: Buffer) => chunks.err.push(c));
    const ended = Promise.all([new Promise((r) => out.once("end", r)), new Promise((r) => err.once("end", r))]);
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        out.end();
        err.end();
        resolve();
      };
      raw.once("end", done);
      raw.once("close", done);
      raw.once("error", reject);
      this.docker.modem.demuxStream(raw, out, err);
    });
    await ended;
    let info = await exec.inspect();
    for (let i = 0; info.Running && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 5));
      info = await exec.inspect();
    }
    return {
      exitCode: info.ExitCode ?? null,
      stdout: Buffer.concat(chunks.out).toString("utf8"),
      stderr: Buffer.concat(chunks.err).toString("utf8"),
    };
  }

  /** exec that must succeed. */
  async sh(id: string, script: string): Promise<string> {
    const r = await this.exec(id, ["/bin/sh", "-c", script]);
    if (r.exitCode !== 0) throw new Error(`raw exec failed (${r.exitCode}): ${script}: ${r.stderr}`);
    return r.stdout;
  }

  /** putArchive of a one-file tar into `dir` (which must exist); the content is a buffer or a host file stream. */
  async putFile(id: string, dir: string, name: string, content: Buffer | { stream: Readable; size: number }) {
    const pack = tar.pack();
    if (Buffer.isBuffer(content)) {
      pack.entry({ name, size: content.length, mode: 0o644, uid: 1000, gid: 1000 }, content);
      pack.finalize();
    } else {
      new Promise<void>((resolve, reject) => {
        const header = { name, size: content.size, mode: 0o644, uid: 1000, gid: 1000 };
        const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        pipeline(content.stream, entry).catch(reject);
      }).then(
        () => pack.finalize(),
        (err) => pack.destroy(err),
      );
    }
    await this.docker.getContainer(id).putArchive(pack as unknown as NodeJS.ReadableStream, { path: dir });
  }

  /** getArchive of one file, its content collected in memory (small files). */
  async getFile(id: string, file: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.readArchive(id, file, async (body) => {
      for await (const c of body) chunks.push(c);
    });
    return Buffer.concat(chunks);
  }

  /** getArchive of one file streamed to a host file; returns the bytes written. */
  async getFileToHost(id: string, file: string, hostFile: string): Promise<number> {
    await this.readArchive(id, file, async (body) => {
      const out = createWriteStream(hostFile);
      try {
        for await (const c of body) if (!out.write(c)) await once(out, "drain");
      } finally {
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
    });
    return (await stat(hostFile)).size;
  }

  /** Reads a getArchive tar and hands the first file's body to `onFile` (async iteration: tar-stream's
   *  entries are streamx streams, whose end Node's pipeline() does not see). */
  private async readArchive(
    id: string,
    file: string,
    onFile: (body: AsyncIterable<Buffer>) => Promise<void>,
  ): Promise<void> {
    const stream = (await this.docker.getContainer(id).getArchive({ path: file })) as unknown as Readable;
    const extract = tar.extract();
    stream.on("error", (err) => extract.destroy(err));
    extract.on("error", () => {}); // surfaces through the iterator
    stream.pipe(extract as unknown as NodeJS.WritableStream);
    let found = false;
    for await (const entry of extract) {
      const body = entry as unknown as AsyncIterable<Buffer>;
      if (!found && entry.header.type === "file") {
        found = true;
        await onFile(body);
      } else {
        for await (const _ of body) {
          // discard
        }
      }
    }
    if (!found) throw new Error(`raw getArchive of ${file} held no file`);
  }

  pause(id: string) {
    return this.docker.getContainer(id).pause();
  }
  unpause(id: string) {
    return this.docker.getContainer(id).unpause();
  }
  stop(id: string) {
    return this.docker.getContainer(id).stop({ t: 0 });
  }
  start(id: string) {
    return this.docker.getContainer(id).start();
  }

  /** docker commit (paused while captured, as boxd does), labelled like boxd labels its snapshots. */
  async commit(id: string, tag: string): Promise<string> {
    const res = (await this.docker.getContainer(id).commit({
      repo: SNAPSHOT_REPO,
      tag,
      pause: true,
      changes: Object.entries(this.labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
    })) as { Id: string };
    this.images.add(res.Id);
    return res.Id;
  }

  async removeImage(imageId: string): Promise<void> {
    await this.docker.getImage(imageId).remove({ force: true }).catch(notFoundOk);
    this.images.delete(imageId);
  }

  /** Removes every container, network and image of this run (tracked ones and, as a net, anything with its label). */
  async sweep(): Promise<string[]> {
    const left: string[] = [];
    const filters = { label: [`${LABEL_BENCH_RUN}=${this.runId}`] };
    const listed = await this.docker.listContainers({ all: true, filters }).catch(() => []);
    for (const id of new Set([...this.containers, ...listed.map((c) => c.Id)])) {
      await this.remove(id).catch((err) => left.push(`container ${id.slice(0, 12)}: ${String(err)}`));
    }
    const networks = await this.docker.listNetworks({ filters }).catch(() => []);
    for (const name of new Set([...this.networks, ...networks.map((n) => n.Name)])) {
      await this.removeNetwork(name).catch((err) => left.push(`network ${name}: ${String(err)}`));
    }
    const images = await this.docker.listImages({ filters }).catch(() => []);
    for (const id of new Set([...this.images, ...images.map((i) => i.Id)])) {
      await this.removeImage(id).catch((err) => left.push(`image ${id.slice(0, 19)}: ${String(err)}`));
    }
    return left;
  }
}

function notFoundOk(err: { statusCode?: number }): void {
  if (err.statusCode !== 404) throw err;
}
