// Checks on what a client asks a box to be: names, env, labels. Each failure says what is accepted.
import { invalidArgument } from "../errors.js";

// The env guard lives in env-guard.ts (shared by every path that takes env); re-exported for callers here.
export { checkEnv } from "./env-guard.js";

export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const MAX_LABELS = 5;
const LABEL_KEY = /^[a-zA-Z0-9][a-zA-Z0-9._/-]{0,62}$/;

export function checkName(name: string): void {
  if (name.startsWith("box_")) throw invalidArgument(`name "${name}" must not start with "box_" (reserved for ids)`);
  if (!NAME_PATTERN.test(name)) {
    throw invalidArgument(
      `name "${name}" is not valid: use 1-63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

export function checkLabels(labels: Record<string, string>): void {
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) throw invalidArgument(`at most ${MAX_LABELS} labels per box (got ${keys.length})`);
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY.test(k))
      throw invalidArgument(`label key "${k}" is not valid: 1-63 letters, digits, ".", "_", "/", "-"`);
    if (v.length > 256) throw invalidArgument(`label "${k}" is longer than 256 characters`);
  }
}

/** Parses a box_list label filter: "key" or "key=value". */
export function parseLabelFilter(filter: string): { key: string; value?: string } {
  const i = filter.indexOf("=");
  return i < 0 ? { key: filter } : { key: filter.slice(0, i), value: filter.slice(i + 1) };
}
