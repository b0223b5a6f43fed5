// Files in a box: write, read, list, stat, make folders, move, delete, and (via transfer.ts) upload and
// download. Everything runs as a script inside the box as the box user, so files belong to boxuser, the
// box's own permissions decide what is allowed, and a path outside the box cannot even be expressed.
// This service deals in Buffers; text/base64 (content-encoding.ts) and content blocks are the tools' business.
import type { DockerEngine } from "../docker/engine.js";
import { invalidArgument, limitExceeded } from "../errors.js";
import type { Logger } from "../log.js";
import { BoxShell, failure } from "./box-shell.js";
import { checkHostPath, type HostAccess } from "./host-paths.js";
import { resolveBoxPath } from "./paths.js";
import { type DownloadResult, download, type UploadSource, upload } from "./transfer.js";

export const ENTRY_TYPES = ["file", "directory", "symlink", "other"] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface FileEntry {
  name: string;
  path: string;
  type: EntryType;
  size: number;
  /** Permission bits in octal, e.g. "644" (or "4755" with special bits). */
  mode: string;
  modifiedAt: string;
}

export interface FileServiceDeps {
  engine: DockerEngine;
  maxFileBytes: number;
  /** BOXD_ROOTS: the host folders hostPath may use (per tenant over HTTP; see host-paths.ts). */
  roots: string[];
  log: Logger;
}

/** What box_upload puts in: inline files, an archive, or a host path not yet checked. */
export type UploadRequest = Exclude<UploadSource, { hostPath: unknown }> | { hostPath: string };

export const DEFAULT_MAX_ENTRIES = 1000;
export const MAX_ENTRIES = 10_000;

// find -printf: type, size, mode, mtime, path; each NUL-terminated so that any file name survives.
const FIND_FORMAT = "%y\\0%s\\0%m\\0%T@\\0%p\\0";

const WRITE = `p=$1 mode=$2 append=$3
if [ -L "$p" ]; then t=$(readlink -f -- "$p") && p=$t; fi
d=\${p%/*}; [ -n "$d" ] || d=/
[ -d "$p" ] && fail IS_DIR "$p"
if [ ! -d "$d" ]; then
  if [ -e "$d" ]; then fail NOT_DIR "$d"; fi
  mkdir -p -- "$d" || exit 1
fi
if [ "$append" = 1 ]; then
  cat >> "$p" || exit 1
  if [ -n "$mode" ]; then chmod -- "$mode" "$p" || exit 1; fi
  exit 0
fi
# A temp file beside the target, renamed over it: a failed write never leaves a half-written file.
tmp=$(mktemp "$d/.boxd-write.XXXXXX") || exit 1
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp" || exit 1
if [ -n "$mode" ]; then chmod -- "$mode" "$tmp"
elif [ -e "$p" ]; then chmod --reference="$p" -- "$tmp"
else chmod -- "$(printf '%o' $(( 0666 & ~$(umask) )))" "$tmp"
fi || exit 1
mv -f -T -- "$tmp" "$p" || exit 1
trap - EXIT`;

// The first stdout line is the file's total size; the requested bytes follow.
const READ = `p=$1 off=$2 len=$3
need "$p"
[ -d "$p" ] && fail IS_DIR "$p"
[ -r "$p" ] || fail DENIED "$p"
size=$(stat -L -c %s -- "$p") || exit 1
printf '%s\\n' "$size"
exec dd if="$p" bs=65536 iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none`;

const LIST = `p=$1 rec=$2 max=$3
need "$p"
if [ ! -d "$p" ]; then exec find "$p" -maxdepth 0 -printf '${FIND_FORMAT}'; fi
[ -r "$p" ] && [ -x "$p" ] || fail DENIED "$p"
depth=(-mindepth 1); [ "$rec" = 1 ] || depth+=(-maxdepth 1)
# Unreadable subfolders are left out rather than failing the whole listing.
find -H "$p" "\${depth[@]}" -printf '${FIND_FORMAT}' 2>/dev/null | head -z -n $(( 5 * (max + 1) ))
exit 0`;

const STAT = `p=$1
need "$p"
exec find "$p" -maxdepth 0 -printf '${FIND_FORMAT}'`;

const MKDIR = `p=$1 parents=$2
if [ -e "$p" ] || [ -L "$p" ]; then
  [ "$parents" = 1 ] && [ -d "$p" ] && exit 0
  fail EXISTS "$p"
fi
[ "$parents" = 1 ] && exec mkdir -p -- "$p"
d=\${p%/*}; [ -n "$d" ] || d=/
need "$d"
[ -d "$d" ] || fail NOT_DIR "$d"
exec mkdir -- "$p"`;

const MOVE = `from=$1 to=$2 ow=$3
need "$from"
if [ -e "$to" ] || [ -L "$to" ]; then [ "$ow" = 1 ] || fail EXISTS "$to"; fi
d=\${to%/*}; [ -n "$d" ] || d=/
if [ ! -d "$d" ]; then
  if [ -e "$d" ]; then fail NOT_DIR "$d"; fi
  mkdir -p -- "$d" || exit 1
fi
if [ "$ow" = 1 ]; then exec mv -f -T -- "$from" "$to"; fi
exec mv -n -T -- "$from" "$to"`;

const DELETE = `p=$1 rec=$2
need "$p"
if [ -d "$p" ] && [ ! -L "$p" ]; then
  [ "$rec" = 1 ] && exec rm -rf -- "$p"
  [ -z "$(find "$p" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null)" ] || fail NOT_EMPTY "$p"
  exec rmdir -- "$p"
fi
exec rm -f -- "$p"`;

const TYPES: Record<string, EntryType> = { f: "file", d: "directory", l: "symlink" };

/** Parses find's NUL-separated records (5 fields each). */
function parseEntries(out: Buffer): FileEntry[] {
  const fields = out.toString("utf8").split("\0");
  const entries: FileEntry[] = [];
  for (let i = 0; i + 4 < fields.length; i += 5) {
    const [y, size, mode, mtime, p] = fields.slice(i, i + 5) as [string, string, string, string, string];
    entries.push({
      name: p === "/" ? "/" : p.slice(p.lastIndexOf("/") + 1),
      path: p,
      type: TYPES[y] ?? "other",
      size: Number(size),
      mode,
      modifiedAt: new Date(Math.round(Number.parseFloat(mtime) * 1000)).toISOString(),
    });
  }
  return entries;
}

const flag = (b: boolean | undefined) => (b ? "1" : "0");

export class FileService {
  private readonly shell: BoxShell;

  constructor(private readonly deps: FileServiceDeps) {
    this.shell = new BoxShell(deps.engine, deps.log);
  }

  get maxFileBytes(): number {
    return this.deps.maxFileBytes;
  }

  async write(
    containerId: string,
    path: string,
    content: Buffer,
    opts: { mode?: string; append?: boolean } = {},
  ): Promise<{ path: string; bytes: number }> {
    const p = resolveBoxPath(path);
    if (opts.mode !== undefined && !/^[0-7]{3,4}$/.test(opts.mode)) {
      throw invalidArgument(`mode "${opts.mode}" must be octal permission bits like "644" or "755"`);
    }
    if (content.length > this.deps.maxFileBytes) {
      throw limitExceeded(
        `content is ${content.length} bytes, more than the ${this.deps.maxFileBytes} bytes a single write takes: use box_upload with an archive or a hostPath`,
      );
    }
    const res = await this.shell.run(containerId, WRITE, [p, opts.mode ?? "", flag(opts.append)], { stdin: content });
    if (res.exitCode !== 0) throw failure(res, p, { IS_DIR: "write to a file path inside it" });
    return { path: p, bytes: content.length };
  }

  async read(
    containerId: string,
    path: string,
    opts: { offset?: number; length?: number } = {},
  ): Promise<{ path: string; content: Buffer; bytes: number; offset: number; truncated: boolean }> {
    const p = resolveBoxPath(path);
    const offset = opts.offset ?? 0;
    const length = Math.min(opts.length ?? this.deps.maxFileBytes, this.deps.maxFileBytes);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument("offset must be a whole number ≥ 0");
    if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument("length must be a whole number ≥ 0");
    const res = await this.shell.run(containerId, READ, [p, String(offset), String(length)], {
      maxStdout: length + 32,
    });
    if (res.exitCode !== 0 && !res.overflow) throw failure(res, p, { IS_DIR: "use box_list_files to see a folder" });
    const nl = res.stdout.indexOf(0x0a);
    const size = Number(res.stdout.subarray(0, nl).toString("ascii"));
    const content = res.stdout.subarray(nl + 1, nl + 1 + length);
    return { path: p, content, bytes: size, offset, truncated: offset + content.length < size };
  }

  async list(
    containerId: string,
    path: string,
    opts: { recursive?: boolean; maxEntries?: number } = {},
  ): Promise<{ path: string; entries: FileEntry[]; truncated: boolean }> {
    const p = resolveBoxPath(path);
    const max = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_ENTRIES) {
      throw invalidArgument(`maxEntries must be between 1 and ${MAX_ENTRIES}`);
    }
    const res = await this.shell.run(containerId, LIST, [p, flag(opts.recursive), String(max)]);
    if (res.exitCode !== 0) throw failure(res, p);
    const all = parseEntries(res.stdout);
    const entries = all.slice(0, max).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { path: p, entries, truncated: all.length > max };
  }

  async stat(containerId: string, path: string): Promise<Omit<FileEntry, "name">> {
    const p = resolveBoxPath(path);
    const res = await this.shell.run(containerId, STAT, [p]);
    if (res.exitCode !== 0) throw failure(res, p);
    const entry = parseEntries(res.stdout)[0];
    if (!entry) throw failure(res, p);
    const { name: _name, ...rest } = entry;
    return rest;
  }

  async makeDir(containerId: string, path: string, opts: { parents?: boolean } = {}): Promise<{ path: string }> {
    const p = resolveBoxPath(path);
    const res = await this.shell.run(containerId, MKDIR, [p, flag(opts.parents)]);
    if (res.exitCode !== 0) {
      throw failure(res, p, {
        EXISTS: "pass parents: true to accept an existing folder",
        NOT_FOUND: "pass parents: true to create missing parent folders",
      });
    }
    return { path: p };
  }

  async move(
    containerId: string,
    from: string,
    to: string,
    opts: { overwrite?: boolean } = {},
  ): Promise<{ from: string; to: string }> {
    const src = resolveBoxPath(from, "from");
    const dst = resolveBoxPath(to, "to");
    if (src === "/" || dst === "/") throw invalidArgument("cannot move the box's root folder");
    if (src === dst) throw invalidArgument(`from and to are the same path (${src})`);
    const res = await this.shell.run(containerId, MOVE, [src, dst, flag(opts.overwrite)]);
    if (res.exitCode !== 0) {
      throw failure(res, src, {
        EXISTS: "pass overwrite: true to replace it",
        NOT_EMPTY: "delete it first or choose another target",
      });
    }
    return { from: src, to: dst };
  }

  async delete(
    containerId: string,
    path: string,
    opts: { recursive?: boolean } = {},
  ): Promise<{ path: string; deleted: boolean }> {
    const p = resolveBoxPath(path);
    if (p === "/")
      throw invalidArgument("refusing to delete the box's root folder: delete the box instead (box_delete)");
    const res = await this.shell.run(containerId, DELETE, [p, flag(opts.recursive)]);
    if (res.exitCode !== 0) throw failure(res, p, { NOT_EMPTY: "pass recursive: true to delete it with its contents" });
    return { path: p, deleted: true };
  }

  /**
   * Puts files, an archive, or a host file/folder into `destination` (a folder, created if missing). A
   * hostPath is checked here for `host` (who asks, over what transport), never by the caller.
   */
  async upload(
    containerId: string,
    destination: string,
    source: UploadRequest,
    host?: HostAccess,
  ): Promise<{ destination: string; files: number; bytes: number }> {
    const dest = resolveBoxPath(destination, "destination");
    const checked: UploadSource =
      "hostPath" in source ? { hostPath: await this.hostTarget(source.hostPath, host, true) } : source;
    return upload(this.shell, containerId, dest, checked, this.deps.maxFileBytes);
  }

  /**
   * A file's bytes or a folder as tar.gz (inline, at most the max file size or `maxInline`, whichever is
   * less), or written to a host path checked here for `host`.
   */
  async download(
    containerId: string,
    path: string,
    opts: { hostPath?: string; host?: HostAccess; maxInline?: number } = {},
  ): Promise<DownloadResult> {
    const p = resolveBoxPath(path);
    const target = opts.hostPath === undefined ? undefined : await this.hostTarget(opts.hostPath, opts.host, false);
    const max = Math.min(this.deps.maxFileBytes, opts.maxInline ?? Number.POSITIVE_INFINITY);
    return download(this.shell, containerId, p, target, max);
  }

  /** Without `host` only BOXD_ROOTS count, as for a remote caller of tenant "local". */
  private hostTarget(hostPath: string, host: HostAccess | undefined, mustExist: boolean) {
    const access = host ?? { tenant: "local", remote: true, clientRoots: async () => [] };
    return checkHostPath(hostPath, this.deps.roots, access, { mustExist });
  }
}
