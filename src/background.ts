// The one shape of every background job the app runs (engine watch, warm pool, idle timer, disk guard):
// createApp() starts them in order and close() stops them in reverse.

export interface BackgroundService {
  /** Begins the job's work (may do a first pass before returning, e.g. the engine watch's reconciliation). */
  start(): void | Promise<void>;
  /** Ends it; resolves once nothing of it is running any more. */
  stop(): void | Promise<void>;
}
