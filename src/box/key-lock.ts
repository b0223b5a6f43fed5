// A per-key async mutex: operations on one box run one at a time, so concurrent calls (create/delete,
// pause/resume, two resumes racing) never interleave their Docker steps.

export class KeyLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Whether an operation holds the key's lock or waits for it (box_fork refuses a busy box at once). */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous.catch(() => {});
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
