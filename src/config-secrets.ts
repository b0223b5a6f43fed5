// The secret store's and the egress interception's rows of the SETTINGS table (part of config.ts, kept
// apart for its size; config.ts spreads them in, so they are read, documented and printed like the others).
import { z } from "zod";
import { secretSchema } from "./secret.js";

export const SECRET_SETTINGS = {
  secretKey: {
    env: "BOXD_SECRET_KEY",
    flag: "--secret-key <key>",
    description:
      "Key of the tenant secret store (AES-256-GCM): 32 bytes as 64 hex digits or base64, or a passphrase of 16+ characters. Default: a random key in the data dir's secret.key (mode 600). Prefer the env var (flags show in ps).",
    schema: secretSchema,
  },
  egressUpstreamCaFile: {
    env: "BOXD_EGRESS_UPSTREAM_CA_FILE",
    flag: "--egress-upstream-ca-file <path>",
    description:
      "PEM file of extra CAs that hosts with attachHeaders may present certificates from (besides the system store), e.g. an internal CA.",
    schema: z.string().default(""),
  },
};
