/**
 * The built-in plugins as profile entries, and the default profile that lists them in kube-scheduler's order
 * with Kubernetes' default weights. The plugins themselves run inside the framework (framework.ts; each family's
 * rules in its own file: fit.ts, ports.ts, taints.ts, node-affinity.ts, volume.ts, spread.ts, interpod.ts, images.ts)
 * on the scheduler's working state; these objects name them (and carry their configuration). Each also works as a
 * plain FilterPlugin/ScorePlugin when called directly, on the nodes it is given.
 *
 * Default profile (kube-scheduler's getDefaultPlugins; of the volume plugins, VolumeBinding only):
 *   filters: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
 *            VolumeBinding (coxswain's claims: a claim bound to a node pins its pods there), PodTopologySpread,
 *            InterPodAffinity
 *   scores:  TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
 *            NodeResourcesFit 1 (LeastAllocated), NodeResourcesBalancedAllocation 1, ImageLocality 1
 */
import { CoxError } from "../api/errors.js";
import type { ScoringStrategy, UtilizationShapePoint } from "./fit.js";
import { BUILTIN, compileProfile, Engine, FilterCode, ScoreCode, type BuiltinSpec } from "./framework.js";
import { compilePod } from "./podinfo.js";
import type { CycleState, FilterPlugin, NodeSnapshot, PodRequest, SchedulerProfile, ScorePlugin } from "./types.js";

export type { ScoringStrategy } from "./fit.js";
export * from "./reasons.js";

/** The reasons a built-in filter gives a single node (the node alone is the whole fleet). */
function standaloneFilter(self: FilterPlugin, pod: PodRequest, node: NodeSnapshot): readonly string[] | undefined {
  const engine = new Engine([node], compileProfile({ filters: [self], scores: [] }), {});
  const r = engine.filter(engine.cycle(compilePod(pod)), 0);
  return r === 0 ? undefined : engine.reasons.list[r]!.reasons;
}

function builtinFilter(name: string, code: number, resolvable: boolean): FilterPlugin {
  const spec: BuiltinSpec = { kind: "filter", code };
  const plugin: FilterPlugin & { [BUILTIN]: BuiltinSpec } = {
    name,
    resolvable,
    [BUILTIN]: spec,
    filter(pod, node) {
      return standaloneFilter(plugin, pod, node);
    },
  };
  return Object.freeze(plugin);
}

/** Normalized scores of a built-in score plugin over the given nodes, by node name (standalone use). */
function standaloneScores(self: ScorePlugin, pod: PodRequest, nodes: readonly NodeSnapshot[]): Map<string, number> {
  const engine = new Engine(nodes, compileProfile({ filters: [], scores: [self] }), {});
  const cy = engine.cycle(compilePod(pod));
  const n = engine.cl.n;
  const feasible = Int32Array.from({ length: n }, (_, i) => i);
  const record = new Map<string, Float64Array>();
  engine.score(cy, feasible, n, record);
  const scores = record.get(self.name)!;
  return new Map(engine.cl.names.map((name, i) => [name, scores[i]!]));
}

function builtinScore(name: string, code: number, weight: number, strategy?: ScoringStrategy): ScorePlugin {
  const spec: BuiltinSpec = strategy === undefined ? { kind: "score", code } : { kind: "score", code, strategy };
  const key = `${name}#standalone`;
  const plugin: ScorePlugin & { [BUILTIN]: BuiltinSpec } = {
    name,
    weight,
    [BUILTIN]: spec,
    preScore(pod, feasible, state: CycleState) {
      state.set(key, standaloneScores(plugin, pod, feasible));
    },
    score(pod, node, state: CycleState) {
      const all = state.get(key) as Map<string, number> | undefined;
      return all?.get(node.name) ?? standaloneScores(plugin, pod, [node]).get(node.name)!;
    },
  };
  return Object.freeze(plugin);
}

/** NodeUnschedulable: a cordoned node takes no pods, unless they tolerate node.kubernetes.io/unschedulable:NoSchedule. */
export const nodeUnschedulable = builtinFilter("NodeUnschedulable", FilterCode.NodeUnschedulable, false);
/** NodeName: a pod with spec.nodeName fits only that node. */
export const nodeName = builtinFilter("NodeName", FilterCode.NodeName, false);
/** TaintToleration (filter): the first NoSchedule/NoExecute taint the pod does not tolerate rejects the node. */
export const taintToleration = builtinFilter("TaintToleration", FilterCode.TaintToleration, false);
/** NodeAffinity (filter): nodeSelector AND one of the required terms (terms ORed, expressions ANDed, Gt/Lt numeric). */
export const nodeAffinity = builtinFilter("NodeAffinity", FilterCode.NodeAffinity, false);
/**
 * NodePorts: a fixed hostPort taken on the node (same protocol and port, on the same address or 0.0.0.0), or —
 * coxswain's own ports — fewer free ports in the node's portRange than the pod needs.
 */
export const nodePorts = builtinFilter("NodePorts", FilterCode.NodePorts, true);
/** NodeResourcesFit (filter): pod count, then every requested resource against allocatable − requested; all shortfalls listed. */
export const nodeResourcesFit = builtinFilter("NodeResourcesFit", FilterCode.NodeResourcesFit, true);
/** VolumeBinding: a pod mounting a PersistentVolumeClaim bound to a node fits that node only (reasons.ts). */
export const volumeBinding = builtinFilter("VolumeBinding", FilterCode.VolumeBinding, false);
/** PodTopologySpread (filter): DoNotSchedule constraints; a node without the topology key is infeasible. */
export const podTopologySpread = builtinFilter("PodTopologySpread", FilterCode.PodTopologySpread, true);
/** InterPodAffinity (filter): the pod's required affinity and anti-affinity, and existing pods' required anti-affinity. */
export const interPodAffinity = builtinFilter("InterPodAffinity", FilterCode.InterPodAffinity, true);

/** TaintToleration (score, weight 3): fewer intolerable PreferNoSchedule taints is better. */
export const taintTolerationScore = builtinScore("TaintToleration", ScoreCode.TaintToleration, 3);
/** NodeAffinity (score, weight 2): sum of the matching preferred terms' weights, normalized by the maximum. */
export const nodeAffinityScore = builtinScore("NodeAffinity", ScoreCode.NodeAffinity, 2);
/**
 * PodTopologySpread (score, weight 2): ScheduleAnyway constraints, or the system defaults (hostname maxSkew 3,
 * zone maxSkew 5, over the pods of the same owner) for a pod without constraints.
 */
export const podTopologySpreadScore = builtinScore("PodTopologySpread", ScoreCode.PodTopologySpread, 2);
/** InterPodAffinity (score, weight 2): preferred terms of the pod and of existing pods, both directions. */
export const interPodAffinityScore = builtinScore("InterPodAffinity", ScoreCode.InterPodAffinity, 2);
/** NodeResourcesFit LeastAllocated (score, weight 1, the default strategy): prefers the emptiest node. */
export const leastAllocated = builtinScore("NodeResourcesFit", ScoreCode.NodeResourcesFit, 1, { type: "LeastAllocated" });
/** NodeResourcesFit MostAllocated (score, weight 1): prefers the fullest node that fits (bin packing). */
export const mostAllocated = builtinScore("NodeResourcesFit", ScoreCode.NodeResourcesFit, 1, { type: "MostAllocated" });
/** NodeResourcesBalancedAllocation (score, weight 1): prefers nodes whose cpu and memory fractions stay close. */
export const balancedAllocation = builtinScore("NodeResourcesBalancedAllocation", ScoreCode.BalancedAllocation, 1);
/** ImageLocality (score, weight 1): prefers nodes that already hold the pod's images (fast start, fast rollback). */
export const imageLocality = builtinScore("ImageLocality", ScoreCode.ImageLocality, 1);

/** NodeResourcesFit with a scoring strategy (weight 1). RequestedToCapacityRatio needs 1..n shape points, utilization ascending. */
export function nodeResourcesFitScore(strategy: ScoringStrategy): ScorePlugin {
  if (strategy.type === "RequestedToCapacityRatio") validateShape(strategy.shape);
  return builtinScore("NodeResourcesFit", ScoreCode.NodeResourcesFit, 1, strategy);
}

function validateShape(shape: readonly UtilizationShapePoint[]): void {
  if (shape.length === 0) throw new CoxError("InvalidArgument", "RequestedToCapacityRatio shape is empty; expected at least one point");
  let last = -1;
  for (const p of shape) {
    if (!(p.utilization >= 0 && p.utilization <= 100) || p.utilization <= last) {
      throw new CoxError("InvalidArgument", `RequestedToCapacityRatio shape utilization ${p.utilization} is invalid; expected 0..100, strictly ascending`);
    }
    if (!(p.score >= 0 && p.score <= 10)) {
      throw new CoxError("InvalidArgument", `RequestedToCapacityRatio shape score ${p.score} is invalid; expected 0..10`);
    }
    last = p.utilization;
  }
}

/** The default profile: every built-in plugin, kube-scheduler's order and weights, LeastAllocated. */
export const DEFAULT_PROFILE: SchedulerProfile = Object.freeze({
  filters: Object.freeze([nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodePorts, nodeResourcesFit, volumeBinding, podTopologySpread, interPodAffinity]),
  scores: Object.freeze([taintTolerationScore, nodeAffinityScore, podTopologySpreadScore, interPodAffinityScore, leastAllocated, balancedAllocation, imageLocality]),
});

/** Options of createProfile. */
export interface ProfileOptions {
  /** NodeResourcesFit's scoring strategy; LeastAllocated when omitted. */
  scoringStrategy?: ScoringStrategy;
  /** Score weights by plugin name ("NodeResourcesFit", "ImageLocality", …), replacing the defaults. */
  weights?: Readonly<Record<string, number>>;
  /** Plugin names to leave out, filters and scores alike (e.g. "ImageLocality"). */
  disabled?: readonly string[];
}

/**
 * A profile derived from the default one (KubeSchedulerConfiguration-style): another NodeResourcesFit strategy,
 * other weights, plugins disabled. Throws CoxError InvalidArgument for a weight that is not a positive number.
 */
export function createProfile(o: ProfileOptions = {}): SchedulerProfile {
  const off = new Set(o.disabled ?? []);
  const fit = o.scoringStrategy === undefined ? leastAllocated : nodeResourcesFitScore(o.scoringStrategy);
  const scores = DEFAULT_PROFILE.scores
    .map((s) => (s === leastAllocated ? fit : s))
    .filter((s) => !off.has(s.name))
    .map((s) => {
      const w = o.weights?.[s.name];
      if (w === undefined) return s;
      if (!(w > 0)) throw new CoxError("InvalidArgument", `weight ${w} of score plugin ${s.name} is invalid; expected a positive number`);
      return Object.freeze({ ...s, weight: w });
    });
  return Object.freeze({ filters: DEFAULT_PROFILE.filters.filter((f) => !off.has(f.name)), scores });
}

/**
 * The scheduler settings an operator runs with (`coxswain run --scheduler-scoring …`): the profile and
 * percentageOfNodesToScore, handed to every schedule() call of the workload controller and of plans.
 */
export interface SchedulerSettings {
  profile?: SchedulerProfile;
  percentageOfNodesToScore?: number;
}

/** Runs one filter on a node and returns its reasons as a list (empty = fits); for tests and plans. */
export function filterReasons(plugin: FilterPlugin, pod: PodRequest, node: NodeSnapshot, state: CycleState = new Map()): string[] {
  const r = plugin.filter(pod, node, state);
  if (r === undefined) return [];
  return typeof r === "string" ? [r] : [...r];
}
