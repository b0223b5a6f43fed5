// Host paths for box_upload / box_download `hostPath`: allowed only inside the union of the server's
// configured roots (BOXD_ROOTS) and the MCP client's declared roots. Everything is compared after realpath,
// so a symlink inside a root cannot lead outside it, and by whole path segments, so /a/bc is not in /a/b.
import fs from "node:fs/promises";
import path from "node:path";
import { forbidden, invalidArgument, notFound } from "../errors.js";

export interface HostPathCheck {
  /** true for an upload source (must exist); false for a download target (may not exist yet). */
  mustExist: boolean;
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

/** Checks `hostPath` against the roots and returns its real path; FORBIDDEN when outside all of them. */
export async function checkHostPath(
  hostPath: string,
  roots: { server: string[]; client: string[] },
  opts: HostPathCheck,
): Promise<string> {
  if (hostPath === "" || hostPath.includes("\0")) throw invalidArgument("hostPath must be a non-empty path");
  if (!path.isAbsolute(hostPath)) {
    throw invalidArgument(`hostPath "${hostPath}" must be an absolute path on the server's machine`);
  }
  const allowed = await realRoots([...roots.server, ...roots.client]);
  if (allowed.length === 0) {
    throw forbidden(
      "no host folders are allowed for hostPath: the server has no BOXD_ROOTS (--roots) and the client declared no roots. Add the folder to BOXD_ROOTS or to the client's roots",
    );
  }
  const real = await resolveHost(path.normalize(hostPath), opts.mustExist);
  if (!allowed.some((root) => isInside(real, root))) {
    throw forbidden(
      `host path ${hostPath} is outside the allowed folders (${allowed.join(", ")}): add its folder to BOXD_ROOTS or to the client's roots`,
    );
  }
  return real;
}
