// Snapshots: a box's whole filesystem committed to an image (the container is frozen while it is
// captured, so the copy is consistent), labelled with this instance so it never leaks. New boxes can start
// from a snapshot any number of times; the source box is untouched, and deleting a box keeps its snapshots.
import type { BoxService, SnapshotSource } from "../box/box-service.js";
import { newSnapshotId } from "../box/ids.js";
import type { KeyLock } from "../box/key-lock.js";
import { checkName } from "../box/validation.js";
import type { DockerEngine } from "../docker/engine.js";
import { instanceLabels, LABEL_BOX_ID, LABEL_KIND } from "../docker/labels.js";
import { alreadyExists, conflict, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { BoxLog } from "../logs/box-log.js";
import { collectPage, type Page, type PageCursors, type PageRequest } from "../state/page-cursor.js";
import type { SnapshotRecord, SnapshotStore } from "../state/snapshot-store.js";

export const LABEL_SNAPSHOT_ID = "boxd.snapshot-id";

export interface SnapshotView {
  id: string;
  name: string;
  boxId: string;
  runtime: string;
  sizeBytes: number;
  status: SnapshotRecord["status"];
  createdAt: string;
  reason?: string;
}

export const toSnapshotView = (s: SnapshotRecord): SnapshotView => ({
  id: s.id,
  name: s.name,
  boxId: s.boxId,
  runtime: s.runtime,
  sizeBytes: s.sizeBytes,
  status: s.status,
  createdAt: s.createdAt,
  ...(s.error ? { reason: s.error } : {}),
});

/**
 * Finds the tenant's snapshots by id or name, needing only the store: box_create { fromSnapshot } uses it,
 * so the box service has it before the snapshot service (which itself needs the box service) exists.
 */
export class SnapshotSources {
  constructor(private readonly store: SnapshotStore) {}

  resolve(tenant: string, ref: string): SnapshotRecord {
    const s = ref.startsWith("snap_") ? this.store.get(ref) : this.store.getByName(tenant, ref);
    if (!s || s.tenant !== tenant) throw notFound(`no snapshot "${ref}": box_snapshot_list shows the snapshots`);
    return s;
  }

  /** For box_create { fromSnapshot }: a ready snapshot only. */
  source(tenant: string, ref: string): SnapshotSource {
    const s = this.resolve(tenant, ref);
    if (s.status !== "ready") throw conflict(`snapshot "${ref}" is ${s.status}, not ready: take a new one`);
    return { id: s.id, image: s.image, runtime: s.runtime };
  }
}

export interface SnapshotDeps {
  engine: DockerEngine;
  boxes: BoxService;
  snapshotStore: SnapshotStore;
  /** The per-box lock shared with the other services. */
  lock: KeyLock;
  boxLog: BoxLog;
  instanceId: string;
  log: Logger;
  /** Signs and checks box_snapshot_list's page cursors. */
  cursors: PageCursors;
}

export class SnapshotService {
  private readonly sources: SnapshotSources;

  constructor(private readonly deps: SnapshotDeps) {
    this.sources = new SnapshotSources(deps.snapshotStore);
  }

  repo(): string {
    return `boxd/snapshot-${this.deps.instanceId}`;
  }

  async create(tenant: string, boxRef: string, name?: string): Promise<SnapshotView> {
    const box = this.deps.boxes.resolve(tenant, boxRef);
    const id = newSnapshotId();
    const snapName = name ?? id.replace("snap_", "s-");
    checkName(snapName.replace(/^snap_/, "x"));
    if (this.deps.snapshotStore.getByName(tenant, snapName)) {
      throw alreadyExists(`a snapshot named "${snapName}" already exists: pick another name or delete it`);
    }
    const record: SnapshotRecord = {
      id,
      tenant,
      name: snapName,
      boxId: box.id,
      runtime: box.runtime,
      image: `${this.repo()}:${id.replace("snap_", "")}`,
      status: "creating",
      sizeBytes: 0,
      createdAt: new Date().toISOString(),
      error: null,
    };
    this.deps.snapshotStore.insert(record);
    // Under the box's lock: no pause/resume/delete of the box while its filesystem is captured.
    return this.deps.lock.run(box.id, async () => {
      const current = this.deps.boxes.mustGet(box.id);
      try {
        const containerId = this.deps.boxes.requireContainer(current);
        const [repo, tag] = record.image.split(":") as [string, string];
        await this.deps.engine.images.commit(
          containerId,
          repo,
          tag,
          instanceLabels(this.deps.instanceId, {
            [LABEL_KIND]: "snapshot",
            [LABEL_SNAPSHOT_ID]: id,
            [LABEL_BOX_ID]: box.id,
          }),
        );
        const info = await this.deps.engine.images.inspect(record.image);
        this.deps.snapshotStore.update(id, { status: "ready", sizeBytes: info?.sizeBytes ?? 0 });
        this.deps.boxLog.append(box.id, "info", "system", `snapshot ${id} (${snapName}) taken`);
      } catch (err) {
        this.deps.snapshotStore.update(id, { status: "error", error: String((err as Error).message ?? err) });
        throw err;
      }
      return toSnapshotView(this.deps.snapshotStore.get(id) as SnapshotRecord);
    });
  }

  list(tenant: string, boxRef?: string): SnapshotView[] {
    const boxId = boxRef ? this.deps.boxes.resolveAny(tenant, boxRef).id : undefined;
    return this.deps.snapshotStore.list({ tenant, ...(boxId ? { boxId } : {}) }).map(toSnapshotView);
  }

  /** One page of the tenant's snapshots (of one box, also a deleted one, when `boxRef` is given), oldest first. */
  page(tenant: string, boxRef: string | undefined, request: PageRequest): Page<SnapshotView> {
    const boxId = boxRef ? this.deps.boxes.resolveAny(tenant, boxRef).id : undefined;
    return collectPage({
      request,
      cursors: this.deps.cursors,
      where: { list: "box_snapshot_list", tenant, scope: boxId },
      fetch: (after, n) => this.deps.snapshotStore.pageOfTenant(tenant, boxId, after, n),
      keyOf: (r) => r.key,
      toItem: (r) => toSnapshotView(r.snapshot),
    });
  }

  /** A snapshot of the box being taken now (box_fork refuses such a box), or null. */
  takingOf(boxId: string): SnapshotRecord | null {
    return this.deps.snapshotStore.list({ boxId }).find((s) => s.status === "creating") ?? null;
  }

  /** Every snapshot of every tenant (operators, tests). */
  listAll(): SnapshotRecord[] {
    return this.deps.snapshotStore.list();
  }

  resolve(tenant: string, ref: string): SnapshotRecord {
    return this.sources.resolve(tenant, ref);
  }

  /** For box_create { fromSnapshot }. */
  source(tenant: string, ref: string): SnapshotSource {
    return this.sources.source(tenant, ref);
  }

  async delete(tenant: string, ref: string): Promise<{ id: string; deleted: true }> {
    const s = this.resolve(tenant, ref);
    if (s.status === "creating") throw conflict(`snapshot "${ref}" is still being taken: retry when it is ready`);
    // Boxes started from it keep working: the engine keeps the image while their containers use it, and
    // collectGarbage() removes it once the last of them is gone.
    await this.deps.engine.images.remove(s.image, true);
    this.deps.snapshotStore.delete(s.id);
    await this.collectGarbage();
    return { id: s.id, deleted: true };
  }

  /** Removes this instance's snapshot images whose snapshot was deleted and that no container uses any more. */
  async collectGarbage(): Promise<void> {
    const images = await this.deps.engine.images.list(
      instanceLabels(this.deps.instanceId, { [LABEL_KIND]: "snapshot" }),
    );
    for (const img of images) {
      const id = img.labels[LABEL_SNAPSHOT_ID] ?? "";
      if (this.deps.snapshotStore.get(id)) continue;
      await this.deps.engine.images.remove(img.id, false).catch(() => {}); // still in use: next time
    }
  }
}
