// Image operations: inspect, build from a tar context, import a root filesystem, pull, push, commit, remove.
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import { firstFile } from "./archive.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";
import { labelFilter } from "./labels.js";

export interface ImageInfo {
  id: string;
  tags: string[];
  sizeBytes: number;
  labels: Record<string, string>;
  created: string;
}

/** A line of progress from a build, pull or import. */
export type ProgressFn = (line: string) => void;

export class ImageClient {
  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  async inspect(ref: string): Promise<ImageInfo | null> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return {
        id: info.Id,
        tags: info.RepoTags ?? [],
        sizeBytes: info.Size,
        labels: info.Config?.Labels ?? {},
        created: info.Created,
      };
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `inspect image ${ref}`);
    }
  }

  async list(labels: Record<string, string>): Promise<ImageInfo[]> {
    try {
      const all = await this.docker.listImages({ filters: labelFilter(labels) });
      return all.map((i) => ({
        id: i.Id,
        tags: i.RepoTags ?? [],
        sizeBytes: i.Size,
        labels: i.Labels ?? {},
        created: new Date(i.Created * 1000).toISOString(),
      }));
    } catch (err) {
      throw asBoxdError(err, "list images");
    }
  }

  /** Builds `tag` from a tar build context (legacy builder: the engine here has no BuildKit API). */
  async build(
    context: Readable,
    opts: { tag: string; buildArgs?: Record<string, string>; labels?: Record<string, string> },
    onProgress: ProgressFn,
  ): Promise<void> {
    try {
      const stream = await this.docker.buildImage(context, {
        t: opts.tag,
        buildargs: opts.buildArgs,
        labels: opts.labels,
        rm: true,
        forcerm: true,
        pull: false,
      } as Docker.ImageBuildOptions);
      await this.follow(stream, onProgress);
    } catch (err) {
      throw asBoxdError(err, `build image ${opts.tag}`);
    }
  }

  /** Imports a root filesystem tar as `repo:tag` (docker import). */
  async importRootfs(
    tar: Readable,
    repo: string,
    tag: string,
    changes: string[],
    onProgress: ProgressFn,
  ): Promise<void> {
    try {
      const stream = await this.docker.importImage(tar, { repo, tag, changes } as object);
      await this.follow(stream as NodeJS.ReadableStream, onProgress);
    } catch (err) {
      throw asBoxdError(err, `import image ${repo}:${tag}`);
    }
  }

  async pull(ref: string, onProgress: ProgressFn): Promise<void> {
    try {
      const stream = await this.docker.pull(ref);
      await this.follow(stream, onProgress);
    } catch (err) {
      throw asBoxdError(withEngineReason(err), `pull image ${ref}`);
    }
  }

  /**
   * Pushes `ref` (`registry/repo:tag`, tag `latest` when none) to its registry, anonymously: only for
   * registries without authentication (the tests' local one).
   */
  async push(ref: string, onProgress: ProgressFn): Promise<void> {
    const colon = ref.lastIndexOf(":");
    const [repo, tag] = colon > ref.lastIndexOf("/") ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
    try {
      const stream = (await this.docker.getImage(repo).push({ tag, authconfig: {} })) as NodeJS.ReadableStream;
      await this.follow(stream, onProgress);
    } catch (err) {
      throw asBoxdError(withEngineReason(err), `push image ${ref}`);
    }
  }

  /** Commits a container's filesystem as `repo:tag`; the container is paused during the commit. */
  async commit(containerId: string, repo: string, tag: string, labels: Record<string, string>): Promise<string> {
    try {
      const res = (await this.docker.getContainer(containerId).commit({
        repo,
        tag,
        pause: true,
        changes: Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
      })) as { Id: string };
      return res.Id;
    } catch (err) {
      throw asBoxdError(err, `commit container ${containerId.slice(0, 12)}`);
    }
  }

  async tag(ref: string, repo: string, tag: string): Promise<void> {
    try {
      await this.docker.getImage(ref).tag({ repo, tag });
    } catch (err) {
      throw asBoxdError(err, `tag image ${ref}`);
    }
  }

  /** Removes an image; absent is fine. */
  async remove(ref: string, force = false): Promise<void> {
    try {
      await this.docker.getImage(ref).remove({ force, noprune: false });
      this.log.debug("image removed", { ref });
    } catch (err) {
      if (dockerStatus(err) === 404) return;
      throw asBoxdError(err, `remove image ${ref}`);
    }
  }

  /**
   * Reads one small file (<= 64 KiB) of an image, or null if it has none: through a container that is
   * created but never started, and removed at once.
   */
  async readFile(ref: string, filePath: string): Promise<Buffer | null> {
    let container: Docker.Container | undefined;
    try {
      container = await this.docker.createContainer({ Image: ref, Cmd: ["true"], NetworkDisabled: true });
      const tar = (await container.getArchive({ path: filePath })) as NodeJS.ReadableStream;
      return await firstFile(tar, 64 * 1024);
    } catch (err) {
      if (dockerStatus(err) === 404) return null;
      throw asBoxdError(err, `read ${filePath} from image ${ref}`);
    } finally {
      await container?.remove({ force: true }).catch(() => {});
    }
  }

  /** Reads a JSON-lines progress stream to its end; an `error` line fails the operation. */
  private follow(stream: NodeJS.ReadableStream, onProgress: ProgressFn): Promise<void> {
    return new Promise((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null, output: Array<{ error?: string }>) => {
          if (err) return reject(err);
          const failed = output.find((o) => o.error);
          if (failed) return reject(new Error(failed.error));
          resolve();
        },
        (event: { stream?: string; status?: string; progress?: string; error?: string }) => {
          const text = (event.stream ?? event.status ?? event.error ?? "").trimEnd();
          if (text) onProgress(event.progress ? `${text} ${event.progress}` : text);
        },
      );
    });
  }
}

/**
 * A pull or push the engine refused before streaming comes with no JSON body: its reason ("dial tcp ...:
 * connection refused") is only in the message, after dockerode's "(HTTP code 500) server error - ".
 */
function withEngineReason(err: unknown): unknown {
  const e = err as { json?: unknown; message?: unknown; statusCode?: number } | null;
  if (!e || e.json !== null || typeof e.message !== "string") return err;
  const reason = e.message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim();
  return reason ? Object.assign(err as object, { json: { message: reason } }) : err;
}
