// A setting that must never be printed (tokens, API keys): its value for the code that uses it, and
// "(hidden)" for everything that serialises it (`boxd doctor`, logs, a printed config).
import { z } from "zod";

export interface Secret {
  value: string;
  toJSON(): string;
}

export const secret = (value: string): Secret => ({ value, toJSON: () => (value ? "(hidden)" : "") });

/** A secret setting: trimmed, "" when unset. */
export const secretSchema = z
  .string()
  .default("")
  .transform((s) => secret(s.trim()));
