// What box_update asks to change, checked against the box as it is and turned into one patch of its
// settings plus one log line per change. Pure: no store, no Docker. Env goes through the same guard as
// box_create; labels keep the same limits. How each change takes effect is the caller's (BoxService
// writes the patch and announces `updated`; the idle timer and the expiry job re-arm on it).
import { invalidArgument } from "../errors.js";
import type { AttachHeaders, BoxRecord } from "../model/box.js";
import { expiresAtFor } from "./ttl.js";
import { checkEnv, checkLabels } from "./validation.js";

export interface LabelsUpdate {
  /** Added or overwritten. */
  set?: Record<string, string>;
  /** Removed (absent keys are fine). */
  remove?: string[];
  /** The box's whole label set (alone: not with set or remove). */
  replace?: Record<string, string>;
}

export interface EnvUpdate {
  /** Added or overwritten. */
  set?: Record<string, string>;
  /** Removed (absent names are fine). */
  unset?: string[];
}

export interface UpdateBoxInput {
  idleTimeoutSeconds?: number;
  keepAlive?: boolean;
  labels?: LabelsUpdate;
  env?: EnvUpdate;
  /** A new initCommand; null or "" removes it. */
  initCommand?: string | null;
  /** A new TTL counted from now; null makes the box permanent. */
  ttlSeconds?: number | null;
  /** New attachHeaders (the whole set); null or {} removes them. Applied by BoxService, not planned here. */
  attachHeaders?: AttachHeaders | null;
}

export type SettingsPatch = Partial<
  Pick<BoxRecord, "idleTimeoutSeconds" | "keepAlive" | "labels" | "env" | "initCommand" | "expiresAt">
>;

export interface UpdatePlan {
  patch: SettingsPatch;
  /** One line per change, for the box's log (env values are never written: they may be secrets). */
  changes: string[];
}

const FIELDS = [
  "idleTimeoutSeconds",
  "keepAlive",
  "labels",
  "env",
  "initCommand",
  "ttlSeconds",
  "attachHeaders",
] as const;

/** Checks the update (each failure says what is accepted) and plans it against the box as it is now. */
export function planUpdate(box: BoxRecord, input: UpdateBoxInput, nowMs = Date.now()): UpdatePlan {
  if (!FIELDS.some((f) => input[f] !== undefined)) {
    throw invalidArgument(`nothing to update: pass at least one of ${FIELDS.join(", ")}`);
  }
  const patch: SettingsPatch = {};
  const changes: string[] = [];
  if (input.idleTimeoutSeconds !== undefined) {
    patch.idleTimeoutSeconds = input.idleTimeoutSeconds;
    changes.push(`idleTimeoutSeconds ${box.idleTimeoutSeconds} -> ${input.idleTimeoutSeconds} (idle timer re-armed)`);
  }
  if (input.keepAlive !== undefined) {
    patch.keepAlive = input.keepAlive;
    changes.push(`keepAlive ${box.keepAlive} -> ${input.keepAlive}`);
  }
  if (input.labels !== undefined) patch.labels = planLabels(box.labels, input.labels, changes);
  if (input.env !== undefined) patch.env = planEnv(box.env, input.env, changes);
  if (input.initCommand !== undefined) {
    if (input.initCommand?.includes("\0")) throw invalidArgument("initCommand contains a NUL byte");
    patch.initCommand = input.initCommand?.trim() ? input.initCommand : null;
    changes.push(
      patch.initCommand ? "initCommand set (runs at the next start of the box's container)" : "initCommand removed",
    );
  }
  if (input.ttlSeconds !== undefined) {
    patch.expiresAt = expiresAtFor(input.ttlSeconds, nowMs);
    changes.push(
      patch.expiresAt
        ? `ttlSeconds ${input.ttlSeconds}: the box is deleted at ${patch.expiresAt}`
        : "ttlSeconds removed: the box lives until deleted",
    );
  }
  return { patch, changes };
}

function planLabels(current: Record<string, string>, u: LabelsUpdate, changes: string[]): Record<string, string> {
  const { set, remove, replace } = u;
  if (replace !== undefined && (set !== undefined || remove !== undefined)) {
    throw invalidArgument("labels: pass replace alone, or set and/or remove (not replace with them)");
  }
  if (replace === undefined && set === undefined && remove === undefined) {
    throw invalidArgument("labels: pass set, remove or replace");
  }
  if (replace !== undefined) {
    checkLabels(replace);
    changes.push(`labels replaced: ${describeLabels(replace)}`);
    return { ...replace };
  }
  const both = Object.keys(set ?? {}).filter((k) => remove?.includes(k));
  if (both.length) throw invalidArgument(`labels: "${both[0]}" is both in set and in remove`);
  const next = { ...current, ...set };
  for (const key of remove ?? []) delete next[key];
  checkLabels(next);
  if (set && Object.keys(set).length) changes.push(`labels set: ${describeLabels(set)}`);
  if (remove?.length) changes.push(`labels removed: ${remove.join(", ")}`);
  return next;
}

function planEnv(current: Record<string, string>, u: EnvUpdate, changes: string[]): Record<string, string> {
  const { set, unset } = u;
  if (set === undefined && unset === undefined) throw invalidArgument("env: pass set and/or unset");
  if (set) checkEnv(set, "env.set");
  const both = Object.keys(set ?? {}).filter((k) => unset?.includes(k));
  if (both.length) throw invalidArgument(`env: "${both[0]}" is both in set and in unset`);
  const next = { ...current, ...set };
  for (const name of unset ?? []) delete next[name];
  checkEnv(next);
  const setNames = Object.keys(set ?? {});
  if (setNames.length) changes.push(`env set: ${setNames.join(", ")} (for commands started from now on)`);
  if (unset?.length) changes.push(`env unset: ${unset.join(", ")} (for commands started from now on)`);
  return next;
}

function describeLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(", ") : "(none)";
}
