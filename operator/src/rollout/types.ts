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
  /**
   * Being stopped: never active nor available, never removed twice; until it is gone it still runs, so it
   * counts against maxSurge (unless failed).
   */
  terminating: boolean;
  /**
   * Its containers exited or it failed to start. A failed pod does not run: it is not active, does not count
   * against maxSurge, and is removed at once (one of the wanted revision is replaced in the same step).
   */
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
  /** As maxSurge's rounding says, then capped at replicas (0 when replicas is 0), as MaxUnavailable() does. */
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
  /** Pods that are neither terminating nor failed (Kubernetes' active pods). */
  replicas: number;
  /** Active (neither terminating nor failed) pods of the wanted revision. */
  updated: number;
  /** Active pods that are ready. */
  ready: number;
  /** Active pods ready for more than minReadySeconds (any ready active pod when minReadySeconds is 0). */
  available: number;
  /** replicas wanted − available (never negative). */
  unavailable: number;
}

/**
 * The next step. Apply `remove` first, then `create`, then reconcile again (at the latest after
 * requeueAfterMs). When `progressed` is true the caller sets lastProgressAt = now for the next input.
 */
export interface RolloutStep {
  /** Number of pods of the wanted revision to create now. */
  create: number;
  /** Pods to stop and remove now, in order. */
  remove: string[];
  counts: RolloutCounts;
  /**
   * Kubernetes' DeploymentComplete (updated = replicas, active = replicas, available = replicas) and nothing
   * left to create or remove. Old pods still terminating do not prevent completion (they are not active).
   */
  complete: boolean;
  /**
   * True when this step creates pods (replacements of failed new pods excepted) or removes active pods, or a
   * pod became available after lastProgressAt (resets the deadline clock).
   */
  progressed: boolean;
  /** Progress deadline passed without progress (Progressing=False, ProgressDeadlineExceeded). */
  deadlineExceeded: boolean;
  /** When to look again even if nothing changes (minReadySeconds maturing, deadline); undefined = on change only. */
  requeueAfterMs?: number;
  /** Short human summary of why this step, e.g. "scaling up new revision 5d8f… to 2". */
  reason: string;
}
