// Strict tool inputs: an unknown field is refused, never silently dropped. An agent that writes `timeout`
// (another product's name, in milliseconds) instead of `timeoutSeconds` would otherwise get the default
// without a word. The refusal names the field and the closest valid one, so the next call is right.
import { z } from "zod";

/**
 * Names other sandbox APIs (Upstash Box, E2B, Daytona) and habit use, and what boxd calls the same thing.
 * Keys are normalised (lower case, no `_` or `-`); the first target the tool has wins.
 */
const ALIASES: Record<string, string[]> = {
  timeout: ["timeoutSeconds", "waitSeconds"],
  timeoutms: ["timeoutSeconds", "waitSeconds"],
  timeoutmillis: ["timeoutSeconds", "waitSeconds"],
  idletimeout: ["idleTimeoutSeconds"],
  idletimeoutms: ["idleTimeoutSeconds"],
  ttl: ["ttlSeconds"],
  ttlms: ["ttlSeconds"],
  cmd: ["command", "code"],
  cmdline: ["command"],
  script: ["command", "code"],
  language: ["lang"],
  workdir: ["cwd", "directory"],
  workingdir: ["cwd", "directory"],
  workingdirectory: ["cwd", "directory"],
  dir: ["directory", "path", "cwd"],
  folder: ["directory", "path", "destination"],
  boxid: ["box"],
  id: ["box", "runId", "snapshot"],
  sandbox: ["box"],
  sandboxid: ["box"],
  image: ["runtime"],
  template: ["runtime"],
  file: ["path"],
  filepath: ["path"],
  filename: ["path"],
  data: ["content"],
  text: ["content", "message", "body"],
  source: ["from", "fromSnapshot"],
  src: ["from"],
  dest: ["to", "destination"],
  target: ["to", "destination"],
  envs: ["env"],
  environment: ["env"],
  envvars: ["env"],
  url: ["repo"],
  repourl: ["repo"],
  repository: ["repo"],
  msg: ["message"],
  policy: ["networkPolicy"],
  network: ["networkPolicy"],
  snapshotid: ["snapshot", "fromSnapshot"],
  runid: ["runId"],
  input: ["stdin"],
};

const normalise = (name: string) => name.toLowerCase().replace(/[_-]/g, "");

/** The valid field an unknown one most likely meant, or undefined when none is close. */
export function closestField(unknown: string, valid: readonly string[]): string | undefined {
  const n = normalise(unknown);
  if (!n) return undefined;
  const same = valid.find((v) => normalise(v) === n);
  if (same) return same;
  const alias = ALIASES[n]?.find((target) => valid.includes(target));
  if (alias) return alias;
  // `idleTimeout` for `idleTimeoutSeconds`, `recursively` for `recursive`: the nearest in length wins.
  const prefixes = valid.filter((v) => {
    const nv = normalise(v);
    return (n.length >= 3 && nv.startsWith(n)) || (nv.length >= 4 && n.startsWith(nv));
  });
  prefixes.sort((a, b) => Math.abs(a.length - unknown.length) - Math.abs(b.length - unknown.length));
  if (prefixes[0]) return prefixes[0];
  let best: { field: string; distance: number } | undefined;
  for (const v of valid) {
    const distance = editDistance(n, normalise(v));
    if (!best || distance < best.distance) best = { field: v, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(n.length / 3)) ? best.field : undefined;
}

/** What to say about one unknown field: the suggestion, with the unit when the names differ in it. */
export function unknownFieldMessage(unknown: string, valid: readonly string[]): string {
  const near = closestField(unknown, valid);
  if (!near) {
    return `unknown field \`${unknown}\`; valid fields here: ${valid.length ? valid.join(", ") : "none"}`;
  }
  return `unknown field \`${unknown}\`; did you mean \`${near}\`${unitNote(unknown, near)}?`;
}

function unitNote(unknown: string, near: string): string {
  if (!near.endsWith("Seconds")) return "";
  return /ms$|millis/i.test(unknown) ? " (in seconds, not milliseconds)" : " (seconds)";
}

/**
 * An object schema of a tool's input that refuses unknown fields with unknownFieldMessage. Every object a
 * tool takes (the input itself and any object nested in it) is built with this, so tools/list advertises
 * `additionalProperties: false` and the refusal is the same everywhere.
 */
export function strictInput<S extends z.ZodRawShape>(shape: S) {
  const valid = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? (issue.keys as string[]).map((k) => unknownFieldMessage(k, valid)).join("; ")
        : undefined,
  });
}

/** Levenshtein distance, for the spelling slips (`comand`, `recusive`) the aliases do not list. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * For a field agents often send with another type: when the type is wrong, say exactly what to send
 * instead of zod's "expected string, received number".
 */
export function sendInstead(what: string) {
  return (issue: { code: string; input?: unknown }) =>
    issue.code === "invalid_type" ? `send ${what}, not ${describeInput(issue.input)}` : undefined;
}

function describeInput(input: unknown): string {
  if (Array.isArray(input)) return "an array";
  if (input === null) return "null";
  if (typeof input === "number") return `the number ${input}`;
  return `a ${typeof input}`;
}

/** box_write_file's mode: 644 as a number is ambiguous (octal digits, or decimal 644 = 0o1204?), so refused. */
export const octalModeText = sendInstead('the permission bits as an octal string, e.g. "644" or "0755"');

/** box_exec's command: an argv array has several shell forms (quoting), so it is refused with the fix. */
export const oneShellLine = sendInstead(
  'one command line as a string, run by bash -c, e.g. "ls -la /tmp" (join an argv array with spaces, quoting arguments that contain spaces)',
);
