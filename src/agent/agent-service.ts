// box_agent_run: runs a coding agent (claude-code, codex, or a custom box-sse-v1 harness) in a box as one
// run of type "agent", through the run service (boxd-run: timeouts and box_run_kill end the agent's whole
// process group, CPU and memory are measured). The harness's output is decoded into the event model as it
// arrives, relayed to the client and the box log, and its end (done or error) decides the result.
// API keys live in the server's config and reach only the environment of the run that needs them.

import type { Config } from "../config.js";
import { BoxdError, forbidden, invalidArgument, notFound, timeoutError, toBoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import type { AgentRunHooks, RunRecord } from "../model/box.js";
import { type KeyRoute, PLACEHOLDER_KEY, PROVIDER_KEYS } from "../secrets/provider-keys.js";
import type { RunService } from "../shell/run-service.js";
import type { AgentDefaults, AgentDefaultsStore } from "../state/agent-defaults-store.js";
import { type RunPayloadExtra, runPayload } from "../webhooks/run-payload.js";
import type { WebhookSender } from "../webhooks/webhook-sender.js";
import type { WebhookTarget } from "../webhooks/webhook-target.js";
import { mapOptions } from "./agent-options.js";
import { DEFAULT_RELAY_LIMITS, EventRelay, type RelayLimits } from "./event-relay.js";
import { type AgentUsage, clip, HARNESSES, type HarnessName, ZERO_USAGE } from "./events.js";
import { HARNESS, type Harness, harnessKey, MODEL_VAR, PROMPT_VAR, SESSION_VAR } from "./harnesses.js";
import { Tail } from "./lines.js";
import { compileResponseSchema, type ResponseSchema } from "./response-schema.js";
import type { RunEvents } from "./run-events.js";
import { RunState } from "./run-state.js";

export interface AgentRunInput {
  prompt: string;
  harness?: string;
  model?: string;
  responseSchema?: unknown;
  timeoutSeconds?: number;
  sessionId?: string;
  /** The custom harness's command (a shell command line in the box). */
  command?: string;
  /** POST the final result here when the run ends (checked first: no private, loopback or metadata address). */
  webhookUrl?: string;
  webhookHeaders?: Record<string, string>;
  /** Options that keep cost and behaviour in check, mapped onto the harness's flags (agent-options.ts). */
  options?: Record<string, unknown>;
}

export interface AgentStartOptions {
  /** Foreground runs: where progress goes, and the caller's cancel (which ends the run). */
  progress?: (message: string) => void;
  signal?: AbortSignal;
  /** The schedule that starts the run (recorded with it). */
  scheduleId?: string;
}

/** A started agent run: its id at once, its result when it ends (a failed run rejects with a coded error). */
export interface AgentRunStarted {
  runId: string;
  result: Promise<AgentRunResult>;
}

/** How an agent run that returns a result ended (a failed one is an error). */
export const AGENT_RESULT_STATUSES = ["completed", "cancelled"] as const;

export interface AgentRunResult {
  runId: string;
  status: (typeof AGENT_RESULT_STATUSES)[number];
  output: string;
  /** true when output was cut at the inline limit (BOXD_MAX_OUTPUT_BYTES). */
  truncated: boolean;
  structured?: unknown;
  usage: AgentUsage;
  sessionId: string | null;
  durationMs: number;
  harness: HarnessName;
  model: string | null;
  costUsd: number | null;
}

export interface AgentLimits {
  /** Largest single event (line) read from a harness; bigger ones are dropped. */
  maxEventBytes: number;
  /** Text kept to stand in for the output when the harness's done event carries none. */
  textBytes: number;
  relay: RelayLimits;
}

export const DEFAULT_AGENT_LIMITS: AgentLimits = {
  maxEventBytes: 8 * 1024 * 1024,
  textBytes: 1024 * 1024,
  relay: DEFAULT_RELAY_LIMITS,
};

export interface AgentServiceDeps {
  runs: RunService;
  config: Pick<Config, "anthropicApiKey" | "openaiApiKey" | "agentTimeoutSeconds" | "maxOutputBytes">;
  onLog: (boxId: string, level: "info" | "warn" | "error", message: string) => void;
  /** The durable event log each run's events are written to (box_run_events). */
  events: Pick<RunEvents, "recorder">;
  webhooks: Pick<WebhookSender, "check" | "deliver">;
  defaults: Pick<AgentDefaultsStore, "get" | "set" | "delete">;
  log: Logger;
  limits?: AgentLimits;
  /** Hosted keys through the egress proxy (src/secrets/provider-keys.ts); absent: the key rides in the env. */
  providerKeys?: { prepare(boxId: string, harness: string): Promise<KeyRoute> };
}

/** Each env string (and argv entry) is limited to 128 KiB by Linux; the prompt travels in one. */
const MAX_PROMPT_BYTES = 120_000;
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._:/@+=-]{0,199}$/;
const MAX_ISSUES_LOGGED = 20;

export class AgentService {
  private readonly limits: AgentLimits;

  constructor(private readonly deps: AgentServiceDeps) {
    this.limits = deps.limits ?? DEFAULT_AGENT_LIMITS;
  }

  /** Checks a run's settings as start() would, without starting anything (schedules check at creation). */
  check(boxId: string, input: AgentRunInput): void {
    // Any key route will do: whether a key exists (the tenant's secret, the server's) is asked at run time.
    this.plan(boxId, input, "proxy");
  }

  /** Checks agent defaults for box_create (harness, model, options; the key is asked for at run time). */
  checkDefaults(d: AgentDefaults): void {
    const command = d.harness === "custom" ? "-" : undefined;
    const harness = this.harnessOf({ prompt: "", harness: d.harness, model: d.model, command });
    mapOptions(harness.name, d.options);
  }

  setDefaults(boxId: string, d: AgentDefaults): void {
    this.deps.defaults.set(boxId, d);
  }

  defaultsOf(boxId: string): AgentDefaults | null {
    return this.deps.defaults.get(boxId);
  }

  forgetDefaults(boxId: string): void {
    this.deps.defaults.delete(boxId);
  }

  /** Runs an agent and waits for its result (progress streamed, the caller's cancel ends it). */
  async run(boxId: string, input: AgentRunInput, opts: AgentStartOptions = {}): Promise<AgentRunResult> {
    return (await this.start(boxId, input, opts)).result;
  }

  /** Starts an agent run: answers with its id once it runs; `result` settles when it ends. */
  async start(boxId: string, input: AgentRunInput, opts: AgentStartOptions = {}): Promise<AgentRunStarted> {
    // The key's route first (it may add the provider's host to the box's attachHeaders), then the plan.
    const harness = this.harnessOf(withDefaults(input, this.deps.defaults.get(boxId))).name;
    const route = (await this.deps.providerKeys?.prepare(boxId, harness)) ?? "env";
    const plan = this.plan(boxId, input, route);
    const webhook =
      input.webhookUrl !== undefined ? await this.deps.webhooks.check(input.webhookUrl, input.webhookHeaders) : null;
    const watch = this.watch(boxId, plan, opts.progress);
    const started = await this.deps.runs.startAgent(
      boxId,
      {
        prompt: input.prompt,
        command: plan.command,
        env: plan.env,
        timeoutSeconds: plan.timeoutSeconds,
        agent: watch.st.info(),
        scheduleId: opts.scheduleId,
      },
      watch.hooks,
    );
    const { runId } = started;
    watch.recorder.bind(runId);
    const stop = () => void this.deps.runs.kill(boxId, runId).catch(() => {});
    opts.signal?.addEventListener("abort", stop, { once: true });
    const result = started.done
      .finally(() => opts.signal?.removeEventListener("abort", stop))
      .then((record) => {
        if (!record || record.status === "running") {
          throw new BoxdError("INTERNAL", `the server stopped following agent run ${runId} (it is shutting down)`);
        }
        return this.verdict(boxId, record, plan, watch);
      });
    if (webhook) this.notify(boxId, runId, webhook, result);
    return { runId, result };
  }

  /** Sends the run's end to its webhook once it is recorded (in the background; never rejects). */
  private notify(boxId: string, runId: string, target: WebhookTarget, result: Promise<AgentRunResult>): void {
    const send = async (extra: RunPayloadExtra) => {
      const run = await this.deps.runs.get(boxId, runId);
      if (run.status !== "running") await this.deps.webhooks.deliver(boxId, runId, target, runPayload(run, extra));
    };
    result
      .then(
        (r) => send(r.structured !== undefined ? { structured: r.structured } : {}),
        (err: unknown) => {
          const e = toBoxdError(err);
          return send({ error: { code: e.code, message: e.message } });
        },
      )
      .catch((err: unknown) =>
        this.deps.log.warn("could not send a run's webhook", { run: runId, error: String(err) }),
      );
  }

  /** What to run: the harness, its command line and env (prompt, model, session, key), and the redactor. */
  private plan(boxId: string, asked: AgentRunInput, route: KeyRoute) {
    const input = withDefaults(asked, this.deps.defaults.get(boxId));
    const harness = this.harnessOf(input);
    const options = mapOptions(harness.name, input.options);
    const schema = input.responseSchema !== undefined ? compileResponseSchema(input.responseSchema) : null;
    const prompt = checkPrompt(input.prompt, schema);
    const key = this.keyFor(harness, route);
    const model = input.model ?? (harness.name === "custom" ? "default" : null);
    const env: Record<string, string> = { ...options.env, [PROMPT_VAR]: prompt };
    if (model) env[MODEL_VAR] = model;
    if (input.sessionId) env[SESSION_VAR] = input.sessionId;
    for (const v of harness.key?.vars ?? []) env[v] = key;
    // A placeholder needs no redaction (the real key never reaches the run then).
    const secretKey = route === "proxy" ? "" : key;
    const redact = (text: string) => (secretKey ? text.split(secretKey).join(`[${harness.key?.env} redacted]`) : text);
    const timeoutSeconds = input.timeoutSeconds ?? this.deps.config.agentTimeoutSeconds;
    const command = harness.commandLine({
      command: input.command ?? null,
      model: !!model,
      session: !!input.sessionId,
      extra: options.args,
    });
    return { harness, schema, model, env, redact, timeoutSeconds, command, sessionId: input.sessionId ?? null };
  }

  /** Follows the agent's stdout: events decoded into the run's state and relayed, the raw tail kept. */
  private watch(boxId: string, plan: ReturnType<AgentService["plan"]>, progress?: (message: string) => void) {
    const { harness, redact } = plan;
    const relay = new EventRelay(
      { progress, log: (level, message) => this.deps.onLog(boxId, level, message) },
      redact,
      this.limits.relay,
    );
    const st = new RunState(harness.name, plan.model, plan.sessionId, this.limits.textBytes);
    const recorder = this.deps.events.recorder(redact);
    let issues = 0;
    const decoder = harness.decoder(
      (event) => {
        st.on(event);
        relay.event(event);
        recorder.add(event);
      },
      (problem) => {
        issues += 1;
        if (issues <= MAX_ISSUES_LOGGED) relay.warn(`agent output skipped: ${problem}`);
        else if (issues === MAX_ISSUES_LOGGED + 1) relay.warn("agent output: further problems are not logged");
      },
      this.limits.maxEventBytes,
    );
    const tail = new Tail(4096);
    const hooks: AgentRunHooks = {
      onStdout: (chunk) => {
        tail.push(chunk);
        decoder.push(chunk);
      },
      settle: (end) => {
        try {
          decoder.end();
          relay.close();
          recorder.close();
          const failure = st.failure(end, harness);
          return { failure: failure && redact(failure), agent: this.withOutput(st, redact) };
        } catch (err) {
          return { failure: `could not read the agent's output: ${String(err)}`, agent: st.info() };
        }
      },
    };
    return { st, tail, hooks, recorder };
  }

  /** The result of an ended run, or the coded error that says why it failed. */
  private async verdict(
    boxId: string,
    record: RunRecord,
    plan: ReturnType<AgentService["plan"]>,
    { st, tail }: ReturnType<AgentService["watch"]>,
  ): Promise<AgentRunResult> {
    const { harness, redact, schema } = plan;
    const runId = record.id;
    const base = {
      runId,
      usage: st.usage() ?? ZERO_USAGE,
      sessionId: st.sessionId,
      durationMs: record.durationMs ?? 0,
      harness: harness.name,
      model: st.model,
      costUsd: st.costUsd(),
    };
    if (record.status === "cancelled") return { ...base, status: "cancelled", ...this.inline(redact(st.text)) };
    if (record.timedOut) {
      throw timeoutError(
        `agent run ${runId} reached its timeout of ${plan.timeoutSeconds} s and was ended with every process it started. Output so far:\n${redact(clip(st.text, 4000))}`,
      );
    }
    const done = st.done;
    if (done && record.status === "completed") {
      const output = redact(done.output || st.text);
      const structured = schema ? schema.check(output, done.structured) : undefined;
      return { ...base, status: "completed", ...this.inline(output), ...(schema ? { structured } : {}) };
    }
    const why = record.reason ?? "the agent failed";
    const stderr = (await this.deps.runs.get(boxId, runId)).stderr;
    const rawTail = redact(`${clip(tail.text(), 4096)}${stderr ? `\n--- stderr ---\n${stderr.slice(-2000)}` : ""}`);
    if (st.events === 0 && record.exitCode === 127) {
      throw notFound(`${harness.missing}. Agent run ${runId} printed:\n${rawTail}`);
    }
    throw new BoxdError(
      "INTERNAL",
      `agent run ${runId} failed: ${why}. Raw output tail (box_run_get ${runId} has more):\n${rawTail}`,
    );
  }

  private harnessOf(input: AgentRunInput): Harness {
    const name = input.harness ?? "claude-code";
    if (!(HARNESSES as readonly string[]).includes(name)) {
      throw invalidArgument(`unknown harness "${name}": use ${HARNESSES.join(", ")}`);
    }
    const harness = HARNESS[name as HarnessName];
    if (input.model !== undefined && !NAME.test(input.model)) {
      throw invalidArgument(`model "${clip(input.model, 100)}" is not a model name (letters, digits, . _ : / @ + = -)`);
    }
    if (input.sessionId !== undefined && !NAME.test(input.sessionId)) {
      throw invalidArgument("sessionId is not a session id: pass the sessionId an earlier box_agent_run returned");
    }
    if (input.timeoutSeconds !== undefined && !(Number.isInteger(input.timeoutSeconds) && input.timeoutSeconds > 0)) {
      throw invalidArgument("timeoutSeconds must be a positive whole number of seconds");
    }
    if (harness.name === "custom") {
      const command = input.command ?? "";
      if (!command.trim()) {
        throw invalidArgument("harness custom needs a command: the program in the box that speaks box-sse-v1");
      }
      if (command.includes("\0") || command.length > 4096) throw invalidArgument("command must be one line of text");
    } else if (input.command !== undefined) {
      throw invalidArgument(`command is only for harness custom; harness ${harness.name} runs its own CLI`);
    }
    return harness;
  }

  private keyFor(harness: Harness, route: KeyRoute): string {
    if (!harness.key) return "";
    // Through the proxy the run holds a placeholder; the real key is attached to the provider's requests.
    if (route === "proxy") return PLACEHOLDER_KEY;
    if (route === "missing") {
      throw forbidden(
        `harness ${harness.name} needs an API key and none is configured: secret_set ${PROVIDER_KEYS[harness.name]?.secret} (yours), or set ${harness.key.env} on the server and restart boxd, or use harness custom`,
      );
    }
    const key = harnessKey(this.deps.config, harness.key);
    if (!key) {
      throw forbidden(
        `harness ${harness.name} needs an API key on the server and none is configured: set ${harness.key.env} (or the matching boxd serve flag) and restart boxd, or use harness custom`,
      );
    }
    return key;
  }

  /** The run's details with its final answer (or its text so far), as box_run_get shows them. */
  private withOutput(st: RunState, redact: (text: string) => string) {
    return { ...st.info(), output: this.inline(redact(st.done?.output || st.text)).output };
  }

  private inline(output: string): { output: string; truncated: boolean } {
    const cap = this.deps.config.maxOutputBytes;
    if (Buffer.byteLength(output) <= cap) return { output, truncated: false };
    return { output: Buffer.from(output).subarray(0, cap).toString("utf8"), truncated: true };
  }
}

/** The run's settings with the box's defaults filled in: model and options only for the default's harness. */
function withDefaults(input: AgentRunInput, d: AgentDefaults | null): AgentRunInput {
  if (!d) return input;
  const harness = input.harness ?? d.harness;
  if ((harness ?? "claude-code") !== (d.harness ?? "claude-code")) return input;
  const options = d.options || input.options ? { ...d.options, ...input.options } : undefined;
  return { ...input, harness, model: input.model ?? d.model, options };
}

function checkPrompt(prompt: string, schema: ResponseSchema | null): string {
  if (typeof prompt !== "string" || !prompt.trim()) {
    throw invalidArgument("prompt is empty: say what the agent should do");
  }
  if (prompt.includes("\0")) throw invalidArgument("prompt contains a NUL byte");
  const full = schema ? prompt + schema.instruction : prompt;
  const bytes = Buffer.byteLength(full);
  if (bytes > MAX_PROMPT_BYTES) {
    throw invalidArgument(
      `prompt${schema ? " with its responseSchema" : ""} is ${bytes} bytes, over the ${MAX_PROMPT_BYTES}-byte limit: put long material in files in the box and point the agent at them`,
    );
  }
  return full;
}
