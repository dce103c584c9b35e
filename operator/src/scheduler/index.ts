/**
 * The scheduler: pure placement of pods on a snapshot of the fleet (see schedule.ts), its plugins and
 * Kubernetes-style explanations of unschedulable pods.
 */
export type * from "./types.js";
export { DEFAULT_SEED, schedule } from "./schedule.js";
export { explainNoNodes, explainUnschedulable, NO_NODES_MESSAGE, unschedulableError } from "./explain.js";
export {
  DEFAULT_HOSTNAME_MAX_SKEW,
  DEFAULT_PROFILE,
  filterReasons,
  leastAllocated,
  MAX_NODE_SCORE,
  nodePorts,
  nodeResourcesFit,
  nodeUnschedulable,
  podTopologySpread,
  REASON_INSUFFICIENT_CPU,
  REASON_INSUFFICIENT_MEMORY,
  REASON_NO_FREE_PORTS,
  REASON_TOO_MANY_PODS,
  REASON_UNSCHEDULABLE,
} from "./plugins.js";
export { seededRandom } from "./random.js";
