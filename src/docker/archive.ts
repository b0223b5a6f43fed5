// Files written into a container as root through the engine's archive API (not an exec in the box, so
// nothing in the box runs or sees the write), and small files read back the same way. Used for the
// egress CA certificate boxes trust (src/secrets/box-trust.ts); works on created, running and paused
// containers alike.
import type Docker from "dockerode";
import { extract, pack } from "tar-stream";
import type { Logger } from "../log.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";

export interface RootFile {
  /** Absolute path in the container. */
  path: string;
  content: Buffer;
  mode: number;
}

export class ArchiveClient {
  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  /** One file of the container (at most `max` bytes), or null when it has none. */
  async readFile(containerId: string, filePath: string, max = 4 * 1024 * 1024): Promise<Buffer | null> {
    try {
      const tar = (await this.docker.getContainer(containerId).getArchive({ path: filePath })) as NodeJS.ReadableStream;
      return await firstFile(tar, max);
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `read ${filePath} of container ${containerId.slice(0, 12)}`);
    }
  }

  /** Writes files owned by root (uid 0) with their modes; their folders are made (0755) as needed. */
  async putRootFiles(containerId: string, files: RootFile[]): Promise<void> {
    const p = pack();
    const dirs = new Set<string>();
    for (const f of files) {
      const parts = f.path.replace(/^\/+/, "").split("/").slice(0, -1);
      for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    // Folders that exist keep their own modes: only new ones are made with these entries' modes.
    for (const d of dirs) p.entry({ name: `${d}/`, type: "directory", mode: 0o755, uid: 0, gid: 0 });
    for (const f of files) p.entry({ name: f.path.replace(/^\/+/, ""), mode: f.mode, uid: 0, gid: 0 }, f.content);
    p.finalize();
    try {
      await this.docker.getContainer(containerId).putArchive(p as unknown as NodeJS.ReadableStream, { path: "/" });
      this.log.debug("files put", { container: containerId.slice(0, 12), files: files.map((f) => f.path) });
    } catch (err) {
      throw asBoxdError(err, `write ${files.map((f) => f.path).join(", ")} into container ${containerId.slice(0, 12)}`);
    }
  }
}

/** The content of a tar stream's first file entry, up to `max` bytes (null: none, or larger). */
export function firstFile(tar: NodeJS.ReadableStream, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let found: Buffer | null = null;
    ex.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on("data", (data) => {
        const c = data as Buffer;
        size += c.length;
        if (found === null && size <= max) chunks.push(c);
      });
      stream.on("end", () => {
        if (found === null && header.type === "file" && size <= max) found = Buffer.concat(chunks);
        next();
      });
    });
    ex.on("finish", () => resolve(found));
    ex.on("error", reject);
    tar.on("error", reject);
    tar.pipe(ex);
  });
}
