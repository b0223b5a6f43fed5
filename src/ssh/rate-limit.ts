// Failed sign-ins per source address: after MAX_FAILURES within WINDOW_MS a source is refused outright
// (every method, before any credential is looked at) until its oldest counted failure ages out. A success
// does not clear the count: a guesser holding one valid login must not get a fresh allowance from it.
// Memory is bounded: at most MAX_SOURCES addresses are tracked (the stalest dropped first).

export const MAX_FAILURES = 10;
export const WINDOW_MS = 10 * 60_000;
const MAX_SOURCES = 10_000;

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = MAX_FAILURES,
    private readonly windowMs = WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the source may try again, or 0 when it may try now. */
  blockedFor(source: string): number {
    const recent = this.recent(source);
    if (recent.length < this.max) return 0;
    return Math.max(1, (recent[recent.length - this.max] as number) + this.windowMs - this.now());
  }

  fail(source: string): void {
    const recent = this.recent(source);
    recent.push(this.now());
    // Only the newest `max` matter for the verdict.
    this.failures.delete(source);
    this.failures.set(source, recent.slice(-this.max));
    if (this.failures.size > MAX_SOURCES) {
      const stalest = this.failures.keys().next().value;
      if (stalest !== undefined) this.failures.delete(stalest);
    }
  }

  private recent(source: string): number[] {
    const since = this.now() - this.windowMs;
    const kept = (this.failures.get(source) ?? []).filter((t) => t > since);
    if (kept.length === 0) this.failures.delete(source);
    return kept;
  }
}
