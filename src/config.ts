// The one place that reads the environment and CLI flags. Precedence: defaults <- env (BOXD_*) <- CLI flags.
// Every setting has an env name and a flag of `boxd serve`; `boxd doctor` prints them all.
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { splitCommas } from "./comma-list.js";
import { AGENT_SETTINGS } from "./config-agents.js";
import { allowedHostsSchema, hostListSchema, tokenMapSchema } from "./config-git.js";
import { PREVIEW_SETTINGS } from "./config-preview.js";
import { SECRET_SETTINGS } from "./config-secrets.js";
import { SSH_SETTINGS } from "./config-ssh.js";
import { secretSchema } from "./secret.js";

interface SettingSpec {
  env: string;
  flag: string;
  description: string;
  schema: z.ZodType;
}

const list = z.string().transform((s) =>
  s
    .split(/[,:]/)
    .map((p) => p.trim())
    .filter(Boolean),
);
const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** All settings: key -> spec. Defaults live in the zod schemas. */
export const SETTINGS = {
  dataDir: {
    env: "BOXD_DATA_DIR",
    flag: "--data-dir <dir>",
    description: "Durable state of this boxd instance (SQLite, logs). One data dir = one instance.",
    schema: z.string().default(path.join(os.homedir(), ".boxd")),
  },
  logLevel: {
    env: "BOXD_LOG_LEVEL",
    flag: "--log-level <level>",
    description: "error, warn, info or debug (logs go to stderr).",
    schema: z.enum(["error", "warn", "info", "debug"]).default("info"),
  },
  idleTimeoutSeconds: {
    env: "BOXD_IDLE_TIMEOUT_SECONDS",
    flag: "--idle-timeout-seconds <n>",
    description: "Default idle time before a box pauses itself (per box: idleTimeoutSeconds).",
    schema: intFrom(1, 30 * 24 * 3600).default(900),
  },
  stopAfterPausedSeconds: {
    env: "BOXD_STOP_AFTER_PAUSED_SECONDS",
    flag: "--stop-after-paused-seconds <n>",
    description:
      "A box frozen this long is also stopped, releasing its memory (its filesystem is kept); it wakes on the next call.",
    schema: intFrom(1, 365 * 24 * 3600).default(3600),
  },
  lifecycleTickMs: {
    env: "BOXD_LIFECYCLE_TICK_MS",
    flag: "--lifecycle-tick-ms <n>",
    description: "How often idle timers are checked.",
    schema: intFrom(50, 60_000).default(1000),
  },
  pool: {
    env: "BOXD_POOL",
    flag: "--pool <specs>",
    description:
      'Warm pool: pre-made boxes (running, idle) that box_create claims, as "runtime:size:count" entries (comma separated), e.g. "node:small:2". Empty: no pool.',
    schema: z
      .string()
      .transform((s) => splitCommas(s))
      .pipe(z.array(z.string().regex(/^[a-z-]+:(small|medium|large):\d{1,2}$/, 'use "runtime:size:count"')))
      .default([]),
  },
  fastExec: {
    env: "BOXD_FAST_EXEC",
    flag: "--fast-exec <mode>",
    description:
      "on: commands run through the resident executor in each box (about 10x quicker than a Docker exec); off: always Docker exec. Boxes without an executor use Docker exec either way.",
    schema: z.enum(["on", "off"]).default("on"),
  },
  poolMaxAgeSeconds: {
    env: "BOXD_POOL_MAX_AGE_SECONDS",
    flag: "--pool-max-age-seconds <n>",
    description: "Pooled boxes older than this are replaced by fresh ones.",
    schema: intFrom(10, 7 * 24 * 3600).default(3600),
  },
  maxDiskBytes: {
    env: "BOXD_MAX_DISK_BYTES",
    flag: "--max-disk-bytes <n>",
    description:
      "Disk allowance of every box (bytes written beyond its image), whatever its size; 0: each size's own (small 5 GiB, medium 10 GiB, large 20 GiB). A box over it has its runs ended and new runs refused until it frees space.",
    schema: z.coerce
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 1024 * 1024 && n <= 10 * 1024 ** 4), "use 0 or 1 MiB to 10 TiB")
      .default(0),
  },
  diskCheckSeconds: {
    env: "BOXD_DISK_CHECK_SECONDS",
    flag: "--disk-check-seconds <n>",
    description: "How often active boxes' disk use is measured.",
    schema: intFrom(1, 3600).default(30),
  },
  usageSampleSeconds: {
    env: "BOXD_USAGE_SAMPLE_SECONDS",
    flag: "--usage-sample-seconds <n>",
    description:
      "How often running boxes' CPU and memory counters (their cgroup) are read into their usage totals; a container that stops on its own loses at most this much.",
    schema: intFrom(1, 3600).default(30),
  },
  maxLogEntries: {
    env: "BOXD_MAX_LOG_ENTRIES",
    flag: "--max-log-entries <n>",
    description: "Log entries kept per box (oldest dropped first); each entry's text is capped at 64 KiB.",
    schema: intFrom(100, 1_000_000).default(5000),
  },
  execTimeoutSeconds: {
    env: "BOXD_EXEC_TIMEOUT_SECONDS",
    flag: "--exec-timeout-seconds <n>",
    description: "Default timeout of a foreground box_exec / box_run_code.",
    schema: intFrom(1, 24 * 3600).default(300),
  },
  maxOutputBytes: {
    env: "BOXD_MAX_OUTPUT_BYTES",
    flag: "--max-output-bytes <n>",
    description: "Output returned inline per stream by box_exec; the rest is kept in the run record.",
    schema: intFrom(1024, 64 * 1024 * 1024).default(256 * 1024),
  },
  maxRunOutputBytes: {
    env: "BOXD_MAX_RUN_OUTPUT_BYTES",
    flag: "--max-run-output-bytes <n>",
    description: "Output kept per stream in a run record (box_run_get); beyond it the head is kept.",
    schema: intFrom(1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  },
  maxFileBytes: {
    env: "BOXD_MAX_FILE_BYTES",
    flag: "--max-file-bytes <n>",
    description:
      "Largest content moved inline by box_write_file/box_read_file/box_upload files; use archives or hostPath beyond it.",
    schema: intFrom(1024, 512 * 1024 * 1024).default(16 * 1024 * 1024),
  },
  roots: {
    env: "BOXD_ROOTS",
    flag: "--roots <dirs>",
    description:
      "Host folders (comma separated) that box_upload/box_download hostPath may use: over stdio besides the client's roots; over HTTP only these, each tenant in its own <root>/<tenant> folder.",
    schema: list.default([]),
  },
  networkPool: {
    env: "BOXD_NETWORK_POOL",
    flag: "--network-pool <cidr>",
    description: "Address pool (a /16) carved into one /28 network per box.",
    schema: z
      .string()
      .regex(/^\d{1,3}\.\d{1,3}\.0\.0\/16$/, "must be an a.b.0.0/16 range")
      .default("10.213.0.0/16"),
  },
  isolation: {
    env: "BOXD_ISOLATION",
    flag: "--isolation <tier>",
    description:
      "runc (default): boxes share the host kernel behind Docker's seccomp profile; gvisor: boxes run on gVisor's user-space kernel (needs runsc registered with the engine; `boxd doctor` checks). The default for box_create's isolation and for the warm pool.",
    schema: z.enum(["runc", "gvisor"]).default("runc"),
  },
  gvisorRuntime: {
    env: "BOXD_GVISOR_RUNTIME",
    flag: "--gvisor-runtime <name>",
    description:
      "The name gVisor's runsc is registered under in the engine (daemon.json `runtimes`); tools/provision-engine.sh registers it as runsc.",
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, "must be a runtime name")
      .default("runsc"),
  },
  firewall: {
    env: "BOXD_FIREWALL",
    flag: "--firewall <mode>",
    description:
      "helper (default; `iptables` is its old name): enforce each box's network policy with the network helper, a container boxd starts in the engine host's network namespace (firewall rules, egress proxy, DNS gate), so any engine works and the server needs no root; off: no enforcement (unsafe; only allow-all policies are accepted).",
    schema: z.enum(["helper", "iptables", "off"]).default("helper"),
  },
  dnsServers: {
    env: "BOXD_DNS_SERVERS",
    flag: "--dns-servers <ips>",
    description:
      "DNS servers for boxes and for the egress proxy's own lookups (comma separated IPv4). Default: the host's resolvers.",
    schema: list.default([]),
  },
  baseImage: {
    env: "BOXD_BASE_IMAGE",
    flag: "--base-image <ref>",
    description:
      "Where box images' root filesystem comes from: auto (the official debian:trixie-slim where the engine can pull it, else debootstrap), debootstrap (never a registry), or a registry image ref to pull (e.g. a mirror's debian:trixie-slim). The same packages are installed either way and image tags do not change.",
    schema: z
      .string()
      .default("auto")
      .transform((v) => v.trim() || "auto"),
  },
  debianMirror: {
    env: "BOXD_DEBIAN_MIRROR",
    flag: "--debian-mirror <url>",
    description: "Debian mirror used by debootstrap for the base image.",
    schema: z.string().url().default("http://deb.debian.org/debian"),
  },
  orphanGraceSeconds: {
    env: "BOXD_ORPHAN_GRACE_SECONDS",
    flag: "--orphan-grace-seconds <n>",
    description: "Containers/networks of this instance unknown to its database are removed when older than this.",
    schema: intFrom(0, 7 * 24 * 3600).default(300),
  },
  // Git (src/git/): tokens are used by the server only and never enter a box; they print as "(hidden)".
  gitToken: {
    env: "BOXD_GIT_TOKEN",
    flag: "--git-token <token>",
    description:
      "Token for git remotes (clone, push; HTTP basic auth as x-access-token) and the GitHub API, sent only to BOXD_GIT_TOKEN_HOSTS. Prefer the env var (flags show in ps).",
    schema: secretSchema,
  },
  gitTokens: {
    env: "BOXD_GIT_TOKENS",
    flag: "--git-tokens <list>",
    description: 'Per-host tokens, "host=token,host2:port=token2"; a host listed here gets its own token.',
    schema: tokenMapSchema,
  },
  gitTokenHosts: {
    env: "BOXD_GIT_TOKEN_HOSTS",
    flag: "--git-token-hosts <hosts>",
    description:
      'Hosts BOXD_GIT_TOKEN may be sent to (host or host:port, comma separated, "*" for any). Default: github.com and the host of BOXD_GITHUB_API_URL.',
    schema: hostListSchema,
  },
  gitAllowedHosts: {
    env: "BOXD_GIT_ALLOWED_HOSTS",
    flag: "--git-allowed-hosts <hosts>",
    description:
      "Self-hosted git servers on loopback, private or the server's own addresses that clone and push may reach (host, host:port, IP, IP:port, [IPv6]:port or CIDR, comma separated). Default: none; public addresses only.",
    schema: allowedHostsSchema,
  },
  githubApiUrl: {
    env: "BOXD_GITHUB_API_URL",
    flag: "--github-api-url <url>",
    description: "GitHub REST API base for box_git_pull_request (GitHub Enterprise: https://HOST/api/v3).",
    schema: z
      .string()
      .url()
      .regex(/^https?:\/\//, "must be an http(s) URL")
      .default("https://api.github.com"),
  },
  gitAuthorName: {
    env: "BOXD_GIT_AUTHOR_NAME",
    flag: "--git-author-name <name>",
    description: "Commit author for box_git_commit when the call and the box's own git config name none.",
    schema: z.string().min(1).max(200).default("boxd"),
  },
  gitAuthorEmail: {
    env: "BOXD_GIT_AUTHOR_EMAIL",
    flag: "--git-author-email <email>",
    description: "Commit author email for box_git_commit, likewise.",
    schema: z.string().min(3).max(200).default("boxd@localhost"),
  },
  // Agent runs, their events and webhooks, schedules (src/config-agents.ts).
  ...AGENT_SETTINGS,
  // HTTP transport (`boxd serve --http`).
  host: {
    env: "BOXD_HTTP_HOST",
    flag: "--host <host>",
    description:
      "Address `boxd serve --http` listens on. Default loopback only; anything else exposes boxd to the network (use tokens and TLS in front).",
    schema: z.string().min(1).default("127.0.0.1"),
  },
  port: {
    env: "BOXD_HTTP_PORT",
    flag: "--port <port>",
    description: "Port of `boxd serve --http` (MCP at /mcp, liveness at /healthz); 0 picks a free port.",
    schema: intFrom(0, 65535).default(7077),
  },
  tokens: {
    env: "BOXD_TOKENS",
    flag: "--tokens <pairs>",
    description:
      'HTTP bearer tokens, "token:tenant,token2:tenant2" (tokens of at least 16 characters). Prefer the env var or BOXD_TOKENS_FILE (flags show in ps).',
    schema: secretSchema,
  },
  tokensFile: {
    env: "BOXD_TOKENS_FILE",
    flag: "--tokens-file <path>",
    description: 'JSON file of HTTP bearer tokens, { "<token>": "<tenant>" }, read at start (keep it mode 600).',
    schema: z.string().default(""),
  },
  allowedOrigins: {
    env: "BOXD_HTTP_ALLOWED_ORIGINS",
    flag: "--allowed-origins <origins>",
    description:
      "Browser origins (comma separated, e.g. https://app.example.com) allowed to call /mcp besides the server's own loopback origins; any other Origin gets 403.",
    schema: z
      .string()
      .default("")
      .transform((s) => splitCommas(s)),
  },
  allowedHosts: {
    env: "BOXD_HTTP_ALLOWED_HOSTS",
    flag: "--allowed-hosts <hosts>",
    description:
      "Host header values (comma separated host:port) accepted besides the loopback names when bound to loopback; when bound elsewhere and set, any other Host gets 403.",
    schema: z
      .string()
      .default("")
      .transform((s) => splitCommas(s.toLowerCase())),
  },
  httpSessionIdleSeconds: {
    env: "BOXD_HTTP_SESSION_IDLE_SECONDS",
    flag: "--http-session-idle-seconds <n>",
    description:
      "An HTTP session with no request for this long (and none in flight) is closed and its memory freed; the client gets 404 and starts a new one.",
    schema: intFrom(1, 7 * 24 * 3600).default(1800),
  },
  httpMaxSessions: {
    env: "BOXD_HTTP_MAX_SESSIONS",
    flag: "--http-max-sessions <n>",
    description: "Open HTTP sessions at most (each holds ~350 KB); a new session beyond it gets 503.",
    schema: intFrom(1, 100_000).default(500),
  },
  httpMaxSessionsPerTenant: {
    env: "BOXD_HTTP_MAX_SESSIONS_PER_TENANT",
    flag: "--http-max-sessions-per-tenant <n>",
    description:
      "Open HTTP sessions per tenant at most; a tenant's new session beyond it closes that tenant's least recently used idle session.",
    schema: intFrom(1, 100_000).default(100),
  },
  httpMaxBodyBytes: {
    env: "BOXD_HTTP_MAX_BODY_BYTES",
    flag: "--http-max-body-bytes <n>",
    description: "Largest HTTP request body (413 beyond it); move bigger files with box_upload hostPath or in parts.",
    schema: intFrom(64 * 1024, 1024 ** 3).default(64 * 1024 * 1024),
  },
  httpEventBufferBytes: {
    env: "BOXD_HTTP_EVENT_BUFFER_BYTES",
    flag: "--http-event-buffer-bytes <n>",
    description:
      "Memory for SSE events kept so a client that reconnects with Last-Event-ID gets what it missed (all sessions together, oldest dropped first; one session holds at most an eighth).",
    schema: intFrom(1024 * 1024, 16 * 1024 ** 3).default(64 * 1024 * 1024),
  },
  httpShutdownGraceSeconds: {
    env: "BOXD_HTTP_SHUTDOWN_GRACE_SECONDS",
    flag: "--http-shutdown-grace-seconds <n>",
    description:
      "On SIGTERM, how long calls in flight may still finish before sessions are closed (runs still going then keep going in their box).",
    schema: intFrom(0, 3600).default(30),
  },
  ...PREVIEW_SETTINGS,
  tenantMaxBoxes: {
    env: "BOXD_TENANT_MAX_BOXES",
    flag: "--tenant-max-boxes <n>",
    description: "Boxes (not deleted) one tenant may have; box_create beyond it is LIMIT_EXCEEDED. 0: no limit.",
    schema: intFrom(0, 1_000_000).default(50),
  },
  tenantMaxConcurrentRuns: {
    env: "BOXD_TENANT_MAX_CONCURRENT_RUNS",
    flag: "--tenant-max-concurrent-runs <n>",
    description:
      "Commands (box_exec, box_run_code, background runs included) one tenant may have running at once; more is LIMIT_EXCEEDED. 0: no limit.",
    schema: intFrom(0, 1_000_000).default(16),
  },
  // SSH gateway (src/ssh/): in src/config-ssh.ts.
  ...SSH_SETTINGS,
  ...SECRET_SETTINGS,
} satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export type Config = { [K in SettingKey]: z.output<(typeof SETTINGS)[K]["schema"]> };

/** Flag name (commander's camelCase key) of a setting is its key. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<SettingKey, unknown>> = {},
): Config {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [SettingKey, SettingSpec][]) {
    const raw = flags[key] ?? (env[spec.env] === "" ? undefined : env[spec.env]);
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join("; ");
      throw new Error(`invalid setting ${spec.env} (${spec.flag.split(" ")[0]}): ${why}`);
    }
    out[key] = parsed.data;
  }
  const config = out as Config;
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

/** Engine selection is dockerode's own (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH); shown by doctor. */
export function dockerEnvSummary(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : "default socket /var/run/docker.sock";
}

/** The server's own environment, for child processes (git) that need PATH, proxy and CA settings. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
