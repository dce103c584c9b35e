/**
 * In-process mutual exclusion per key. isomorphic-git has no locking of its own that spans calls (20
 * concurrent commit() calls on one ref lost 19 commits), so every read-modify-write of a ref runs inside
 * `run(ref, …)`.
 */

/** Runs async functions one at a time per key, in call order; different keys run concurrently. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier `run` with the same key has settled; resolves or rejects with `fn`'s result. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous;
      return await fn();
    } finally {
      release();
      // Forget the key once nobody queued behind us, so the map does not grow with every ref ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while some call holds or waits for `key`. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}

/**
 * A readers/writer gate: many `shared` holders at once, or one `exclusive` holder. Used so that a repack
 * of a mirror (the git CLI, exclusive) never runs while isomorphic-git writes objects or refs (shared).
 * Waiting exclusive holders block new shared ones, so a repack is not starved.
 */
export class SharedExclusiveLock {
  private active = 0;
  private exclusiveHeld = false;
  private readonly waiters: { exclusive: boolean; wake: () => void }[] = [];

  /** Runs `fn` alongside other shared holders, but never during an exclusive one. */
  async shared<T>(fn: () => Promise<T>): Promise<T> {
    if (this.exclusiveHeld || this.waiters.some((w) => w.exclusive)) {
      await new Promise<void>((wake) => this.waiters.push({ exclusive: false, wake }));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      this.active--;
      this.pump();
    }
  }

  /** Runs `fn` alone. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.exclusiveHeld || this.active > 0 || this.waiters.length > 0) {
      await new Promise<void>((wake) => this.waiters.push({ exclusive: true, wake }));
    } else {
      this.exclusiveHeld = true;
    }
    try {
      return await fn();
    } finally {
      this.exclusiveHeld = false;
      this.pump();
    }
  }

  private pump(): void {
    if (this.exclusiveHeld) return;
    while (this.waiters.length > 0) {
      const next = this.waiters[0]!;
      if (next.exclusive) {
        if (this.active > 0) return;
        this.waiters.shift();
        this.exclusiveHeld = true;
        next.wake();
        return;
      }
      this.waiters.shift();
      this.active++;
      next.wake();
    }
  }
}
