/**
 * Evidence that an in-process operator had its chance to act. A test that asserts "nothing happened"
 * (a quarantined commit is not applied again, a pause holds, a restart creates no duplicate) must first
 * know that the controller looked at the workload after the moment that matters; a fixed sleep only hopes
 * so. The workload controller ends every reconcile of a workload it knows by reporting it: to the branch
 * sync (`op.sync.report`) or, for a preview's workload, to the previews (`op.previews.setState`). This
 * counts those reports per key, so a test can wait for a reconcile that started after a given moment.
 */
import type { WorkloadState } from "../../operator/src/controllers/types.js";
import type { RunningOperator } from "../../operator/src/sync/operator.js";
import { waitFor } from "./wait.js";

/** Finished reconciles per workload key ("Deployment/default/web"), counted from construction on. */
export class Reconciles {
  private readonly done = new Map<string, number>();

  /** Starts counting the reconciles of `op` (wraps its two reporters; one Reconciles per operator). */
  constructor(private readonly op: RunningOperator) {
    const count = (state: WorkloadState): void => void this.done.set(state.key, this.count(state.key) + 1);
    const sync = op.sync;
    const report = sync.report.bind(sync);
    sync.report = (record, state) => {
      report(record, state);
      count(state);
    };
    const previews = op.previews;
    const setState = previews.setState.bind(previews);
    previews.setState = (state) => {
      setState(state);
      count(state);
    };
  }

  /** Reconciles of `key` finished so far. */
  count(key: string): number {
    return this.done.get(key) ?? 0;
  }

  /**
   * Resolves once a reconcile of `key` that started after this call has finished. It queues every
   * workload twice (the queue runs one reconcile per key at a time and folds a key queued while it waits
   * into one run): when the second finished reconcile is in, one that began after the first request has
   * ended — whether or not a reconcile was running at the call. Throws after `timeoutMs`.
   */
  async fresh(key: string, timeoutMs = 30_000): Promise<void> {
    const before = this.count(key);
    this.op.sync.enqueueAll();
    await waitFor(`a reconcile of ${key}`, () => this.count(key) >= before + 1, timeoutMs, 10);
    this.op.sync.enqueueAll();
    await waitFor(`a second reconcile of ${key}`, () => this.count(key) >= before + 2, timeoutMs, 10);
  }
}
