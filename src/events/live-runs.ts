// Which boxes have a run in progress, learnt from the run events. The idle timer and the disk guard ask
// here instead of asking the run service, which itself depends on the lifecycle (to wake boxes): the events
// break that cycle, so every service is built once, in order, with nothing bound later. Work that is not a
// run but must keep a box awake while it lasts (an SSH session, a proxied WebSocket) takes a hold here.
import type { BoxEventBus } from "./box-events.js";

export class LiveRunIndex {
  private readonly perBox = new Map<string, number>();

  constructor(events: BoxEventBus) {
    events.on("run-started", ({ boxId }) => {
      this.perBox.set(boxId, (this.perBox.get(boxId) ?? 0) + 1);
    });
    events.on("run-ended", ({ boxId }) => {
      const left = (this.perBox.get(boxId) ?? 0) - 1;
      if (left > 0) this.perBox.set(boxId, left);
      else this.perBox.delete(boxId);
    });
  }

  private readonly holds = new Map<string, number>();

  /** True while the box has a run the server follows or a hold (the idle timer never pauses such a box). */
  has(boxId: string): boolean {
    return this.perBox.has(boxId) || this.holds.has(boxId);
  }

  /** Keeps the box awake until the returned release is called (calling it twice releases once). */
  hold(boxId: string): () => void {
    this.holds.set(boxId, (this.holds.get(boxId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holds.get(boxId) ?? 0) - 1;
      if (left > 0) this.holds.set(boxId, left);
      else this.holds.delete(boxId);
    };
  }
}
