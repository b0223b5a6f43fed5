// What a run's webhook receives: the run's final record in one JSON object (the same fields box_run_get
// shows, the agent's answer and usage flattened), plus the error a failed agent run ended with.
import type { RunRecord } from "../model/box.js";

export interface RunPayloadExtra {
  /** The parsed answer of an agent run asked for a responseSchema. */
  structured?: unknown;
  /** Why a failed run failed, as the caller would have got it. */
  error?: { code: string; message: string };
}

export function runPayload(run: RunRecord, extra: RunPayloadExtra = {}) {
  const a = run.agent;
  return {
    event: `run.${run.status}`,
    runId: run.id,
    boxId: run.boxId,
    type: run.type,
    status: run.status,
    scheduleId: run.scheduleId ?? null,
    command: run.command,
    exitCode: run.exitCode,
    timedOut: run.timedOut,
    startedAt: run.startedAt,
    completedAt: run.completedAt,
    durationMs: run.durationMs,
    reason: run.reason,
    ...(a
      ? {
          output: a.output ?? null,
          usage: a.usage,
          costUsd: a.costUsd,
          sessionId: a.sessionId,
          harness: a.harness,
          model: a.model,
        }
      : {}),
    ...(extra.structured !== undefined ? { structured: extra.structured } : {}),
    ...(extra.error ? { error: extra.error } : {}),
  };
}
