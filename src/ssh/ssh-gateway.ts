// The SSH gateway: an ssh2 server in the boxd process (`boxd serve --ssh`, BOXD_SSH_PORT), started as a
// background job. `ssh <box id or name>@host -p PORT` opens a shell in the box; exec, sftp/scp and local
// port forwarding work too (connection.ts, session-channel.ts, forwarding.ts). Its host key is kept in the
// data dir. stop() closes the listener, ends every connection and every process a channel started.
import type { AddressInfo } from "node:net";
import ssh2 from "ssh2";
import type { BackgroundService } from "../background.js";
import { type TokenSources, TokenTable } from "../http/auth.js";
import { SshAuthenticator } from "./authenticator.js";
import { loadAuthorizedKeys } from "./authorized-keys.js";
import type { BoxProcess } from "./box-process.js";
import { type ConnectionContext, type GatewayDeps, handleConnection } from "./connection.js";
import { loadOrCreateHostKey } from "./host-key.js";
import { localSshToken } from "./local-token.js";
import { FailureLimiter } from "./rate-limit.js";

// ssh2 is CommonJS: Node's ESM loader sees only some of its named exports, so go through the default.
const { Server } = ssh2;

export interface SshSettings {
  host: string;
  port: number;
  /** BOXD_SSH_AUTHORIZED_KEYS ("" for none). */
  authorizedKeys: string;
  dataDir: string;
  tokens: TokenSources;
}

/** How clients reach the gateway, once it listens. */
export interface SshEndpoint {
  host: string;
  port: number;
  fingerprint: string;
}

/** Server keepalives: a client that vanished without a FIN is noticed within about a minute. */
const KEEPALIVE_MS = 15_000;
const KEEPALIVE_MAX = 4;
const STOP_WAIT_MS = 10_000;

export class SshGateway implements BackgroundService {
  private server: ssh2.Server | null = null;
  private readonly clients = new Set<{ end(): void }>();
  private readonly running = new Set<BoxProcess>();
  /** Set once started. */
  endpoint: SshEndpoint | null = null;

  constructor(
    private readonly settings: SshSettings,
    private readonly deps: GatewayDeps,
  ) {}

  async start(): Promise<void> {
    const { settings, deps } = this;
    const hostKey = loadOrCreateHostKey(settings.dataDir);
    const keys = loadAuthorizedKeys(settings.authorizedKeys);
    const tokens = TokenTable.load(settings.tokens);
    for (const w of [...keys.warnings, ...tokens.warnings]) deps.log.warn(w);
    const ctx: ConnectionContext = {
      deps,
      auth: new SshAuthenticator(tokens, () => localSshToken(settings.dataDir), keys.keys),
      limiter: new FailureLimiter(),
      running: this.running,
    };
    const server = new Server(
      {
        hostKeys: [hostKey.privateKey],
        ident: "boxd",
        keepaliveInterval: KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_MAX,
      },
      (client, info) => {
        this.clients.add(client);
        client.once("close", () => this.clients.delete(client));
        handleConnection(client, info, ctx);
      },
    );
    server.on("error", (err: Error) => deps.log.warn("ssh server error", { error: String(err) }));
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(settings.port, settings.host, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
    this.server = server;
    this.endpoint = { host: settings.host, port, fingerprint: hostKey.fingerprint };
    deps.log.info(`SSH gateway listening on ${settings.host}:${port}`, { fingerprint: hostKey.fingerprint });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.close();
    for (const c of this.clients) c.end();
    // Every process a channel started ends with it (a few execs in the boxes); bounded, so stop never hangs.
    const kills = [...this.running].map((p) => {
      p.exec.detach();
      return p.kill().catch(() => {});
    });
    await Promise.race([Promise.all(kills), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
  }
}
