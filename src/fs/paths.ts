// Paths inside a box: the one place that turns what a caller wrote into the absolute, normalised path the
// file scripts receive. It only validates and normalises; it never touches the box (permissions are the
// box's own business, enforced by running as the box user).
import path from "node:path";
import { invalidArgument } from "../errors.js";
import { BOX_HOME } from "../model/box-user.js";

export { BOX_HOME };

/**
 * Absolute, normalised path in the box. Relative paths resolve from /workspace/home. `..` is refused
 * outright rather than resolved: a caller who writes `a/../../etc` almost certainly made a mistake, and a
 * rule with no exceptions is easier to trust than one that normalises some escapes away.
 */
export function resolveBoxPath(input: string, what = "path"): string {
  if (input === "")
    throw invalidArgument(`${what} is empty: pass a path in the box (absolute or relative to ${BOX_HOME})`);
  if (input.includes("\0")) throw invalidArgument(`${what} contains a NUL byte`);
  if (input.split("/").includes("..")) {
    throw invalidArgument(`${what} "${input}" contains "..": pass an absolute path instead`);
  }
  const joined = input.startsWith("/") ? input : `${BOX_HOME}/${input}`;
  const normal = path.posix.normalize(joined);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * A member name of an archive, relative to the folder it is extracted into: "" for the folder itself,
 * null when the name is absolute or climbs out with `..` (the caller decides to refuse or skip).
 */
export function archiveMemberPath(name: string): string | null {
  if (name.includes("\0") || name.startsWith("/")) return null;
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return null;
  return parts.join("/");
}
