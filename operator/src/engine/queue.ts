/**
 * The keyed work queue the controllers run on, with client-go workqueue semantics on top of p-queue 9
 * (which supplies the concurrency limit only: it has no keys, no dedupe, no dirty re-runs, no delays):
 *
 * - The queue holds keys, not events: a key added while it waits is not added twice.
 * - A key is never processed twice at once: added while in flight, it is marked dirty and runs exactly once
 *   more after the current run ends.
 * - Delayed adds (the earliest pending delay per key wins), per-key exponential backoff with jitter for
 *   failures, forgotten on success.
 * - The handler's outcome decides what happens next: success → forget (+ requeueAfterMs); a CoxError's retry
 *   decision → stalled: forget, no requeue; waiting: requeue after its delay; anything else: backoff.
 * - shutdown stops accepting keys, cancels delayed adds and waits for the work in flight (and, with drain,
 *   for every key queued before the shutdown).
 * - Reconciles never hold the event loop for more than MAX_TURN_MS between turns, so reconciles that keep
 *   adding keys never keep timers and I/O from running.
 */
import PQueue from "p-queue";
import { backoffDelay, type Backoff } from "../api/backoff.js";
import { CoxError, toCoxError, type RetryDecision } from "../api/errors.js";

/** What a reconcile may ask for besides success: to look at the key again after a delay. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** Reconciles one key; resolves on success, throws (preferably a CoxError) on failure. */
export type ReconcileHandler<K extends string = string> = (key: K) => Promise<ReconcileResult | void>;

/**
 * Per-key exponential backoff (api/backoff.ts): the first retry after initialMs (default 250 ms), doubling
 * per failure up to maxMs (default 60 000 ms), minus up to jitter (default 0.2) of the delay.
 */
export type BackoffOptions = Partial<Backoff>;

/** Time source and timers, injectable so tests can drive time. */
export interface QueueClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What the queue did with a failed key; passed to onError. */
export interface ErrorOutcome {
  /** The retry decision applied (non-CoxErrors count as transient). */
  retry: RetryDecision;
  /** When the key runs again; undefined when it is not requeued (stalled, or shutting down). */
  requeueAfterMs?: number;
  /** Consecutive failures counted for backoff after this one (0 after stalled/waiting, which forget). */
  failures: number;
}

/** Options of a WorkQueue. */
export interface WorkQueueOptions<K extends string = string> {
  /** Keys processed at once (always different keys). Integer ≥ 1. */
  concurrency: number;
  backoff?: BackoffOptions;
  /** Requeue delay for a "waiting" CoxError without requeueAfterMs. Default 5 000 ms. */
  waitingDelayMs?: number;
  /** Called for every failed reconcile (non-CoxErrors are wrapped, code RuntimeCallFailed, cause kept). */
  onError?: (key: K, err: CoxError, outcome: ErrorOutcome) => void;
  /** Defaults to performance.now and the global timers (looked up at call time, so fake timers work). */
  clock?: QueueClock;
  /** Uniform [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
  /** Called when a key's run starts, with how long it waited since it was queued (metrics). */
  onStart?: (key: K, waitedMs: number) => void;
}

/** Backoff defaults (client-go uses 5 ms..1000 s; coxswain's effects are heavier, its fleets smaller). */
export const DEFAULT_BACKOFF: Readonly<Required<Backoff>> = Object.freeze({ initialMs: 250, maxMs: 60_000, jitter: 0.2 });

/** Default requeue delay of a "waiting" error that names none. */
const DEFAULT_WAITING_DELAY_MS = 5_000;

/** Longest run of reconciles without a turn of the event loop for timers and I/O, in ms. */
const MAX_TURN_MS = 2;

/** Longest delay a Node timer can hold (2^31 − 1 ms, about 24.8 days): longer ones fire at once. Requeues are clamped to it. */
export const MAX_TIMER_MS = 2_147_483_647;

const defaultClock: QueueClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** A keyed work queue: deduplicated keys, one run per key at a time, delays, backoff, graceful shutdown. */
export class WorkQueue<K extends string = string> {
  readonly #pq: PQueue;
  readonly #backoff: Readonly<Required<Backoff>>;
  readonly #waitingDelayMs: number;
  readonly #onError: ((key: K, err: CoxError, outcome: ErrorOutcome) => void) | undefined;
  readonly #clock: QueueClock;
  readonly #random: () => number;
  /** When reconciles last let the event loop turn (performance.now()). */
  #turnAt = 0;
  readonly #onStart: ((key: K, waitedMs: number) => void) | undefined;

  /** Keys handed to p-queue and not yet started, with when they were queued. */
  readonly #queued = new Map<K, number>();
  /** Keys whose handler is running. */
  readonly #processing = new Set<K>();
  /** Keys added while processing: run once more when the current run ends. */
  readonly #dirty = new Set<K>();
  /** Pending delayed adds: when they fire and their timer. */
  readonly #delays = new Map<K, { at: number; handle: unknown }>();
  /** Consecutive failures per key. */
  readonly #failures = new Map<K, number>();

  #handler: ReconcileHandler<K> | undefined;
  #closed = false;
  #draining = false;

  constructor(opts: WorkQueueOptions<K>) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new CoxError("InvalidArgument", `work queue concurrency must be an integer ≥ 1 (got ${opts.concurrency})`);
    }
    const backoff = { ...DEFAULT_BACKOFF, ...stripUndefined(opts.backoff ?? {}) };
    if (!(backoff.initialMs > 0) || !(backoff.maxMs >= backoff.initialMs) || !(backoff.jitter >= 0 && backoff.jitter <= 1)) {
      throw new CoxError("InvalidArgument", `work queue backoff must have initialMs > 0, maxMs ≥ initialMs and 0 ≤ jitter ≤ 1 (got ${JSON.stringify(backoff)})`);
    }
    this.#backoff = Object.freeze(backoff);
    this.#waitingDelayMs = opts.waitingDelayMs ?? DEFAULT_WAITING_DELAY_MS;
    this.#onError = opts.onError;
    this.#clock = opts.clock ?? defaultClock;
    this.#random = opts.random ?? Math.random;
    this.#onStart = opts.onStart;
    this.#pq = new PQueue({ concurrency: opts.concurrency, autoStart: false });
  }

  /**
   * Queues a key. Nothing happens if it is already queued; if it is being processed it runs once more after
   * the current run. Ignored after shutdown. Keys added before start() wait for it.
   */
  add(key: K): void {
    if (this.#closed || this.#queued.has(key)) return;
    if (this.#processing.has(key)) this.#dirty.add(key);
    else this.#enqueue(key);
  }

  /**
   * Adds the key after `ms` milliseconds (≤ 0: now). If the key already has a pending delayed add, the one
   * that fires first is kept. Ignored after shutdown.
   */
  addAfter(key: K, ms: number): void {
    if (this.#closed) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    ms = Math.min(ms, MAX_TIMER_MS);
    const at = this.#clock.now() + ms;
    const pending = this.#delays.get(key);
    if (pending) {
      if (pending.at <= at) return;
      this.#clock.clearTimeout(pending.handle);
    }
    const handle = this.#clock.setTimeout(() => {
      this.#delays.delete(key);
      this.add(key);
    }, ms);
    this.#delays.set(key, { at, handle });
  }

  /** Counts a failure of the key and adds it after its backoff delay; returns that delay. */
  addRateLimited(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const ms = backoffDelay(this.#backoff, failures + 1, this.#random); // `failures` before this one
    this.addAfter(key, ms);
    return ms;
  }

  /** Resets the key's failure count (its next failure waits initialMs again). Does not cancel pending adds. */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures counted for the key. */
  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Number of keys waiting to be processed (not counting keys in flight or delayed). */
  len(): number {
    return this.#queued.size;
  }

  /** Number of keys being processed now. */
  processing(): number {
    return this.#processing.size;
  }

  /** Number of keys with a pending delayed add. */
  delayed(): number {
    return this.#delays.size;
  }

  /** True once shutdown() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts processing with `handler`, at most `concurrency` keys at once, in the order they were queued.
   * Call once.
   */
  start(handler: ReconcileHandler<K>): void {
    if (this.#handler) throw new CoxError("InvalidArgument", "work queue already started: start() must be called once");
    this.#handler = handler;
    this.#pq.start();
  }

  /**
   * Resolves when no key is queued or in flight (delayed adds may still be pending). Before start(), keys
   * already queued keep it pending until they ran.
   */
  onIdle(): Promise<void> {
    return this.#pq.onIdle();
  }

  /**
   * Stops accepting keys (add, addAfter and requeues become no-ops) and cancels delayed adds. With drain,
   * every key queued before the call is still processed (dirty keys included, once); without, queued keys
   * are dropped. Resolves when nothing is in flight. Calling it again without drain stops a drain early.
   */
  async shutdown(opts: { drain: boolean }): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#draining = opts.drain;
      for (const { handle } of this.#delays.values()) this.#clock.clearTimeout(handle);
      this.#delays.clear();
    } else if (!opts.drain) {
      this.#draining = false;
    }
    if (!this.#draining || !this.#handler) {
      // Nothing of ours awaits the add() promises that clear() leaves pending, so they are just dropped.
      this.#pq.clear();
      this.#queued.clear();
      this.#dirty.clear();
    }
    await this.#pq.onIdle();
  }

  #enqueue(key: K): void {
    this.#queued.set(key, this.#clock.now());
    void this.#pq.add(() => this.#run(key));
  }

  async #run(key: K): Promise<void> {
    // A turn of the event loop before a reconcile once MAX_TURN_MS went by without one (the key still
    // counts as queued, so adds meanwhile stay deduplicated): reconciles that finish without real I/O and
    // add each other's keys would otherwise chain in microtasks for ever, and no timer — a container's
    // stop, a test's timeout — would fire again. Not before every reconcile: a turn costs microseconds.
    if (performance.now() - this.#turnAt >= MAX_TURN_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.#turnAt = performance.now();
    }
    const queuedAt = this.#queued.get(key);
    this.#queued.delete(key);
    if (queuedAt !== undefined && this.#onStart) {
      try {
        this.#onStart(key, this.#clock.now() - queuedAt);
      } catch {
        // An observer must not take the queue down.
      }
    }
    this.#processing.add(key);
    try {
      const result = await this.#handler!(key);
      this.forget(key);
      if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      this.#failed(key, err);
    } finally {
      this.#processing.delete(key);
      // A drain still owes dirty keys their run: they were added before the shutdown.
      if (this.#dirty.delete(key) && (!this.#closed || this.#draining)) this.#enqueue(key);
    }
  }

  #failed(key: K, err: unknown): void {
    const e = toCoxError(err);
    let outcome: ErrorOutcome;
    if (e.retry === "stalled") {
      this.forget(key);
      outcome = { retry: "stalled", failures: 0 };
    } else if (e.retry === "waiting") {
      this.forget(key);
      const ms = e.requeueAfterMs ?? this.#waitingDelayMs;
      this.addAfter(key, ms);
      outcome = { retry: "waiting", failures: 0, ...(this.#closed ? {} : { requeueAfterMs: ms }) };
    } else {
      const ms = this.addRateLimited(key);
      outcome = { retry: "transient", failures: this.failures(key), ...(this.#closed ? {} : { requeueAfterMs: ms }) };
    }
    try {
      this.#onError?.(key, e, outcome);
    } catch {
      // A failing error reporter must not take the queue down; the outcome above already happened.
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
