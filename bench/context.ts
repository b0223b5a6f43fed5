// What every figure gets: the boxd under test, the raw-Docker baseline, iteration counts and a scratch dir.
import type { BoxdBench } from "./boxd-client.js";
import type { RawDocker } from "./raw-docker.js";

export interface BenchOptions {
  /** Samples per side for the latency figures (BENCH_ITERATIONS). */
  iterations: number;
  /** Samples per side for the 100 MiB transfers (BENCH_TRANSFER_ITERATIONS). */
  transferIterations: number;
  /** Unrecorded rounds before each latency figure (BENCH_WARMUP). */
  warmup: number;
  /** Boxes present at each step of the growth figure; idle_density is read at the last (BENCH_GROWTH_LEVELS). */
  growthLevels: number[];
  /** The same for the gVisor tier (BENCH_GVISOR_LEVELS): its boxes cost several times a runc box's memory. */
  gvisorLevels: number[];
  /** Seconds of idle measurement at the growth figure's top level (BENCH_IDLE_SECONDS). */
  idleSeconds: number;
}

export interface BenchContext extends BenchOptions {
  boxd: BoxdBench;
  raw: RawDocker;
  /** Scratch dir of this run (removed at the end); also BOXD_ROOTS of the boxd under test. */
  tmpDir: string;
  log: (message: string) => void;
  /** BOXD_* settings from the environment for the boxd under test (a figure's own settings win). */
  boxdEnv: Record<string, string>;
  /** Problems found while cleaning up inside a figure (e.g. a second boxd's leftovers). */
  problems: string[];
}

/** The structured result of box_exec. */
export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  resumed?: boolean;
}

export function expectHi(stdout: string, who: string): void {
  if (stdout.trim() !== "hi") throw new Error(`${who}: expected "hi", got ${JSON.stringify(stdout.slice(0, 200))}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
