/**
 * The scheduler's inputs and outputs. The scheduler is pure: a snapshot of the fleet and the pods to place
 * go in; placements and explanations come out. Nothing here talks to a runtime.
 *
 * The Kubernetes-shaped types (LabelSelector, Affinity, Toleration, Taint, TopologySpreadConstraint, …)
 * mirror the Kubernetes JSON field for field, so that a manifest's pod spec maps onto them one to one.
 * Every field added after the foundation is optional, with the Kubernetes default when omitted.
 */

/** cpu in millicores, memory in bytes. */
export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
  /**
   * Extended resources (names with a domain, e.g. "example.com/dongle") in whole units; absent or missing: 0.
   * Only NodeResourcesFit's filter looks at them (a node offers none it does not declare), as kube-scheduler's
   * default profile does; scores use cpu and memory only.
   */
  extended?: Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------------------------------------------------
// Kubernetes shapes (k8s.io/api/core/v1 and meta/v1), structural.

/** metav1.LabelSelectorRequirement: `key <operator> values`. In/NotIn take values; Exists/DoesNotExist none. */
export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: readonly string[];
}

/**
 * metav1.LabelSelector: matchLabels and matchExpressions, ANDed. An empty selector ({}) matches every
 * label set; an absent selector (undefined where a selector is optional) matches nothing, as in Kubernetes.
 */
export interface LabelSelector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

/**
 * v1.NodeSelectorRequirement. Gt/Lt take exactly one integer value and compare the node label parsed as an
 * integer (a label that is not an integer does not match). NotIn and DoesNotExist match a node without the key.
 */
export interface NodeSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  values?: readonly string[];
}

/**
 * v1.NodeSelectorTerm: expressions on node labels and fields, ANDed. The only field is `metadata.name`
 * (In/NotIn). A term with no requirements matches no node.
 */
export interface NodeSelectorTerm {
  matchExpressions?: readonly NodeSelectorRequirement[];
  matchFields?: readonly NodeSelectorRequirement[];
}

/** v1.NodeSelector: terms ORed. No terms matches no node. */
export interface NodeSelector {
  nodeSelectorTerms: readonly NodeSelectorTerm[];
}

/** v1.PreferredSchedulingTerm: a node matching `preference` earns `weight` (1..100). */
export interface PreferredSchedulingTerm {
  weight: number;
  preference: NodeSelectorTerm;
}

/** v1.NodeAffinity. */
export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  preferredDuringSchedulingIgnoredDuringExecution?: readonly PreferredSchedulingTerm[];
}

/**
 * v1.PodAffinityTerm: the pods matching labelSelector in the given namespaces (namespaces ∪ the namespaces
 * whose labels match namespaceSelector; both absent = the pod's own namespace; namespaceSelector {} = all),
 * counted per topology domain (the nodes sharing a value of topologyKey). matchLabelKeys / mismatchLabelKeys
 * add `key in (pod's value)` / `key notin (pod's value)` to the selector for keys the pod carries.
 */
export interface PodAffinityTerm {
  labelSelector?: LabelSelector;
  namespaces?: readonly string[];
  namespaceSelector?: LabelSelector;
  topologyKey: string;
  matchLabelKeys?: readonly string[];
  mismatchLabelKeys?: readonly string[];
}

/** v1.WeightedPodAffinityTerm (weight 1..100). */
export interface WeightedPodAffinityTerm {
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}

/** v1.PodAffinity and v1.PodAntiAffinity (same shape). */
export interface PodAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: readonly PodAffinityTerm[];
  preferredDuringSchedulingIgnoredDuringExecution?: readonly WeightedPodAffinityTerm[];
}

/** v1.Affinity. */
export interface Affinity {
  nodeAffinity?: NodeAffinity;
  podAffinity?: PodAffinity;
  podAntiAffinity?: PodAffinity;
}

/** A taint's effect. NoSchedule and NoExecute keep pods away (filter); PreferNoSchedule only scores. */
export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

/** v1.Taint on a node. A missing value is the empty string. */
export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

/**
 * v1.Toleration. operator Equal (default) needs key and value equal; Exists needs only the key, and with an
 * empty key tolerates every taint. An empty effect matches every effect. tolerationSeconds is carried for
 * NoExecute eviction and ignored by scheduling.
 */
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: TaintEffect;
  tolerationSeconds?: number;
}

/**
 * v1.TopologySpreadConstraint. skew = matching pods in a domain + (1 if the pod matches its own selector)
 * − the minimum over eligible domains; DoNotSchedule rejects skew > maxSkew, ScheduleAnyway only scores.
 * nodeAffinityPolicy Honor (default) counts only nodes matching the pod's nodeSelector/required node affinity;
 * nodeTaintsPolicy Ignore (default) counts tainted nodes too. minDomains (DoNotSchedule only): with fewer
 * eligible domains the minimum is 0.
 */
export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  labelSelector?: LabelSelector;
  minDomains?: number;
  nodeAffinityPolicy?: "Honor" | "Ignore";
  nodeTaintsPolicy?: "Honor" | "Ignore";
  matchLabelKeys?: readonly string[];
}

/** A fixed host port (v1.ContainerPort.hostPort with its protocol and hostIP). hostIP defaults to 0.0.0.0, protocol to TCP. */
export interface HostPort {
  port: number;
  protocol?: "TCP" | "UDP" | "SCTP";
  hostIP?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Snapshot and requests.

/**
 * A pod already on a node, as the inter-pod plugins (spreading, affinity), the symmetric anti-affinity check and
 * preemption need it. The node's aggregate fields (requested, podCount, freePorts, hostPortsInUse, podsByOwner)
 * must already include these pods; the per-pod fields here are what preemption gives back when it removes one.
 */
export interface PodSummary {
  /** Identity, unique in the fleet (the pod name); victims of preemption are reported by it. */
  name: string;
  /** Namespace (default "default"). */
  namespace?: string;
  /** Pod labels, matched by label selectors of spreading and affinity terms. */
  labels?: Readonly<Record<string, string>>;
  /** Owner key, e.g. "Deployment/default/web". */
  owner?: string;
  /** Priority (default 0): only pods of strictly lower priority can be preempted. */
  priority?: number;
  /** Real requests (freed when preempted). */
  requests?: Resources;
  /** Scoring requests (default: requests). */
  requestsForScoring?: Resources;
  /** Ports taken from the node's portRange (given back when preempted). */
  ports?: number;
  /** Fixed host ports held. */
  hostPorts?: readonly HostPort[];
  /** The pod's affinity: its required anti-affinity keeps incoming pods away (symmetry); preferred terms score. */
  affinity?: Affinity;
  /** Start time in ms since the epoch (preemption prefers the node whose victims started last); unknown = now. */
  startTime?: number;
  /** Being deleted: not counted for spreading (as Kubernetes), still holding its resources. */
  terminating?: boolean;
}

/** One node as the scheduler sees it at the start of a scheduling pass. */
export interface NodeSnapshot {
  name: string;
  /** Cordoned: no new pods (unless they tolerate node.kubernetes.io/unschedulable:NoSchedule). */
  unschedulable: boolean;
  /**
   * Node labels (node affinity, topology domains). kubernetes.io/hostname defaults to the node name when
   * absent, so hostname spreading and anti-affinity work without labelling nodes.
   */
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
  /**
   * Pods on the node per owner ("Deployment/ns/name"), for the default spreading of an owner's replicas. Pods that
   * `pods` lists as terminating are taken out of these counts for spreading, as Kubernetes does.
   */
  podsByOwner: Record<string, number>;
  /** Taints, in the node's order (the first untolerated one is named in explanations). Default none. */
  taints?: readonly Taint[];
  /** Fixed host ports taken on the node. Default none. */
  hostPortsInUse?: readonly HostPort[];
  /** Images the node holds ("repo:tag"; a name without tag means ":latest"). Default none. */
  images?: readonly string[];
  /**
   * Image sizes in bytes, by normalized name, for ImageLocality. An image of unknown size counts as
   * DEFAULT_IMAGE_SIZE_BYTES (scheduler/plugins.ts): equal sizes, so only how many of the pod's images the node
   * holds, and on how many nodes, decides.
   */
  imageSizes?: Readonly<Record<string, number>>;
  /** The pods on the node, for the inter-pod plugins and preemption. Default none. */
  pods?: readonly PodSummary[];
}

/** A PersistentVolumeClaim a pod mounts, as the scheduler sees it. */
export interface ClaimRequest {
  /** "namespace/name". */
  name: string;
  /** The node the claim is bound to; absent while it is unbound. */
  node?: string;
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
  /** Host ports the pod needs from the node's portRange (coxswain assigns them). */
  ports: number;
  /** Namespace (default "default"): scope of the pod's own affinity terms and spreading selectors. */
  namespace?: string;
  /** Pod labels (matched by selectors of other pods' terms and the pod's own). Default none. */
  labels?: Readonly<Record<string, string>>;
  /** Priority (default 0): higher is placed first by the queue and may preempt lower pods. */
  priority?: number;
  /** PreemptLowerPriority (default) or Never (the pod never preempts). */
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  /** spec.nodeName: only this node is feasible. */
  nodeName?: string;
  /** spec.nodeSelector: every label must be on the node. */
  nodeSelector?: Readonly<Record<string, string>>;
  /** spec.affinity. */
  affinity?: Affinity;
  /** spec.tolerations. */
  tolerations?: readonly Toleration[];
  /**
   * spec.topologySpreadConstraints. A pod without any gets the system default constraints for scoring
   * (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway, selecting the pods of the same owner), as Kubernetes.
   */
  topologySpreadConstraints?: readonly TopologySpreadConstraint[];
  /** Fixed host ports (containers' hostPort). */
  hostPorts?: readonly HostPort[];
  /**
   * The PersistentVolumeClaims the pod mounts, sorted by name ("namespace/name"), with the node each is bound to
   * (VolumeBinding: the pod fits that node only; a node missing from the snapshot — gone, or NotReady — fits
   * no node). Placing the pod binds its unbound claims to its node for the rest of the pass.
   */
  claims?: readonly ClaimRequest[];
  /** The images of the pod's containers, one per container ("repo:tag"), for ImageLocality. */
  images?: readonly string[];
  /**
   * status.nominatedNodeName, set after this pod preempted pods there: that node is tried first and taken
   * when it fits; and the pod does not preempt again while lower-priority pods there are still terminating.
   */
  nominatedNodeName?: string;
}

/** A pod that was placed. */
export interface Placement {
  id: string;
  node: string;
  /** Final weighted score of the chosen node (for plans and tests). */
  score: number;
}

/** A pod chosen for preemption: its node and name, with the fields that ordered the choice. */
export interface Victim {
  name: string;
  namespace: string;
  node: string;
  priority: number;
}

/** What preemption decided for a pod: the node it is nominated to, and the pods to delete there. */
export interface Preemption {
  /** The nominated node (becomes the pod's nominatedNodeName). */
  node: string;
  /** Pods to delete on that node, most important first (higher priority, then earlier start). */
  victims: Victim[];
}

/** A pod that fits nowhere, with Kubernetes' explanation. */
export interface Unschedulable {
  id: string;
  /**
   * Kubernetes' FitError text, e.g. "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient
   * memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption
   * victims found for incoming pod." (the preemption part only when preemption ran and found nothing).
   */
  message: string;
  /** Reason → number of nodes rejected for it (filters only). */
  reasons: Record<string, number>;
  /** The filter plugins that rejected at least one node, sorted (for the queue's event filtering). */
  plugins: string[];
  /** Set when preemption chose victims: the pod is nominated to that node and waits for them to go. */
  preemption?: Preemption;
}

/** The outcome of one scheduling pass. Placements count for the pods after them in the same pass. */
export interface ScheduleResult {
  placements: Placement[];
  unschedulable: Unschedulable[];
  /** Where the next pass should start filtering (round robin over the name-sorted nodes); pass as startIndex. */
  nextStartIndex: number;
}

/** Options of a pass. */
export interface ScheduleOptions {
  /** Seed for breaking ties between equal scores; same seed, same snapshot → same placements. */
  seed?: number;
  /** The plugins to run; DEFAULT_PROFILE (scheduler/plugins.ts) when omitted. */
  profile?: SchedulerProfile;
  /**
   * Kubernetes' percentageOfNodesToScore: with 100 nodes or more, filtering stops after
   * max(100, N·pct/100) feasible nodes. 0 (default) = adaptive, pct = max(5, 50 − N/125); 100 = all nodes.
   */
  percentageOfNodesToScore?: number;
  /** Index (into the name-sorted nodes) where filtering starts; the previous result's nextStartIndex. Default 0. */
  startIndex?: number;
  /**
   * Run preemption (Kubernetes' DefaultPreemption) for pods that fit nowhere. Default true. Chosen victims
   * are marked terminating and the pod is reserved on the nominated node for the rest of the pass.
   */
  preemption?: boolean;
  /** Namespace labels, for namespaceSelector in affinity terms. A namespace not listed has no labels. */
  namespaceLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * The PodDisruptionBudgets with their status (policy/v1): preemption prefers victims whose removal keeps
   * every budget, best effort (scheduler/preemption.ts). None: every victim is as good as any other.
   */
  disruptionBudgets?: readonly DisruptionBudgetStatus[];
}

/** A PodDisruptionBudget as kube-scheduler's preemption reads it: its namespace, selector and status.disruptionsAllowed. */
export interface DisruptionBudgetStatus {
  namespace: string;
  /** As kube-scheduler reads it, an absent or empty selector matches no pod. */
  selector?: LabelSelector;
  disruptionsAllowed: number;
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
 * The node is a view of the scheduler's working state (earlier placements of the pass included): read it,
 * never write it. The built-in plugins (scheduler/plugins.ts) run on the scheduler's own state; called
 * directly, they see the given node alone (cluster-wide plugins then treat it as the whole fleet).
 */
export interface FilterPlugin {
  /** Stable plugin name, e.g. "NodeResourcesFit". */
  readonly name: string;
  /** Reasons are Kubernetes' short phrases ("Insufficient cpu"); they are counted per node in explanations. */
  filter(pod: PodRequest, node: NodeSnapshot, state: CycleState): FilterResult;
  /**
   * Whether a pod rejected by this plugin might fit once other pods are removed from the node (Kubernetes'
   * Unschedulable, as opposed to UnschedulableAndUnresolvable): preemption only tries such nodes. Default false.
   */
  readonly resolvable?: boolean;
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
  /**
   * Once per pod, before score, with every feasible node (in the order they were found). Returning false skips
   * the plugin for this pod (Kubernetes' Skip status): it then adds 0 to every node.
   */
  preScore?(pod: PodRequest, feasible: readonly NodeSnapshot[], state: CycleState): boolean | void;
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
