// Server memory and CPU readings. boxd runs in this process (the MCP client talks to it in memory), so the
// process's RSS and CPU time are the server's, plus the benchmark's own small share.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export const MiB = 1024 * 1024;

const gcFn = ((): (() => void) | undefined => {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
})();

/** A full GC when available, so that RSS readings show what is retained rather than garbage. */
export function collectGarbage(): void {
  gcFn?.();
}

export const rssMb = (): number => process.memoryUsage.rss() / MiB;

/** Samples RSS every few ms until stopped; returns the peak in MiB. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 10) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak / MiB;
  }
}

/** CPU time this process used over a wall-clock window, as a percentage of one core. */
export async function cpuPercentOver(ms: number, during?: () => void): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const tick = during ? setInterval(during, 100) : null;
  await new Promise((r) => setTimeout(r, ms));
  if (tick) clearInterval(tick);
  const used = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  return ((used.user + used.system) / 1000 / wall) * 100;
}
