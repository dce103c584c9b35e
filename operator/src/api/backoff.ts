/**
 * The one exponential back-off of coxswain, used by every retry: the work queue's requeues, the Git source's
 * fetch retries, the kubelet's crash-loop restarts and its failed engine actions, a Job's pod-failure
 * back-off, and kube-scheduler's back-off of unschedulable pods.
 *
 * Guarantees: the delay before retry `attempt` (1 = the first retry) is d = min(maxMs, initialMs · 2^(attempt−1));
 * jitter only ever takes off (the result is in [floor(d · (1 − jitter)), d]), so a cap is never exceeded and
 * the back-offs Kubernetes specifies exactly (crash loops, Jobs, the scheduler) keep their figures with
 * jitter 0. Attempt 0 or less waits nothing. Pure when `random` is given.
 */

/** An exponential back-off's parameters. */
export interface Backoff {
  /** Delay before the first retry, in ms. */
  readonly initialMs: number;
  /** Longest delay, in ms. */
  readonly maxMs: number;
  /** 0..1: the fraction of the delay taken off at random, so retries of many keys spread out. Default 0. */
  readonly jitter?: number;
}

/** The delay in ms before retry number `attempt` (see the module comment); `random` in [0, 1). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  if (attempt <= 0) return 0;
  // The exponent is bounded so that 2^n stays finite; any delay past the cap is the cap.
  const d = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 1024));
  const jitter = backoff.jitter ?? 0;
  if (jitter === 0) return d;
  return Math.max(Math.floor(d * (1 - jitter)), Math.round(d * (1 - jitter * random())));
}
