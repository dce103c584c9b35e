/**
 * The rollout decisions, pure: Deployment steps (RollingUpdate, Recreate, scaling, paused — Kubernetes), a
 * DaemonSet's node-by-node steps (Kubernetes' DaemonSet controller), StatefulSet steps (ordinals, partition,
 * OnDelete — Kubernetes), canary and blue/green steps (Argo Rollouts) with canary analysis (coxswain's), revision history, failure detection (Kubernetes' progress
 * deadline, Nomad's healthy deadline, Swarm's failure ratio) and the rollback decision.
 */
export type * from "./types.js";
export type { ReplicaSetPod } from "./replicaset.js";
export type { BarePod, PodEnd, PodNodeState, PodStep } from "./pod.js";
export {
  DEFAULT_ANALYSIS,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  parseDurationSeconds,
  parsePromote,
  resolveBlueGreenParams,
  resolveCanaryParams,
  resolveFailurePolicy,
  resolveRollingParams,
} from "./params.js";
export { isAvailable, nextStep } from "./rolling.js";
export { sameSizes } from "./core.js";
export { nextRevisionNumber, pruneHistory, recordRevision } from "./history.js";
export { detectFailure, rolloutHealth } from "./health.js";
export { decideRollback } from "./rollback.js";
export { daemonFit, daemonSetStep, withDaemonTolerations } from "./daemonset.js";
export type { DaemonNode, DaemonPod, DaemonSetInput, DaemonSetStep, DaemonStrategy } from "./daemonset.js";
export { basicCanaryCounts, canaryStep, canaryWeightAt, canaryWeightCounts, deriveCanaryStepIndex, routedCanaryCounts } from "./canary.js";
export { blueGreenStep } from "./bluegreen.js";
export { decidePromote } from "./promote.js";
export { ordinalOf, statefulPodName, statefulSetStep } from "./statefulset.js";
export { compareForScaleDown, replicaSetStep } from "./replicaset.js";
export { podStep } from "./pod.js";
export { analysisVerdict, describeWindow, judgeWindow, windowsDue } from "./analysis.js";
