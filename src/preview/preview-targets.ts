// What a preview request reaches: the exposure its host names, then the box awake and its address on its
// own bridge network. Every request and WebSocket holds the box awake while it lasts (LiveRunIndex.hold:
// the idle timer never pauses a box in the middle of a response) and counts as activity when it starts
// (ensureLive records it, waking a paused box first) and again when it ends, to within a second.
import type { BoxRecord } from "../model/box.js";
import type { Exposure } from "../model/exposure.js";
import type { ExposureStore } from "../state/exposure-store.js";
import type { PreviewAddress } from "./preview-host.js";

/** Activity is recorded to within this much (idle timeouts are whole seconds, checked once a second). */
const TOUCH_EVERY_MS = 1000;

export interface PreviewTargetDeps {
  exposures: ExposureStore;
  /** The box if it exists and is a tenant's live box (not deleted, expired or pooled), else null. */
  box: (boxId: string) => BoxRecord | null;
  /** Wakes a paused box and records activity (LifecycleService.ensureLive). */
  ensureLive: (boxId: string) => Promise<{ containerId: string; resumed: boolean }>;
  /** The container's address on its network (the Docker layer). */
  address: (containerId: string, network: string) => Promise<string | null>;
  hold: (boxId: string) => () => void;
  touch: (boxId: string) => void;
}

/** What a preview host leads to: the exposure and its box as read for this request. */
export interface Routed {
  exposure: Exposure;
  box: BoxRecord;
}

/** A box's port ready to be connected to; `done` must be called once the request or socket is over. */
export interface OpenTarget {
  host: string;
  port: number;
  done: () => void;
}

export class PreviewTargets {
  /** Box id -> when its activity was last recorded here. */
  private readonly touched = new Map<string, number>();
  /** Container id -> its address (boxes keep a fixed address for their container's whole life). */
  private readonly addresses = new Map<string, string>();

  constructor(private readonly deps: PreviewTargetDeps) {}

  /** The exposure a host names and its box, or null (no such box, not this box's exposed port, box gone). */
  find(a: PreviewAddress): Routed | null {
    const exposure = this.deps.exposures.get(a.boxId, a.port);
    const box = exposure && this.deps.box(a.boxId);
    return exposure && box ? { exposure, box } : null;
  }

  /** Wakes the box if needed and returns where to connect. Throws when the box cannot be reached. */
  async open({ exposure: e, box }: Routed): Promise<OpenTarget> {
    // The hold comes first: from here the idle timer leaves the box alone (the box was read just before,
    // in the same tick, so one seen up stays up).
    const release = this.deps.hold(e.boxId);
    try {
      if (!box.networkName) throw new Error("the box has no network");
      let containerId = box.containerId;
      if (box.status === "idle" && containerId) this.touch(e.boxId);
      else {
        ({ containerId } = await this.deps.ensureLive(e.boxId)); // wakes it, and records the activity
        this.touched.set(e.boxId, Date.now());
      }
      const host = await this.addressOf(containerId, box.networkName);
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        release();
        // The end of a long response or socket is activity too: the idle time counts from here.
        this.touch(e.boxId, true);
      };
      return { host, port: e.port, done };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Records activity, at most once a second per box (a busy preview would otherwise write per request). */
  private touch(boxId: string, unlessGone = false): void {
    const now = Date.now();
    if ((this.touched.get(boxId) ?? 0) > now - TOUCH_EVERY_MS) return;
    if (unlessGone && !this.deps.box(boxId)) return;
    if (this.touched.size > 10_000) this.touched.clear();
    this.touched.set(boxId, now);
    this.deps.touch(boxId);
  }

  private async addressOf(containerId: string, network: string): Promise<string> {
    const known = this.addresses.get(containerId);
    if (known) return known;
    const ip = await this.deps.address(containerId, network);
    if (!ip) throw new Error("the box's container has no address on its network");
    if (this.addresses.size > 10_000) this.addresses.clear();
    this.addresses.set(containerId, ip);
    return ip;
  }
}
