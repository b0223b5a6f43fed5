// attachHeaders: headers the egress proxy adds to a box's requests to chosen hosts, outside the box, so the
// box never holds the credentials they carry. `{ "<host or *.suffix>": { "<Header>": "<template>" } }`,
// where a template may name tenant secrets as ${secret:NAME}. Checked at box_create / box_update (every
// named secret must exist then), stored as templates, and rendered at request time, so a rotated secret
// applies to the next request. Pure: no store, no network.
import { invalidArgument } from "../errors.js";
import type { AttachHeaders } from "../model/box.js";
import { SECRET_NAME } from "./secret-service.js";

export type { AttachHeaders } from "../model/box.js";
export { injectHeaders } from "../network/inject-headers.js";

export const MAX_ATTACH_HOSTS = 20;
export const MAX_HEADERS_PER_HOST = 20;
const MAX_TEMPLATE_BYTES = 16 * 1024;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** An HTTP field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PLACEHOLDER = /\$\{secret:([^}]*)\}/g;
/** Headers that frame or route the request: replacing them would break or redirect it. */
const FRAMING = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-connection",
  "expect",
]);

function checkHost(raw: string): string {
  const h = raw.trim().toLowerCase().replace(/\.$/, "");
  const name = h.startsWith("*.") ? h.slice(2) : h;
  const labels = name.split(".");
  const ok = h.length <= 253 && labels.every((l) => LABEL.test(l)) && !name.includes("*");
  // A bare "*" (or "*.com"-like single-label suffix) would hand the headers to every host.
  if (!ok || (h.startsWith("*.") && labels.length < 2)) {
    throw invalidArgument(
      `attachHeaders host "${raw.slice(0, 100)}" is not valid: use an exact host name (api.example.com) or "*.suffix" with at least two labels (*.example.com); "*" alone and wildcards inside a name are refused`,
    );
  }
  return h;
}

/** The secret names a template refers to. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
}

function checkHeader(host: string, name: string, template: string, hasSecret: (n: string) => boolean): void {
  const where = `attachHeaders["${host}"]["${name.slice(0, 100)}"]`;
  if (!TOKEN.test(name)) throw invalidArgument(`${where}: the header name is not an HTTP token (letters, digits, -)`);
  if (FRAMING.has(name.toLowerCase())) {
    throw invalidArgument(`${where}: ${name} frames or routes the request and cannot be attached`);
  }
  if (/[\r\n\0]/.test(template)) throw invalidArgument(`${where}: CR, LF and NUL are refused in header values`);
  if (Buffer.byteLength(template) > MAX_TEMPLATE_BYTES) {
    throw invalidArgument(`${where}: the value is longer than ${MAX_TEMPLATE_BYTES} bytes`);
  }
  for (const secret of placeholders(template)) {
    if (!SECRET_NAME.test(secret))
      throw invalidArgument(`${where}: "\${secret:${secret.slice(0, 80)}}" is no secret name`);
    if (!hasSecret(secret)) {
      throw invalidArgument(
        `${where}: secret "${secret}" does not exist: secret_set it first (secret_list shows yours)`,
      );
    }
  }
}

/** Checks attachHeaders (each failure names the entry and the rule) and returns them normalised. */
export function checkAttachHeaders(input: AttachHeaders, hasSecret: (name: string) => boolean): AttachHeaders {
  const hosts = Object.entries(input);
  if (hosts.length > MAX_ATTACH_HOSTS) throw invalidArgument(`attachHeaders: at most ${MAX_ATTACH_HOSTS} hosts`);
  const out: AttachHeaders = {};
  for (const [rawHost, headers] of hosts) {
    const host = checkHost(rawHost);
    if (out[host]) throw invalidArgument(`attachHeaders: host "${host}" is listed twice`);
    const entries = Object.entries(headers);
    if (entries.length === 0) throw invalidArgument(`attachHeaders["${host}"]: give at least one header`);
    if (entries.length > MAX_HEADERS_PER_HOST) {
      throw invalidArgument(`attachHeaders["${host}"]: at most ${MAX_HEADERS_PER_HOST} headers per host`);
    }
    const lower = new Set<string>();
    for (const [name, template] of entries) {
      checkHeader(host, name, template, hasSecret);
      if (lower.has(name.toLowerCase())) throw invalidArgument(`attachHeaders["${host}"]: ${name} is listed twice`);
      lower.add(name.toLowerCase());
    }
    out[host] = { ...headers };
  }
  return out;
}

/** The headers for `host`: an exact entry wins, else the longest matching "*.suffix"; null when none. */
export function headersFor(attach: AttachHeaders, host: string): Record<string, string> | null {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (attach[h]) return attach[h];
  let best: string | null = null;
  for (const pattern of Object.keys(attach)) {
    if (!pattern.startsWith("*.")) continue;
    const suffix = pattern.slice(1);
    if (h.endsWith(suffix) && h.length > suffix.length && (!best || pattern.length > best.length)) best = pattern;
  }
  return best ? (attach[best] ?? null) : null;
}

/** Renders templates with the secrets' current values; `{ missing }` names a secret gone since. */
export function renderHeaders(
  headers: Record<string, string>,
  reveal: (name: string) => string | null,
): Record<string, string> | { missing: string } {
  const out: Record<string, string> = {};
  for (const [name, template] of Object.entries(headers)) {
    let missing: string | null = null;
    out[name] = template.replace(PLACEHOLDER, (_, secret: string) => {
      const value = reveal(secret);
      if (value === null) missing ??= secret;
      return value ?? "";
    });
    if (missing) return { missing };
  }
  return out;
}
