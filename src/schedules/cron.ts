// Cron expressions of schedules, parsed by croner: five fields (minute hour day month weekday), or six with
// seconds first; UTC unless a schedule names an IANA timezone. A schedule may not fire more often than the
// configured minimum interval (BOXD_SCHEDULE_MIN_INTERVAL_SECONDS), judged over its next fires.
import { Cron } from "croner";
import { invalidArgument } from "../errors.js";

/** Fires looked at to find the shortest interval of an expression. */
const SAMPLE = 24;

function parse(expr: string, timezone: string): Cron {
  if (typeof expr !== "string" || !expr.trim() || expr.length > 200) {
    throw invalidArgument('cron must be a cron expression such as "0 9 * * 1-5" (minute hour day month weekday)');
  }
  try {
    return new Cron(expr.trim(), { timezone, paused: true });
  } catch (err) {
    throw invalidArgument(
      `cron "${expr}" is not a valid cron expression (${(err as Error).message}): use five fields, minute hour day month weekday, e.g. "*/15 * * * *"`,
    );
  }
}

export function checkTimezone(timezone: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return timezone;
  } catch {
    throw invalidArgument(
      `timezone "${timezone}" is not an IANA time zone: use e.g. UTC, Europe/Berlin, America/New_York`,
    );
  }
}

/** The next fire strictly after `after`, or null when the expression never fires again. */
export function nextFire(expr: string, timezone: string, after: Date): Date | null {
  return parse(expr, timezone).nextRun(after);
}

/** Checks an expression for a new schedule; answers its first fire. */
export function checkCron(expr: string, timezone: string, minIntervalSeconds: number, now = new Date()): Date {
  checkTimezone(timezone);
  const fires = parse(expr, timezone).nextRuns(SAMPLE, now);
  const first = fires[0];
  if (!first) throw invalidArgument(`cron "${expr}" never fires (no such date): check the day and month fields`);
  for (let i = 1; i < fires.length; i++) {
    const gap = ((fires[i] as Date).getTime() - (fires[i - 1] as Date).getTime()) / 1000;
    if (gap < minIntervalSeconds) {
      throw invalidArgument(
        `cron "${expr}" fires every ${gap} s, more often than the minimum interval of ${minIntervalSeconds} s (BOXD_SCHEDULE_MIN_INTERVAL_SECONDS): use a coarser expression`,
      );
    }
  }
  return first;
}
