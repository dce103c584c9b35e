/**
 * The scheduler's plugins, each a small copy of the kube-scheduler plugin of the same name, and the default
 * profile that lists them in kube-scheduler's order. Later plugins (TaintToleration, NodeAffinity, …) slot
 * into DEFAULT_PROFILE without touching the framework.
 */
import type { CycleState, FilterPlugin, FilterResult, NodeSnapshot, PodRequest, SchedulerProfile, ScorePlugin } from "./types.js";

/** Highest score a plugin gives a node (kube-scheduler's MaxNodeScore). */
export const MAX_NODE_SCORE = 100;

/** Kubernetes' reason for a cordoned node (NodeUnschedulable ErrReasonUnschedulable). */
export const REASON_UNSCHEDULABLE = "node(s) were unschedulable";
/** Kubernetes' reason for a node without the ports a pod needs (NodePorts ErrReason). */
export const REASON_NO_FREE_PORTS = "node(s) didn't have free ports for the requested pod ports";
/** NodeResourcesFit: the node already holds allocatable.pods pods (checked first, as Kubernetes does). */
export const REASON_TOO_MANY_PODS = "Too many pods";
/** NodeResourcesFit: the pod's cpu request exceeds allocatable − requested. */
export const REASON_INSUFFICIENT_CPU = "Insufficient cpu";
/** NodeResourcesFit: the pod's memory request exceeds allocatable − requested. */
export const REASON_INSUFFICIENT_MEMORY = "Insufficient memory";

/** NodeUnschedulable: a cordoned node takes no new pods. */
export const nodeUnschedulable: FilterPlugin = {
  name: "NodeUnschedulable",
  filter(_pod, node) {
    return node.unschedulable ? REASON_UNSCHEDULABLE : undefined;
  },
};

/**
 * NodePorts, coxswain's way: host ports are not named in the manifest but assigned from the node's
 * portRange, so a node fits when its range still has as many free ports as the pod needs.
 */
export const nodePorts: FilterPlugin = {
  name: "NodePorts",
  filter(pod, node) {
    return pod.ports > 0 && pod.ports > node.freePorts ? REASON_NO_FREE_PORTS : undefined;
  },
};

/**
 * NodeResourcesFit (filter half): the pod count, then each resource the pod requests (> 0) against
 * allocatable − requested. Like Kubernetes' fitsRequest it reports every insufficient resource of the node,
 * not only the first, so one node can count under several reasons in the explanation.
 */
export const nodeResourcesFit: FilterPlugin = {
  name: "NodeResourcesFit",
  filter(pod, node): FilterResult {
    let reasons: string[] | undefined;
    if (node.podCount + 1 > node.allocatable.pods) (reasons ??= []).push(REASON_TOO_MANY_PODS);
    const cpu = pod.requests.cpuMillis;
    if (cpu > 0 && cpu > node.allocatable.cpuMillis - node.requested.cpuMillis) (reasons ??= []).push(REASON_INSUFFICIENT_CPU);
    const mem = pod.requests.memoryBytes;
    if (mem > 0 && mem > node.allocatable.memoryBytes - node.requested.memoryBytes) {
      (reasons ??= []).push(REASON_INSUFFICIENT_MEMORY);
    }
    return reasons;
  },
};

/** ((capacity − requested)·100)/capacity in integer arithmetic; 0 when the request exceeds capacity. */
function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/**
 * NodeResourcesFit LeastAllocated score (Kubernetes' default scoring strategy): per resource
 * ((allocatable − requested)·100)/allocatable, where requested is the node's scoring requests plus the
 * incoming pod's (100m / 200Mi per container without requests), averaged over cpu and memory with equal
 * weights in integer arithmetic. A resource the node has none of is left out, as Kubernetes does.
 */
export const leastAllocated: ScorePlugin = {
  name: "NodeResourcesFit",
  weight: 1,
  score(pod, node) {
    let sum = 0;
    let weights = 0;
    const cpuCap = node.allocatable.cpuMillis;
    if (cpuCap > 0) {
      sum += leastRequestedScore(node.requestedForScoring.cpuMillis + pod.requestsForScoring.cpuMillis, cpuCap);
      weights += 1;
    }
    const memCap = node.allocatable.memoryBytes;
    if (memCap > 0) {
      sum += leastRequestedScore(node.requestedForScoring.memoryBytes + pod.requestsForScoring.memoryBytes, memCap);
      weights += 1;
    }
    return weights === 0 ? 0 : Math.floor(sum / weights);
  },
};

/** maxSkew of Kubernetes' system default hostname spreading constraint (ScheduleAnyway). */
export const DEFAULT_HOSTNAME_MAX_SKEW = 3;

interface SpreadState {
  /** log(feasible nodes + 2): Kubernetes' topologyNormalizingWeight for the hostname key. */
  weight: number;
}

/**
 * PodTopologySpread score with Kubernetes' system default constraint on the hostname key
 * (maxSkew 3, ScheduleAnyway): replicas of one owner prefer the nodes with fewer of them.
 * Raw score per node = round(count·log(feasible + 2) + (maxSkew − 1)); normalize maps the lowest raw score to
 * 100 and the others to 100·(max + min − s)/max (integer division), exactly kube-scheduler's NormalizeScore.
 * This is PodTopologySpread's scoring, not the retired SelectorSpread. The system default zone constraint
 * is not applied: coxswain nodes carry no zone label yet (and Kubernetes skips it for nodes without one).
 * A pod without owner has no default constraint: every node scores 100.
 */
export const podTopologySpread: ScorePlugin = {
  name: "PodTopologySpread",
  weight: 2,
  preScore(pod, feasible, state) {
    if (pod.owner === "") return;
    const s: SpreadState = { weight: Math.log(feasible.length + 2) };
    state.set("PodTopologySpread", s);
  },
  score(pod, node, state) {
    const s = state.get("PodTopologySpread") as SpreadState | undefined;
    if (s === undefined) return 0;
    const count = node.podsByOwner[pod.owner] ?? 0;
    return Math.round(count * s.weight + (DEFAULT_HOSTNAME_MAX_SKEW - 1));
  },
  normalize(_pod, scores) {
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let i = 0; i < scores.length; i++) {
      scores[i] = max === 0 ? MAX_NODE_SCORE : Math.floor((MAX_NODE_SCORE * (max + min - scores[i]!)) / max);
    }
  },
};

/**
 * The default profile: filters in kube-scheduler's order (NodeUnschedulable, NodePorts, NodeResourcesFit),
 * scores with Kubernetes' default weights (NodeResourcesFit LeastAllocated 1, PodTopologySpread 2).
 */
export const DEFAULT_PROFILE: SchedulerProfile = Object.freeze({
  filters: Object.freeze([nodeUnschedulable, nodePorts, nodeResourcesFit]),
  scores: Object.freeze([leastAllocated, podTopologySpread]),
});

/** Runs one filter on a node and returns its reasons as a list (empty = fits); for tests and plans. */
export function filterReasons(plugin: FilterPlugin, pod: PodRequest, node: NodeSnapshot, state: CycleState = new Map()): string[] {
  const r = plugin.filter(pod, node, state);
  if (r === undefined) return [];
  return typeof r === "string" ? [r] : [...r];
}
