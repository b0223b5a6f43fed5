// Which token goes to which host, and the environment of one server-side git command that may use it.
// The token reaches git only through that command's environment: a credential helper configured through
// GIT_CONFIG_COUNT/KEY/VALUE (command scope, so nothing is written to any config file) answers git's
// request for the one origin (scheme://host:port) the token belongs to, and only when git asks (HTTP 401).
// A redirect to another host therefore never receives it. The server's own git configuration (system and
// global, and ~/.netrc) is ignored, so an operator's personal credentials or hooks never serve a box's request.
import type { RemoteUrl } from "./remote-url.js";

export interface TokenConfig {
  /** BOXD_GIT_TOKEN ("" when unset). */
  defaultToken: string;
  /** BOXD_GIT_TOKENS: host or host:port (lowercase) -> token. */
  perHost: Record<string, string>;
  /** Hosts (host or host:port, "*" = any) the default token may be sent to. */
  defaultHosts: string[];
}

/** The hosts the default token may go to when BOXD_GIT_TOKEN_HOSTS is unset: github.com and the API's host. */
export function defaultTokenHosts(configured: string[], githubApiUrl: string): string[] {
  if (configured.length > 0) return configured;
  const api = new URL(githubApiUrl).hostname.toLowerCase();
  return [...new Set(["github.com", api === "api.github.com" ? "github.com" : api])];
}

// Env names the server's own environment may carry that would change what git does or where it reads
// config, or that start programs (editor, pager); dropped from every git command. TLS and proxy settings
// (GIT_SSL_*, HTTPS_PROXY, ...) are kept.
const DROPPED =
  /^(GIT_(?!SSL_|PROXY_SSL_|HTTP_USER_AGENT$)|EDITOR$|VISUAL$|PAGER$|LESS|SSH_ASKPASS$|PREFIX$|XDG_CONFIG_HOME$|NETRC$)/;

/** The helper git runs (through sh) for "get": it prints the token from this command's environment. */
const HELPER =
  '!f() { test "$1" = get || exit 0; cat >/dev/null; printf \'username=x-access-token\\npassword=%s\\n\' "$BOXD_GIT_CREDENTIAL"; }; f';

export class GitCredentials {
  constructor(
    private readonly tokens: TokenConfig,
    private readonly baseEnv: Record<string, string>,
  ) {}

  /** The token for a git host (or the API host), or null when none is configured for it. */
  tokenFor(host: string, hostname: string): string | null {
    const own = this.tokens.perHost[host] ?? this.tokens.perHost[hostname];
    if (own) return own;
    if (!this.tokens.defaultToken) return null;
    const allowed = this.tokens.defaultHosts;
    return allowed.includes("*") || allowed.includes(host) || allowed.includes(hostname)
      ? this.tokens.defaultToken
      : null;
  }

  /**
   * The token for the GitHub API: the API host's own, else the git host's own, else the default token (the
   * API URL is the operator's setting, not a caller's, so the default token may always go there).
   */
  apiToken(api: URL, gitUrl: RemoteUrl): string | null {
    const t = this.tokens.perHost;
    return (
      t[api.host.toLowerCase()] ??
      t[api.hostname.toLowerCase()] ??
      t[gitUrl.host] ??
      t[gitUrl.hostname] ??
      (this.tokens.defaultToken || null)
    );
  }

  /** Whether a token would be offered to this remote (for error hints). */
  hasTokenFor(url: RemoteUrl): boolean {
    return this.tokenFor(url.host, url.hostname) !== null;
  }

  /**
   * The full environment of one git command talking to `url` (or none, for local commands): isolated from
   * the server's git config, never prompting, only http(s)/git transports, and the credential helper when
   * a token is configured for that host; `extra` adds command-scope config (remote-guard's pinning).
   */
  commandEnv(url?: RemoteUrl, extra: [string, string][] = []): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.baseEnv)) if (!DROPPED.test(k)) env[k] = v;
    Object.assign(env, {
      // No home: curl would otherwise send the operator's ~/.netrc credentials to matching hosts.
      HOME: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "",
      SSH_ASKPASS: "",
      GIT_ALLOW_PROTOCOL: "https:http:git",
      LC_ALL: "C",
    });
    const config: [string, string][] = [["credential.helper", ""], ...extra];
    const token = url ? this.tokenFor(url.host, url.hostname) : null;
    if (url && token) {
      config.push([`credential.${url.protocol}//${url.host}.helper`, HELPER]);
      env.BOXD_GIT_CREDENTIAL = token;
    }
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([key, value], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = key;
      env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    return env;
  }

  /** Removes every configured token from a text (git messages, API answers) before it leaves the server. */
  redact(text: string): string {
    let out = text;
    for (const t of [this.tokens.defaultToken, ...Object.values(this.tokens.perHost)]) {
      if (t && t.length >= 4) out = out.split(t).join("***");
    }
    return out;
  }
}
