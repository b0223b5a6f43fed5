// The egress proxy's own certificate authority, for hosts whose requests get attachHeaders: a CA made once
// per boxd instance in the data dir (key mode 600, never copied into a box; only its certificate is, into
// the boxes' trust stores) and a leaf certificate per intercepted host, made on first use and cached.
// Node's crypto cannot make X.509 certificates, so the openssl CLI does (argv only, no shell; host names
// are checked to be plain DNS names first).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";

const run = promisify(execFile);
const OPENSSL = "openssl";
const LEAF_DAYS = 30;
/** A cached leaf is made again once this old (well inside its LEAF_DAYS). */
const LEAF_REFRESH_MS = 7 * 24 * 3600 * 1000;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export class EgressCa {
  private readonly dir: string;
  private readonly leaves = new Map<string, { made: number; context: Promise<tls.SecureContext> }>();
  private certPem = "";

  constructor(
    dataDir: string,
    private readonly instanceId: string,
  ) {
    this.dir = path.join(dataDir, "egress-ca");
  }

  /** The CA certificate (PEM) that boxes trust. */
  get certificate(): string {
    return this.certPem;
  }

  /** Makes the CA and the leaf key on first use; reads them afterwards. */
  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const key = this.file("ca.key");
    const cert = this.file("ca.crt");
    if (!existsSync(key) || !existsSync(cert)) {
      await run(OPENSSL, [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "3650",
        "-subj",
        `/O=boxd/CN=boxd egress CA ${this.instanceId}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]); // prettier-ignore
    }
    if (!existsSync(this.file("leaf.key"))) {
      await run(OPENSSL, [
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        this.file("leaf.key"),
      ]);
    }
    for (const f of ["ca.key", "leaf.key"]) chmodSync(this.file(f), 0o600);
    this.certPem = readFileSync(cert, "utf8");
  }

  /** The CA's files, for the network helper, which signs leaf certificates where the boxes' traffic is. */
  files(): { cert: string; key: string; leafKey: string } {
    return {
      cert: this.certPem,
      key: readFileSync(this.file("ca.key"), "utf8"),
      leafKey: readFileSync(this.file("leaf.key"), "utf8"),
    };
  }

  /** A TLS context presenting a certificate for `host` signed by this CA (null for a name that is no DNS name). */
  contextFor(host: string): Promise<tls.SecureContext> | null {
    if (!DNS_NAME.test(host)) return null;
    const cached = this.leaves.get(host);
    if (cached && Date.now() - cached.made < LEAF_REFRESH_MS) return cached.context;
    const context = this.mint(host);
    this.leaves.set(host, { made: Date.now(), context });
    context.catch(() => this.leaves.delete(host));
    return context;
  }

  private async mint(host: string): Promise<tls.SecureContext> {
    const { stdout } = await run(OPENSSL, [
      "req",
      "-new",
      "-x509",
      "-key",
      this.file("leaf.key"),
      "-subj",
      `/CN=${host}`,
      "-addext",
      `subjectAltName=DNS:${host}`,
      "-addext",
      "extendedKeyUsage=serverAuth",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-CA",
      this.file("ca.crt"),
      "-CAkey",
      this.file("ca.key"),
      "-days",
      String(LEAF_DAYS),
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
    ]); // prettier-ignore
    return tls.createSecureContext({ key: readFileSync(this.file("leaf.key")), cert: `${stdout}${this.certPem}` });
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }
}
