// What a preview request reaches: the exposure its host names, then the box awake and its address on its
// own bridge network. Every request and WebSocket holds the box awake while it lasts (LiveRunIndex.hold:
// the idle timer never pauses a box in the middle of a response) and counts as activity when it starts
// (ensureLive records it, waking a paused box first) and again when it ends.
import type { BoxRecord } from "../model/box.js";
import type { Exposure } from "../model/exposure.js";
import type { ExposureStore } from "../state/exposure-store.js";
import type { PreviewAddress } from "./preview-host.js";

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

/** A box's port ready to be connected to; `done` must be called once the request or socket is over. */
export interface OpenTarget {
  host: string;
  port: number;
  done: () => void;
}

export class PreviewTargets {
  /** Container id -> its address (boxes keep a fixed address for their container's whole life). */
  private readonly addresses = new Map<string, string>();

  constructor(private readonly deps: PreviewTargetDeps) {}

  /** The exposure a host names, or null (no such box, not this box's exposed port, box gone). */
  find(a: PreviewAddress): Exposure | null {
    const e = this.deps.exposures.get(a.boxId, a.port);
    return e && this.deps.box(a.boxId) ? e : null;
  }

  /** Wakes the box if needed and returns where to connect. Throws when the box cannot be reached. */
  async open(e: Exposure): Promise<OpenTarget> {
    const release = this.deps.hold(e.boxId);
    try {
      const box = this.deps.box(e.boxId);
      if (!box?.networkName) throw new Error("the box has no network");
      const { containerId } = await this.deps.ensureLive(e.boxId);
      const host = await this.addressOf(containerId, box.networkName);
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        release();
        // The end of a long response or socket is activity too: the idle time counts from here.
        if (this.deps.box(e.boxId)) this.deps.touch(e.boxId);
      };
      return { host, port: e.port, done };
    } catch (err) {
      release();
      throw err;
    }
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
