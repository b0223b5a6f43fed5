// Boxes: create, find, list and delete, each under the box's lock, with every Docker object labelled with
// this instance's id. Nothing here speaks MCP; tools call this service.
import type { DockerEngine } from "../docker/engine.js";
import { instanceLabels, LABEL_BOX_ID, LABEL_KIND, LABEL_RUNTIME } from "../docker/labels.js";
import { alreadyExists, BoxdError, conflict, invalidArgument, limitExceeded, notFound } from "../errors.js";
import { type ImageSet, isRuntime, needsRegistry, type Runtime } from "../images/definitions.js";
import type { Logger } from "../log.js";
import type { BoxStore } from "../state/box-store.js";
import type { RunStore } from "../state/run-store.js";
import { isBoxId, newBoxId } from "./ids.js";
import { KeyLock } from "./key-lock.js";
import { SUBNETS_PER_POOL, subnetAt } from "./network-pool.js";
import { limitsFor } from "./sizes.js";
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
  /** Called after a box's container has started (create); the lifecycle layer runs initCommand here. */
  afterStart?: (box: BoxRecord) => void;
  /** Called after a box is deleted (snapshot images no box uses any more are collected here). */
  afterDelete?: (box: BoxRecord) => Promise<void>;
  /** Egress enforcement (the network service); absent in unit setups. */
  network?: BoxNetwork;
  /** Lifecycle events for the box's log. */
  event?: (boxId: string, level: "info" | "warn" | "error", message: string) => void;
}

const BOX_HOME = "/workspace/home";
const BOX_USER = "1000:1000";

export class BoxService {
  readonly lock = new KeyLock();
  private hostCpus: number | null = null;

  constructor(private readonly deps: BoxServiceDeps) {}

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
    const image = snapshot ? snapshot.image : await this.imageFor(runtime);

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
        await this.provision(record);
        this.deps.boxes.update(id, { status: "idle", containerId: record.containerId });
        this.deps.log.info("box created", { box: id, name, runtime });
        this.deps.event?.(
          id,
          "info",
          `box created (${runtime}, ${size}${snapshot ? `, from snapshot ${snapshot.id}` : ""})`,
        );
        const created = this.mustGet(id);
        this.deps.afterStart?.(created);
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
      if (current.fromSnapshot) await this.deps.afterDelete?.(current).catch(() => {});
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

  /** Network then container, each labelled; subnets taken by other instances on the engine are skipped. */
  private async provision(box: BoxRecord): Promise<void> {
    const { engine, boxes, instanceId } = this.deps;
    const labels = instanceLabels(instanceId, { [LABEL_BOX_ID]: box.id });
    const networkName = `boxd-${instanceId}-${box.id}`;
    const skipped = new Set<number>();
    let subnet: ReturnType<typeof subnetAt> | null = null;
    for (let attempt = 0; attempt < 64 && !subnet; attempt++) {
      const index = this.freeIndex(skipped);
      const candidate = subnetAt(this.deps.networkPool, index);
      boxes.update(box.id, { subnetIndex: index, networkName });
      box.subnetIndex = index;
      box.networkName = networkName;
      try {
        await engine.networks.create({
          name: networkName,
          subnet: candidate.cidr,
          gateway: candidate.gateway,
          labels: { ...labels, [LABEL_KIND]: "box-network" },
          bridgeName: this.deps.network?.bridgeFor(box.id),
        });
        subnet = candidate;
      } catch (err) {
        if (!/overlap/i.test((err as Error).message)) throw err;
        skipped.add(index); // held by another instance or network on this engine
      }
    }
    if (!subnet) throw limitExceeded(`no free subnet in ${this.deps.networkPool}: set BOXD_NETWORK_POOL`);

    box.containerId = await engine.containers.create({
      name: `boxd-${instanceId}-${box.id}`,
      image: box.image,
      labels: { ...labels, [LABEL_KIND]: "box", [LABEL_RUNTIME]: box.runtime },
      env: Object.entries(box.env).map(([k, v]) => `${k}=${v}`),
      user: BOX_USER,
      workingDir: BOX_HOME,
      hostname: box.name.replace(/[^a-z0-9-]/g, "-").slice(0, 63),
      network: { name: networkName, ip: subnet.boxIp },
      dns: this.deps.network?.containerDns,
      limits: limitsFor(box.size, await this.cpus()),
    });
    boxes.update(box.id, { containerId: box.containerId });
    // The policy is in force before the box's first process starts.
    await this.deps.network?.apply(box);
    await engine.containers.start(box.containerId);
  }

  private freeIndex(skipped: Set<number>): number {
    // Synchronous pick-and-record (no await in between), so concurrent creates never take one subnet.
    const index = this.deps.boxes.freeSubnetIndex(SUBNETS_PER_POOL, skipped);
    if (index === null) {
      throw limitExceeded(`no free subnet in ${this.deps.networkPool}: delete boxes or set BOXD_NETWORK_POOL`);
    }
    return index;
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
