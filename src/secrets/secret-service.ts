// The tenant secret store: secret_set / secret_list / secret_delete, and the lookup the egress proxy does
// at request time. Values are sealed at rest (secret-cipher.ts) and leave this module only through
// `reveal`, whose one caller is the proxy's header injection: never in a result, an error, a log line or
// a run record. Names and sizes are checked here; every refusal names the rule, never the value.
import { BoxdError, invalidArgument, limitExceeded, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { Db } from "../state/db.js";
import { SecretStore } from "../state/secret-store.js";
import { loadSecretKey, seal, unseal } from "./secret-cipher.js";

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const MAX_SECRET_BYTES = 8 * 1024;
export const MAX_SECRETS_PER_TENANT = 100;

export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
}

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw invalidArgument(
      `secret name "${name.slice(0, 80)}" is not valid: use 1-64 letters, digits and "_", not starting with a digit (e.g. GITHUB_TOKEN)`,
    );
  }
}

function checkValue(value: string): void {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes === 0) throw invalidArgument("secret value is empty: pass the value, or secret_delete to remove it");
  if (bytes > MAX_SECRET_BYTES) {
    throw invalidArgument(`secret value is ${bytes} bytes, more than the ${MAX_SECRET_BYTES} a secret may hold`);
  }
  // Values go into HTTP header values: a line break or NUL would split or end the header.
  if (/[\r\n\0]/.test(value)) throw invalidArgument("secret value contains CR, LF or NUL, which no header value may");
}

/** The store and its service, with the key from the setting or the data dir's key file. */
export function openSecrets(db: Db, section: { dataDir: string; secretKey: string }, log: Logger) {
  const secretStore = new SecretStore(db);
  const key = loadSecretKey(section.secretKey, section.dataDir);
  return { secretStore, secrets: new SecretService(secretStore, key, log) };
}

export class SecretService {
  /** Why the store cannot be opened with the configured key, or null when it can. */
  readonly keyProblem: string | null;

  constructor(
    private readonly store: SecretStore,
    private readonly key: Buffer,
    log: Logger,
  ) {
    const sample = store.any();
    this.keyProblem =
      sample && unseal(key, sample.tenant, sample.name, sample) === null
        ? "the secret store was sealed with another key: start boxd with the BOXD_SECRET_KEY (or the data dir's secret.key) it was made with; secrets cannot be read or changed meanwhile"
        : null;
    if (this.keyProblem) log.error(this.keyProblem);
  }

  set(tenant: string, name: string, value: string): SecretInfo & { replaced: boolean } {
    this.assertKey();
    checkSecretName(name);
    checkValue(value);
    const existing = this.store.get(tenant, name);
    if (!existing && this.store.count(tenant) >= MAX_SECRETS_PER_TENANT) {
      throw limitExceeded(`at most ${MAX_SECRETS_PER_TENANT} secrets per tenant: secret_delete ones you no longer use`);
    }
    this.store.put(tenant, name, seal(this.key, tenant, name, value), new Date().toISOString());
    const row = this.store.get(tenant, name);
    if (!row) throw new BoxdError("INTERNAL", `secret ${name} was not stored`);
    return { name, createdAt: row.createdAt, updatedAt: row.updatedAt, replaced: existing !== null };
  }

  list(tenant: string): SecretInfo[] {
    return this.store.list(tenant).map(({ name, createdAt, updatedAt }) => ({ name, createdAt, updatedAt }));
  }

  delete(tenant: string, name: string): { name: string; deleted: true } {
    this.assertKey();
    checkSecretName(name);
    if (!this.store.delete(tenant, name))
      throw notFound(`no secret "${name}": secret_list shows the secrets that exist`);
    return { name, deleted: true };
  }

  /** Whether the tenant has this secret (refused while the store cannot be read: see keyProblem). */
  has(tenant: string, name: string): boolean {
    this.assertKey();
    return this.store.get(tenant, name) !== null;
  }

  /** The plain value for the egress proxy's header injection (and nothing else); null when absent or unreadable. */
  reveal(tenant: string, name: string): string | null {
    const row = this.store.get(tenant, name);
    return row ? unseal(this.key, tenant, name, row) : null;
  }

  private assertKey(): void {
    if (this.keyProblem) throw new BoxdError("INTERNAL", this.keyProblem);
  }
}
