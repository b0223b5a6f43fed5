// The server's end of the network helper's channel (protocol in src/netd/protocol.ts): starts the helper
// through the engine, sends it the boxes, and answers what it asks (a box's rendered attachHeaders). A
// helper that goes away (killed, out of memory, the engine restarted) is started again, with every box,
// after a short wait (growing while starts fail) or at the next request, whichever comes first: rules in
// the kernel hold meanwhile, and only connections through the proxy fail.
import { createInterface } from "node:readline";
import type { NetdLink } from "../docker/netd-container.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  NETD_PROTOCOL,
  type NetdDown,
  type NetdInit,
  type NetdReady,
  type NetdRequest,
  type NetdUp,
  type RenderedHeaders,
} from "../netd/protocol.js";

export interface NetdHandlers {
  /** The current state to (re)initialise a helper with. */
  init(): NetdInit;
  /** A box's headers for a host its connection names (null: none, spliced as it is). */
  render(ip: string, host: string): RenderedHeaders | null;
  denied(ip: string, host: string, why: string): void;
}

const HELLO_TIMEOUT_MS = 30_000;
const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 30_000;
const REQUEST_TIMEOUT_MS = 60_000;

interface Live {
  link: NetdLink;
  ready: NetdReady;
}

export class NetdClient {
  private live: Promise<Live> | null = null;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closing = false;
  private restartDelay = RESTART_FIRST_MS;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly launch: () => Promise<NetdLink>,
    private readonly handlers: NetdHandlers,
    private readonly log: Logger,
  ) {}

  /** The running helper's facts (ports, iptables backend, Node), starting it when there is none. */
  async ready(): Promise<NetdReady> {
    return (await this.ensure()).ready;
  }

  /** The last started helper's facts without starting one (null before the first start). */
  current(): Promise<Live | null> {
    return this.live ? this.live.catch(() => null) : Promise.resolve(null);
  }

  async request<T = unknown>(req: NetdRequest): Promise<T> {
    const live = await this.ensure();
    return this.send<T>(live.link, req);
  }

  /** Ends the helper (its rules stay in the kernel). */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const live = await this.current();
    this.live = null;
    await live?.link.close();
  }

  private ensure(): Promise<Live> {
    if (this.closing) return Promise.reject(new BoxdError("INTERNAL", "the network helper is stopping"));
    if (!this.live) {
      this.live = this.start();
      this.live.catch(() => {
        this.live = null;
      });
    }
    return this.live;
  }

  private async start(): Promise<Live> {
    const link = await this.launch();
    const said: string[] = [];
    const hello = this.listen(link, said);
    const exited = link.ended.then(() => {
      throw new Error(
        `the network helper exited before its hello: ${said.join(" | ").slice(-1000) || "(it said nothing)"}`,
      );
    });
    try {
      await withTimeout(Promise.race([hello, exited]), HELLO_TIMEOUT_MS, "the network helper did not say hello");
      const ready = await this.send<NetdReady>(link, { op: "init", init: this.handlers.init() });
      this.log.info("network helper ready", { container: link.containerId.slice(0, 12), ...ready });
      return { link, ready };
    } catch (err) {
      await link.close().catch(() => {});
      throw err;
    }
  }

  /** Reads the helper's lines; resolves on its hello. */
  private listen(link: NetdLink, said: string[]): Promise<void> {
    let helloSeen: () => void = () => {};
    const hello = new Promise<void>((resolve) => {
      helloSeen = resolve;
    });
    createInterface({ input: link.output, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      let msg: NetdUp;
      try {
        msg = JSON.parse(line) as NetdUp;
      } catch {
        return this.log.warn("network helper wrote a line that is no message", { line: line.slice(0, 200) });
      }
      if (msg.t === "hello" && msg.version === NETD_PROTOCOL) helloSeen();
      else this.onMessage(link, msg);
    });
    createInterface({ input: link.errors }).on("line", (line) => {
      if (said.length < 50) said.push(line);
      this.log.debug("network helper", { line });
    });
    void link.ended.then(() => this.lost(link));
    return hello;
  }

  private onMessage(link: NetdLink, msg: NetdUp): void {
    if (msg.t === "reply") {
      const p = this.pending.get(msg.re);
      this.pending.delete(msg.re);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(msg.error));
    } else if (msg.t === "ask") {
      let headers: RenderedHeaders | null = null;
      try {
        headers = this.handlers.render(msg.ip, msg.host);
      } catch (err) {
        this.log.warn("attachHeaders could not be rendered", { error: String(err) });
      }
      this.write(link, { to: msg.ask, headers });
    } else if (msg.t === "denied") this.handlers.denied(msg.ip, msg.host, msg.why);
  }

  private send<T>(link: NetdLink, req: NetdRequest): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.write(link, { id, ...req });
    return withTimeout(reply, REQUEST_TIMEOUT_MS, `the network helper did not answer ${req.op}`).finally(() =>
      this.pending.delete(id),
    );
  }

  private write(link: NetdLink, msg: NetdDown): void {
    link.input.write(`${JSON.stringify(msg)}\n`);
  }

  /** The helper's channel ended: its requests fail, and the next one starts a new helper. */
  private lost(link: NetdLink): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error("the network helper went away"));
    }
    void this.current().then((live) => {
      if (live?.link !== link) return;
      this.live = null;
      if (this.closing) return;
      this.log.warn("network helper went away; starting a new one", { inMs: this.restartDelay });
      this.restartSoon();
    });
  }

  /** Starts a helper after the current delay unless a request did first; a failed start doubles the delay. */
  private restartSoon(): void {
    if (this.restartTimer || this.closing) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      this.ensure().then(
        () => {
          this.restartDelay = RESTART_FIRST_MS;
        },
        (err: Error) => {
          this.restartDelay = Math.min(this.restartDelay * 2, RESTART_MAX_MS);
          this.log.warn("network helper could not start; trying again", {
            error: err.message,
            inMs: this.restartDelay,
          });
          this.restartSoon();
        },
      );
    }, this.restartDelay);
    this.restartTimer.unref();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
