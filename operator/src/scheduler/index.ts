/**
 * The scheduler: pure placement of pods on a snapshot of the fleet (schedule.ts) with kube-scheduler's
 * filters and scores (plugins.ts), preemption (preemption.ts) and Kubernetes-style explanations of
 * unschedulable pods (explain.ts). Pods that fit nowhere wait in the workload controller, which retries
 * them with back-off and at once when the fleet changes.
 */
export type * from "./types.js";
export { DEFAULT_SEED, evaluatePod, schedule } from "./schedule.js";
export { selectVictims } from "./preemption.js";
export { explainUnschedulable, unschedulableError } from "./explain.js";
export {
  balancedAllocation,
  createProfile,
  type SchedulerSettings,
  DEFAULT_PROFILE,
  filterReasons,
  imageLocality,
  interPodAffinity,
  interPodAffinityScore,
  leastAllocated,
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
} from "./plugins.js";
export * from "./reasons.js";
