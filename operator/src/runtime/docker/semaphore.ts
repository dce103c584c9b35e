/**
 * A small counting semaphore: at most `limit` holders at once, waiters served in arrival order.
 * Docker engines serialize much of their work, so coxswain bounds the calls in flight per node
 * instead of letting a rollout of 500 pods open 500 requests against one engine.
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  /** limit ≥ 1: how many holders may run at once. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`semaphore limit must be an integer >= 1, got ${limit}`);
    }
  }

  /** Number of holders right now. */
  get inUse(): number {
    return this.active;
  }

  /** Number of callers waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves when a slot is free; the returned function releases it (calling it twice is harmless). */
  async acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
    } else {
      // The releaser hands its slot over directly, so `active` stays at the limit and no newcomer
      // can overtake a waiter.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** Runs fn while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
