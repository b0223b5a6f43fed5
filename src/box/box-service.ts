// Boxes: create, find, list and delete, each under the box's lock, with every Docker object labelled with
// this instance's id. Nothing here speaks MCP; tools call this service.
import type { DockerEngine } from "../docker/engine.js";
import { alreadyExists, BoxdError, conflict, invalidArgument, notFound } from "../errors.js";
import type { BoxEventEmitter } from "../events/box-events.js";
import { type ImageSet, isRuntime, needsRegistry, type Runtime } from "../images/definitions.js";
import type { Logger } from "../log.js";
import type { BoxStore } from "../state/box-store.js";
import type { RunStore } from "../state/run-store.js";
import { isBoxId, newBoxId } from "./ids.js";
import { KeyLock } from "./key-lock.js";
import { provisionBox } from "./provision.js";
import { countRunsOf, TenantLimits } from "./tenant-limits.js";
import { type BoxRecord, type BoxView, type NetworkPolicy, SIZES, type Size, toBoxView } from "./types.js";
import { checkEnv, checkLabels, checkName, parseLabelFilter } from "./validation.js";

export interface CreateBoxInput {
  name?: string;
  runtime?: string;
  size?: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  keepAlive?: boolean;
  idleTimeoutSeconds?: number;
  networkPolicy?: NetworkPolicy;
  initCommand?: string;
  fromSnapshot?: string;
}

/** What box creation and deletion need from the network layer. */
export interface BoxNetwork {
  check(policy: NetworkPolicy): { notes: string[] };
  apply(box: BoxRecord): Promise<void>;
  remove(box: Pick<BoxRecord, "id" | "subnetIndex">): Promise<void>;
  bridgeFor(boxId: string): string | undefined;
  readonly containerDns: string[];
}

/** A snapshot a new box can start from. */
export interface SnapshotSource {
  id: string;
  image: string;
  runtime: string;
}

export interface BoxServiceDeps {
  engine: DockerEngine;
  boxes: BoxStore;
  runs: RunStore;
  images: ImageSet;
  instanceId: string;
  networkPool: string;
  defaultIdleTimeoutSeconds: number;
  log: Logger;
  /** Finds a ready snapshot of the tenant by id or name (the snapshot service). */
  resolveSnapshot?: (tenant: string, ref: string) => SnapshotSource;
  /** Announces created, started, claimed and deleted (initCommand, snapshot GC, the pool subscribe). */
  events: BoxEventEmitter;
  /** Egress enforcement (the network service); absent in unit setups. */
  network?: BoxNetwork;
  /** Lifecycle events for the box's log. */
  event?: (boxId: string, level: "info" | "warn" | "error", message: string) => void;
  /** Per-tenant quotas (shared with the run service); none when absent. */
  limits?: TenantLimits;
}

/** The owner of warm-pool boxes: no client's tenant can be empty. */
export const POOL_TENANT = "";

export class BoxService {
  readonly lock = new KeyLock();
  readonly limits: TenantLimits;
  private hostCpus: number | null = null;

  constructor(private readonly deps: BoxServiceDeps) {
    this.limits = deps.limits ?? new TenantLimits();
  }

  get instanceId(): string {
    return this.deps.instanceId;
  }

  view(box: BoxRecord): BoxView {
    return toBoxView(box, this.deps.runs.hasLiveRun(box.id));
  }

  /** Finds a live box of the tenant by id or name; another tenant's box is NOT_FOUND too. */
  resolve(tenant: string, ref: string): BoxRecord {
    const box = isBoxId(ref) ? this.deps.boxes.get(ref) : this.deps.boxes.getByName(tenant, ref);
    if (!box || box.tenant !== tenant) {
      throw notFound(`no box "${ref}": box_list shows the boxes that exist`);
    }
    if (box.status === "deleted") throw notFound(`box "${ref}" was deleted at ${box.deletedAt}`);
    return box;
  }

  /** Like resolve(), but deleted boxes are found too (their snapshots and logs outlive them). */
  resolveAny(tenant: string, ref: string): BoxRecord {
    const box = isBoxId(ref) ? this.deps.boxes.get(ref) : this.deps.boxes.getByName(tenant, ref);
    if (!box || box.tenant !== tenant) throw notFound(`no box "${ref}": box_list shows the boxes that exist`);
    return box;
  }

  list(tenant: string, filter: { status?: string; label?: string } = {}): BoxView[] {
    const all = this.deps.boxes.list({ tenant, includeDeleted: filter.status === "deleted" });
    const label = filter.label ? parseLabelFilter(filter.label) : null;
    return all
      .map((b) => this.view(b))
      .filter((b) => !filter.status || b.status === filter.status)
      .filter(
        (b) => !label || (label.key in b.labels && (label.value === undefined || b.labels[label.key] === label.value)),
      );
  }

  private pooledFor(runtime: string, size: Size): BoxRecord | null {
    return (
      this.deps.boxes
        .list({ tenant: POOL_TENANT })
        .find((b) => b.status === "pooled" && b.runtime === runtime && b.size === size) ?? null
    );
  }

  /**
   * Claims a pooled box: a create that is a database update, the box's firewall rules and a thaw instead of
   * a network, a container and a start. Returns null when the box was taken meanwhile or could not wake.
   */
  private async claim(
    box: BoxRecord,
    tenant: string,
    c: Pick<
      BoxRecord,
      "name" | "env" | "labels" | "keepAlive" | "idleTimeoutSeconds" | "networkPolicy" | "initCommand"
    >,
  ): Promise<BoxView | null> {
    checkName(c.name);
    if (this.deps.boxes.getByName(tenant, c.name)) {
      throw alreadyExists(`a box named "${c.name}" already exists: pick another name or delete that box`);
    }
    return this.lock.run(box.id, async () => {
      const current = this.deps.boxes.get(box.id);
      if (current?.status !== "pooled" || !current.containerId) return null;
      // As in create(): checked with no await before the box becomes the tenant's.
      this.limits.assertCanCreateBox(tenant, this.deps.boxes.list({ tenant }).length);
      try {
        this.deps.boxes.claim(box.id, { tenant, ...c });
        const claimed = this.mustGet(box.id);
        // Both at once: nothing of the tenant's runs in the box before the claim returns, and the pooled
        // box's own rules stay in force until the new ones replace them.
        await Promise.all([
          this.deps.network?.apply(claimed),
          this.deps.engine.containers.unpause(current.containerId),
        ]);
        this.deps.event?.(box.id, "info", `box created (${claimed.runtime}, ${claimed.size}, from the warm pool)`);
        this.deps.events.emit("claimed", { box: claimed });
        return this.view(this.mustGet(box.id));
      } catch (err) {
        this.deps.log.warn("claiming a pooled box failed; creating one instead", { box: box.id, error: String(err) });
        await this.teardown(current).catch(() => {});
        this.deps.boxes.update(box.id, { status: "deleted", deletedAt: new Date().toISOString() });
        return null;
      }
    });
  }

  /** Every live box of every tenant (operators, reconciliation, tests). */
  listAll(): BoxRecord[] {
    return this.deps.boxes.list();
  }

  async create(tenant: string, input: CreateBoxInput): Promise<BoxView & { notes?: string[] }> {
    const snapshot = input.fromSnapshot ? this.snapshotSource(tenant, input.fromSnapshot) : null;
    if (snapshot && input.runtime && input.runtime !== snapshot.runtime) {
      throw invalidArgument(
        `snapshot ${snapshot.id} is of runtime ${snapshot.runtime}; leave runtime out or pass that`,
      );
    }
    const runtime = snapshot?.runtime ?? input.runtime ?? "node";
    if (!isRuntime(runtime)) {
      throw invalidArgument(
        `unknown runtime "${runtime}": use node, python, golang, ruby or rust (each also with -alpine)`,
      );
    }
    const size = (input.size ?? "small") as Size;
    if (!SIZES.includes(size)) throw invalidArgument(`unknown size "${input.size}": use small, medium or large`);
    const env = input.env ?? {};
    const labels = input.labels ?? {};
    checkEnv(env);
    checkLabels(labels);
    const notes = this.deps.network?.check(input.networkPolicy ?? { mode: "allow-all" }).notes ?? [];
    const id = newBoxId();
    const name = input.name ?? id.replace("box_", "b-");
    checkName(name);
    if (this.deps.boxes.getByName(tenant, name)) {
      throw alreadyExists(`a box named "${name}" already exists: pick another name or delete that box`);
    }
    if (input.initCommand?.includes("\0")) {
      throw invalidArgument("initCommand contains a NUL byte");
    }
    const networkPolicy = input.networkPolicy ?? { mode: "allow-all" as const };
    const pooled = !snapshot && tenant !== POOL_TENANT ? this.pooledFor(runtime, size) : null;
    if (pooled) {
      const claimed = await this.claim(pooled, tenant, {
        name: input.name ?? pooled.id.replace("box_", "b-"),
        env,
        labels,
        keepAlive: input.keepAlive ?? false,
        idleTimeoutSeconds: input.idleTimeoutSeconds ?? this.deps.defaultIdleTimeoutSeconds,
        networkPolicy,
        initCommand: input.initCommand?.trim() ? input.initCommand : null,
      });
      if (claimed) return { ...claimed, ...(notes.length ? { notes } : {}) };
    }
    const image = snapshot ? snapshot.image : await this.imageFor(runtime);
    // Checked right before the insert, with no await in between: concurrent creates cannot both pass.
    if (tenant !== POOL_TENANT) this.limits.assertCanCreateBox(tenant, this.deps.boxes.list({ tenant }).length);

    const now = new Date().toISOString();
    const record: BoxRecord = {
      id,
      tenant,
      name,
      runtime,
      size,
      status: "creating",
      keepAlive: input.keepAlive ?? false,
      idleTimeoutSeconds: input.idleTimeoutSeconds ?? this.deps.defaultIdleTimeoutSeconds,
      networkPolicy: input.networkPolicy ?? { mode: "allow-all" },
      image,
      env,
      labels,
      fromSnapshot: snapshot?.id ?? null,
      containerId: null,
      networkName: null,
      subnetIndex: null,
      createdAt: now,
      lastActiveAt: now,
      pausedAt: null,
      pauseKind: null,
      deletedAt: null,
      error: null,
      usage: { cpuNs: 0, memoryPeakBytes: 0, runs: 0 },
      initCommand: input.initCommand?.trim() ? input.initCommand : null,
    };
    try {
      this.deps.boxes.insert(record);
    } catch (err) {
      if (/UNIQUE/.test(String(err))) throw alreadyExists(`a box named "${name}" already exists`);
      throw err;
    }

    return this.lock.run(id, async () => {
      try {
        await provisionBox(this.deps, record, await this.cpus());
        this.deps.boxes.update(id, { status: "idle", containerId: record.containerId });
        this.deps.log.info("box created", { box: id, name, runtime });
        this.deps.event?.(
          id,
          "info",
          `box created (${runtime}, ${size}${snapshot ? `, from snapshot ${snapshot.id}` : ""})`,
        );
        const created = this.mustGet(id);
        this.deps.events.emit("created", { box: created });
        this.deps.events.emit("started", { box: created, reason: "create" });
        return { ...this.view(created), ...(notes.length ? { notes } : {}) };
      } catch (err) {
        await this.teardown(record).catch((e) =>
          this.deps.log.warn("cleanup after failed create failed", { box: id, error: String(e) }),
        );
        this.deps.boxes.update(id, { status: "deleted", deletedAt: new Date().toISOString(), error: String(err) });
        throw err;
      }
    });
  }

  async delete(tenant: string, ref: string): Promise<{ id: string; deleted: true }> {
    const box = this.resolve(tenant, ref);
    return this.lock.run(box.id, async () => {
      const current = this.mustGet(box.id);
      if (current.status === "deleted") throw notFound(`box "${ref}" was already deleted`);
      await this.teardown(current);
      this.deps.boxes.update(box.id, { status: "deleted", deletedAt: new Date().toISOString() });
      this.deps.event?.(box.id, "info", "box deleted");
      this.deps.log.info("box deleted", { box: box.id });
      await this.deps.events.emitAndWait("deleted", { box: this.mustGet(box.id) });
      return { id: box.id, deleted: true as const };
    });
  }

  /** The container of a box that can run commands now; paused boxes are handled by the lifecycle layer. */
  requireContainer(box: BoxRecord): string {
    if (box.status === "creating") throw conflict(`box "${box.name}" is still being created: retry in a moment`);
    if (box.status === "error" || !box.containerId) {
      throw conflict(
        `box "${box.name}" is in error (${box.error ?? "its container is gone"}): delete it and create a new one`,
      );
    }
    return box.containerId;
  }

  /**
   * Admits a new run of `source` on the box under its tenant's concurrent-run limit (LIMIT_EXCEEDED beyond
   * it) and returns `source`; the box's own initCommand (source "system") is never refused. The run service
   * calls this after its last await before registering the run, so concurrent calls cannot both slip under.
   */
  admitRun<S extends string>(boxId: string, source: S, live: Iterable<{ record: { boxId: string } }>): S {
    if (source === "system") return source;
    const tenant = this.mustGet(boxId).tenant;
    const running = countRunsOf(tenant, live, (id) => this.mustGet(id).tenant);
    this.limits.assertCanStartRun(tenant, running);
    return source;
  }

  /** Records activity (the idle timer counts from here). */
  touch(boxId: string): void {
    this.deps.boxes.update(boxId, { lastActiveAt: new Date().toISOString() });
  }

  mustGet(id: string): BoxRecord {
    const box = this.deps.boxes.get(id);
    if (!box) throw notFound(`no box "${id}"`);
    return box;
  }

  private snapshotSource(tenant: string, ref: string): SnapshotSource {
    if (!this.deps.resolveSnapshot) throw invalidArgument("snapshots are not available on this server");
    return this.deps.resolveSnapshot(tenant, ref);
  }

  private async imageFor(runtime: Runtime): Promise<string> {
    const def = this.deps.images.runtime(runtime);
    if (await this.deps.engine.images.inspect(def.ref)) return def.ref;
    const how = needsRegistry(runtime)
      ? `\`boxd images build --runtime ${runtime}\` on a machine that reaches a container registry (the -alpine variants are built from official registry images)`
      : `\`boxd images build --runtime ${runtime}\` (or \`npm run setup\`)`;
    throw new BoxdError("NOT_FOUND", `the ${runtime} box image (${def.ref}) is not built: run ${how}`);
  }

  private async cpus(): Promise<number> {
    if (this.hostCpus === null) this.hostCpus = (await this.deps.engine.info()).cpus;
    return this.hostCpus;
  }

  /** Removes a box's container, network and firewall rules; absent objects are fine. */
  async teardown(box: Pick<BoxRecord, "id" | "containerId" | "networkName" | "subnetIndex">): Promise<void> {
    if (box.containerId) await this.deps.engine.containers.remove(box.containerId);
    if (box.networkName) await this.deps.engine.networks.remove(box.networkName);
    await this.deps.network?.remove(box);
  }

  /** box_set_network_policy: takes effect on the box's next connection, without recreating it. */
  async setNetworkPolicy(tenant: string, ref: string, policy: NetworkPolicy): Promise<BoxView & { notes?: string[] }> {
    const box = this.resolve(tenant, ref);
    const { notes } = this.deps.network?.check(policy) ?? { notes: [] };
    return this.lock.run(box.id, async () => {
      const current = this.mustGet(box.id);
      this.requireContainer(current);
      const previous = current.networkPolicy;
      this.deps.boxes.update(box.id, { networkPolicy: policy });
      try {
        await this.deps.network?.apply({ ...current, networkPolicy: policy });
      } catch (err) {
        this.deps.boxes.update(box.id, { networkPolicy: previous });
        throw err;
      }
      this.deps.event?.(box.id, "info", `network policy set to ${policy.mode}`);
      return { ...this.view(this.mustGet(box.id)), ...(notes.length ? { notes } : {}) };
    });
  }
}
