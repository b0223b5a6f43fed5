// The settings of agent runs, their durable events and webhooks, and schedules: a part of config.ts's
// SETTINGS table (spread into it), kept here so that table stays one readable file.
import { z } from "zod";
import { allowedHostsSchema } from "./config-git.js";
import { secretSchema } from "./secret.js";

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const AGENT_SETTINGS = {
  anthropicApiKey: {
    env: "BOXD_ANTHROPIC_API_KEY",
    flag: "--anthropic-api-key <key>",
    description:
      "Anthropic API key for box_agent_run harness claude-code (passed to that run only). Prefer the env var (flags show in ps).",
    schema: secretSchema,
  },
  openaiApiKey: {
    env: "BOXD_OPENAI_API_KEY",
    flag: "--openai-api-key <key>",
    description:
      "OpenAI API key for box_agent_run harness codex (passed to that run only). Prefer the env var (flags show in ps).",
    schema: secretSchema,
  },
  agentTimeoutSeconds: {
    env: "BOXD_AGENT_TIMEOUT_SECONDS",
    flag: "--agent-timeout-seconds <n>",
    description: "Default timeout of a box_agent_run (the agent and every process it started are ended then).",
    schema: intFrom(1, 24 * 3600).default(1800),
  },
  runEventsMaxBytes: {
    env: "BOXD_RUN_EVENTS_MAX_BYTES",
    flag: "--run-events-max-bytes <n>",
    description:
      "Event data kept per agent run for box_run_events (durable); beyond it one note is kept, then only the run's done or error event.",
    schema: intFrom(16 * 1024, 1024 ** 3).default(4 * 1024 * 1024),
  },
  webhookAllowedHosts: {
    env: "BOXD_WEBHOOK_ALLOWED_HOSTS",
    flag: "--webhook-allowed-hosts <hosts>",
    description:
      "Hosts run webhooks may reach although they are loopback, private or link-local (comma separated: names, IPs or CIDRs, optionally :port). Public addresses need no entry.",
    schema: allowedHostsSchema,
  },
  webhookTimeoutSeconds: {
    env: "BOXD_WEBHOOK_TIMEOUT_SECONDS",
    flag: "--webhook-timeout-seconds <n>",
    description: "How long one webhook delivery attempt waits for the receiver's answer before it counts as failed.",
    schema: intFrom(1, 300).default(10),
  },
  scheduleMinIntervalSeconds: {
    env: "BOXD_SCHEDULE_MIN_INTERVAL_SECONDS",
    flag: "--schedule-min-interval-seconds <n>",
    description:
      "Shortest interval between two fires of a schedule (box_schedule_create refuses cron expressions that fire more often). Tests lower it.",
    schema: intFrom(1, 24 * 3600).default(60),
  },
};
