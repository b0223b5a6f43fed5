// A box's attachHeaders as the box service sees them: checked against the tenant's secrets, kept with the
// box, and the egress CA put into the box's trust (root-owned files written through the engine, so the box
// can read the certificate but change nothing). The CA's key never goes anywhere near a box.
import type { ArchiveClient } from "../docker/archive.js";
import { BoxdError } from "../errors.js";
import type { AttachHeaders } from "../model/box.js";
import type { EgressCa } from "../network/egress-ca.js";
import type { SecretStore } from "../state/secret-store.js";
import { checkAttachHeaders } from "./attach-headers.js";
import type { SecretService } from "./secret-service.js";

/** The egress CA certificate alone (Node adds NODE_EXTRA_CA_CERTS to its own roots). */
export const CA_PATH = "/etc/boxd/egress-ca.pem";
/** The image's system bundle plus the egress CA: for programs that take one bundle file. */
export const BUNDLE_PATH = "/etc/boxd/ca-bundle.pem";
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Set by the server on every command of a box with attachHeaders (after the caller's env: it wins). */
export const TRUST_ENV: Readonly<Record<string, string>> = {
  NODE_EXTRA_CA_CERTS: CA_PATH,
  SSL_CERT_FILE: BUNDLE_PATH,
  REQUESTS_CA_BUNDLE: BUNDLE_PATH,
  CURL_CA_BUNDLE: BUNDLE_PATH,
  GIT_SSL_CAINFO: BUNDLE_PATH,
};

export interface BoxAttachmentsDeps {
  secrets: Pick<SecretService, "has" | "reveal">;
  secretStore: Pick<SecretStore, "attachOf" | "setAttach">;
  archives: Pick<ArchiveClient, "readFile" | "putRootFiles">;
  /** The egress CA; its certificate is "" until the network starts it, and stays so with BOXD_FIREWALL=off. */
  ca: Pick<EgressCa, "certificate">;
  /** Server-wide values of secrets a tenant has not set (ANTHROPIC_API_KEY, OPENAI_API_KEY from the settings). */
  fallbacks?: Record<string, string>;
}

export class BoxAttachments {
  constructor(private readonly deps: BoxAttachmentsDeps) {}

  /** Checks a box's attachHeaders for the tenant (INVALID_ARGUMENT naming the entry) and normalises them. */
  check(tenant: string, headers: AttachHeaders): AttachHeaders {
    if (!this.deps.ca.certificate) {
      throw new BoxdError(
        "POLICY_DENIED",
        "attachHeaders need the egress proxy, and this server runs with BOXD_FIREWALL=off: enable the firewall or leave attachHeaders out",
      );
    }
    return checkAttachHeaders(headers, (name) => this.deps.secrets.has(tenant, name));
  }

  get(boxId: string): AttachHeaders | null {
    return this.deps.secretStore.attachOf(boxId);
  }

  /** The same, as the egress proxy asks (network-service.ts Attachments). */
  attachOf(boxId: string): AttachHeaders | null {
    return this.get(boxId);
  }

  /** A secret's value (the tenant's, else the server's fallback), for the egress proxy's header injection only. */
  reveal(tenant: string, name: string): string | null {
    return this.deps.secrets.reveal(tenant, name) ?? (this.deps.fallbacks?.[name] || null);
  }

  /** Whether the egress proxy can intercept on this server (the firewall is on and its CA made). */
  get intercepting(): boolean {
    return this.deps.ca.certificate !== "";
  }

  /** Stores (or with null removes) the box's attachHeaders; the proxy reads them at each connection. */
  set(boxId: string, headers: AttachHeaders | null): void {
    this.deps.secretStore.setAttach(boxId, headers);
  }

  /** The env the server adds to the box's commands so its programs trust the egress CA. */
  trustEnv(boxId: string): Record<string, string> {
    return this.get(boxId) ? { ...TRUST_ENV } : {};
  }

  /** What a box shows of its attachHeaders: hosts and header names, never the values. */
  summary(boxId: string): Record<string, string[]> | null {
    const attach = this.get(boxId);
    return attach ? Object.fromEntries(Object.entries(attach).map(([h, v]) => [h, Object.keys(v)])) : null;
  }

  /**
   * Puts the egress CA into the container's trust: its own file, a bundle of the image's roots plus it,
   * and the image's system bundle (when a regular file) with it appended. Idempotent.
   */
  async installTrust(containerId: string): Promise<void> {
    const ca = this.deps.ca.certificate.trim();
    const system = await this.deps.archives.readFile(containerId, SYSTEM_BUNDLE);
    const roots = system ? system.toString("utf8").replace(/\n?$/, "\n") : "";
    const withCa = (text: string) => Buffer.from(`${text}# boxd egress CA\n${ca}\n`, "utf8");
    const files = [
      { path: CA_PATH, content: Buffer.from(`${ca}\n`), mode: 0o644 },
      { path: BUNDLE_PATH, content: withCa(roots), mode: 0o644 },
    ];
    if (system && !roots.includes(ca)) files.push({ path: SYSTEM_BUNDLE, content: withCa(roots), mode: 0o644 });
    await this.deps.archives.putRootFiles(containerId, files);
  }
}
