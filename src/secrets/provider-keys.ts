// Hosted agent keys through the egress proxy: a hosted harness (claude-code, codex) gets a placeholder key
// in its environment, and the box's attachHeaders gain the provider's API host with the real key as a
// secret placeholder, so the agent process (and everything it runs) never holds the key. The key is the
// tenant's secret of the provider's name when it has one, else the server-wide setting (see fallbacks in
// box-attachments.ts). Where the proxy cannot intercept (BOXD_FIREWALL=off), the caller falls back to
// passing the server's key in the run's env, as before.
import type { AttachHeaders, BoxRecord } from "../model/box.js";

export interface ProviderKey {
  /** The tenant secret (or server-setting fallback) holding the key. */
  secret: string;
  host: string;
  header: string;
  /** The header's value template. */
  template: string;
}

const ph = (name: string) => `\${secret:${name}}`;

export const PROVIDER_KEYS: Record<string, ProviderKey> = {
  "claude-code": {
    secret: "ANTHROPIC_API_KEY",
    host: "api.anthropic.com",
    header: "x-api-key",
    template: ph("ANTHROPIC_API_KEY"),
  },
  codex: {
    secret: "OPENAI_API_KEY",
    host: "api.openai.com",
    header: "Authorization",
    template: `Bearer ${ph("OPENAI_API_KEY")}`,
  },
};

/** What the harness sees instead of its key (the proxy replaces the header that carries it). */
export const PLACEHOLDER_KEY = "boxd-placeholder-the-egress-proxy-attaches-the-real-key";

export interface ProviderKeysDeps {
  boxes: {
    mustGet(boxId: string): BoxRecord;
    /** Adds one host's headers to the box's attachHeaders (the CA into its trust, its rules re-applied). */
    attachHost(boxId: string, host: string, headers: Record<string, string>): Promise<void>;
  };
  attach: {
    get(boxId: string): AttachHeaders | null;
    /** The key's value for the tenant (its secret, else the server's setting), or null. */
    reveal(tenant: string, name: string): string | null;
    /** Whether the egress proxy can intercept here (the firewall is on). */
    readonly intercepting: boolean;
  };
}

/** How a run of this harness gets its key: through the proxy, not at all (no key anywhere), or the old way. */
export type KeyRoute = "proxy" | "missing" | "env";

export class ProviderKeys {
  constructor(private readonly deps: ProviderKeysDeps) {}

  /** Makes sure the box attaches the harness's key to its provider's host; says how the run gets its key. */
  async prepare(boxId: string, harness: string): Promise<KeyRoute> {
    const p = PROVIDER_KEYS[harness];
    if (!p || !this.deps.attach.intercepting) return "env";
    const box = this.deps.boxes.mustGet(boxId);
    if (this.deps.attach.reveal(box.tenant, p.secret) === null) return "missing";
    const current = this.deps.attach.get(boxId)?.[p.host];
    if (current?.[p.header] !== p.template) {
      await this.deps.boxes.attachHost(boxId, p.host, { ...current, [p.header]: p.template });
    }
    return "proxy";
  }
}
