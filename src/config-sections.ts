// The configuration as each consumer sees it: one section per service, in that service's own words, so a
// service is handed its section at construction and never the whole Config (nor reads a setting later).
// Derived from the flat Config that src/config.ts loads (env names, flags and defaults stay there, in the
// SETTINGS table); nothing here reads the environment. Kept apart from config.ts only for its length.
import type { Config } from "./config.js";
import type { Isolation } from "./model/box.js";

export interface ConfigSections {
  /** SQLite and the box logs (src/state/, src/logs/). */
  store: { dataDir: string; maxLogEntries: number };
  /** The Docker layer. */
  engine: { fastExec: boolean };
  /** The network service (src/network/). */
  network: {
    networkPool: string;
    /** "iptables" (the old name) is the helper too. */
    mode: "helper" | "off";
    dnsServers: string[];
    dataDir: string;
    upstreamCaFile: string;
  };
  /** The tenant secret store (src/secrets/). */
  secrets: { dataDir: string; secretKey: string; fallbacks: Record<string, string> };
  /** The box service. */
  boxes: {
    baseImage: string;
    networkPool: string;
    defaultIdleTimeoutSeconds: number;
    /** BOXD_ISOLATION, and the engine runtime name gVisor boxes get. */
    isolation: { default: Isolation; gvisorRuntime: string };
  };
  /** Per-tenant quotas, applied in every transport (stdio's one tenant is "local"). */
  tenantLimits: { maxBoxes: number; maxConcurrentRuns: number };
  /** The idle timer (lifecycle service). */
  lifecycle: { stopAfterPausedSeconds: number; tickMs: number };
  /** The run service. */
  runs: { execTimeoutSeconds: number; maxOutputBytes: number; maxRunOutputBytes: number };
  /** The disk guard: `overrideBytes` is every box's allowance when above 0, else each size's own. */
  disk: { overrideBytes: number; intervalMs: number };
  /** The usage meter: how often boxes that are up have their cgroup counters read. */
  usage: { intervalMs: number };
  /** The warm pool ("runtime:size:count" entries). */
  pool: { entries: string[]; maxAgeSeconds: number };
  /** The file service. */
  files: { maxFileBytes: number; roots: string[] };
  /** Start-up reconciliation. */
  reconcile: Pick<Config, "orphanGraceSeconds">;
  /** Agent runs (src/agent/). */
  agents: Pick<Config, "anthropicApiKey" | "openaiApiKey" | "agentTimeoutSeconds" | "maxOutputBytes">;
  /** Agent runs' durable events (box_run_events). */
  runEvents: { maxBytes: number };
  /** Run webhooks (src/webhooks/). */
  webhooks: { allowedHosts: string[]; timeoutSeconds: number };
  /** Schedules (src/schedules/). */
  schedules: { minIntervalSeconds: number };
  /** Server-side git (src/git/): its tokens, hosts and authors; diffs are capped like command output. */
  git: Pick<
    Config,
    | "gitToken"
    | "gitTokens"
    | "gitTokenHosts"
    | "gitAllowedHosts"
    | "githubApiUrl"
    | "gitAuthorName"
    | "gitAuthorEmail"
    | "maxOutputBytes"
  >;
  /** The preview listener (src/preview/): port null when previews are off. */
  preview: { port: number | null; host: string; domain: string; publicUrl: string };
  /** The SSH gateway (src/ssh/): port null = off; bearer tokens as passwords, as over HTTP. */
  ssh: {
    host: string;
    port: number | null;
    authorizedKeys: string;
    dataDir: string;
    tokens: { tokens: string; tokensFile: string };
  };
  /** The HTTP transport (`boxd serve --http`). */
  http: {
    host: string;
    port: number;
    tokens: string;
    tokensFile: string;
    allowedOrigins: string[];
    allowedHosts: string[];
    sessionIdleMs: number;
    maxSessions: number;
    maxSessionsPerTenant: number;
    maxBodyBytes: number;
    eventBufferBytes: number;
    shutdownGraceMs: number;
  };
}

export function configSections(c: Config): ConfigSections {
  return {
    store: { dataDir: c.dataDir, maxLogEntries: c.maxLogEntries },
    engine: { fastExec: c.fastExec === "on" },
    network: {
      networkPool: c.networkPool,
      mode: c.firewall === "off" ? "off" : "helper",
      dnsServers: c.dnsServers,
      dataDir: c.dataDir,
      upstreamCaFile: c.egressUpstreamCaFile,
    },
    secrets: {
      dataDir: c.dataDir,
      secretKey: c.secretKey.value,
      // Tenants without these secrets use the server's agent keys (through the egress proxy).
      fallbacks: { ANTHROPIC_API_KEY: c.anthropicApiKey.value, OPENAI_API_KEY: c.openaiApiKey.value },
    },
    boxes: {
      baseImage: c.baseImage,
      networkPool: c.networkPool,
      defaultIdleTimeoutSeconds: c.idleTimeoutSeconds,
      isolation: { default: c.isolation, gvisorRuntime: c.gvisorRuntime },
    },
    tenantLimits: { maxBoxes: c.tenantMaxBoxes, maxConcurrentRuns: c.tenantMaxConcurrentRuns },
    lifecycle: { stopAfterPausedSeconds: c.stopAfterPausedSeconds, tickMs: c.lifecycleTickMs },
    runs: {
      execTimeoutSeconds: c.execTimeoutSeconds,
      maxOutputBytes: c.maxOutputBytes,
      maxRunOutputBytes: c.maxRunOutputBytes,
    },
    disk: { overrideBytes: c.maxDiskBytes, intervalMs: c.diskCheckSeconds * 1000 },
    usage: { intervalMs: c.usageSampleSeconds * 1000 },
    pool: { entries: c.pool, maxAgeSeconds: c.poolMaxAgeSeconds },
    files: { maxFileBytes: c.maxFileBytes, roots: c.roots },
    reconcile: { orphanGraceSeconds: c.orphanGraceSeconds },
    agents: {
      anthropicApiKey: c.anthropicApiKey,
      openaiApiKey: c.openaiApiKey,
      agentTimeoutSeconds: c.agentTimeoutSeconds,
      maxOutputBytes: c.maxOutputBytes,
    },
    runEvents: { maxBytes: c.runEventsMaxBytes },
    webhooks: { allowedHosts: c.webhookAllowedHosts, timeoutSeconds: c.webhookTimeoutSeconds },
    schedules: { minIntervalSeconds: c.scheduleMinIntervalSeconds },
    git: {
      gitToken: c.gitToken,
      gitTokens: c.gitTokens,
      gitTokenHosts: c.gitTokenHosts,
      gitAllowedHosts: c.gitAllowedHosts,
      githubApiUrl: c.githubApiUrl,
      gitAuthorName: c.gitAuthorName,
      gitAuthorEmail: c.gitAuthorEmail,
      maxOutputBytes: c.maxOutputBytes,
    },
    http: httpSection(c),
    ...inboundSections(c),
  };
}

/** The inbound paths into boxes: preview URLs and the SSH gateway. */
function inboundSections(c: Config): Pick<ConfigSections, "preview" | "ssh"> {
  return {
    preview: {
      port: c.previewPort === "off" ? null : c.previewPort,
      host: c.previewHost,
      domain: c.previewDomain,
      publicUrl: c.previewPublicUrl.replace(/\/$/, "").toLowerCase(),
    },
    ssh: {
      host: c.sshHost,
      port: c.sshPort ?? null,
      authorizedKeys: c.sshAuthorizedKeys,
      dataDir: c.dataDir,
      tokens: { tokens: c.tokens.value, tokensFile: c.tokensFile },
    },
  };
}

function httpSection(c: Config): ConfigSections["http"] {
  return {
    host: c.host,
    port: c.port,
    tokens: c.tokens.value,
    tokensFile: c.tokensFile,
    allowedOrigins: c.allowedOrigins,
    allowedHosts: c.allowedHosts,
    sessionIdleMs: c.httpSessionIdleSeconds * 1000,
    maxSessions: c.httpMaxSessions,
    maxSessionsPerTenant: c.httpMaxSessionsPerTenant,
    maxBodyBytes: c.httpMaxBodyBytes,
    eventBufferBytes: c.httpEventBufferBytes,
    shutdownGraceMs: c.httpShutdownGraceSeconds * 1000,
  };
}
