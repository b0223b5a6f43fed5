// Identifiers: short, URL-safe, prefixed so that a box id is never mistaken for a name.
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function token(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % 32];
  return out;
}

export const newBoxId = () => `box_${token(12)}`;
export const newRunId = () => `run_${token(12)}`;
export const newSnapshotId = () => `snap_${token(12)}`;
export const newScheduleId = () => `sched_${token(12)}`;
export const isBoxId = (s: string) => /^box_[0-9a-z]{12}$/.test(s);
