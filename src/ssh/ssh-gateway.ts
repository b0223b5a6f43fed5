// The SSH gateway: an ssh2 server in the boxd process (`boxd serve --ssh`, BOXD_SSH_PORT), started as a
// background job. `ssh <box id or name>@host -p PORT` opens a shell in the box; exec, sftp/scp and local
// port forwarding work too (connection.ts, session-channel.ts, forwarding.ts). Its host key is kept in the
// data dir. stop() closes the listener, ends every connection and every process a channel started.
import net, { type AddressInfo } from "node:net";
import ssh2 from "ssh2";
import type { BackgroundService } from "../background.js";
import { invalidArgument } from "../errors.js";
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
/** A connection must sign in within this (OpenSSH's LoginGraceTime is 120 s), silent sockets included. */
const LOGIN_GRACE_MS = 60_000;
/** Open connections at most; more are closed at once (bounds what idle sockets can hold). */
const MAX_CONNECTIONS = 256;

export class SshGateway implements BackgroundService {
  private listener: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Sign-in deadlines by "address:port" (what ssh2 reports of a connection). */
  private readonly deadlines = new Map<string, NodeJS.Timeout>();
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
      signedIn: (from) => clearTimeout(this.deadlines.get(from)),
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
    // boxd owns the listening socket (ssh2 is handed each connection): the connection cap and the sign-in
    // deadline then cover sockets that never even send their version line.
    const listener = net.createServer((socket) => this.admit(socket, server));
    const port = await new Promise<number>((resolve, reject) => {
      listener.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          err.code === "EADDRINUSE" || err.code === "EACCES" || err.code === "EADDRNOTAVAIL"
            ? invalidArgument(
                `the SSH gateway cannot listen on ${settings.host}:${settings.port} (${err.code}): set BOXD_SSH_PORT / BOXD_SSH_HOST to a free port on an address of this host`,
              )
            : err,
        ),
      );
      listener.listen(settings.port, settings.host, () => {
        listener.removeAllListeners("error");
        resolve((listener.address() as AddressInfo).port);
      });
    });
    listener.on("error", (err: Error) => deps.log.warn("ssh listener error", { error: String(err) }));
    this.listener = listener;
    this.endpoint = { host: settings.host, port, fingerprint: hostKey.fingerprint };
    deps.log.info(`SSH gateway listening on ${settings.host}:${port}`, { fingerprint: hostKey.fingerprint });
  }

  private admit(socket: net.Socket, server: ssh2.Server): void {
    if (this.sockets.size >= MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    this.deadlines.set(
      key,
      setTimeout(() => socket.destroy(), LOGIN_GRACE_MS),
    );
    socket.once("close", () => {
      this.sockets.delete(socket);
      clearTimeout(this.deadlines.get(key));
      this.deadlines.delete(key);
    });
    server.injectSocket(socket);
  }

  /** Ends every process SSH channels run in a box (the disk guard's verdict); resolves with their number. */
  async endProcesses(boxId: string): Promise<number> {
    const ending = [...this.running].filter((p) => p.boxId === boxId);
    await Promise.all(
      ending.map((p) => {
        p.exec.detach();
        return p.kill().catch(() => {});
      }),
    );
    return ending.length;
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    this.listener = null;
    listener.close();
    for (const c of this.clients) c.end();
    // Every process a channel started ends with it (a few execs in the boxes); bounded, so stop never hangs.
    const kills = [...this.running].map((p) => {
      p.exec.detach();
      return p.kill().catch(() => {});
    });
    await Promise.race([Promise.all(kills), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    for (const socket of this.sockets) socket.destroy();
  }
}
