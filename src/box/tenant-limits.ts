// Per-tenant quotas: how many boxes a tenant may have and how many commands it may run at once. The box
// and run services ask here right before they record a new box or run (synchronously, with no await in
// between, so concurrent calls cannot both slip under the limit). Nothing here knows about transports.
import { limitExceeded } from "../errors.js";

export interface TenantLimitSettings {
  /** Boxes (not deleted) per tenant; 0 means no limit. */
  maxBoxes: number;
  /** Live runs (foreground and background) per tenant; 0 means no limit. */
  maxConcurrentRuns: number;
}

/** Fixed at construction (the composition root passes the configured ones, in every transport). */
export class TenantLimits {
  private readonly settings: TenantLimitSettings;

  constructor(settings: TenantLimitSettings = { maxBoxes: 0, maxConcurrentRuns: 0 }) {
    this.settings = { ...settings };
  }

  get current(): Readonly<TenantLimitSettings> {
    return this.settings;
  }

  /** Throws LIMIT_EXCEEDED when the tenant, having `boxes` boxes now, may not create another. */
  assertCanCreateBox(tenant: string, boxes: number): void {
    const max = this.settings.maxBoxes;
    if (max > 0 && boxes >= max) {
      throw limitExceeded(
        `tenant "${tenant}" has ${boxes} boxes, its limit (BOXD_TENANT_MAX_BOXES=${max}): delete one (box_delete) before creating another`,
      );
    }
  }

  /** Throws LIMIT_EXCEEDED when the tenant, having `boxes` boxes now, may not create `n` more at once (box_fork). */
  assertCanCreateBoxes(tenant: string, boxes: number, n: number): void {
    const max = this.settings.maxBoxes;
    if (max > 0 && boxes + n > max) {
      throw limitExceeded(
        `tenant "${tenant}" has ${boxes} boxes and ${n} more would pass its limit (BOXD_TENANT_MAX_BOXES=${max}): ask for at most ${Math.max(0, max - boxes)}, or delete boxes (box_delete) first`,
      );
    }
  }

  /** Throws LIMIT_EXCEEDED when the tenant, with `running` runs live now, may not start another. */
  assertCanStartRun(tenant: string, running: number): void {
    const max = this.settings.maxConcurrentRuns;
    if (max > 0 && running >= max) {
      throw limitExceeded(
        `tenant "${tenant}" has ${running} commands running, its limit (BOXD_TENANT_MAX_CONCURRENT_RUNS=${max}): wait for one to end (box_run_get with wait) or end one (box_run_kill)`,
      );
    }
  }
}

/** Live runs of the tenant among `live` (a box's tenant looked up once per box, not once per run). */
export function countRunsOf(
  tenant: string,
  live: Iterable<{ record: { boxId: string } }>,
  tenantOf: (boxId: string) => string,
): number {
  const owner = new Map<string, string>();
  let running = 0;
  for (const run of live) {
    const boxId = run.record.boxId;
    if (!owner.has(boxId)) owner.set(boxId, tenantOf(boxId));
    if (owner.get(boxId) === tenant) running += 1;
  }
  return running;
}
