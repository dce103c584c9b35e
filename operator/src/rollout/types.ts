/**
 * The rollout decisions' inputs and outputs. Every decision is pure: parameters, the pods that exist (with
 * their health), what the caller remembers (desired sizes, step index, …) and the time go in; the next step
 * comes out. Whatever the caller remembers is optional: without it the decision derives a safe state from the
 * pods alone (after an operator restart), and every output carries what to remember for the next call.
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

/** Deployment strategy types (apps/v1 DeploymentStrategyType). */
export type DeploymentStrategyType = "RollingUpdate" | "Recreate";

/** The Deployment's rollout parameters, defaults applied, percentages resolved to counts. */
export interface RolloutParams {
  replicas: number;
  /** Resolved with Kubernetes' rounding (surge up, unavailable down, both 0 → unavailable 1); 0 for Recreate. */
  maxSurge: number;
  /** As maxSurge's rounding says, then capped at replicas (0 when replicas is 0), as MaxUnavailable() does; 0 for Recreate. */
  maxUnavailable: number;
  minReadySeconds: number;
  progressDeadlineSeconds: number;
  /** spec.strategy.type; RollingUpdate when absent. */
  strategy?: DeploymentStrategyType;
  /** spec.paused: no rollout step, only Kubernetes' scaling of a paused Deployment; false when absent. */
  paused?: boolean;
  /** spec.revisionHistoryLimit (10 when absent); used with pruneHistory. */
  revisionHistoryLimit?: number;
  /**
   * spec.podReplacementPolicy (Kubernetes' DeploymentPodReplacementPolicy): TerminationStarted (the default)
   * creates a replacement as soon as a pod starts terminating — a terminating pod does not count against
   * replicas + maxSurge; TerminationComplete waits until it has stopped.
   */
  podReplacementPolicy?: PodReplacementPolicy;
}

/** When a replacement pod may be created: once the old pod is terminating, or once it has stopped. */
export type PodReplacementPolicy = "TerminationStarted" | "TerminationComplete";

/**
 * The desired size of each revision — what Kubernetes keeps as each ReplicaSet's .spec.replicas and its
 * deployment.kubernetes.io/desired-replicas and max-replicas annotations. Every step returns the sizes to pass
 * to the next call; without them the step derives them from the pods (active pods per revision), which is
 * always safe but cannot tell a change of replicas (a "scaling event") from a rollout.
 */
export interface RevisionSizes {
  /** spec.replicas when these sizes were set (desired-replicas annotation). */
  replicas: number;
  /** replicas + maxSurge when these sizes were set (max-replicas annotation). */
  maxReplicas: number;
  /** Desired size per revision hash; a revision not listed has size 0. */
  byRevision: Readonly<Record<string, number>>;
}

/** Everything the rolling-update (and Recreate) decision needs. */
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
  /**
   * Revision creation order, oldest first (Kubernetes orders ReplicaSets by creation time). Revisions not
   * listed count as older than all listed ones (among themselves: by their oldest pod, then hash), except
   * the wanted revision, which counts as the newest when not listed.
   */
  revisionOrder?: readonly string[];
  /** The sizes returned by the previous step; omitted → derived from the pods. */
  sizes?: RevisionSizes;
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

/** What one step does to one revision. */
export interface RevisionPlan {
  revision: string;
  /** Its desired size after this step (the ReplicaSet's .spec.replicas). */
  desired: number;
  /** Pods of this revision to create now (the caller may rebuild an old revision's template from Git). */
  create: number;
  /** Pods of this revision to stop and remove now, in order (failed pods first). */
  remove: string[];
}

/** What every strategy's step returns. Apply `remove` first, then the creations, then reconcile again. */
export interface PlannedStep {
  /** Number of pods of the wanted revision to create now (= its entry in `revisions`). */
  create: number;
  /** Every pod to stop and remove now, any revision, in order: failed pods (by name), then per revision. */
  remove: string[];
  /** Per revision: desired size, creations and removals. The wanted revision first, then oldest first. */
  revisions: RevisionPlan[];
  /** The sizes to pass to the next step. */
  sizes: RevisionSizes;
  counts: RolloutCounts;
  /** The rollout is done (see each strategy for its exact meaning). */
  complete: boolean;
  /**
   * True when this step creates pods (replacements of failed pods excepted), removes active pods, moves to a
   * later canary step or promotes, or a pod became available after lastProgressAt. The caller then sets
   * lastProgressAt = now for the next input.
   */
  progressed: boolean;
  /** Progress deadline passed without progress (Progressing=False, ProgressDeadlineExceeded). Never while paused. */
  deadlineExceeded: boolean;
  /** When to look again even if nothing changes (minReadySeconds maturing, deadlines, pauses); undefined = on change only. */
  requeueAfterMs?: number;
  /** Short human summary of why this step, e.g. "scaling up revision 5d8f… to 2". */
  reason: string;
}

/**
 * The next step of a Deployment. When `progressed` is true the caller sets lastProgressAt = now for the next
 * input; it keeps `sizes` for the next call (in memory is enough).
 */
export interface RolloutStep extends PlannedStep {
  /**
   * Kubernetes' DeploymentComplete (updated = replicas, active = replicas, available = replicas) and nothing
   * left to create or remove. Old pods still terminating do not prevent completion (they are not active).
   */
  complete: boolean;
  /** spec.paused: only scaling happened (Kubernetes' sync of a paused Deployment), never a rollout step. */
  paused: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Revision history

/** One revision in the history the caller keeps in Git (Kubernetes' deployment.kubernetes.io/revision). */
export interface RevisionRecord {
  /** Revision number, unique, ≥ 1; the highest is the current revision. */
  revision: number;
  /** Pod-template hash. */
  hash: string;
  /** The commit that last made this revision current (to rebuild its template from Git). */
  commit: string;
}

/** What pruneHistory keeps and drops. */
export interface PrunedHistory {
  /** Kept records, by revision number ascending. */
  kept: RevisionRecord[];
  /** Dropped records, oldest first. */
  pruned: RevisionRecord[];
}

// ---------------------------------------------------------------------------------------------------------
// Failure detection and rollback

/** When a rollout counts as failed (see health.ts for the exact rules and defaults). */
export interface FailurePolicy {
  /** The Deployment's progressDeadlineSeconds (600). */
  progressDeadlineSeconds: number;
  /** Per-pod start deadline (300, Nomad's healthy_deadline); the effective one is min(this, progressDeadlineSeconds). */
  podStartDeadlineSeconds: number;
  /** Crashed updated pods / replicas above this ratio fail the rollout (0, Swarm's max_failure_ratio: any crash). */
  maxFailureRatio: number;
  /** How long every updated pod must stay ready after completion before the revision is stable (5, Swarm's monitor). */
  monitorSeconds: number;
}

/** A pod of the revision being rolled out, as failure detection sees it. */
export interface HealthPod {
  name: string;
  /** Epoch ms it was created. */
  createdAt: number;
  ready: boolean;
  /** Epoch ms since when it has been ready continuously. */
  readySince?: number;
  /** Epoch ms it first became ready, when the caller knows; a pod that is ready now has started anyway. */
  firstReadyAt?: number;
  /** Container restarts since it was created (crashes; the kubelet's restartCount). */
  restartCount: number;
  /** Waiting in crash-loop back-off now. */
  crashLooping: boolean;
  /** Its containers exited and it will not be restarted. */
  failed?: boolean;
}

/** Everything failure detection needs. */
export interface HealthInput {
  /** Epoch ms. */
  now: number;
  /** Epoch ms of the last progress (after applying this step's `progressed`). */
  lastProgressAt: number;
  /** The Deployment's replicas (the ratio's denominator; Swarm divides by the tasks to update). */
  replicas: number;
  /** The step says the rollout is complete. */
  complete: boolean;
  /** The rollout waits in a pause, for a promotion or spec.paused: the progress deadline does not run. */
  paused?: boolean;
  policy: FailurePolicy;
  /** The pods of the revision being rolled out that are not terminating. */
  pods: readonly HealthPod[];
}

/** Failure codes of a rollout (registered in api/errors.ts). */
export type RolloutFailureCode = "ProgressDeadlineExceeded" | "PodStartDeadlineExceeded" | "CrashLoopBackOff" | "AnalysisFailed" | "PodFailed";

/** Why a rollout failed. */
export interface RolloutFailure {
  code: RolloutFailureCode;
  /** What went wrong and what was expected. */
  message: string;
  /** The pods at fault, by name (empty for the progress deadline). */
  pods: string[];
}

/** Failure detection and stability of the revision being rolled out. */
export interface RolloutHealth {
  failure?: RolloutFailure;
  /** Complete, no failure, and every updated pod ready for at least monitorSeconds: record it as the stable revision. */
  stable: boolean;
  /** Updated pods that crashed (counted for maxFailureRatio), by name. */
  crashedPods: string[];
  /** When time alone changes the verdict (a pod's start deadline, the progress deadline, the monitor window). */
  requeueAfterMs?: number;
}

/** Input of the rollback decision. */
export interface RollbackInput {
  /** The revision whose rollout failed. */
  failed: string;
  /** The last stable revision (the caller persists it); undefined when there is none. */
  stable?: string;
  /** The failing rollout was itself a rollback. */
  failedIsRollback: boolean;
  /** Why it failed (carried into the reason). */
  failure?: RolloutFailure;
}

/**
 * Roll back to the stable revision; pause (a rollback failed: take no step until a new commit); or report
 * (nothing proven to go back to: record the failure, leave what runs as it is — Kubernetes' behaviour after
 * ProgressDeadlineExceeded).
 */
export type RollbackDecision = { action: "rollback"; to: string; reason: string } | { action: "pause"; code: "RollbackFailed"; reason: string } | { action: "report"; code: "RolloutFailed"; reason: string };

// ---------------------------------------------------------------------------------------------------------
// Canary and blue/green (Argo Rollouts)

/**
 * A canary step: a share (of requests, and of replicas) for the new revision, a pause (timed, or until
 * promoted), or an analysis of the new revision's requests (analysis.ts).
 */
export type CanaryStepSpec = { setWeight: number } | { pause: { durationSeconds?: number } } | { analysis: AnalysisSpec };

/** A canary analysis step, defaults applied (crds/rollout.yaml, CanaryAnalysis, says what each field means). */
export interface AnalysisSpec {
  /** Length of one window, whole seconds ≥ 1 (30). */
  intervalSeconds: number;
  /** Windows to measure, ≥ 1 (3). */
  count: number;
  /** Failed windows tolerated (0). */
  failureLimit: number;
  /** Inconclusive windows tolerated (0). */
  inconclusiveLimit: number;
  /** Requests of the new revision a window needs to be judged, ≥ 1 (20); of the stable one too for a latency ratio. */
  minRequests: number;
  /** The lowest success rate that passes, percent (99); 0: not checked. */
  successRateMin: number;
  /** The p95 latency check, when given: at least one of its limits. */
  latencyP95?: { maxMs?: number; maxRatio?: number };
}

/** What the node proxies measured of one revision's pods in one window (traffic/analysis.ts's figures). */
export interface AnalysisFigures {
  /** Requests (TCP: connections) that ended in the window. */
  requests: number;
  /** Of those, the ones that failed. */
  failed: number;
  /** Percentage that succeeded; undefined without requests. */
  successRate?: number;
  /** HTTP requests, which the latency is measured over. */
  latencyRequests: number;
  /** Nearest-rank 95th percentile of the HTTP requests' time, ms; undefined without HTTP requests. */
  latencyP95Ms?: number;
}

/** One window of an analysis: [from, to) in epoch ms, the new (canary) and the stable revision's figures. */
export interface AnalysisWindow {
  from: number;
  to: number;
  canary: AnalysisFigures;
  stable: AnalysisFigures;
}

/** How a window, or a whole analysis once it ended, came out (Argo's phases). */
export type AnalysisPhase = "Successful" | "Failed" | "Inconclusive";

/** A window and how it was judged; `reason` says why when it was not Successful. */
export interface JudgedWindow extends AnalysisWindow {
  phase: AnalysisPhase;
  reason?: string;
}

/** Where an analysis stands: still measuring, or ended; the message names the figures it ended on. */
export interface AnalysisVerdict {
  phase: AnalysisPhase | "Running";
  message: string;
}

/**
 * Promotion through Git: the Rollout annotation coxswain.io/promote. "full" skips every remaining step;
 * an integer N means "promoted past the first N indefinite pauses" (blue/green: any N ≥ 1 promotes).
 */
export type Promote = "full" | number;

/** What a canary rollout remembers between steps (the caller keeps it in the status branch; it may be lost). */
export interface CanaryStatus {
  /** The revision this status belongs to (a different wanted revision starts at step 0). */
  revision: string;
  /** Index of the current step; steps.length once all are done. */
  stepIndex: number;
  /** Epoch ms the current pause, or analysis, started. */
  pauseStartedAt?: number;
}

/** Everything a canary step needs. */
export interface CanaryInput {
  /** replicas, maxSurge, maxUnavailable (canary's, resolved), minReadySeconds, progressDeadlineSeconds. */
  params: RolloutParams;
  steps: readonly CanaryStepSpec[];
  /** The wanted revision. */
  revision: string;
  /** The stable revision (Argo's status.stableRS); undefined on the first rollout (no steps then). */
  stable?: string;
  pods: readonly RolloutPod[];
  now: number;
  lastProgressAt: number;
  revisionOrder?: readonly string[];
  sizes?: RevisionSizes;
  /** What the previous step returned; omitted or for another revision → derived from the pods (safe). */
  status?: CanaryStatus;
  promote?: Promote;
  /** spec.paused: hold sizes and step. */
  paused?: boolean;
  /**
   * trafficRouting: {} (coxswain's proxy as the traffic router): Argo's counts for a traffic-routed canary —
   * the stable revision keeps all replicas, the wanted one gets ceil(replicas × weight / 100).
   */
  trafficRouting?: boolean;
  /**
   * Present when Services carry this Rollout's weighted split: the canary weight every node's proxy runs
   * for this revision against the stable one (undefined while not every proxy runs one). A setWeight step is
   * done only once it is the step's weight. Absent: nothing to wait for but pods.
   */
  traffic?: { appliedWeight?: number };
  /**
   * How the analysis of step `stepIndex` stands (analysisVerdict of its windows so far): Successful moves
   * on, Running waits, Inconclusive waits for promotion, Failed holds the step (the caller fails the
   * rollout). Absent, or for another step: Running (it starts).
   */
  analysis?: { stepIndex: number; phase: AnalysisVerdict["phase"] };
}

/** Why a rollout waits although its pods are fine: a pause, a promotion, spec.paused, or an analysis measuring. */
export type Waiting = "pause" | "promotion" | "paused" | "analysis";

/** The next canary step. */
export interface CanaryResult extends PlannedStep {
  /** Keep it for the next call. */
  status: CanaryStatus;
  /** The setWeight in effect (0–100). */
  weight: number;
  /**
   * The share of requests (0–100) the Services that carry the split should send the wanted revision now: the
   * step's weight once its replica counts are reached; before, the wanted revision's share of the ready pods
   * of both revisions, kept between the previous step's weight and this one's (so that no side gets more than
   * either step gives it while pods come and go). 100 once the wanted revision is stable.
   */
  trafficWeight: number;
  /** The stable revision after this step (the wanted one once fully promoted). */
  stable?: string;
  /** This step made the wanted revision stable (Argo's promoteStable): every step done and all replicas available. */
  promoted: boolean;
  /** Set while waiting in a pause, for a promotion, or because of spec.paused. */
  waiting?: Waiting;
  /** With waiting "promotion": the promote value that passes this pause (N). */
  promoteToPass?: number;
  /** Stable is the wanted revision, all replicas updated and available, no other pods active. */
  complete: boolean;
}

/** Blue/green parameters (Argo's strategy.blueGreen, defaults applied). */
export interface BlueGreenParams {
  /** true: promote by itself (at once, or after autoPromotionSeconds); false: only a promote annotation. */
  autoPromotionEnabled: boolean;
  /** 0 = at once (when autoPromotionEnabled). */
  autoPromotionSeconds: number;
  /** How long a replaced set stays up after the switch (30). */
  scaleDownDelaySeconds: number;
  /** Size of the preview set before promotion; undefined = full replicas. */
  previewReplicaCount?: number;
}

/** What a blue/green rollout remembers between steps (it may be lost). */
export interface BlueGreenStatus {
  /** The preview revision this status belongs to. */
  revision: string;
  /** Epoch ms the pause before promotion started. */
  pauseStartedAt?: number;
  /** Promotion passed and the preview is being scaled to full replicas (Argo's scaleUpPreviewCheckPoint). */
  scaleUpPreviewCheckPoint?: boolean;
  /** Epoch ms after which a replaced set is scaled to 0, per revision. */
  scaleDownAt?: Readonly<Record<string, number>>;
}

/** Everything a blue/green step needs. */
export interface BlueGreenInput {
  /** replicas, minReadySeconds, progressDeadlineSeconds (maxSurge/maxUnavailable are not used). */
  params: RolloutParams;
  blueGreen: BlueGreenParams;
  /** The wanted (preview) revision. */
  revision: string;
  /** The revision that receives traffic; undefined before the first switch. The caller records it. */
  active?: string;
  pods: readonly RolloutPod[];
  now: number;
  lastProgressAt: number;
  revisionOrder?: readonly string[];
  sizes?: RevisionSizes;
  status?: BlueGreenStatus;
  promote?: Promote;
  /** spec.paused: hold sizes; no promotion. */
  paused?: boolean;
}

/** The next blue/green step. */
export interface BlueGreenResult extends PlannedStep {
  /** The revision that receives traffic after this step (switch traffic when it changed). */
  active?: string;
  /** The preview revision (the wanted one while it is not active). */
  preview?: string;
  /** This step switched traffic to the wanted revision. */
  promoted: boolean;
  waiting?: Waiting;
  /** Keep it for the next call. */
  status: BlueGreenStatus;
  /**
   * The wanted revision is active with all replicas updated and available. Replaced sets may still run until
   * their scale-down delay ends (that is what makes a switch back instant): they do not block completion.
   */
  complete: boolean;
}
