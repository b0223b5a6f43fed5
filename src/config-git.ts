// Zod schemas of the git settings (part of config.ts, kept apart for its size): tokens parse into values whose JSON form is
// "(hidden)", so `boxd doctor`, logs and serialised configs never print a token.
import { z } from "zod";
import { parseAllowedHost } from "./allowed-host.js";
import { splitCommas } from "./comma-list.js";
import { secret } from "./secret.js";

export { type Secret, secretSchema } from "./secret.js";

const PAIR = /^[A-Za-z0-9.-]+(:\d+)?=\S+$/;

/** "host=token,host2:port=token2" (BOXD_GIT_TOKENS) -> lowercase host -> token. */
export const tokenMapSchema = z
  .string()
  .default("")
  .transform((s) => splitCommas(s))
  .refine(
    (pairs) => pairs.every((p) => PAIR.test(p)),
    'must be comma-separated "host=token" pairs (host may carry a :port)',
  )
  .transform((pairs) =>
    Object.fromEntries(
      pairs.map((p) => [p.slice(0, p.indexOf("=")).toLowerCase(), secret(p.slice(p.indexOf("=") + 1))]),
    ),
  );

/** "host,host:port,*" (BOXD_GIT_TOKEN_HOSTS) -> lowercase list. */
export const hostListSchema = z
  .string()
  .default("")
  .transform((s) => splitCommas(s.toLowerCase()));

/** "host,host:port,10.0.0.0/8,[::1]:8080" (BOXD_GIT_ALLOWED_HOSTS): where server-side git may reach private addresses. */
export const allowedHostsSchema = z
  .string()
  .default("")
  .transform((s) => splitCommas(s.toLowerCase()))
  .refine(
    (entries) => entries.every((e) => parseAllowedHost(e) !== null),
    'must be comma-separated hosts, host:port, IP addresses (IPv6 in brackets with a port: "[::1]:8080") or CIDR ranges',
  );
