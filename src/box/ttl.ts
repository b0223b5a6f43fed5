// A box's lifetime (box_create / box_update `ttlSeconds`): the accepted range, the expiry it gives, and
// whether a box is past it. Pure: the expiry job (src/lifetime/box-expiry.ts) deletes expired boxes, and
// BoxService.resolve refuses them meanwhile, so an expired box is never used while its deletion waits.
import { invalidArgument } from "../errors.js";
import type { BoxRecord } from "../model/box.js";

/** 1 s to 3 days, as Upstash's EphemeralBox allows. */
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 3 * 24 * 3600;

/** INVALID_ARGUMENT naming the range unless `ttl` is a whole number of seconds in it. */
export function checkTtl(ttl: number, field = "ttlSeconds"): void {
  if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
    throw invalidArgument(
      `${field} must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} (3 days); got ${ttl}. ` +
        "Leave it out (or pass null to box_update) for a box that lives until deleted",
    );
  }
}

/** The expiry (ISO time) of a TTL counted from `nowMs`, or null for no TTL. */
export function expiresAtFor(ttl: number | null | undefined, nowMs = Date.now()): string | null {
  if (ttl === undefined || ttl === null) return null;
  checkTtl(ttl);
  return new Date(nowMs + ttl * 1000).toISOString();
}

/** True once the box's TTL has run out (whether or not the expiry job has deleted it yet). */
export function isExpired(box: Pick<BoxRecord, "expiresAt">, nowMs = Date.now()): boolean {
  return box.expiresAt !== null && Date.parse(box.expiresAt) <= nowMs;
}

/** How a deleted box's NOT_FOUND says it went: deleted, or expired (the expiry job deleted it). */
export function goneReason(box: Pick<BoxRecord, "expiresAt" | "deletedAt">): string {
  const expired = box.expiresAt !== null && box.deletedAt !== null && box.expiresAt <= box.deletedAt;
  return expired
    ? `expired at ${box.expiresAt} (its ttlSeconds ran out) and was deleted at ${box.deletedAt}; box_logs still shows its log`
    : `was deleted at ${box.deletedAt}`;
}
