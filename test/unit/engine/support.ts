/**
 * Deterministic helpers for work-queue tests: a fake clock whose timers fire only when the test advances
 * time, a handler whose runs the test finishes one by one, and a flush of pending promise callbacks.
 */
import type { QueueClock, ReconcileResult } from "../../../operator/src/engine/queue.js";

/** Lets every pending promise callback (and p-queue's microtask hops) run. setImmediate is never faked here. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A clock whose timers fire in due order when advance() is called. */
export class FakeClock implements QueueClock {
  #now = 0;
  #seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void; ms: number }>();
  /** Every delay ever scheduled, in order (to assert backoff). */
  readonly scheduled: number[] = [];

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.timers.set(id, { at: this.#now + ms, fn, ms });
    this.scheduled.push(ms);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward, firing due timers in order of due time (then creation), flushing after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      if (due.length === 0) break;
      const [id, t] = due[0]!;
      this.timers.delete(id);
      this.#now = t.at;
      t.fn();
      await flush();
    }
    this.#now = end;
    await flush();
  }
}

/** One run of a key that the test finishes. */
export interface Run {
  key: string;
  seq: number;
  finish(result?: ReconcileResult | void): Promise<void>;
  fail(err: unknown): Promise<void>;
}

/**
 * A handler whose runs stay in flight until the test finishes them; records starts, and the highest number
 * of runs in flight overall and per key.
 */
export class ControlledHandler {
  readonly runs: Run[] = [];
  readonly inFlight = new Map<string, number>();
  maxInFlight = 0;
  maxPerKey = 0;
  readonly #tick: () => number;

  /** `tick` numbers each start; share it with the test to order starts against adds. */
  constructor(tick?: () => number) {
    let n = 0;
    this.#tick = tick ?? (() => ++n);
  }

  readonly handle = (key: string): Promise<ReconcileResult | void> =>
    new Promise((resolve, reject) => {
      const n = (this.inFlight.get(key) ?? 0) + 1;
      this.inFlight.set(key, n);
      this.maxPerKey = Math.max(this.maxPerKey, n);
      this.maxInFlight = Math.max(this.maxInFlight, this.total());
      const done = () => this.inFlight.set(key, this.inFlight.get(key)! - 1);
      this.runs.push({
        key,
        seq: this.#tick(),
        finish: async (result) => {
          done();
          resolve(result);
          await flush();
        },
        fail: async (err) => {
          done();
          reject(err);
          await flush();
        },
      });
    });

  /** Runs currently in flight (started, not finished). */
  pending(): Run[] {
    return this.runs.filter((r) => !this.#finished.has(r));
  }
  readonly #finished = new Set<Run>();
  /** Marks a run finished (call through finishRun/failRun to keep pending() right). */
  async finishRun(run: Run, result?: ReconcileResult | void): Promise<void> {
    this.#finished.add(run);
    await run.finish(result);
  }
  async failRun(run: Run, err: unknown): Promise<void> {
    this.#finished.add(run);
    await run.fail(err);
  }
  total(): number {
    let t = 0;
    for (const n of this.inFlight.values()) t += n;
    return t;
  }
  /** How many times each key started, sorted by key. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of [...this.runs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) out[r.key] = (out[r.key] ?? 0) + 1;
    return out;
  }
}
