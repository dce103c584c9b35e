/**
 * The rolling-update decision's inputs and outputs. The decision is pure: the Deployment's rollout
 * parameters, the pods that exist (with their health) and the time go in; the next step comes out.
 */

/** A pod as the rollout decision sees it. */
export interface RolloutPod {
  name: string;
  /** Pod-template hash. */
  revision: string;
  /** Epoch ms the pod was created (older pods are removed last among equals). */
  createdAt: number;
  /** Being stopped: never counts as available, never removed twice. */
  terminating: boolean;
  /** Its containers exited or it failed to start; unhealthy pods are removed first. */
  failed: boolean;
  /** Readiness as last probed (running and probe passing, or running with no probe). */
  ready: boolean;
  /** Epoch ms since when it has been ready continuously; undefined when not ready. */
  readySince?: number;
}

/** The Deployment's rollout parameters, defaults applied, percentages resolved to counts. */
export interface RolloutParams {
  replicas: number;
  /** Resolved with Kubernetes' rounding (surge up, unavailable down, both 0 → unavailable 1). */
  maxSurge: number;
  maxUnavailable: number;
  minReadySeconds: number;
  progressDeadlineSeconds: number;
}

/** Everything the decision needs. */
export interface RolloutInput {
  params: RolloutParams;
  /** The revision the Deployment wants (hash of the current template). */
  revision: string;
  /** All pods of the Deployment, any revision. */
  pods: readonly RolloutPod[];
  /** Epoch ms. */
  now: number;
  /** Epoch ms of the last observed progress (or of the start of this rollout). */
  lastProgressAt: number;
  /** Revision order, oldest first (revisions not listed count as older than all listed). */
  revisionOrder?: readonly string[];
}

/** Counts reported in status, as Deployment.status does. */
export interface RolloutCounts {
  /** Pods that are not terminating. */
  replicas: number;
  /** Non-terminating pods of the wanted revision. */
  updated: number;
  ready: number;
  /** Ready for at least minReadySeconds and not terminating. */
  available: number;
  /** replicas wanted − available (never negative). */
  unavailable: number;
}

/** The next step. Apply `remove` and `create`, then reconcile again (at the latest after requeueAfterMs). */
export interface RolloutStep {
  /** Number of pods of the wanted revision to create now. */
  create: number;
  /** Pods to stop and remove now, in order. */
  remove: string[];
  counts: RolloutCounts;
  /** All pods on the wanted revision, no old pods left, available ≥ replicas − maxUnavailable... and nothing to do. */
  complete: boolean;
  /** True when this step or the state since lastProgressAt counts as progress (resets the deadline clock). */
  progressed: boolean;
  /** Progress deadline passed without progress (Progressing=False, ProgressDeadlineExceeded). */
  deadlineExceeded: boolean;
  /** When to look again even if nothing changes (minReadySeconds maturing, deadline); undefined = on change only. */
  requeueAfterMs?: number;
  /** Short human summary of why this step, e.g. "scaling up new revision 5d8f… to 2". */
  reason: string;
}
