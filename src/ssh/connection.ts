// One SSH connection, from its first packet to its close: sign-in (rate-limited per source, a box of the
// signed-in tenant as the user name), then its channels. The box is woken on connect and held awake
// (LiveRunIndex.hold) until the connection closes, on every path; open and close go to the box log.
import type { AuthContext, ClientInfo, Connection, PublicKeyAuthContext } from "ssh2";
import type { DockerEngine } from "../docker/engine.js";
import type { Logger } from "../log.js";
import type { SshAuthenticator, SshIdentity } from "./authenticator.js";
import { type BoxProcess, startBoxProcess } from "./box-process.js";
import { forwardToBox } from "./forwarding.js";
import type { FailureLimiter } from "./rate-limit.js";
import { type ChannelHost, handleSession } from "./session-channel.js";

/** What the gateway needs of the rest of boxd (built by createApp). */
export interface GatewayDeps {
  engine: DockerEngine;
  /** A live box of the tenant by id or name; throws (NOT_FOUND) for unknown and other tenants' boxes. */
  resolve(tenant: string, ref: string): { id: string; name: string; networkName: string | null };
  ensureLive(boxId: string): Promise<{ containerId: string; resumed: boolean }>;
  /** Throws when the box may not start processes now (over its disk allowance), as for runs. */
  admit(boxId: string): void;
  /** Keeps the box awake until the returned function is called. */
  hold(boxId: string): () => void;
  touch(boxId: string): void;
  boxLog(boxId: string, level: "info" | "warn", message: string): void;
  log: Logger;
}

export interface ConnectionContext {
  deps: GatewayDeps;
  auth: SshAuthenticator;
  limiter: FailureLimiter;
  /** Every process the gateway's channels run (stop() ends them). */
  running: Set<BoxProcess>;
  /** Told when the connection from this address:port signed in (its sign-in deadline no longer applies). */
  signedIn(from: string): void;
}

const METHODS: AuthContext["method"][] = ["publickey", "password"];

type Box = ReturnType<GatewayDeps["resolve"]>;

export function handleConnection(client: Connection, info: ClientInfo, ctx: ConnectionContext): void {
  const source = info.ip;
  const from = `${info.ip}:${info.port}`;
  const { deps } = ctx;
  let signedIn: { box: Box; identity: SshIdentity } | null = null;
  const blockedAtStart = ctx.limiter.blockedFor(source);
  if (blockedAtStart) setBanner(client, refusal(source, blockedAtStart));
  client.on("error", (err) => deps.log.debug("ssh connection error", { from, error: String(err) }));
  client.on("authentication", (auth) => {
    const blocked = ctx.limiter.blockedFor(source);
    if (blocked) {
      auth.reject([]);
      client.end();
      return;
    }
    const verdict = check(auth, ctx);
    if (verdict === "ask") return;
    if (verdict === "fail") {
      ctx.limiter.fail(source);
      deps.log.info("ssh sign-in refused", { from, user: auth.username.slice(0, 80) });
      return auth.reject(METHODS);
    }
    if (verdict === "skip") return auth.reject(METHODS);
    signedIn = verdict;
    auth.accept();
  });
  client.on("ready", () => {
    ctx.signedIn(from);
    if (signedIn) connected(client, signedIn, from, ctx);
  });
}

type Verdict = { box: Box; identity: SshIdentity } | "fail" | "skip" | "ask";

/** Checks one sign-in attempt: "fail" counts against the source, "skip" (no credential given) does not. */
function check(auth: AuthContext, ctx: ConnectionContext): Verdict {
  let identity: SshIdentity | null = null;
  if (auth.method === "password") identity = ctx.auth.password(auth.password);
  else if (auth.method === "publickey") {
    const key = keyIdentity(auth, ctx);
    if (key === "ask" || key === "skip") {
      if (key === "ask") auth.accept();
      return key;
    }
    identity = key;
  } else return "skip";
  if (!identity) return "fail";
  // An unknown box and another tenant's box are refused exactly like a wrong password.
  try {
    return { box: ctx.deps.resolve(identity.tenant, auth.username), identity };
  } catch {
    return "fail";
  }
}

/** A key's identity once its signature is verified; "ask" answers a client asking whether a key would do. */
function keyIdentity(auth: PublicKeyAuthContext, ctx: ConnectionContext): SshIdentity | null | "ask" | "skip" {
  const known = ctx.auth.key(auth.key.algo, auth.key.data);
  // Offering an unknown key guesses nothing (a client tries each key it has): not counted.
  if (!known) return "skip";
  if (!auth.signature || !auth.blob) return "ask";
  if (known.key.verify(auth.blob, auth.signature, auth.hashAlgo) !== true) return null;
  return { tenant: known.tenant, who: `key "${known.label}"` };
}

/** The signed-in connection: hold the box awake, wake it, serve channels, log open and close. */
function connected(
  client: Connection,
  { box, identity }: { box: Box; identity: SshIdentity },
  from: string,
  ctx: ConnectionContext,
): void {
  const { deps } = ctx;
  const release = deps.hold(box.id);
  const opened = Date.now();
  const log = (message: string) => deps.boxLog(box.id, "info", message);
  log(`SSH session opened: tenant ${identity.tenant} (${identity.who}) from ${from}`);
  // Wake on connect: a paused box is up by the time the client asks for a shell.
  deps.ensureLive(box.id).catch((err) => deps.log.debug("ssh: wake failed", { box: box.id, error: String(err) }));
  const host: ChannelHost = {
    start: async (spec) => {
      deps.admit(box.id);
      const { containerId } = await deps.ensureLive(box.id);
      return startBoxProcess(deps.engine, { boxId: box.id, containerId }, spec);
    },
    log,
    running: ctx.running,
  };
  client.on("session", (accept) => handleSession(accept(), host));
  client.on("tcpip", (accept, reject, info) => {
    void forwardToBox(accept, reject, info, {
      names: [box.id, box.name],
      address: async () => {
        const { containerId } = await deps.ensureLive(box.id);
        return box.networkName ? deps.engine.containers.address(containerId, box.networkName) : null;
      },
      log,
    });
  });
  client.on("request", (_accept, reject, name) => {
    log(`SSH ${name} refused: remote forwarding is not offered`);
    reject?.();
  });
  client.on("openssh.streamlocal", (_accept, reject) => reject());
  client.once("close", () => {
    release();
    deps.touch(box.id);
    log(`SSH session closed after ${((Date.now() - opened) / 1000).toFixed(1)} s`);
  });
}

function refusal(source: string, ms: number): string {
  return `boxd: too many failed sign-ins from ${source}; try again in ${Math.ceil(ms / 1000)} s`;
}

/**
 * ssh2 sends a banner before the first sign-in reply but takes only one for the whole server; a refused
 * source gets its own by setting it on its connection's protocol (ssh2 1.x; test/integration covers it).
 */
function setBanner(client: Connection, text: string): void {
  const proto = (client as unknown as { _protocol?: { _banner?: string } })._protocol;
  if (proto) proto._banner = `${text}\r\n`;
}
