/**
 * The controller manager: routes work-queue keys to the controller that owns them. A key's owner is
 * the part before the first "/" ("Deployment/default/web" → the Deployment controller; "@source" → the
 * branch sync). One queue for all controllers, so the queue's guarantees (deduplicated keys, never one
 * key twice at once, backoff) hold across the whole operator.
 */
import type { CoxError } from "../api/errors.js";
import { WorkQueue, type ReconcileResult } from "./queue.js";

/** Something that reconciles keys: re-reads desired and observed state and takes the next step. */
export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult | void>;
}

/** Options of the manager. */
export interface ManagerOptions {
  /** Keys reconciled at once (different keys). */
  concurrency?: number;
  /** Called when a reconcile fails with a stalled error (not retried) or any error (for logs). */
  onError?: (key: string, err: CoxError) => void;
  /**
   * Called after every reconcile with its controller (the key's prefix), how long it took and whether it
   * failed; and when a key starts, with how long it waited in the queue (metrics).
   */
  observe?: {
    reconciled(controller: string, ms: number, failed: boolean): void;
    waited(ms: number): void;
  };
}

/** Routes keys to reconcilers over one keyed work queue. */
export class Manager {
  private readonly routes = new Map<string, Reconciler>();
  readonly queue: WorkQueue;
  private started = false;
  private readonly observe: ManagerOptions["observe"];

  constructor(opts: ManagerOptions = {}) {
    this.observe = opts.observe;
    this.queue = new WorkQueue({
      concurrency: opts.concurrency ?? 4,
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(opts.observe ? { onStart: (_key: string, ms: number) => opts.observe!.waited(ms) } : {}),
    });
  }

  /** Registers the reconciler of every key whose prefix (before the first "/") is `prefix`. */
  register(prefix: string, reconciler: Reconciler): void {
    if (this.routes.has(prefix)) throw new Error(`a reconciler is already registered for ${prefix}`);
    this.routes.set(prefix, reconciler);
  }

  /** Queues a key (deduplicated). */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queues a key after a delay. */
  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /** Starts processing. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.queue.start(async (key) => {
      const prefix = key.split("/", 1)[0]!;
      const r = this.routes.get(prefix);
      if (!r) throw new Error(`no reconciler for key ${key}`);
      if (!this.observe) return r.reconcile(key);
      const started = performance.now();
      let failed = true;
      try {
        const result = await r.reconcile(key);
        failed = false;
        return result;
      } finally {
        this.observe.reconciled(prefix, performance.now() - started, failed);
      }
    });
  }

  /** Stops accepting keys and waits for reconciles in flight. */
  async stop(): Promise<void> {
    await this.queue.shutdown({ drain: false });
  }
}
