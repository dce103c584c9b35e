/**
 * The scheduler: pure placement of pods on a snapshot of the fleet (schedule.ts) with kube-scheduler's
 * filters and scores (plugins.ts), preemption (preemption.ts) and Kubernetes-style explanations of
 * unschedulable pods (explain.ts). Pods that fit nowhere wait in the workload controller, which retries
 * them with back-off and at once when the fleet changes.
 */
export type * from "./types.js";
export { DEFAULT_SEED, evaluatePod, schedule, type NodeEvaluation, type PodEvaluation } from "./schedule.js";
export { selectVictims } from "./preemption.js";
export { explainNoNodes, explainPreemption, explainUnschedulable, NO_NODES_MESSAGE, unschedulableError } from "./explain.js";
export {
  balancedAllocation,
  createProfile,
  type SchedulerSettings,
  DEFAULT_HOSTNAME_MAX_SKEW,
  DEFAULT_IMAGE_SIZE_BYTES,
  DEFAULT_PROFILE,
  DEFAULT_ZONE_MAX_SKEW,
  filterReasons,
  imageLocality,
  interPodAffinity,
  interPodAffinityScore,
  leastAllocated,
  MAX_NODE_SCORE,
  mostAllocated,
  nodeAffinity,
  nodeAffinityScore,
  nodeName,
  nodePorts,
  nodeResourcesFit,
  nodeResourcesFitScore,
  nodeUnschedulable,
  podTopologySpread,
  podTopologySpreadScore,
  taintToleration,
  taintTolerationScore,
  volumeBinding,
  type ProfileOptions,
  type ResourceWeights,
  type ScoringStrategy,
  type UtilizationShapePoint,
} from "./plugins.js";
export * from "./reasons.js";
export { seededRandom } from "./random.js";
export { DEFAULT_NAMESPACE, HOSTNAME_KEY, ZONE_KEY } from "./cluster.js";
