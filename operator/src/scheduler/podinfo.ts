/**
 * A PodRequest compiled once for its scheduling cycle (kube-scheduler's PodInfo + the pod-only parts of every
 * PreFilter/PreScore): selectors, node selector terms, tolerations, spread constraints and affinity terms, with
 * the canonical signatures that key the cluster's caches. Compiled parts are memoized by the identity of the
 * objects they come from, so the replicas of one template (which share their spec objects) compile once.
 */
import { cachedLabelsSig, compileHolderTerms, DEFAULT_NAMESPACE, groupKeyOf, makeEntry, PLACED, type CompiledTerm, type HolderTerms, type PodEntry } from "./cluster.js";
import {
  compileLabelSelector,
  compileNodeSelectorTerm,
  compileRequiredNodeAffinity,
  labelKeyRequirements,
  normalizeHostPorts,
  normalizeImageName,
  tolerationsSig,
  tolerationsTolerate,
  type Labels,
  type NodeMatcher,
  type NormalizedHostPort,
  type Selector,
} from "./match.js";
import type { Affinity, PodRequest, PodSummary, Toleration, TopologySpreadConstraint } from "./types.js";

/** Kubernetes' taint for cordoned nodes: a pod tolerating it ignores NodeUnschedulable. */
const UNSCHEDULABLE_TAINT = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" } as const;

/** One topology spread constraint of a pod, compiled. */
export interface SpreadConstraint {
  readonly key: string;
  readonly maxSkew: number;
  readonly minDomains: number;
  readonly honorAffinity: boolean;
  readonly honorTaints: boolean;
  /** The constraint's selector (labelSelector + matchLabelKeys); for the system defaults, undefined (owner). */
  readonly selector: Selector | undefined;
  /** Whether the pod matches its own selector (counts 1 in its own skew). */
  readonly selfMatch: boolean;
}

/** The tolerations of a pod, compiled. */
export interface TolerationInfo {
  readonly list: readonly Toleration[];
  readonly sig: string;
  readonly toleratesUnschedulable: boolean;
  /** Tolerations that can tolerate a PreferNoSchedule taint (effect empty or PreferNoSchedule). */
  readonly prefer: readonly Toleration[];
  readonly preferSig: string;
}

/** The node-affinity part of a pod, compiled. */
export interface NodeAffinityInfo {
  readonly required: NodeMatcher | undefined;
  readonly preferred: readonly { weight: number; matcher: NodeMatcher }[];
  readonly preferredSig: string;
}

/** The pod-affinity part of a pod, compiled for its namespace and labels. */
export interface PodAffinityInfo {
  readonly requiredAffinity: readonly CompiledTerm[];
  readonly requiredAnti: readonly CompiledTerm[];
  readonly preferredAffinity: readonly CompiledTerm[];
  readonly preferredAnti: readonly CompiledTerm[];
  readonly holder: HolderTerms | undefined;
  /** The pod matches all of its own required affinity terms (the first pod of a self-affine group may go anywhere). */
  readonly selfMatchesAffinity: boolean;
}

/** A pod request compiled for scheduling. */
export interface PodInfo {
  readonly req: PodRequest;
  readonly id: string;
  readonly namespace: string;
  readonly labels: Labels;
  readonly groupKey: string;
  readonly owner: string;
  readonly priority: number;
  readonly preemptNever: boolean;
  readonly cpu: number;
  readonly mem: number;
  readonly scoreCpu: number;
  readonly scoreMem: number;
  /** Extended resources requested (more than 0), sorted by name. */
  readonly ext: readonly (readonly [string, number])[];
  readonly ports: number;
  readonly hostPorts: readonly NormalizedHostPort[];
  readonly images: readonly string[];
  readonly tolerations: TolerationInfo;
  readonly nodeAffinity: NodeAffinityInfo;
  readonly podAffinity: PodAffinityInfo;
  /** DoNotSchedule constraints. */
  readonly spreadHard: readonly SpreadConstraint[];
  /** ScheduleAnyway constraints, or the system defaults when the pod has no constraints at all. */
  readonly spreadSoft: readonly SpreadConstraint[];
  /** spreadSoft are the system defaults (nodes missing a key are not ignored). */
  readonly spreadSystemDefault: boolean;
}

const EMPTY_LABELS: Labels = Object.freeze({});
const EMPTY_KEY = {};

const tolerationCache = new WeakMap<object, TolerationInfo>();

function compileTolerations(list: readonly Toleration[] | undefined): TolerationInfo {
  const key = list ?? EMPTY_KEY;
  let info = tolerationCache.get(key);
  if (info === undefined) {
    const l = list ?? [];
    const prefer = l.filter((t) => t.effect === undefined || (t.effect as string) === "" || t.effect === "PreferNoSchedule");
    info = {
      list: l,
      sig: tolerationsSig(l),
      toleratesUnschedulable: tolerationsTolerate(l, UNSCHEDULABLE_TAINT),
      prefer,
      preferSig: tolerationsSig(prefer),
    };
    tolerationCache.set(key, info);
  }
  return info;
}

const nodeAffinityCache = new WeakMap<object, WeakMap<object, NodeAffinityInfo>>();

function compileNodeAffinity(nodeSelector: Labels | undefined, affinity: Affinity | undefined): NodeAffinityInfo {
  const k1 = affinity?.nodeAffinity ?? EMPTY_KEY;
  const k2 = nodeSelector ?? EMPTY_KEY;
  let inner = nodeAffinityCache.get(k1);
  if (inner === undefined) nodeAffinityCache.set(k1, (inner = new WeakMap()));
  let info = inner.get(k2);
  if (info === undefined) {
    const na = affinity?.nodeAffinity;
    const required = compileRequiredNodeAffinity(nodeSelector, na?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms);
    // newPreferredSchedulingTerms: terms of weight 0 or without requirements never score.
    const preferred = (na?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
      .filter((t) => t.weight !== 0 && ((t.preference.matchExpressions?.length ?? 0) > 0 || (t.preference.matchFields?.length ?? 0) > 0))
      .map((t) => ({ weight: t.weight, matcher: compileNodeSelectorTerm(t.preference) }));
    info = {
      required,
      preferred,
      preferredSig: preferred
        .map((p) => `${p.weight}\u0001${p.matcher.sig}`)
        .sort()
        .join("\u0002"),
    };
    inner.set(k2, info);
  }
  return info;
}

const NO_POD_AFFINITY: PodAffinityInfo = {
  requiredAffinity: [],
  requiredAnti: [],
  preferredAffinity: [],
  preferredAnti: [],
  holder: undefined,
  selfMatchesAffinity: true,
};

const podAffinityCache = new WeakMap<object, Map<string, PodAffinityInfo>>();

function compilePodAffinity(affinity: Affinity | undefined, namespace: string, labels: Labels, groupKey: string): PodAffinityInfo {
  if (affinity === undefined || (affinity.podAffinity === undefined && affinity.podAntiAffinity === undefined)) return NO_POD_AFFINITY;
  let inner = podAffinityCache.get(affinity);
  if (inner === undefined) podAffinityCache.set(affinity, (inner = new Map()));
  // The group key is namespace + labels, what the compiled terms depend on besides the affinity.
  const key = groupKey;
  let info = inner.get(key);
  if (info === undefined) {
    const holder = compileHolderTerms(affinity, namespace, labels);
    const requiredAffinity = holder?.requiredAffinity ?? [];
    const selfMatchesAffinity = requiredAffinity.every((t) => t.scope.names.has(namespace) && t.selector.matches(labels));
    info = {
      requiredAffinity,
      requiredAnti: holder?.requiredAnti ?? [],
      preferredAffinity: holder?.preferredAffinity ?? [],
      preferredAnti: holder?.preferredAnti ?? [],
      holder,
      selfMatchesAffinity,
    };
    inner.set(key, info);
  }
  return info;
}

/** maxSkew of the system default hostname constraint. */
const DEFAULT_HOSTNAME_MAX_SKEW = 3;
/** maxSkew of the system default zone constraint. */
const DEFAULT_ZONE_MAX_SKEW = 5;

/** Kubernetes' system default constraints (ScheduleAnyway), selecting the pods of the same owner. */
const SYSTEM_DEFAULT_SPREAD: readonly SpreadConstraint[] = [
  { key: "kubernetes.io/hostname", maxSkew: DEFAULT_HOSTNAME_MAX_SKEW, minDomains: 1, honorAffinity: true, honorTaints: false, selector: undefined, selfMatch: true },
  { key: "topology.kubernetes.io/zone", maxSkew: DEFAULT_ZONE_MAX_SKEW, minDomains: 1, honorAffinity: true, honorTaints: false, selector: undefined, selfMatch: true },
];

interface SpreadInfo {
  hard: readonly SpreadConstraint[];
  soft: readonly SpreadConstraint[];
  systemDefault: boolean;
}

const NONE: readonly never[] = Object.freeze([]);
/** A pod without constraints and without owner: nothing to spread. */
const NO_SPREAD: SpreadInfo = { hard: NONE, soft: NONE, systemDefault: false };
/** A pod without constraints: the system defaults over its owner's pods. */
const SYSTEM_SPREAD: SpreadInfo = { hard: NONE, soft: SYSTEM_DEFAULT_SPREAD, systemDefault: true };

const spreadCache = new WeakMap<object, Map<string, SpreadInfo>>();

function compileSpread(list: readonly TopologySpreadConstraint[] | undefined, owner: string, labels: Labels, labelsKey: string): SpreadInfo {
  if (list === undefined || list.length === 0) {
    // buildDefaultConstraints: no selector (here: no owner) means no default constraints.
    return owner === "" ? NO_SPREAD : SYSTEM_SPREAD;
  }
  let inner = spreadCache.get(list);
  if (inner === undefined) spreadCache.set(list, (inner = new Map()));
  let info = inner.get(labelsKey);
  if (info === undefined) {
    const hard: SpreadConstraint[] = [];
    const soft: SpreadConstraint[] = [];
    for (const c of list) {
      const selector = compileLabelSelector(c.labelSelector, labelKeyRequirements(labels, c.matchLabelKeys));
      const compiled: SpreadConstraint = {
        key: c.topologyKey,
        maxSkew: c.maxSkew,
        minDomains: c.whenUnsatisfiable === "DoNotSchedule" ? (c.minDomains ?? 1) : 1,
        honorAffinity: (c.nodeAffinityPolicy ?? "Honor") === "Honor",
        honorTaints: (c.nodeTaintsPolicy ?? "Ignore") === "Honor",
        selector,
        selfMatch: selector.matches(labels),
      };
      (c.whenUnsatisfiable === "DoNotSchedule" ? hard : soft).push(compiled);
    }
    info = { hard, soft, systemDefault: false };
    inner.set(labelsKey, info);
  }
  return info;
}

const imagesCache = new WeakMap<object, readonly string[]>();

function compileImages(images: readonly string[] | undefined): readonly string[] {
  if (images === undefined || images.length === 0) return NONE;
  // Names with a tag are already normalized: the list itself is the answer (only read). Callers often build a
  // new list per pod, and a WeakMap entry per pod costs more in garbage collection than the lookup saves.
  let normalized = true;
  for (let k = 0; k < images.length; k++) if (normalizeImageName(images[k]!) !== images[k]) normalized = false;
  if (normalized) return images;
  let out = imagesCache.get(images);
  if (out === undefined) imagesCache.set(images, (out = images.map(normalizeImageName)));
  return out;
}

/** Extended resources requested (more than 0), sorted by name. */
function compileExtended(extended: Readonly<Record<string, number>>): readonly (readonly [string, number])[] {
  return Object.entries(extended)
    .filter(([, q]) => q > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Compiles a pod request. */
export function compilePod(req: PodRequest): PodInfo {
  const namespace = req.namespace ?? DEFAULT_NAMESPACE;
  const labels = req.labels ?? EMPTY_LABELS;
  const ls = cachedLabelsSig(labels);
  const groupKey = groupKeyOf(namespace, labels);
  const spread = compileSpread(req.topologySpreadConstraints, req.owner, labels, ls);
  return {
    req,
    id: req.id,
    namespace,
    labels,
    groupKey,
    owner: req.owner,
    priority: req.priority ?? 0,
    preemptNever: req.preemptionPolicy === "Never",
    cpu: req.requests.cpuMillis,
    mem: req.requests.memoryBytes,
    scoreCpu: req.requestsForScoring.cpuMillis,
    scoreMem: req.requestsForScoring.memoryBytes,
    ext: req.requests.extended === undefined ? NONE : compileExtended(req.requests.extended),
    ports: req.ports,
    hostPorts: req.hostPorts === undefined || req.hostPorts.length === 0 ? NONE : normalizeHostPorts(req.hostPorts),
    images: compileImages(req.images),
    tolerations: compileTolerations(req.tolerations),
    nodeAffinity: compileNodeAffinity(req.nodeSelector, req.affinity),
    podAffinity: compilePodAffinity(req.affinity, namespace, labels, groupKey),
    spreadHard: spread.hard,
    spreadSoft: spread.soft,
    spreadSystemDefault: spread.systemDefault,
  };
}

/** The summary a placed pod gets in the working state (what views and victims report). */
function placedSummary(p: PodInfo, now: number): PodSummary {
  const s: PodSummary & { [PLACED]: true } = {
    name: p.id,
    namespace: p.namespace,
    labels: p.labels,
    owner: p.owner,
    priority: p.priority,
    requests: p.req.requests,
    requestsForScoring: p.req.requestsForScoring,
    ports: p.ports,
    [PLACED]: true,
  };
  if (Number.isFinite(now)) s.startTime = now;
  if (p.req.hostPorts !== undefined) s.hostPorts = p.req.hostPorts;
  if (p.req.affinity !== undefined) s.affinity = p.req.affinity;
  return s;
}

/** The entry a placed pod becomes (the assume step); it counts as started at `now` (Infinity: unknown). */
export function entryForPlaced(p: PodInfo, now = Infinity): PodEntry {
  return makeEntry({
    name: p.id,
    namespace: p.namespace,
    labels: p.labels,
    owner: p.owner,
    priority: p.priority,
    requests: p.req.requests,
    requestsForScoring: p.req.requestsForScoring,
    ports: p.ports,
    hostPorts: p.hostPorts,
    terms: p.podAffinity.holder,
    startTime: now,
    terminating: false,
    summary: placedSummary(p, now),
  });
}
