// Moves repositories between the server and a box as tar streams through exec, with `tar` running in the
// box as boxuser: in for clone (the server's .git, then a checkout in the box), out for push and pull (the
// box's object store and refs only). Streams end to end: the server never holds a repository in memory.
//
// Clone lands atomically: everything is built in a temp folder beside the target and renamed into place
// only when complete, so a failure leaves nothing half-written and an existing non-empty target is never
// touched. Push treats what comes out of the box as hostile: it is extracted by the safe extractor
// (no symlinks, no "..", nothing outside the staging folder) and only objects/, refs/, packed-refs and
// shallow are adopted into a fresh bare repository whose config, hooks and HEAD are the server's own.
// The box's config (hooks, fsmonitor, credential helpers, alternates pointing at server paths) never
// reaches a git command on the server.
import fs from "node:fs/promises";
import path from "node:path";
import { PassThrough, Transform } from "node:stream";
import { BoxdError, conflict } from "../errors.js";
import type { BoxShell } from "../fs/box-shell.js";
import { safeExtract } from "../fs/safe-extract.js";
import { packHostPath } from "../fs/tar-sources.js";
import { GIT_PRELUDE, gitFailure } from "./box-git.js";

// $2 = "check": only say whether the target is free (before the server spends time cloning).
const CLONE_IN = `d=$1 mode=$2
p=\${d%/*}; [ -n "$p" ] || p=/
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then fail EXISTS "$d"; fi
if [ -d "$d" ] && [ -n "$(ls -A -- "$d" 2>/dev/null)" ]; then fail EXISTS "$d"; fi
[ "$mode" = check ] && exit 0
mkdir -p -- "$p" || exit 1
tmp=$(mktemp -d -- "$p/.boxd-clone.XXXXXX") || exit 1
trap 'cd /; rm -rf -- "$tmp"' EXIT
chmod "$(printf '%o' $(( 0777 & ~$(umask) )))" "$tmp" || exit 1
mkdir -- "$tmp/.git" || exit 1
tar -x --no-same-owner -f - -C "$tmp/.git" || exit 1
cd -- "$tmp" || exit 1
if git rev-parse -q --verify HEAD >/dev/null; then git reset -q --hard >&2 || exit 1; fi
cd /
if ! mv -T -- "$tmp" "$d"; then
  [ -e "$d" ] && fail EXISTS "$d"
  exit 1
fi
trap - EXIT`;

// Only what a push needs; alternates files could point git at other repositories' objects.
// Flow control: the engine's exec output cannot push back on the box, so the box sends the tar in chunks
// of $2 bytes and releases each one only after reading a credit byte the server writes on stdin once it
// has caught up; when the server closes stdin instead (it gave up), the box stops. Where GNU split is
// missing (busybox), the stream goes without flow control.
const GIT_DIR_OUT = `g=$1 chunk=$2
exec 3<&0
cd -- "$g" || exit 1
set -- objects refs
[ -f packed-refs ] && set -- "$@" packed-refs
[ -f shallow ] && set -- "$@" shallow
set -o pipefail
if split --help 2>/dev/null | grep -q -- --filter; then
  tar -c -f - --exclude=objects/info/alternates --exclude=objects/info/http-alternates "$@" |
    SHELL=/bin/sh split -b "$chunk" --filter='[ "$(head -c 1 <&3)" = + ] && cat' -
else
  tar -c -f - --exclude=objects/info/alternates --exclude=objects/info/http-alternates "$@"
fi`;

/** Bytes per credit, and credits the server grants ahead of what it has processed. */
const CHUNK = 4 * 1024 * 1024;
const WINDOW = 4;

/** Top-level names of a box's git dir that a push adopts; everything else stays behind. */
const ADOPTED_DIRS = ["objects", "refs"];
const ADOPTED_FILES = ["packed-refs", "shallow"];

export class RepoTransfer {
  constructor(private readonly shell: BoxShell) {}

  /** Fails with ALREADY_EXISTS when `target` exists and is not an empty folder. */
  async checkTarget(containerId: string, target: string): Promise<void> {
    const res = await this.shell.run(containerId, GIT_PRELUDE + CLONE_IN, [target, "check"]);
    if (res.exitCode !== 0) throw cloneFailure(target, res);
  }

  /**
   * Streams a server-side git dir into `target` in the box and checks out its HEAD there.
   * `onBytes` is called as the stream is read.
   */
  async cloneIn(containerId: string, gitDir: string, target: string, onBytes: (bytes: number) => void): Promise<void> {
    // The server's own clone, extracted into a fresh folder in the box: no folder list needed.
    const producer = packHostPath({ real: gitDir, root: gitDir }, { folderList: false });
    let sent = 0;
    // Counts bytes on their way to the box; pipe() keeps the engine's backpressure reaching the packer.
    const metered = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        onBytes(sent);
        done(null, chunk);
      },
    });
    metered.on("error", () => {});
    producer.stream.on("error", (err) => metered.destroy(err));
    producer.stream.pipe(metered);
    const res = await this.shell.run(containerId, GIT_PRELUDE + CLONE_IN, [target, "write"], { stdin: metered });
    const early = producer.failure();
    producer.stream.destroy();
    await producer.done.catch(() => {});
    if (early) throw new BoxdError("INTERNAL", `reading the server's clone failed: ${String(early)}`);
    if (res.exitCode !== 0) throw cloneFailure(target, res);
  }

  /**
   * Streams the box's object store and refs (from its absolute common git dir) into a new bare repository
   * `bareDir` on the server, created beforehand by the caller with `git init --bare`.
   */
  async gitDirOut(
    containerId: string,
    boxGitDir: string,
    dir: string,
    bareDir: string,
    stagingDir: string,
    onBytes: (bytes: number) => void,
  ): Promise<void> {
    await fs.mkdir(stagingDir, { recursive: true, mode: 0o700 });
    const credits = new PassThrough();
    credits.on("error", () => {});
    let granted = 0;
    let consumed = 0;
    // The box may send granted * CHUNK bytes: at most WINDOW chunks beyond what the extractor has taken.
    const grant = () => {
      while (!credits.destroyed && granted * CHUNK < consumed + WINDOW * CHUNK) {
        credits.write("+");
        granted += 1;
      }
    };
    const body = new PassThrough({ highWaterMark: CHUNK });
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        consumed += chunk.length;
        done(null, chunk);
        grant();
      },
    });
    body.on("error", () => {});
    meter.on("error", () => {});
    body.pipe(meter);
    const extracted = safeExtract(meter, stagingDir);
    extracted.catch(() => {
      body.destroy();
      credits.end(); // no more credits: the box stops sending
    });
    grant();
    let received = 0;
    const res = await this.shell.run(containerId, GIT_DIR_OUT, [boxGitDir, String(CHUNK)], {
      stdin: credits,
      onStdout: (chunk) => {
        received += chunk.length;
        onBytes(received);
        if (!body.destroyed) body.write(chunk);
      },
    });
    credits.end();
    if (!body.destroyed) body.end();
    const outcome = await extracted.then(
      () => null,
      (err: unknown) => err,
    );
    if (res.exitCode !== 0) throw gitFailure("reading the repository out of the box", dir, res);
    if (outcome)
      throw new BoxdError("INTERNAL", `copying ${dir}'s repository out of the box failed: ${String(outcome)}`);
    await adopt(stagingDir, bareDir);
  }
}

/** Moves the allowed parts of an extracted git dir into the server's bare repository. */
async function adopt(staging: string, bare: string): Promise<void> {
  for (const name of ADOPTED_DIRS) {
    const from = path.join(staging, name);
    const st = await fs.lstat(from).catch(() => null);
    if (!st?.isDirectory()) continue;
    await fs.rm(path.join(bare, name), { recursive: true, force: true });
    await fs.rename(from, path.join(bare, name));
  }
  for (const name of ADOPTED_FILES) {
    const from = path.join(staging, name);
    const st = await fs.lstat(from).catch(() => null);
    if (st?.isFile()) await fs.rename(from, path.join(bare, name));
  }
  // Belt and braces: the box side excludes them already.
  for (const name of ["alternates", "http-alternates"]) {
    await fs.rm(path.join(bare, "objects", "info", name), { force: true });
  }
}

function cloneFailure(target: string, res: Parameters<typeof gitFailure>[2]): BoxdError {
  if ((res.marker?.code as string | undefined) === "EXISTS") {
    return new BoxdError(
      "ALREADY_EXISTS",
      `${target} already exists and is not an empty folder: pass another directory, or delete it first`,
    );
  }
  const err = gitFailure("git clone (checkout in the box)", target, res);
  return err.code === "INTERNAL" && /Directory not empty/.test(res.stderr)
    ? conflict(`${target} was created by something else during the clone`)
    : err;
}
