/**
 * The scheduler's inputs and outputs. The scheduler is pure: a snapshot of the fleet and the pods to place
 * go in; placements and explanations come out. Nothing here talks to a runtime.
 */

/** cpu in millicores, memory in bytes. */
export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
}

/** One node as the scheduler sees it at the start of a scheduling pass. */
export interface NodeSnapshot {
  name: string;
  /** Cordoned: no new pods. */
  unschedulable: boolean;
  /** Node labels (for later plugins: affinity, topology). */
  labels: Record<string, string>;
  /** What pods may use: capacity minus reserve. */
  allocatable: Resources & { pods: number };
  /** Sum of the real requests of the pods on the node (running, starting and assumed). */
  requested: Resources;
  /** Sum of the requests used for scoring (containers without requests count 100m / 200Mi). */
  requestedForScoring: Resources;
  /** Number of pods on the node. */
  podCount: number;
  /** Host ports still free in the node's portRange. */
  freePorts: number;
  /** Pods on the node per owner ("Deployment/ns/name"), for spreading replicas. */
  podsByOwner: Record<string, number>;
}

/** A pod that needs a node. */
export interface PodRequest {
  /** Stable identity for results, e.g. the pod name. */
  id: string;
  /** Owner key, e.g. "Deployment/default/web": replicas of one owner are spread over nodes. */
  owner: string;
  /** Real requests (0 when the manifest sets none); used to filter. */
  requests: Resources;
  /** Requests for scoring (100m / 200Mi per container without requests, as Kubernetes). */
  requestsForScoring: Resources;
  /** Host ports the pod needs from the node's portRange. */
  ports: number;
}

/** A pod that was placed. */
export interface Placement {
  id: string;
  node: string;
  /** Final weighted score of the chosen node (for plans and tests). */
  score: number;
}

/** A pod that fits nowhere, with Kubernetes' explanation. */
export interface Unschedulable {
  id: string;
  /** e.g. "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory." */
  message: string;
  /** Reason → number of nodes rejected for it. */
  reasons: Record<string, number>;
}

/** The outcome of one scheduling pass. Placements count for the pods after them in the same pass. */
export interface ScheduleResult {
  placements: Placement[];
  unschedulable: Unschedulable[];
}

/** Options of a pass. */
export interface ScheduleOptions {
  /** Seed for breaking ties between equal scores; same seed, same snapshot → same placements. */
  seed?: number;
  /** The plugins to run; DEFAULT_PROFILE (scheduler/plugins.ts) when omitted. */
  profile?: SchedulerProfile;
}

/**
 * Scratch space of one scheduling cycle (one pod), shared by that cycle's plugins, as kube-scheduler's
 * CycleState: a plugin's preScore writes what its score and normalize read. Keys are plugin names.
 */
export type CycleState = Map<string, unknown>;

/** What a filter says about one node: undefined = the pod fits; otherwise every reason it does not. */
export type FilterResult = undefined | string | readonly string[];

/**
 * A hard constraint (kube-scheduler Filter extension point). Filters run in profile order and the first
 * that rejects a node decides its reasons; the later filters do not run for that node.
 * The node is the scheduler's working copy (earlier placements of the pass included): read it, never write it.
 */
export interface FilterPlugin {
  /** Stable plugin name, e.g. "NodeResourcesFit". */
  readonly name: string;
  /** Reasons are Kubernetes' short phrases ("Insufficient cpu"); they are counted per node in explanations. */
  filter(pod: PodRequest, node: NodeSnapshot, state: CycleState): FilterResult;
}

/**
 * A soft preference (kube-scheduler PreScore + Score + NormalizeScore). After normalize (or score, when
 * there is no normalize) every value must be an integer in 0..100; the scheduler sums value·weight.
 */
export interface ScorePlugin {
  /** Stable plugin name, e.g. "PodTopologySpread". */
  readonly name: string;
  /** Multiplies this plugin's 0..100 score in the weighted sum. */
  readonly weight: number;
  /** Once per pod, before score, with every feasible node (in the scheduler's node order). */
  preScore?(pod: PodRequest, feasible: readonly NodeSnapshot[], state: CycleState): void;
  /** The raw score of one feasible node. */
  score(pod: PodRequest, node: NodeSnapshot, state: CycleState): number;
  /** Rewrites scores in place into 0..100; scores[i] belongs to feasible[i]. */
  normalize?(pod: PodRequest, scores: Float64Array, feasible: readonly NodeSnapshot[], state: CycleState): void;
}

/** The plugin lists of a scheduler, as a kube-scheduler profile: filters in order, scores with weights. */
export interface SchedulerProfile {
  filters: readonly FilterPlugin[];
  scores: readonly ScorePlugin[];
}
