// The box-event bus: typed emit/on, unsubscribe, delivery order, and a failing subscriber that is logged
// without breaking the emitter or the other subscribers.
import { describe, expect, it } from "vitest";
import { BoxEventBus } from "../../src/events/box-events.js";
import { LiveRunIndex } from "../../src/events/live-runs.js";
import { createLogger } from "../../src/log.js";
import type { BoxRecord } from "../../src/model/box.js";

const box = (id: string, extra: Partial<BoxRecord> = {}) => ({ id, tenant: "t", ...extra }) as BoxRecord;

function bus() {
  const lines: string[] = [];
  return { events: new BoxEventBus(createLogger("warn", "test", (l) => lines.push(l))), lines };
}

describe("box-event bus", () => {
  it("delivers a typed payload to the event's subscribers only, in subscription order", () => {
    const { events } = bus();
    const seen: string[] = [];
    events.on("started", ({ box, reason }) => {
      seen.push(`a:${box.id}:${reason}`);
    });
    events.on("started", ({ box }) => {
      seen.push(`b:${box.id}`);
    });
    events.on("deleted", () => {
      seen.push("deleted");
    });
    events.emit("started", { box: box("box_1"), reason: "restart" });
    expect(seen).toEqual(["a:box_1:restart", "b:box_1"]);
  });

  it("is synchronous: subscribers have run when emit returns", () => {
    const { events } = bus();
    let ran = false;
    events.on("claimed", () => {
      ran = true;
    });
    events.emit("claimed", { box: box("box_1") });
    expect(ran).toBe(true);
  });

  it("unsubscribes, also from within a delivery", () => {
    const { events } = bus();
    const seen: number[] = [];
    const off = events.on("paused", () => {
      seen.push(1);
      off();
    });
    events.on("paused", () => {
      seen.push(2);
    });
    events.emit("paused", { box: box("b"), reason: "idle" });
    events.emit("paused", { box: box("b"), reason: "manual" });
    expect(seen).toEqual([1, 2, 2]);
    off(); // twice is fine
  });

  it("isolates a throwing subscriber: logged, the emitter and the others go on", async () => {
    const { events, lines } = bus();
    const seen: string[] = [];
    events.on("woke", () => {
      throw new Error("boom");
    });
    events.on("woke", () => {
      seen.push("after the throw");
    });
    events.on("deleted", async () => {
      throw new Error("async boom");
    });
    events.on("deleted", () => {
      seen.push("deleted");
    });
    expect(() => events.emit("woke", { box: box("b"), how: "thawed" })).not.toThrow();
    await expect(events.emitAndWait("deleted", { box: box("b") })).resolves.toBeUndefined();
    expect(seen).toEqual(["after the throw", "deleted"]);
    expect(lines.filter((l) => l.includes("subscriber failed"))).toHaveLength(2);
    expect(lines.join("")).toContain("boom");
    expect(lines.join("")).toContain("async boom");
  });

  it("emitAndWait waits for async subscribers; emit does not", async () => {
    const { events } = bus();
    let done = 0;
    events.on("deleted", async () => {
      await new Promise((r) => setTimeout(r, 20));
      done += 1;
    });
    events.emit("deleted", { box: box("b") });
    expect(done).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(1);
    await events.emitAndWait("deleted", { box: box("b") });
    expect(done).toBe(2);
  });

  it("feeds the live-run index from run-started and run-ended", () => {
    const { events } = bus();
    const live = new LiveRunIndex(events);
    events.emit("run-started", { boxId: "b1", runId: "r1", type: "command" });
    events.emit("run-started", { boxId: "b1", runId: "r2", type: "agent" });
    events.emit("run-ended", { boxId: "b1", runId: "r1", status: "completed" });
    expect(live.has("b1")).toBe(true);
    expect(live.has("b2")).toBe(false);
    events.emit("run-ended", { boxId: "b1", runId: "r2", status: "failed" });
    expect(live.has("b1")).toBe(false);
  });
});
