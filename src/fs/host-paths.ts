// Host paths for box_upload / box_download `hostPath`: which folders of the server's machine a caller may
// use. Over stdio (one local user) that is the union of the server's BOXD_ROOTS and the MCP client's
// declared roots: the client runs on this machine. Over HTTP the client's roots describe *its* machine, not
// this one, so they are ignored, and each tenant gets its own folder in every BOXD_ROOTS root
// (`<root>/<tenant>`, created 0700 on demand), so tenants never see each other's files. Everything is
// compared after realpath, so a symlink inside a root cannot lead outside it, and by whole path segments,
// so /a/bc is not in /a/b. The result names the allowed folder too, so the transfer can confine every file
// it opens to it (confineFd), closing the window between this check and the transfer.
import fs from "node:fs/promises";
import path from "node:path";
import { forbidden, invalidArgument, notFound } from "../errors.js";

/** Who asks, and over what: decides which host folders are allowed. */
export interface HostAccess {
  tenant: string;
  /** true over HTTP: the client is on another machine, its roots mean nothing here. */
  remote: boolean;
  /** Host folders the client declared as roots (used only when not remote). */
  clientRoots: () => Promise<string[]>;
}

/** A checked host path: its real path and the real allowed folder it lies in. */
export interface HostTarget {
  real: string;
  root: string;
}

/**
 * A tenant name as one path segment that is safe and distinct: letters, digits, "_", "-" and non-leading
 * "." are kept, every other byte becomes %XX (so "%" itself too, which keeps the mapping one-to-one).
 */
export function tenantSegment(tenant: string): string {
  let out = "";
  for (const byte of Buffer.from(tenant, "utf8")) {
    const c = String.fromCharCode(byte);
    const keep = /[A-Za-z0-9_-]/.test(c) || (c === "." && out !== "");
    out += keep ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out === "" ? "%" : out;
}

/** realpath of every root that exists; roots that do not exist allow nothing. */
async function realRoots(roots: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const root of roots) {
    if (!root || !path.isAbsolute(root)) continue;
    try {
      out.push(await fs.realpath(root));
    } catch {
      // A configured root that is missing cannot contain anything.
    }
  }
  return out;
}

/** The tenant's own folder in each root, created private (0700) when missing; never a symlink. */
async function tenantRoots(serverRoots: string[], tenant: string): Promise<string[]> {
  const out: string[] = [];
  for (const root of await realRoots(serverRoots)) {
    const mine = path.join(root, tenantSegment(tenant));
    await fs.mkdir(mine, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EEXIST") return;
      throw forbidden(`the server cannot create your host folder ${mine} (${err.code}): ask the operator to create it`);
    });
    // Something planted at the tenant's folder (a symlink to another tenant's) makes it unusable.
    if ((await fs.realpath(mine)) !== mine || !(await fs.lstat(mine)).isDirectory()) {
      throw forbidden(`the host folder ${mine} is not a plain folder: ask the operator to fix it`);
    }
    out.push(mine);
  }
  return out;
}

export function isInside(child: string, root: string): boolean {
  if (child === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return child.startsWith(prefix);
}

/**
 * The real path for `hostPath`. A target that does not exist yet is resolved through its nearest existing
 * ancestor (its realpath plus the missing tail, which cannot contain symlinks because it does not exist).
 */
async function resolveHost(hostPath: string, mustExist: boolean): Promise<string> {
  try {
    return await fs.realpath(hostPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    if (mustExist) throw notFound(`host path ${hostPath} does not exist`);
  }
  let dir = path.dirname(hostPath);
  const tail = [path.basename(hostPath)];
  for (;;) {
    try {
      return path.join(await fs.realpath(dir), ...tail);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dir === path.dirname(dir)) throw err;
      tail.unshift(path.basename(dir));
      dir = path.dirname(dir);
    }
  }
}

/** The allowed real folders, and how a relative hostPath is read (remote only: in the tenant's folder). */
async function allowedFolders(serverRoots: string[], access: HostAccess): Promise<string[]> {
  if (access.remote) {
    const mine = await tenantRoots(serverRoots, access.tenant);
    if (mine.length === 0) {
      throw forbidden(
        "no host folders are allowed for hostPath over HTTP: the server has no BOXD_ROOTS (the client's roots describe the client's machine, not the server's)",
      );
    }
    return mine;
  }
  const client = await access.clientRoots().catch(() => []);
  const allowed = await realRoots([...serverRoots, ...client]);
  if (allowed.length === 0) {
    throw forbidden(
      "no host folders are allowed for hostPath: the server has no BOXD_ROOTS (--roots) and the client declared no roots. Add the folder to BOXD_ROOTS or to the client's roots",
    );
  }
  return allowed;
}

/**
 * Checks `hostPath` for `access` and returns its real path with the allowed folder it lies in; FORBIDDEN
 * when outside all of them. Over HTTP a relative hostPath is read in the tenant's folder of the first root.
 */
export async function checkHostPath(
  hostPath: string,
  serverRoots: string[],
  access: HostAccess,
  opts: { mustExist: boolean },
): Promise<HostTarget> {
  if (hostPath === "" || hostPath.includes("\0")) throw invalidArgument("hostPath must be a non-empty path");
  if (!path.isAbsolute(hostPath) && !access.remote) {
    throw invalidArgument(`hostPath "${hostPath}" must be an absolute path on the server's machine`);
  }
  const allowed = await allowedFolders(serverRoots, access);
  const joined = path.isAbsolute(hostPath) ? hostPath : path.join(allowed[0] as string, hostPath);
  const real = await resolveHost(path.normalize(joined), opts.mustExist);
  const root = allowed.find((r) => isInside(real, r));
  if (root === undefined) {
    const how = access.remote
      ? `over HTTP the client's roots are not used (they describe the client's machine) and hostPath must lie in your own host folder${allowed.length > 1 ? "s" : ""} (${allowed.join(", ")}); a relative hostPath is read in ${allowed[0]}`
      : `the allowed folders are ${allowed.join(", ")}: add its folder to BOXD_ROOTS or to the client's roots`;
    throw forbidden(`host path ${hostPath} is outside the folders it may use: ${how}`);
  }
  return { real, root };
}

/**
 * Confirms that an open file really lies in `root` (by the kernel's own name for the descriptor), so a
 * folder swapped for a symlink after checkHostPath cannot redirect the transfer.
 */
export async function confineFd(fd: number, root: string): Promise<void> {
  const where = await fs.readlink(`/proc/self/fd/${fd}`);
  if (!isInside(where, root)) {
    throw forbidden(
      `a host folder changed during the transfer and now leads outside ${root}: nothing was written there`,
    );
  }
}
