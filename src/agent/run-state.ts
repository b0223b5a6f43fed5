// What an agent run's events have established so far: its session, text, end and usage (bounded: text is
// capped). The agent service feeds it every decoded event and asks it, at the end, whether the run failed.
import type { AgentRunInfo, RunEnd } from "../model/box.js";
import { type AgentEvent, type AgentUsage, clip, type HarnessName } from "./events.js";
import type { Harness } from "./harnesses.js";

type Done = Extract<AgentEvent, { type: "done" }>;
type Failed = Extract<AgentEvent, { type: "error" }>;

/** What a run's events have established so far (bounded: text is capped). */
export class RunState {
  done: Done | null = null;
  error: Failed | null = null;
  events = 0;
  text = "";

  constructor(
    private readonly harness: HarnessName,
    public model: string | null,
    public sessionId: string | null,
    private readonly textBytes: number,
  ) {}

  on(event: AgentEvent): void {
    this.events += 1;
    if (event.type === "session") {
      this.sessionId = event.sessionId;
      this.model ??= event.model;
    } else if (event.type === "text") {
      if (this.text.length < this.textBytes) this.text += event.text.slice(0, this.textBytes - this.text.length);
    } else if (event.type === "done") {
      // A done after an error means the agent recovered; an error after a done does not undo the result.
      this.done = event;
      this.sessionId = event.sessionId ?? this.sessionId;
    } else if (event.type === "error") {
      this.error = event;
      this.sessionId = event.sessionId ?? this.sessionId;
    }
  }

  usage(): AgentUsage | null {
    return this.done?.usage ?? this.error?.usage ?? null;
  }

  costUsd(): number | null {
    return this.done?.costUsd ?? null;
  }

  info(): AgentRunInfo {
    return {
      harness: this.harness,
      model: this.model,
      usage: this.usage(),
      costUsd: this.costUsd(),
      sessionId: this.sessionId,
    };
  }

  /** Why the run failed, or null (cancel, timeout and engine errors are the run service's to say). */
  failure(end: RunEnd, harness: Harness): string | null {
    if (end.cancelled || end.timedOut || end.error) return null;
    if (this.done) return null;
    if (this.error) return `the agent reported an error: ${clip(this.error.message, 2000)}`;
    if (this.events === 0 && end.exitCode === 127) return harness.missing;
    const code = end.exitCode === null ? "" : ` (exit code ${end.exitCode})`;
    return this.events === 0
      ? `the harness ended${code} without printing any valid event`
      : `the harness ended${code} without a done event`;
  }
}
