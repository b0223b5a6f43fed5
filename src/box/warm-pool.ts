// The warm pool: boxes made ahead of time (network, firewall rules, started container, the executor's
// connection open), so that box_create claims one instead of starting a container. They are left running,
// not frozen: nothing runs in them but the idle executor (no CPU), and a thaw would cost a claim ~15 ms.
// Refilled one box at a time in the background (never competing with itself for the CPU); entries older
// than the max age are replaced; every pooled box is removed on shutdown and on start (reconciliation), so
// they never outlive their server. A tenant's box_create claims a pooled box here (BoxService.create asks
// through BoxPool).
import type { DockerEngine } from "../docker/engine.js";
import type { Logger } from "../log.js";
import type { BoxRecord, Size } from "../model/box.js";
import type { BoxStore } from "../state/box-store.js";
import { type BoxNetwork, type BoxPool, type BoxService, type ClaimRequest, POOL_TENANT } from "./box-service.js";
import { BoxState } from "./box-state.js";
import { nameFor } from "./create-settings.js";
import type { KeyLock } from "./key-lock.js";
import { expiresAtFor } from "./ttl.js";

export interface PoolSpec {
  runtime: string;
  size: Size;
  count: number;
}

export function parsePoolSpecs(entries: string[]): PoolSpec[] {
  return entries.map((e) => {
    const [runtime, size, count] = e.split(":") as [string, Size, string];
    return { runtime, size, count: Number(count) };
  });
}

export interface WarmPoolDeps {
  boxes: BoxService;
  boxStore: BoxStore;
  engine: DockerEngine;
  /** The per-box lock shared with the other services. */
  lock: KeyLock;
  /** Applies a claimed box's own firewall rules; absent in unit setups. */
  network?: Pick<BoxNetwork, "apply">;
  specs: PoolSpec[];
  maxAgeSeconds: number;
  log: Logger;
}

const REFILL_DELAY_MS = 1500;

export class WarmPool implements BoxPool {
  private readonly state: BoxState;
  private filling: Promise<void> | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  /** A refill that waits for the claimed box's first commands to be done (see refillSoon). */
  private delayed: { done: Promise<void>; fire: () => void } | null = null;

  constructor(private readonly deps: WarmPoolDeps) {
    this.state = new BoxState(deps.boxStore);
    deps.boxes.attachPool(this);
  }

  get enabled(): boolean {
    return this.deps.specs.some((s) => s.count > 0);
  }

  start(): void {
    if (!this.enabled) return;
    this.refill();
    this.timer = setInterval(() => this.expire(), Math.min(60_000, this.deps.maxAgeSeconds * 500));
    this.timer.unref();
  }

  /** Waits for a refill in progress or scheduled (tests, benchmarks). */
  async settled(): Promise<void> {
    while (this.filling || this.delayed) await (this.filling ?? this.delayed?.done);
  }

  /** Stops refilling and removes every pooled box. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.delayed?.fire();
    if (this.timer) clearInterval(this.timer);
    await this.filling?.catch(() => {});
    for (const b of this.pooled()) await this.deps.boxes.delete(POOL_TENANT, b.id).catch(() => {});
  }

  /**
   * Claims a pooled box for a tenant's create: a database update, the box's firewall rules and a thaw
   * instead of a network, a container and a start. Null when no pooled box fits, or the one found was
   * taken meanwhile or could not wake (the caller then makes a new box).
   */
  async claim(tenant: string, { settings, admit }: ClaimRequest): Promise<BoxRecord | null> {
    const box = this.deps.boxStore
      .list({ tenant: POOL_TENANT })
      .find(
        (b) =>
          b.status === "pooled" &&
          b.runtime === settings.runtime &&
          b.size === settings.size &&
          b.isolation === settings.isolation &&
          b.root === settings.root,
      );
    if (!box) return null;
    const name = nameFor(settings, box.id);
    return this.deps.lock.run(box.id, async () => {
      const current = this.deps.boxStore.get(box.id);
      if (current?.status !== "pooled" || !current.containerId) return null;
      admit(name);
      try {
        const { env, labels, keepAlive, idleTimeoutSeconds, networkPolicy, initCommand } = settings;
        const expiresAt = expiresAtFor(settings.ttlSeconds);
        const claim = {
          tenant,
          name,
          env,
          labels,
          keepAlive,
          idleTimeoutSeconds,
          networkPolicy,
          initCommand,
          expiresAt,
        };
        this.state.claimFromPool(box.id, claim);
        const claimed = this.deps.boxes.mustGet(box.id);
        // Nothing of the tenant's runs in the box before the claim returns, so the pooled box's own rules
        // stay in force until these replace them (no work at all when the policy is the pooled default).
        await this.deps.network?.apply(claimed);
        this.refillSoon();
        return claimed;
      } catch (err) {
        this.deps.log.warn("claiming a pooled box failed; creating one instead", { box: box.id, error: String(err) });
        await this.deps.boxes.teardown(current).catch(() => {});
        this.state.markDeleted(box.id);
        return null;
      }
    });
  }

  /**
   * After a claim: refill a moment later. Making a box (a container start, a network) takes both cores of a
   * small host for a while; started at once it would slow the claimed box's first commands, the very thing
   * the pool is for.
   */
  private refillSoon(): void {
    if (this.delayed || this.stopped) return;
    let fire = () => {};
    const done = new Promise<void>((resolve) => {
      fire = () => {
        clearTimeout(timer);
        this.delayed = null;
        this.refill();
        resolve();
      };
    });
    const timer = setTimeout(() => fire(), REFILL_DELAY_MS);
    timer.unref();
    this.delayed = { done, fire };
  }

  refill(): void {
    if (this.filling || this.stopped || !this.enabled) return;
    this.filling = this.fill().finally(() => {
      this.filling = null;
    });
  }

  private pooled() {
    return this.deps.boxStore
      .list({ tenant: POOL_TENANT })
      .filter((b) => b.status === "pooled" || b.status === "creating" || b.status === "idle");
  }

  private async fill(): Promise<void> {
    for (const spec of this.deps.specs) {
      while (!this.stopped) {
        const have = this.pooled().filter((b) => b.runtime === spec.runtime && b.size === spec.size).length;
        if (have >= spec.count) break;
        try {
          const box = await this.deps.boxes.create(POOL_TENANT, {
            runtime: spec.runtime,
            size: spec.size,
            keepAlive: true,
          });
          const containerId = this.deps.boxes.requireContainer(this.deps.boxes.mustGet(box.id));
          // Its fast exec path open now: the claimed box's first command finds it.
          await this.deps.engine.execs.prepare(containerId);
          this.state.markPooled(box.id);
        } catch (err) {
          this.deps.log.warn("could not add a box to the warm pool", { spec, error: String(err) });
          return;
        }
      }
    }
  }

  private expire(): void {
    const tooOld = Date.now() - this.deps.maxAgeSeconds * 1000;
    const old = this.deps.boxStore
      .list({ tenant: POOL_TENANT })
      .filter((b) => b.status === "pooled" && Date.parse(b.createdAt) < tooOld);
    void (async () => {
      for (const b of old) await this.deps.boxes.delete(POOL_TENANT, b.id).catch(() => {});
      this.refill();
    })();
  }
}
