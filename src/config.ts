// The one place that reads the environment and CLI flags. Precedence: defaults <- env (BOXD_*) <- CLI flags.
// Every setting has an env name and a flag of `boxd serve`; `boxd doctor` prints them all.
import os from "node:os";
import path from "node:path";
import { z } from "zod";

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
  maxDiskBytes: {
    env: "BOXD_MAX_DISK_BYTES",
    flag: "--max-disk-bytes <n>",
    description:
      "Disk allowance per box (bytes written beyond its image). A box over it has its runs ended and new runs refused until it frees space.",
    schema: intFrom(1024 * 1024, 10 * 1024 ** 4).default(10 * 1024 ** 3),
  },
  diskCheckSeconds: {
    env: "BOXD_DISK_CHECK_SECONDS",
    flag: "--disk-check-seconds <n>",
    description: "How often active boxes' disk use is measured.",
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
      "Host folders (comma separated) that box_upload/box_download hostPath may use, besides the client's roots.",
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
  firewall: {
    env: "BOXD_FIREWALL",
    flag: "--firewall <mode>",
    description:
      "iptables (default): enforce each box's network policy with host firewall rules (needs root on the engine's host); off: no enforcement (unsafe; only allow-all policies are accepted).",
    schema: z.enum(["iptables", "off"]).default("iptables"),
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
      "Registry image to base box images on (e.g. debian:bookworm-slim). Empty: build the base with debootstrap (no registry needed).",
    schema: z.string().default(""),
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
