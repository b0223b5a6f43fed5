// Remote URLs as boxd accepts them: https://, http:// or git:// only (no ext::, file://, ssh or local paths:
// those would let a caller make the server run programs or read its own disk), never with credentials in
// them (tokens live in server configuration), never starting with "-" (no option injection). Also derives
// the default clone folder name and GitHub's owner/repo from a URL. Pure: no I/O.
import { invalidArgument } from "../errors.js";

const SCHEMES = new Set(["https:", "http:", "git:"]);

export interface RemoteUrl {
  /** The URL exactly as git gets it (normalised by WHATWG URL parsing). */
  href: string;
  protocol: string;
  /** host[:port] as git's credential protocol names it (lowercase, port only when not the default). */
  host: string;
  hostname: string;
  /** The port git connects to (the scheme's default when the URL names none). */
  port: number;
  pathname: string;
}

const DEFAULT_PORTS: Record<string, number> = { "https:": 443, "http:": 80, "git:": 9418 };

/** Validates a remote URL given by a caller, or read from a box's git config (equally untrusted). */
export function parseRemoteUrl(input: string, what = "repo"): RemoteUrl {
  const raw = input.trim();
  if (!raw) throw invalidArgument(`${what} is empty: pass an https://, http:// or git:// URL`);
  if (raw.startsWith("-")) throw invalidArgument(`${what} "${raw}" starts with "-": pass a URL`);
  if (/[\s\0]/.test(raw)) throw invalidArgument(`${what} contains whitespace or control characters`);
  if (/^[a-z][a-z0-9+.-]*::/i.test(raw)) {
    throw invalidArgument(`${what} "${raw}" uses a git remote helper (e.g. ext::), which boxd does not allow`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument(`${what} "${raw}" is not a URL: pass an https://, http:// or git:// URL`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw invalidArgument(
      `${what} "${raw}" uses ${url.protocol.slice(0, -1)}, which boxd does not allow: pass an https://, http:// or git:// URL`,
    );
  }
  if (url.username || url.password) {
    throw invalidArgument(
      `${what} carries a user name or password: remove it; credentials are configured on the server (BOXD_GIT_TOKEN, BOXD_GIT_TOKENS) and never pass through a box`,
    );
  }
  if (!url.hostname) throw invalidArgument(`${what} "${raw}" has no host`);
  if (url.search || url.hash)
    throw invalidArgument(`${what} "${raw}" has a query or fragment; pass the repository URL`);
  if (url.pathname === "/" || url.pathname === "") throw invalidArgument(`${what} "${raw}" names no repository`);
  return {
    href: url.href,
    protocol: url.protocol,
    host: url.host.toLowerCase(),
    hostname: url.hostname.toLowerCase(),
    port: url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] as number),
    pathname: url.pathname,
  };
}

/** The folder name `git clone` would pick: the last path segment without ".git". */
export function repoNameOf(url: RemoteUrl): string {
  const parts = url.pathname.split("/").filter((p) => p !== "");
  let last = (parts[parts.length - 1] ?? "").replace(/\.git$/, "");
  try {
    last = decodeURIComponent(last);
  } catch {
    // a malformed escape stays as written
  }
  if (!last || last === "." || last === ".." || last.startsWith("-") || /[\0\n]/.test(last)) {
    throw invalidArgument(`cannot derive a folder name from ${url.href}: pass directory`);
  }
  return last;
}

/** GitHub's owner and repository from a remote URL (the last two path segments, ".git" dropped). */
export function ownerRepoOf(url: RemoteUrl): { owner: string; repo: string } {
  const parts = url.pathname.split("/").filter((p) => p !== "");
  const owner = parts[parts.length - 2];
  const repo = parts[parts.length - 1]?.replace(/\.git$/, "");
  const valid = (s: string | undefined): s is string => !!s && /^[A-Za-z0-9_.-]+$/.test(s) && s !== "." && s !== "..";
  if (!valid(owner) || !valid(repo)) {
    throw invalidArgument(`the remote URL ${url.href} does not name a GitHub repository (…/OWNER/REPO.git)`);
  }
  return { owner, repo };
}
