// box_upload and box_download: tar streams between the server and `tar` running in the box as the box
// user (so extracted files belong to boxuser and the box's permissions apply). Host paths arrive already
// checked against the allowed roots (host-paths.ts), with the allowed folder every host file opened is
// confined to; box-to-host data goes through safe-extract.ts.
import type { Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough } from "node:stream";
import { BoxdError, forbidden, invalidArgument, limitExceeded, notFound, toBoxdError } from "../errors.js";
import { type BoxShell, failure, type ShellResult } from "./box-shell.js";
import type { HostTarget } from "./host-paths.js";
import { drainedOrClosed, HostFileWriter } from "./host-writer.js";
import { ensureDirs, safeExtract } from "./safe-extract.js";
import { checkArchive, type Producer, packFiles, packHostPath, repackArchive } from "./tar-sources.js";

export type UploadSource =
  | { files: { path: string; content: Buffer }[] }
  | { archive: Buffer }
  | { hostPath: HostTarget };

/** What a download can be, and how an inline one is encoded. */
export const DOWNLOAD_TYPES = ["file", "directory"] as const;
export const DOWNLOAD_FORMATS = ["raw", "tar.gz"] as const;

export interface DownloadResult {
  path: string;
  type: (typeof DOWNLOAD_TYPES)[number];
  bytes: number;
  /** Inline downloads: the file's bytes ("raw") or the folder as "tar.gz". */
  format?: (typeof DOWNLOAD_FORMATS)[number];
  data?: Buffer;
  /** hostPath downloads: where it was written, files written and members skipped as unsafe. */
  hostPath?: string;
  files?: number;
  skipped?: number;
}

// stdin is the folder list (tar-sources.ts folderList), then the tar stream. tar follows a folder that
// already exists as a symlink (a member "home/x" after an earlier upload planted "home -> /elsewhere"), so
// before tar reads a byte every listed folder is resolved (realpath) and the whole upload is refused when
// one leads out of the destination. Box code could still swap a folder afterwards, but box code already
// acts as boxuser: the check protects the caller's intent, not a privilege boundary.
const UNTAR = `d=$1
if [ ! -d "$d" ]; then
  if [ -e "$d" ] || [ -L "$d" ]; then fail NOT_DIR "$d"; fi
  mkdir -p -- "$d" || exit 1
fi
cd -- "$d" || exit 1
rd=$(pwd -P); [ "$rd" = / ] && rd=
ps=() end=0
while IFS= read -r -d '' p; do
  if [ -z "$p" ]; then end=1; break; fi
  ps+=("$p")
done
[ "$end" = 1 ] || exit 1
if [ \${#ps[@]} -gt 0 ]; then
  n=0
  while IFS= read -r -d '' r; do
    case "$r" in "$rd"|"$rd"/*) ;; *) fail LINKED "$d/\${ps[$n]}" ;; esac
    n=$((n + 1))
  done < <(printf '%s\\0' "\${ps[@]}" | xargs -0 realpath -m -z --)
  [ "$n" = \${#ps[@]} ] || exit 1
fi
exec tar -x --no-same-owner -f -`;

// The first stdout line says "file" or "directory"; the data follows. Only regular files and folders:
// `cat` of a device or fifo would never end.
const TAR_OUT = `p=$1 max=$2 fmt=$3
need "$p"
if [ -d "$p" ]; then
  [ -r "$p" ] && [ -x "$p" ] || fail DENIED "$p"
  printf 'directory\\n'
  [ "$fmt" = tgz ] && exec tar -C "$p" -czf - .
  exec tar -C "$p" -cf - .
fi
[ -f "$p" ] || fail SPECIAL "$p"
[ -r "$p" ] || fail DENIED "$p"
size=$(stat -L -c %s -- "$p") || exit 1
if [ "$max" -ge 0 ] && [ "$size" -gt "$max" ]; then fail TOO_BIG "$size"; fi
printf 'file\\n'
exec cat -- "$p"`;

export async function upload(
  shell: BoxShell,
  containerId: string,
  destination: string,
  source: UploadSource,
  maxFileBytes: number,
): Promise<{ destination: string; files: number; bytes: number }> {
  let producer: Producer;
  if ("files" in source) {
    const total = source.files.reduce((n, f) => n + f.content.length, 0);
    if (total > maxFileBytes) {
      throw limitExceeded(
        `files hold ${total} bytes, more than the ${maxFileBytes} bytes inline files may: send an archive or use hostPath`,
      );
    }
    producer = packFiles(source.files);
  } else if ("archive" in source) {
    const checked = await checkArchive(source.archive);
    producer = repackArchive(source.archive, checked.folders);
  } else {
    producer = packHostPath(source.hostPath);
  }
  const res = await shell.run(containerId, UNTAR, [destination], { stdin: producer.stream });
  // The producer's own failure (e.g. a host file that vanished) is the cause when both failed.
  const early = producer.failure();
  // tar may stop reading at the end-of-archive blocks: tear the rest down rather than wait for it.
  producer.stream.destroy();
  await producer.done.catch(() => {});
  if (early) throw hostError(early, "read");
  if (res.exitCode !== 0) {
    throw failure(res, destination, {
      NOT_DIR: "destination must be a folder",
      LINKED: "nothing was uploaded; upload into the folder the link points to, or remove the link first",
    });
  }
  return { destination, ...producer.count };
}

/** Host file-system failures in the caller's terms (anything else stays INTERNAL). */
function hostError(err: unknown, verb: "read" | "write"): BoxdError {
  if (err instanceof BoxdError) return err;
  const e = err as NodeJS.ErrnoException;
  const where = e.path ? ` ${e.path}` : "";
  switch (e.code) {
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return forbidden(`the server may not ${verb}${where} on its machine (${e.code}): pick another hostPath`);
    case "ENOSPC":
      return limitExceeded(`the server's disk is full writing${where}`);
    case "EISDIR":
    case "ENOTDIR":
    case "ENOTEMPTY":
    case "EEXIST":
      return invalidArgument(
        `cannot ${verb}${where} on the server's machine: a file or folder is in the way (${e.code})`,
      );
    case "ENOENT":
      return notFound(`${where.trim() || "a host path"} disappeared during the transfer`);
  }
  return toBoxdError(err);
}

/** Splits the first line (the type) off a stream of stdout chunks. */
class HeaderSplit {
  header: string | null = null;
  private pending = Buffer.alloc(0);
  constructor(
    private readonly onHeader: (type: string) => void,
    private readonly onBody: (chunk: Buffer) => Promise<void> | undefined,
  ) {}
  push = (chunk: Buffer): Promise<void> | undefined => {
    if (this.header !== null) return this.onBody(chunk);
    this.pending = Buffer.concat([this.pending, chunk]);
    const nl = this.pending.indexOf(0x0a);
    if (nl < 0) return undefined;
    this.header = this.pending.subarray(0, nl).toString("ascii");
    this.onHeader(this.header);
    const rest = this.pending.subarray(nl + 1);
    this.pending = Buffer.alloc(0);
    return rest.length > 0 ? this.onBody(rest) : undefined;
  };
}

const tooBigHint = (max: number) =>
  `more than the ${max} bytes returned inline: pass hostPath to download it to the server's disk`;

export async function download(
  shell: BoxShell,
  containerId: string,
  boxPath: string,
  hostPath: HostTarget | undefined,
  maxFileBytes: number,
): Promise<DownloadResult> {
  if (hostPath !== undefined) return downloadToHost(shell, containerId, boxPath, hostPath);
  // Reading stops as soon as the output passes the limit (plus room for the type line).
  const res = await shell.run(containerId, TAR_OUT, [boxPath, String(maxFileBytes), "tgz"], {
    maxStdout: maxFileBytes + "directory\n".length,
  });
  const nl = res.stdout.indexOf(0x0a);
  const type = nl >= 0 && res.stdout.subarray(0, nl).toString("ascii") === "directory" ? "directory" : "file";
  const data = nl >= 0 ? res.stdout.subarray(nl + 1) : Buffer.alloc(0);
  if (res.overflow || data.length > maxFileBytes) throw limitExceeded(`${boxPath} is ${tooBigHint(maxFileBytes)}`);
  // tar exits 1 when a file changed while it was read: the archive is still whole.
  if (res.exitCode !== 0 && !(type === "directory" && res.exitCode === 1)) {
    throw failure(res, boxPath, {
      TOO_BIG: tooBigHint(maxFileBytes),
      SPECIAL: "only regular files and folders can be downloaded",
    });
  }
  return { path: boxPath, type, bytes: data.length, format: type === "directory" ? "tar.gz" : "raw", data };
}

/** Where box data goes on the host: one file, or a safe extraction of a tar stream. */
interface HostSink {
  /** A promise when the sink is full: reading from the box waits for it (no unbounded buffering). */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Flushes; the result is committed only if the box side succeeded. */
  finish(): Promise<{ files: number; bytes: number; skipped: number }>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function fileSink(target: string, root: string): HostSink {
  const writer = new HostFileWriter(target, 0o644, root);
  return {
    write: (chunk) => (writer.write(chunk) ? undefined : writer.drained()),
    finish: async () => {
      await writer.finish();
      return { files: 1, bytes: writer.bytes, skipped: 0 };
    },
    commit: () => writer.commit(),
    abort: () => writer.abort(),
  };
}

/** Creates the folders of `dir` below `root` one by one, refusing any that is a symlink or a file. */
async function hostDirs(root: string, dir: string): Promise<void> {
  const rel = path.relative(root, dir);
  if (rel.startsWith("..") || path.isAbsolute(rel) || !(await ensureDirs(root, rel))) {
    throw invalidArgument(`cannot write to ${dir} on the server's machine: a file or symlink is in the way`);
  }
}

function folderSink(hostPath: string, existing: Stats | null, root: string): HostSink {
  const body = new PassThrough({ highWaterMark: 8 * 1024 * 1024 });
  body.on("error", () => {});
  const extracted = (async () => {
    if (existing && !existing.isDirectory()) {
      throw invalidArgument(`hostPath ${hostPath} is a file; a folder downloads into a folder: pass a folder path`);
    }
    await hostDirs(root, hostPath);
    return safeExtract(body, hostPath);
  })();
  // When the host side fails, drop the rest of the box's output instead of buffering it.
  extracted.catch(() => body.destroy());
  return {
    write: (chunk) => {
      if (body.destroyed || body.write(chunk)) return undefined;
      return drainedOrClosed(body);
    },
    finish: () => {
      if (!body.destroyed) body.end();
      return extracted;
    },
    commit: async () => {},
    abort: async () => {
      body.destroy();
      await extracted.catch(() => {});
    },
  };
}

async function downloadToHost(
  shell: BoxShell,
  containerId: string,
  boxPath: string,
  host: HostTarget,
): Promise<DownloadResult> {
  const { real: hostPath, root } = host;
  // Decided before any data arrives, so the first chunks can be written at once.
  const existing = await fs.lstat(hostPath).catch(() => null);
  const fileTarget = existing?.isDirectory() ? path.join(hostPath, path.posix.basename(boxPath)) : hostPath;
  await hostDirs(root, path.dirname(fileTarget));
  const state: { sink: HostSink | null; type: "file" | "directory" | null } = { sink: null, type: null };
  const split = new HeaderSplit(
    (type) => {
      if (type === "file") state.sink = fileSink(fileTarget, root);
      else if (type === "directory") state.sink = folderSink(hostPath, existing, root);
      state.type = type === "file" || type === "directory" ? type : null;
    },
    (chunk) => state.sink?.write(chunk),
  );
  let res: ShellResult;
  try {
    res = await shell.run(containerId, TAR_OUT, [boxPath, "-1", "tar"], { onStdout: split.push });
  } catch (err) {
    await state.sink?.abort();
    throw err;
  }
  const sink = state.sink;
  const outcome = sink
    ? await sink.finish().then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      )
    : null;
  // tar exits 1 when a file changed while it was read: the archive is still whole.
  if (res.exitCode !== 0 && !(state.type === "directory" && res.exitCode === 1)) {
    await sink?.abort();
    throw failure(res, boxPath, { SPECIAL: "only regular files and folders can be downloaded" });
  }
  if (!sink || !outcome || !state.type) throw failure(res, boxPath);
  if (!outcome.ok) {
    await sink.abort();
    throw hostError(outcome.e, "write");
  }
  try {
    await sink.commit();
  } catch (err) {
    throw hostError(err, "write");
  }
  const where = state.type === "file" ? fileTarget : hostPath;
  return { path: boxPath, type: state.type, hostPath: where, ...outcome.v };
}
