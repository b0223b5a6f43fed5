// Which boxes have a run in progress, learnt from the run events. The idle timer and the disk guard ask
// here instead of asking the run service, which itself depends on the lifecycle (to wake boxes): the events
// break that cycle, so every service is built once, in order, with nothing bound later.
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

  /** True while the box has a run the server follows (the idle timer never pauses such a box). */
  has(boxId: string): boolean {
    return this.perBox.has(boxId);
  }
}
