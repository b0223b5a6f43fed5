// BOXD_SSH_AUTHORIZED_KEYS: public keys that may sign in, each for one tenant. OpenSSH authorized_keys
// format with one option the gateway understands and requires, naming the tenant:
//   tenant="alice" ssh-ed25519 AAAAC3Nza... alice@laptop
// Any other option (command=, from=, no-pty, ...) is refused at start: the gateway cannot enforce it, and a
// key that silently lost its restriction would be worse than a server that does not start.
import { readFileSync, statSync } from "node:fs";
import ssh2, { type ParsedKey } from "ssh2";

// ssh2 is CommonJS: Node's ESM loader sees only some of its named exports, so go through the default.
const { utils } = ssh2;

import { invalidArgument } from "../errors.js";

const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const KEY_TYPE_RE = /^(ssh-|ecdsa-|sk-)/;

export interface AuthorizedKey {
  tenant: string;
  key: ParsedKey;
  /** The line's comment (shown in the box log as who signed in), or "line N". */
  label: string;
}

export interface LoadedKeys {
  keys: AuthorizedKey[];
  warnings: string[];
}

/** Reads and checks the file; throws INVALID_ARGUMENT naming the first bad line. "" reads nothing. */
export function loadAuthorizedKeys(file: string): LoadedKeys {
  if (!file) return { keys: [], warnings: [] };
  let text: string;
  const warnings: string[] = [];
  try {
    if (statSync(file).mode & 0o022) warnings.push(`${file} is writable by other users: chmod 600 it`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw invalidArgument(`BOXD_SSH_AUTHORIZED_KEYS ${file} cannot be read: ${(err as Error).message}`);
  }
  const keys: AuthorizedKey[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    keys.push(parseLine(line, `BOXD_SSH_AUTHORIZED_KEYS line ${i + 1}`));
  });
  return { keys, warnings };
}

function parseLine(line: string, where: string): AuthorizedKey {
  if (KEY_TYPE_RE.test(line)) {
    throw invalidArgument(`${where}: name the key's tenant first, e.g. tenant="alice" ssh-ed25519 AAAA...`);
  }
  const { options, rest } = splitOptions(line);
  const tenantOpt = options.filter((o) => o.startsWith("tenant="));
  const others = options.filter((o) => !o.startsWith("tenant="));
  if (others.length > 0) {
    throw invalidArgument(`${where}: option ${others[0]} is not supported (only tenant="name")`);
  }
  const tenant = /^tenant="(.*)"$/.exec(tenantOpt[0] ?? "")?.[1] ?? "";
  if (tenantOpt.length !== 1 || !TENANT_RE.test(tenant)) {
    throw invalidArgument(`${where}: give exactly one tenant="name" (1-64 letters, digits, ".", "_" or "-")`);
  }
  const [type, blob, ...comment] = rest.split(/\s+/);
  const parsed = utils.parseKey(`${type} ${blob ?? ""}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw invalidArgument(`${where}: not a public key OpenSSH can use (${type} ...)`);
  }
  return { tenant, key, label: comment.join(" ") || where.replace(/^BOXD_SSH_AUTHORIZED_KEYS /, "") };
}

/** Options are comma separated up to the first blank outside double quotes. */
function splitOptions(line: string): { options: string[]; rest: string } {
  const options: string[] = [];
  let current = "";
  let quoted = false;
  let i = 0;
  for (; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"') quoted = !quoted;
    if (!quoted && (c === " " || c === "\t")) break;
    if (!quoted && c === ",") {
      options.push(current);
      current = "";
    } else current += c;
  }
  options.push(current);
  return { options: options.filter(Boolean), rest: line.slice(i).trim() };
}

/** The entry for a presented public key blob, or undefined. */
export function findKey(keys: AuthorizedKey[], algo: string, blob: Buffer): AuthorizedKey | undefined {
  return keys.find((k) => k.key.type === algo && k.key.getPublicSSH().equals(blob));
}
