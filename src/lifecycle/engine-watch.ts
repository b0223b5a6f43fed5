// Notices when the Docker engine goes away (stopped, restarted, unreachable) and comes back, so the server
// keeps serving (calls meanwhile answer ENGINE_UNAVAILABLE) and reconciles once the engine is back: boxes
// whose containers the restart stopped are started again and firewall rules are reinstalled.
import type { BackgroundService } from "../background.js";
import type { DockerEngine } from "../docker/engine.js";
import { BoxdError } from "../errors.js";
import type { Logger } from "../log.js";

export interface EngineWatchDeps {
  engine: DockerEngine;
  labels: Record<string, string>;
  /** Runs at start and whenever the engine is back up, before events are followed again. */
  onUp: () => Promise<void>;
  /** A container with the labels stopped (whoever stopped it). */
  onContainerStopped?: (containerId: string) => void;
  log: Logger;
  retryMs?: number;
}

export class EngineWatch implements BackgroundService {
  private readonly stopper = new AbortController();
  private loop: Promise<void> | null = null;
  /** False while the engine is unreachable. */
  up = false;

  constructor(private readonly deps: EngineWatchDeps) {}

  /**
   * Runs onUp once (the start-up reconciliation, awaited: the app serves only a reconciled state), then
   * watches. An engine unreachable now is no failure: the server starts anyway, answers
   * ENGINE_UNAVAILABLE meanwhile, and reconciles once the engine is back.
   */
  async start(): Promise<void> {
    let up = true;
    try {
      await this.deps.onUp();
    } catch (err) {
      if (!(err instanceof BoxdError && err.code === "ENGINE_UNAVAILABLE")) throw err;
      this.deps.log.warn("Docker engine unreachable at start; serving anyway and reconciling when it is back", {
        error: err.message,
      });
      up = false;
    }
    this.up = up;
    this.loop = this.run(up);
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop?.catch(() => {});
  }

  private async run(skipFirstOnUp: boolean): Promise<void> {
    const { engine, log } = this.deps;
    let skip = skipFirstOnUp;
    while (!this.stopper.signal.aborted) {
      try {
        await engine.ping();
        if (!skip) await this.deps.onUp();
        skip = false;
        if (!this.up) log.info("Docker engine is reachable again; reconciled");
        this.up = true;
        await engine.followEvents(
          this.deps.labels,
          (e) => {
            if (e.type === "container" && e.action === "die") this.deps.onContainerStopped?.(e.id);
          },
          this.stopper.signal,
        );
        if (this.stopper.signal.aborted) return;
        log.warn("lost the Docker engine's event stream (engine stopped or restarted?)");
      } catch (err) {
        if (this.up) log.warn("Docker engine unreachable; will reconcile when it is back", { error: String(err) });
      }
      this.up = false;
      await new Promise((r) => setTimeout(r, this.deps.retryMs ?? 1000).unref());
    }
  }
}
