// Running a list of bench steps against one context: each step's figures, or its error (the run goes on).
import type { BenchContext } from "./context.js";
import type { Figures } from "./goals.js";

export type Produces = Figures;

export interface Step {
  names: string[];
  run: (ctx: BenchContext) => Promise<Produces>;
}

export async function runSteps(
  ctx: BenchContext,
  steps: Step[],
): Promise<{ figures: Produces; errors: Record<string, string> }> {
  const figures: Produces = {};
  const errors: Record<string, string> = {};
  for (const step of steps) {
    const label = step.names.join(" + ");
    const t0 = performance.now();
    ctx.log(`${label}: start`);
    try {
      Object.assign(figures, await step.run(ctx));
      ctx.log(`${label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      ctx.log(`${label}: FAILED: ${message}`);
      for (const name of step.names) errors[name] = message.split("\n")[0] ?? message;
    }
  }
  return { figures, errors };
}
