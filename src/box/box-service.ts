import { alreadyExists, BoxdError, conflict, invalidArgument, notFound } from "../errors.js";
import { needsRegistry, type Runtime } from "../images/definitions.js";
import { type AttachHeaders, type BoxRecord, type BoxView, type NetworkPolicy, toBoxView } from "../model/box.js";
import { collectPage, type Page, type PageRequest } from "../state/page-cursor.js";
import { type BoxPool, type BoxServiceDeps, checkAttach } from "./box-service-deps.js";
import { BoxState } from "./box-state.js";
import { planUpdate, type UpdateBoxInput } from "./box-update.js";
import {
  type CreateBoxInput,
  type CreateSettings,
  nameFor,
  newBoxRecord,
  normaliseCreate,
  type SnapshotSource,
} from "./create-settings.js";
import { type DeleteManyResult, deleteEach } from "./delete-many.js";
import { isBoxId, newBoxId } from "./ids.js";
import { IsolationRuntimes } from "./isolation.js";
import { provisionBox } from "./provision.js";
import type { HostResources } from "./sizes.js";
import { countRunsOf, TenantLimits } from "./tenant-limits.js";
import { goneReason, isExpired } from "./ttl.js";

export type { BoxNetwork } from "../model/box.js";

import { parseLabelFilter } from "./validation.js";

export type { BoxPool, BoxServiceDeps, BoxUsageMeter, ClaimRequest } from "./box-service-deps.js";
export type { UpdateBoxInput } from "./box-update.js";
export type { CreateBoxInput, SnapshotSource } from "./create-settings.js";
export type { DeleteManyResult } from "./delete-many.js";

/** The owner of warm-pool boxes: no client's tenant can be empty. */
export const POOL_TENANT = "";

export class BoxService {
  readonly limits: TenantLimits;
  private readonly state: BoxState;
  private host: HostResources | null = null;
  /** Set by the warm pool, which makes its boxes through this service and so is built after it. */
  private pool: BoxPool | null = null;
  private readonly runtimes: IsolationRuntimes;

  constructor(private readonly deps: BoxServiceDeps) {
    this.limits = deps.limits ?? new TenantLimits();
    this.state = new BoxState(deps.boxStore);
    this.runtimes = new IsolationRuntimes(deps.engine, deps.isolation.gvisorRuntime);
  }

  get instanceId(): string {
    return this.deps.instanceId;
  }

  attachPool(pool: BoxPool): void {
    this.pool = pool;
  }

  view(box: BoxRecord): BoxView {
    const agents = this.deps.runStore.agentTotals(box.id);
    const usage = { ...box.usage, ...(this.deps.usage ? this.deps.usage.total(box) : {}), ...agents };
    const metered = { ...box, usage };
    const version = this.deps.engine.containers.knownRuntimeVersion(box.image);
    const view = toBoxView(metered, this.deps.runStore.hasLiveRun(box.id), this.deps.disk?.of(box), version);
    const attach = box.status === "deleted" ? null : this.deps.attach?.summary(box.id);
    return attach ? { ...view, attachHeaders: attach } : view;
  }

  /** box_get: the box with its usage read from its container just now. */
  async get(tenant: string, ref: string): Promise<BoxView> {
    const box = this.resolve(tenant, ref);
    await this.deps.usage?.sample(box);
    return this.view(this.mustGet(box.id));
  }

  /**
   * Finds a live box of the tenant by id or name; another tenant's box is NOT_FOUND too, and so is a box
   * past its TTL whose deletion is still pending (the expiry job retries it): it is never used meanwhile.
   */
  resolve(tenant: string, ref: string): BoxRecord {
    const box = this.resolveAny(tenant, ref);
    if (box.status === "deleted") throw notFound(`box "${ref}" ${goneReason(box)}`);
    if (isExpired(box)) throw notFound(`box "${ref}" expired at ${box.expiresAt} (its ttlSeconds ran out)`);
    return box;
  }

  /** Like resolve(), but deleted boxes are found too (their snapshots and logs outlive them). */
  resolveAny(tenant: string, ref: string): BoxRecord {
    const box = this.find(tenant, ref);
    if (!box || box.tenant !== tenant) throw notFound(`no box "${ref}": box_list shows the boxes that exist`);
    return box;
  }

  private find(tenant: string, ref: string): BoxRecord | null {
    return isBoxId(ref) ? this.deps.boxStore.get(ref) : this.deps.boxStore.getByName(tenant, ref);
  }

  list(tenant: string, filter: { status?: string; label?: string } = {}): BoxView[] {
    const all = this.deps.boxStore.list({ tenant, includeDeleted: filter.status === "deleted" });
    const label = filter.label ? parseLabelFilter(filter.label) : null;
    return all
      .map((b) => this.view(b))
      .filter((b) => !filter.status || b.status === filter.status)
      .filter(
        (b) => !label || (label.key in b.labels && (label.value === undefined || b.labels[label.key] === label.value)),
      );
  }

  /**
   * One page of the tenant's boxes, oldest first. The status filter is on the shown status (which SQL does
   * not have), so it and the label filter apply to each fetched batch; the cursor is the last shown box's key.
   */
  page(tenant: string, filter: { status?: string; label?: string }, request: PageRequest): Page<BoxView> {
    const label = filter.label ? parseLabelFilter(filter.label) : null;
    return collectPage({
      request,
      cursors: this.deps.cursors,
      where: { list: "box_list", tenant },
      fetch: (after, n) => this.deps.boxStore.pageOfTenant(tenant, filter.status === "deleted", after, n),
      keyOf: (r) => r.key,
      toItem: (r) => this.view(r.box),
      keep: (b) =>
        (b.status === "deleted" || !isExpired(b)) &&
        (!filter.status || b.status === filter.status) &&
        (!label || (label.key in b.labels && (label.value === undefined || b.labels[label.key] === label.value))),
    });
  }

  /** Every live box of every tenant (operators, reconciliation, tests). */
  listAll(): BoxRecord[] {
    return this.deps.boxStore.list();
  }

  async create(tenant: string, input: CreateBoxInput): Promise<BoxView & { notes?: string[] }> {
    const snapshot = input.fromSnapshot ? this.snapshotSource(tenant, input.fromSnapshot) : null;
    const settings = normaliseCreate(input, {
      idleTimeoutSeconds: this.deps.defaultIdleTimeoutSeconds,
      snapshot,
      checkPolicy: (policy) => this.deps.network?.check(policy) ?? { notes: [] },
      isolation: this.deps.isolation.default,
    });
    await this.runtimes.assertAvailable(settings.isolation);
    if (settings.name !== null) this.assertNameFree(tenant, settings.name);
    const attach = checkAttach(this.deps.attach, tenant, input.attachHeaders);
    const withNotes = (view: BoxView) => (settings.notes.length ? { ...view, notes: settings.notes } : view);
    // A box with attachHeaders is made new: the egress CA goes into its trust before its first process.
    if (!snapshot && !attach && tenant !== POOL_TENANT && this.pool) {
      const claimed = await this.pool.claim(tenant, {
        settings,
        // As for a new box: checked with no await before the box becomes the tenant's.
        admit: (name) => {
          this.assertNameFree(tenant, name);
          this.limits.assertCanCreateBox(tenant, this.deps.boxStore.list({ tenant }).length);
        },
      });
      if (claimed) {
        this.deps.event?.(claimed.id, "info", `box created (${claimed.runtime}, ${claimed.size}, from the warm pool)`);
        this.deps.events.emit("claimed", { box: this.mustGet(claimed.id) });
        return withNotes(this.view(this.mustGet(claimed.id)));
      }
    }
    return withNotes(await this.createNew(tenant, settings, attach));
  }

  /** Makes a new box: its record, then (under its lock) its network, firewall rules and container. */
  private async createNew(tenant: string, settings: CreateSettings, attach: AttachHeaders | null): Promise<BoxView> {
    const id = newBoxId();
    const name = nameFor(settings, id);
    if (settings.name === null) this.assertNameFree(tenant, name);
    const image = settings.snapshot ? settings.snapshot.image : await this.imageFor(settings.runtime);
    // Checked right before the insert, with no await in between: concurrent creates cannot both pass.
    if (tenant !== POOL_TENANT) this.limits.assertCanCreateBox(tenant, this.deps.boxStore.list({ tenant }).length);
    const record = newBoxRecord(settings, { id, tenant, name, image });
    try {
      this.state.insertCreating(record);
    } catch (err) {
      if (/UNIQUE/.test(String(err))) throw alreadyExists(`a box named "${name}" already exists`);
      throw err;
    }
    if (attach) this.deps.attach?.set(id, attach);
    return this.deps.lock.run(id, async () => {
      try {
        await provisionBox(this.deps, record, await this.hostResources());
        this.state.markCreated(id, record.containerId);
      } catch (err) {
        await this.teardown(record).catch((e) =>
          this.deps.log.warn("cleanup after failed create failed", { box: id, error: String(e) }),
        );
        this.quietly(() => this.state.markCreateFailed(id, String(err)), id);
        throw err;
      }
      this.deps.log.info("box created", { box: id, name, runtime: settings.runtime });
      const from = settings.snapshot ? `, from snapshot ${settings.snapshot.id}` : "";
      this.deps.event?.(id, "info", `box created (${settings.runtime}, ${settings.size}${from})`);
      const created = this.mustGet(id);
      this.deps.events.emit("created", { box: created });
      this.deps.events.emit("started", { box: created, reason: "create" });
      return this.view(created);
    });
  }

  /** Boxes (not deleted) the tenant has now. */
  countOf(tenant: string): number {
    return this.deps.boxStore.list({ tenant }).length;
  }

  assertNameFree(tenant: string, name: string): void {
    if (this.deps.boxStore.getByName(tenant, name)) {
      throw alreadyExists(`a box named "${name}" already exists: pick another name or delete that box`);
    }
  }

  /** A transition on a path that already fails: its own failure is logged, the first one reported. */
  private quietly(transition: () => void, boxId: string): void {
    try {
      transition();
    } catch (err) {
      this.deps.log.warn("could not record a box's state after a failure", { box: boxId, error: String(err) });
    }
  }

  /** box_delete with a list: each box on its own, a few at a time; failures are reported, not thrown. */
  deleteMany(tenant: string, refs: readonly string[]): Promise<DeleteManyResult> {
    return deleteEach(refs, (ref) => this.delete(tenant, ref));
  }

  async delete(tenant: string, ref: string): Promise<{ id: string; deleted: true }> {
    // An expired box whose deletion is pending may be deleted by hand: the outcome is the same.
    const box = this.resolveAny(tenant, ref);
    if (box.status === "deleted") throw notFound(`box "${ref}" ${goneReason(box)}`);
    return this.deps.lock.run(box.id, async () => {
      const current = this.mustGet(box.id);
      if (current.status === "deleted") throw notFound(`box "${ref}" was already deleted`);
      await this.remove(current, "box deleted");
      return { id: box.id, deleted: true as const };
    });
  }

  /**
   * Deletes a box whose TTL ran out (the expiry job), whatever its state: its container goes with its runs.
   * False when it is no longer due (deleted meanwhile, or box_update gave it a new TTL). A failure (engine
   * down) leaves the box as it was, refused by resolve(), for the job to try again.
   */
  async expire(boxId: string): Promise<boolean> {
    return this.deps.lock.run(boxId, async () => {
      const current = this.mustGet(boxId);
      if (current.status === "deleted" || !isExpired(current)) return false;
      await this.remove(
        current,
        `box expired: its ttlSeconds ran out at ${current.expiresAt}; deleted (snapshots kept)`,
      );
      return true;
    });
  }

  /** Tears a box down and records it deleted, under its lock; `why` goes into its log. */
  private async remove(box: BoxRecord, why: string): Promise<void> {
    // Its last figures, before the container (and its cgroup) goes.
    await this.deps.usage?.sample(box);
    await this.teardown(box);
    this.state.markDeleted(box.id);
    this.deps.attach?.set(box.id, null);
    this.deps.event?.(box.id, "info", why);
    this.deps.log.info(why, { box: box.id });
    await this.deps.events.emitAndWait("deleted", { box: this.mustGet(box.id) });
  }

  /**
   * box_update: changes the box's settings under its lock (any live state: a paused box stays paused), logs
   * each change and announces `updated` (the idle timer and the expiry job re-arm on it).
   */
  async update(tenant: string, ref: string, input: UpdateBoxInput): Promise<BoxView> {
    const box = this.resolve(tenant, ref);
    return this.deps.lock.run(box.id, async () => {
      const current = this.resolve(tenant, box.id);
      const { attachHeaders, ...rest } = input;
      const attach = attachHeaders === undefined ? undefined : checkAttach(this.deps.attach, tenant, attachHeaders);
      const onlyAttach = attach !== undefined && Object.values(rest).every((v) => v === undefined);
      const { patch, changes } = onlyAttach ? { patch: {}, changes: [] } : planUpdate(current, input);
      if (attach !== undefined) changes.push(await this.updateAttach(current, attach));
      this.deps.boxStore.update(box.id, patch);
      for (const change of changes) this.deps.event?.(box.id, "info", `updated: ${change}`);
      const updated = this.mustGet(box.id);
      this.deps.events.emit("updated", { box: updated, changes });
      return this.view(updated);
    });
  }

  /**
   * Sets a box's attachHeaders: the CA into its trust first (the box may be paused: the engine writes it
   * anyway), then the firewall sends its 80/443 traffic through the proxy (or no longer does).
   */
  private async updateAttach(box: BoxRecord, attach: AttachHeaders | null): Promise<string> {
    if (attach && box.containerId) await this.deps.attach?.installTrust(box.containerId);
    this.deps.attach?.set(box.id, attach);
    await this.deps.network?.apply(box);
    const hosts = attach ? Object.keys(attach).join(", ") : "";
    return attach ? `attachHeaders set for ${hosts} (from the next connection)` : "attachHeaders removed";
  }

  /** Adds one host's headers to the box's attachHeaders, under its lock (agent keys: provider-keys.ts). */
  async attachHost(boxId: string, host: string, headers: Record<string, string>): Promise<void> {
    await this.deps.lock.run(boxId, async () => {
      const current = this.mustGet(boxId);
      const change = await this.updateAttach(current, { ...this.deps.attach?.get(boxId), [host]: headers });
      this.deps.event?.(boxId, "info", `updated: ${change}`);
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
    const running = countRunsOf(tenant, live, (id) => this.deps.boxStore.tenantOf(id) ?? "");
    this.limits.assertCanStartRun(tenant, running);
    return source;
  }

  /** Records activity (the idle timer counts from here). */
  touch(boxId: string): void {
    this.deps.boxStore.update(boxId, { lastActiveAt: new Date().toISOString() });
  }

  mustGet(id: string): BoxRecord {
    const box = this.deps.boxStore.get(id);
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

  /** The engine host's CPUs and memory (the engine's host, which a remote DOCKER_HOST makes another one). */
  private async hostResources(): Promise<HostResources> {
    if (this.host === null) {
      const info = await this.deps.engine.info();
      this.host = { cpus: info.cpus, memoryBytes: info.memoryBytes };
    }
    return this.host;
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
    return this.deps.lock.run(box.id, async () => {
      const current = this.mustGet(box.id);
      this.requireContainer(current);
      const previous = current.networkPolicy;
      this.deps.boxStore.update(box.id, { networkPolicy: policy });
      try {
        await this.deps.network?.apply({ ...current, networkPolicy: policy });
      } catch (err) {
        this.deps.boxStore.update(box.id, { networkPolicy: previous });
        throw err;
      }
      this.deps.event?.(box.id, "info", `network policy set to ${policy.mode}`);
      return { ...this.view(this.mustGet(box.id)), ...(notes.length ? { notes } : {}) };
    });
  }
}
