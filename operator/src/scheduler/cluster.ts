/**
 * The scheduler's working state for one pass: the snapshot turned into typed arrays indexed by node (sorted by
 * name), the pods on each node, and incremental indexes that the inter-pod plugins read instead of scanning
 * every pod for every pod placed (kube-scheduler recomputes them in PreFilter; at 5,000 nodes × 50,000 pods that
 * is the whole cost).
 *
 * - Domains: the topology domains of a label key (node → domain id).
 * - Matcher: a predicate on pods (a namespaced label selector, an owner, or a conjunction) with a live count of
 *   matching pods per node; DomainCounter: the same counts summed per domain over a set of eligible nodes, with
 *   the minimum over eligible domains maintained as pods come and go.
 * - TermGroup: existing pods' affinity terms of one shape, with the number of holders per domain (symmetric
 *   anti-affinity and the existing pods' side of InterPodAffinity scoring).
 *
 * Everything is updated by addPod/removePod/setTerminating, so the assume step and preemption's what-if
 * removals keep every index exact. Internal to the scheduler: the inputs are never written.
 */
import { CoxError } from "../api/errors.js";
import { compileLabelSelector, HostPortSet, labelKeyRequirements, labelsSig, normalizeHostPorts, normalizeImageName, type Labels, type NormalizedHostPort, type Selector } from "./match.js";
import type { Affinity, NodeSnapshot, PodAffinityTerm, PodSummary, Resources, Taint } from "./types.js";

/** The hostname label; a node without it is its own domain under its name. */
export const HOSTNAME_KEY = "kubernetes.io/hostname";
/** The namespace of a pod that names none. */
export const DEFAULT_NAMESPACE = "default";

const EMPTY_LABELS: Labels = Object.freeze({});

/** The namespaces an affinity term reaches: listed names, plus namespaces whose labels match the selector. */
export interface NamespaceScope {
  readonly names: ReadonlySet<string>;
  readonly selector: Selector | undefined;
  readonly sig: string;
}

/** An affinity term compiled for one pod: which pods it selects and over which topology key. */
export interface CompiledTerm {
  readonly key: string;
  readonly scope: NamespaceScope;
  readonly selector: Selector;
  /** Scope + selector (not the key): equal for terms selecting the same pods. */
  readonly matchSig: string;
  readonly weight: number;
}

/** The affinity terms of a pod as they act on other pods (when the pod is already placed). */
export interface HolderTerms {
  readonly requiredAnti: readonly CompiledTerm[];
  readonly requiredAffinity: readonly CompiledTerm[];
  readonly preferredAffinity: readonly CompiledTerm[];
  readonly preferredAnti: readonly CompiledTerm[];
}

/** One pod on a node, as the working state keeps it. */
export interface PodEntry {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
  readonly owner: string;
  readonly priority: number;
  readonly cpu: number;
  readonly mem: number;
  readonly scoreCpu: number;
  readonly scoreMem: number;
  /** Extended resources requested (Resources.extended), when any. */
  readonly ext: Readonly<Record<string, number>> | undefined;
  readonly ports: number;
  readonly hostPorts: readonly NormalizedHostPort[];
  readonly terms: HolderTerms | undefined;
  /** ms since epoch; Infinity when unknown (counts as just started). */
  readonly startTime: number;
  terminating: boolean;
  node: number;
  /** owner + namespace + labels: pods with equal keys match the same matchers. */
  readonly matchKey: string;
  /** namespace + labels: pods with equal keys match the same term groups. */
  readonly groupKey: string;
  /** The summary this entry came from (existing pods) or a summary made for a placed pod (views, victims). */
  readonly summary: PodSummary;
}

/** The topology domains of one label key. */
export interface Domains {
  readonly key: string;
  /** Domain id per node; -1 when the node has no such label. */
  readonly of: Int32Array;
  /** Label value per domain id. */
  readonly values: string[];
}

/** A predicate on pods with live per-node counts. */
export class Matcher {
  readonly perNode: Int32Array;
  /** Number of matching pods in the fleet (on nodes with or without any topology label). */
  total = 0;
  readonly counters: DomainCounter[] = [];

  constructor(
    readonly id: number,
    readonly sig: string,
    readonly test: (e: PodEntry) => boolean,
    /** Terminating pods do not count (PodTopologySpread); they do for InterPodAffinity. */
    readonly skipTerminating: boolean,
    n: number,
  ) {
    this.perNode = new Int32Array(n);
  }

  /** Counts `delta` matching pods on node i, in every domain counter built on this matcher. */
  add(i: number, delta: number): void {
    this.perNode[i]! += delta;
    this.total += delta;
    for (let k = 0; k < this.counters.length; k++) this.counters[k]!.onNode(i, delta);
  }
}

/**
 * A matcher's counts summed per domain of one key over eligible nodes, with the minimum over the domains that
 * contain at least one eligible node ("present" domains, Kubernetes' TpValueToMatchNum keys). The minimum is
 * maintained incrementally (a decrement can only lower it; an increment of the last domain at the minimum
 * marks it for one rescan), so reading it is O(1) amortized.
 */
export class DomainCounter {
  readonly counts: Int32Array;
  readonly present: Uint8Array;
  presentCount = 0;
  /** Sum of counts (matching pods on eligible nodes that have the key). */
  total = 0;
  private minValue = 0;
  private atMin = 0;
  private dirty = true;

  constructor(
    readonly domains: Domains,
    /** Eligible nodes (1) or undefined = every node with the key. */
    readonly mask: Uint8Array | undefined,
    matcher: Matcher,
  ) {
    const count = domains.values.length;
    this.counts = new Int32Array(count);
    this.present = new Uint8Array(count);
    const of = domains.of;
    const perNode = matcher.perNode;
    for (let i = 0; i < of.length; i++) {
      const d = of[i]!;
      if (d < 0 || (mask !== undefined && mask[i] === 0)) continue;
      if (this.present[d] === 0) {
        this.present[d] = 1;
        this.presentCount++;
      }
      const c = perNode[i]!;
      this.counts[d]! += c;
      this.total += c;
    }
  }

  /** The matcher's count on node i changed by delta: update its domain (when eligible) and the minimum. */
  onNode(i: number, delta: number): void {
    const d = this.domains.of[i]!;
    if (d < 0 || (this.mask !== undefined && this.mask[i] === 0)) return;
    const before = this.counts[d]!;
    const after = before + delta;
    this.counts[d] = after;
    this.total += delta;
    if (this.dirty || this.present[d] === 0) return;
    if (delta > 0) {
      if (before === this.minValue && --this.atMin === 0) this.dirty = true;
    } else if (after < this.minValue) {
      this.minValue = after;
      this.atMin = 1;
    } else if (after === this.minValue) {
      this.atMin++;
    }
  }

  /** The smallest count over present domains (0 when there are none). */
  min(): number {
    if (this.dirty) {
      let min = Infinity;
      let at = 0;
      const counts = this.counts;
      const present = this.present;
      for (let d = 0; d < counts.length; d++) {
        if (present[d] === 0) continue;
        const c = counts[d]!;
        if (c < min) {
          min = c;
          at = 1;
        } else if (c === min) at++;
      }
      this.minValue = min === Infinity ? 0 : min;
      this.atMin = at;
      this.dirty = false;
    }
    return this.minValue;
  }
}

/**
 * A per-node memo of a score that depends only on the node's own resources and on two numbers of the pod (its
 * requests): an entry is valid while its node did not change (Cluster.changedAt) and the pod's numbers are the
 * ones it was computed for. The replicas of one template then divide once per node they meet, not once per pod.
 */
export class NodeMemo {
  readonly values: Float64Array;
  /** Cluster.tick when each node's value was computed (0: never). */
  readonly at: Int32Array;
  /** Entries computed before this tick are for other numbers. */
  validFrom = 0;
  private a = Number.NaN;
  private b = Number.NaN;

  constructor(n: number) {
    this.values = new Float64Array(n);
    this.at = new Int32Array(n);
  }

  /** Makes the memo the one of the numbers (a, b): entries for other numbers become invalid. */
  use(cl: Cluster, a: number, b: number): void {
    if (Object.is(a, this.a) && Object.is(b, this.b)) return;
    this.a = a;
    this.b = b;
    this.validFrom = ++cl.tick;
  }
}

/** The four ways an existing pod's affinity term acts on an incoming pod. */
export const TermKind = { RequiredAnti: 0, RequiredAffinity: 1, PreferredAffinity: 2, PreferredAnti: 3 } as const;
/** One of TermKind's values. */
export type TermKind = (typeof TermKind)[keyof typeof TermKind];

/** Existing pods holding one term shape: how many holders per domain of the term's key. */
export class TermGroup {
  readonly holders: Int32Array;
  total = 0;

  constructor(
    readonly id: number,
    readonly kind: TermKind,
    readonly term: CompiledTerm,
    readonly domains: Domains,
  ) {
    this.holders = new Int32Array(domains.values.length);
  }
}

function scopeSig(names: ReadonlySet<string>, selector: Selector | undefined): string {
  return `${[...names].sort().join(",")}\u0006${selector === undefined ? "-" : selector.sig}`;
}

/**
 * Compiles a PodAffinityTerm for a pod in `namespace` with `labels` (for matchLabelKeys / mismatchLabelKeys):
 * namespaces and namespaceSelector both absent = the pod's own namespace (getNamespacesFromPodAffinityTerm).
 */
function compileAffinityTerm(term: PodAffinityTerm, namespace: string, labels: Labels, weight = 1): CompiledTerm {
  const names = new Set(term.namespaces ?? []);
  if (names.size === 0 && term.namespaceSelector === undefined) names.add(namespace);
  const nsSelector = term.namespaceSelector === undefined ? undefined : compileLabelSelector(term.namespaceSelector);
  const extra = labelKeyRequirements(labels, term.matchLabelKeys, term.mismatchLabelKeys);
  const selector = compileLabelSelector(term.labelSelector, extra);
  const scope: NamespaceScope = { names, selector: nsSelector, sig: scopeSig(names, nsSelector) };
  return { key: term.topologyKey, scope, selector, matchSig: `${scope.sig}\u0007${selector.sig}`, weight };
}

/** Compiles the terms of a pod that act on other pods; undefined when it has none. */
export function compileHolderTerms(affinity: Affinity | undefined, namespace: string, labels: Labels): HolderTerms | undefined {
  if (affinity === undefined) return undefined;
  const pa = affinity.podAffinity;
  const anti = affinity.podAntiAffinity;
  const terms: HolderTerms = {
    requiredAnti: (anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileAffinityTerm(t, namespace, labels)),
    requiredAffinity: (pa?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => compileAffinityTerm(t, namespace, labels)),
    preferredAffinity: (pa?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => compileAffinityTerm(w.podAffinityTerm, namespace, labels, w.weight)),
    preferredAnti: (anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => compileAffinityTerm(w.podAffinityTerm, namespace, labels, w.weight)),
  };
  const n = terms.requiredAnti.length + terms.requiredAffinity.length + terms.preferredAffinity.length + terms.preferredAnti.length;
  return n === 0 ? undefined : terms;
}

const labelsSigCache = new WeakMap<object, string>();

/** labelsSig, cached per labels object (pods of one template usually share it). */
export function cachedLabelsSig(labels: Labels): string {
  let s = labelsSigCache.get(labels);
  if (s === undefined) labelsSigCache.set(labels, (s = labelsSig(labels)));
  return s;
}

/** The keys of one namespace + labels pair: the group key, and the match key per owner. */
interface EntryKeys {
  readonly groupKey: string;
  readonly matchKeys: Map<string, string>;
}

const entryKeysCache = new WeakMap<object, Map<string, EntryKeys>>();

/**
 * The keys of a namespace and a labels object, cached per labels object (the replicas of one template share it):
 * the same string objects pod after pod, so the maps keyed by them neither build nor hash a new string per pod.
 */
function entryKeys(namespace: string, labels: Labels): EntryKeys {
  let byNs = entryKeysCache.get(labels);
  if (byNs === undefined) entryKeysCache.set(labels, (byNs = new Map()));
  let keys = byNs.get(namespace);
  if (keys === undefined) byNs.set(namespace, (keys = { groupKey: `${namespace}\u0000${cachedLabelsSig(labels)}`, matchKeys: new Map() }));
  return keys;
}

/** namespace + labels as one string: pods with equal keys match the same term groups. */
export function groupKeyOf(namespace: string, labels: Labels): string {
  return entryKeys(namespace, labels).groupKey;
}

/** owner + namespace + labels as one string: pods with equal keys match the same matchers. */
function matchKeyOf(owner: string, namespace: string, labels: Labels): string {
  const keys = entryKeys(namespace, labels);
  let k = keys.matchKeys.get(owner);
  if (k === undefined) keys.matchKeys.set(owner, (k = `${owner}\u0000${keys.groupKey}`));
  return k;
}

const labelKeysCache = new WeakMap<object, readonly string[]>();

/** The "key\u0000value" strings of a labels object (byLabel's keys), cached per object. */
function labelKeys(labels: Labels): readonly string[] {
  let keys = labelKeysCache.get(labels);
  if (keys === undefined) {
    const list: string[] = [];
    for (const k in labels) list.push(`${k}\u0000${labels[k]}`);
    labelKeysCache.set(labels, (keys = list));
  }
  return keys;
}

/** What a pod entry is made of; both existing pods and placed pods go through it. */
export interface EntryFields {
  name: string;
  namespace: string;
  labels: Labels;
  owner: string;
  priority: number;
  requests: Resources;
  requestsForScoring: Resources;
  ports: number;
  hostPorts: readonly NormalizedHostPort[];
  terms: HolderTerms | undefined;
  startTime: number;
  terminating: boolean;
  summary: PodSummary;
}

/** Builds a pod entry (not yet on a node). */
export function makeEntry(f: EntryFields): PodEntry {
  return {
    name: f.name,
    namespace: f.namespace,
    labels: f.labels,
    owner: f.owner,
    priority: f.priority,
    cpu: f.requests.cpuMillis,
    mem: f.requests.memoryBytes,
    scoreCpu: f.requestsForScoring.cpuMillis,
    scoreMem: f.requestsForScoring.memoryBytes,
    ext: f.requests.extended,
    ports: f.ports,
    hostPorts: f.hostPorts,
    terms: f.terms,
    startTime: f.startTime,
    terminating: f.terminating,
    node: -1,
    matchKey: matchKeyOf(f.owner, f.namespace, f.labels),
    groupKey: groupKeyOf(f.namespace, f.labels),
    summary: f.summary,
  };
}

const NO_RESOURCES: Resources = Object.freeze({ cpuMillis: 0, memoryBytes: 0 });

/** A pod entry for a PodSummary of the snapshot. */
function entryFromSummary(p: PodSummary): PodEntry {
  const namespace = p.namespace ?? DEFAULT_NAMESPACE;
  const labels = p.labels ?? EMPTY_LABELS;
  const requests = p.requests ?? NO_RESOURCES;
  return makeEntry({
    name: p.name,
    namespace,
    labels,
    owner: p.owner ?? "",
    priority: p.priority ?? 0,
    requests,
    requestsForScoring: p.requestsForScoring ?? requests,
    ports: p.ports ?? 0,
    hostPorts: normalizeHostPorts(p.hostPorts),
    terms: compileHolderTerms(p.affinity, namespace, labels),
    startTime: p.startTime ?? Infinity,
    terminating: p.terminating ?? false,
    summary: p,
  });
}

function byName(a: NodeSnapshot, b: NodeSnapshot): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Per-labels-key memo of which matchers (or term groups) match, extended as new ones appear. */
interface MatchMemo<T> {
  checked: number;
  hits: T[];
}

/** The working state of a pass. */
export class Cluster {
  readonly n: number;
  /** The snapshot's nodes, sorted by name (never written). */
  readonly nodes: readonly NodeSnapshot[];
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly labels: readonly Labels[];
  readonly unschedulable: Uint8Array;
  readonly taints: readonly (readonly Taint[] | undefined)[];
  /** Some node has a NoSchedule/NoExecute taint (else TaintToleration's filter is a no-op). */
  readonly anyHardTaint: boolean;
  /** Some node has a PreferNoSchedule taint (else TaintToleration's score is the same everywhere). */
  readonly anyPreferTaint: boolean;
  readonly allocCpu: Float64Array;
  readonly allocMem: Float64Array;
  readonly allocPods: Float64Array;
  readonly reqCpu: Float64Array;
  readonly reqMem: Float64Array;
  readonly scoreCpu: Float64Array;
  readonly scoreMem: Float64Array;
  /** Extended resources each node offers (allocatable.extended); undefined: none. */
  readonly allocExt: readonly (Readonly<Record<string, number>> | undefined)[];
  /** Extended resources requested on each node, kept up to date by addPod/removePod. */
  readonly reqExt: Record<string, number>[];
  readonly podCount: Float64Array;
  readonly freePorts: Float64Array;
  /** A counter of changes; changedAt[i] is its value when node i's resources last changed (NodeMemo). */
  tick = 0;
  readonly changedAt: Int32Array;
  readonly hostPorts: (HostPortSet | undefined)[];
  readonly images: readonly (ReadonlySet<string> | undefined)[];
  /** Normalized image name → number of nodes holding it. */
  readonly imageNodes: ReadonlyMap<string, number>;
  /** Normalized image name → size in bytes reported by some node. */
  readonly imageSizes: ReadonlyMap<string, number>;
  readonly pods: PodEntry[][];
  /** Owner counts per node for views (custom plugins); undefined unless views are enabled. */
  private readonly ownerCounts: Record<string, number>[] | undefined;

  private readonly domainsByKey = new Map<string, Domains>();
  readonly matchers: Matcher[] = [];
  private readonly matcherBySig = new Map<string, Matcher>();
  private readonly matcherMemo = new Map<string, MatchMemo<Matcher>>();
  /** "key\u0000value" → the pods carrying that label (to seed matchers without scanning the fleet). */
  private readonly byLabel = new Map<string, Set<PodEntry>>();
  private readonly ownerMatchers = new Map<string, Matcher>();
  /** Owner → [node, count, node, count, …] from the snapshot's podsByOwner. */
  private readonly ownerIndex = new Map<string, number[]>();
  /** Owner → the snapshot's pods listed as terminating (counted in podsByOwner, not by spreading). */
  private readonly terminatingByOwner = new Map<string, PodEntry[]>();
  /** Owner → the pods placed in this pass (not in podsByOwner). */
  private readonly placedByOwner = new Map<string, Set<PodEntry>>();
  readonly groups: TermGroup[] = [];
  private readonly groupBySig = new Map<string, TermGroup>();
  /** Per TermKind, the group of each term object met (a template's pods share their compiled terms). */
  private readonly groupByTerm: readonly Map<CompiledTerm, TermGroup>[] = [new Map(), new Map(), new Map(), new Map()];
  private readonly groupMemo = new Map<string, MatchMemo<TermGroup>>();
  private readonly masks = new Map<string, Uint8Array>();
  private readonly counterBySig = new Map<string, DomainCounter>();
  /** Per-signature per-node caches of plugins (node affinity, taints); see nodeCache. */
  private readonly nodeCaches = new Map<string, Int32Array>();
  private readonly namespaceLabels: Readonly<Record<string, Labels>>;

  constructor(snapshot: readonly NodeSnapshot[], opts: { views?: boolean; namespaceLabels?: Readonly<Record<string, Labels>> } = {}) {
    const nodes = [...snapshot].sort(byName);
    const n = nodes.length;
    this.n = n;
    this.nodes = nodes;
    this.namespaceLabels = opts.namespaceLabels ?? {};
    const names: string[] = new Array(n);
    const index = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const name = nodes[i]!.name;
      if (index.has(name)) throw new CoxError("InvalidArgument", `node name ${JSON.stringify(name)} appears twice; expected unique node names`);
      index.set(name, i);
      names[i] = name;
    }
    this.names = names;
    this.index = index;
    this.labels = nodes.map((x) => x.labels);
    this.unschedulable = new Uint8Array(n);
    this.allocCpu = new Float64Array(n);
    this.allocMem = new Float64Array(n);
    this.allocPods = new Float64Array(n);
    this.reqCpu = new Float64Array(n);
    this.reqMem = new Float64Array(n);
    this.scoreCpu = new Float64Array(n);
    this.scoreMem = new Float64Array(n);
    this.podCount = new Float64Array(n);
    this.allocExt = nodes.map((x) => x.allocatable.extended);
    this.reqExt = nodes.map((x) => ({ ...x.requested.extended }));
    this.freePorts = new Float64Array(n);
    this.changedAt = new Int32Array(n);
    this.hostPorts = new Array(n).fill(undefined);
    const taints: (readonly Taint[] | undefined)[] = new Array(n).fill(undefined);
    const images: (Set<string> | undefined)[] = new Array(n).fill(undefined);
    const imageNodes = new Map<string, number>();
    const imageSizes = new Map<string, number>();
    let anyHard = false;
    let anyPrefer = false;
    for (let i = 0; i < n; i++) {
      const x = nodes[i]!;
      this.unschedulable[i] = x.unschedulable ? 1 : 0;
      this.allocCpu[i] = x.allocatable.cpuMillis;
      this.allocMem[i] = x.allocatable.memoryBytes;
      this.allocPods[i] = x.allocatable.pods;
      this.reqCpu[i] = x.requested.cpuMillis;
      this.reqMem[i] = x.requested.memoryBytes;
      this.scoreCpu[i] = x.requestedForScoring.cpuMillis;
      this.scoreMem[i] = x.requestedForScoring.memoryBytes;
      this.podCount[i] = x.podCount;
      this.freePorts[i] = x.freePorts;
      if (x.taints !== undefined && x.taints.length > 0) {
        taints[i] = x.taints;
        for (const t of x.taints) {
          if (t.effect === "PreferNoSchedule") anyPrefer = true;
          else anyHard = true;
        }
      }
      const used = normalizeHostPorts(x.hostPortsInUse);
      if (used.length > 0) {
        const set = new HostPortSet();
        for (const p of used) set.add(p);
        this.hostPorts[i] = set;
      }
      if (x.images !== undefined && x.images.length > 0) {
        const set = new Set(x.images.map(normalizeImageName));
        images[i] = set;
        for (const img of set) imageNodes.set(img, (imageNodes.get(img) ?? 0) + 1);
      }
      for (const [img, size] of Object.entries(x.imageSizes ?? {})) imageSizes.set(normalizeImageName(img), size);
    }
    this.taints = taints;
    this.anyHardTaint = anyHard;
    this.anyPreferTaint = anyPrefer;
    this.images = images;
    this.imageNodes = imageNodes;
    this.imageSizes = imageSizes;
    this.ownerCounts = opts.views ? nodes.map((x) => Object.assign(Object.create(null) as Record<string, number>, x.podsByOwner)) : undefined;

    for (let i = 0; i < n; i++) {
      const by = nodes[i]!.podsByOwner;
      for (const owner in by) {
        const c = by[owner]!;
        if (!(c > 0)) continue;
        let list = this.ownerIndex.get(owner);
        if (list === undefined) this.ownerIndex.set(owner, (list = []));
        list.push(i, c);
      }
    }

    this.pods = new Array(n);
    for (let i = 0; i < n; i++) {
      const list: PodEntry[] = [];
      this.pods[i] = list;
      for (const p of nodes[i]!.pods ?? []) {
        const e = entryFromSummary(p);
        e.node = i;
        list.push(e);
        this.indexLabels(e, true);
        if (e.terminating) {
          let t = this.terminatingByOwner.get(e.owner);
          if (t === undefined) this.terminatingByOwner.set(e.owner, (t = []));
          t.push(e);
        }
        this.addHolder(e, 1);
      }
    }
  }

  /** The labels of a namespace (for namespaceSelector); none when unknown. */
  nsLabels(ns: string): Labels {
    return this.namespaceLabels[ns] ?? EMPTY_LABELS;
  }

  /** Whether a compiled term selects the pod entry (namespace scope, then labels). */
  termMatches(t: CompiledTerm, namespace: string, labels: Labels): boolean {
    const s = t.scope;
    if (!s.names.has(namespace) && (s.selector === undefined || !s.selector.matches(this.nsLabels(namespace)))) return false;
    return t.selector.matches(labels);
  }

  /** The topology domains of a key (hostname: the label, else the node name). */
  domains(key: string): Domains {
    let d = this.domainsByKey.get(key);
    if (d !== undefined) return d;
    const of = new Int32Array(this.n);
    const values: string[] = [];
    const ids = new Map<string, number>();
    for (let i = 0; i < this.n; i++) {
      const l = this.labels[i]!;
      let v = Object.hasOwn(l, key) ? l[key] : undefined;
      if (v === undefined && key === HOSTNAME_KEY) v = this.names[i]!;
      if (v === undefined) {
        of[i] = -1;
        continue;
      }
      let id = ids.get(v);
      if (id === undefined) {
        id = values.length;
        ids.set(v, id);
        values.push(v);
      }
      of[i] = id;
    }
    d = { key, of, values };
    this.domainsByKey.set(key, d);
    return d;
  }

  /** Whether node i has the topology key (hostname always). */
  hasKey(i: number, key: string): boolean {
    return key === HOSTNAME_KEY || Object.hasOwn(this.labels[i]!, key);
  }

  /**
   * The matcher with this signature, created (and counted over every pod in the fleet) on first use.
   * `fromOwnerCounts` seeds the counts from the nodes' podsByOwner instead of their pod lists.
   */
  matcher(sig: string, test: (e: PodEntry) => boolean, skipTerminating: boolean, hints: readonly Selector[] = []): Matcher {
    let m = this.matcherBySig.get(sig);
    if (m !== undefined) return m;
    m = new Matcher(this.matchers.length, sig, test, skipTerminating, this.n);
    const candidates = this.candidates(hints);
    if (candidates !== undefined) {
      for (const e of candidates) {
        if ((!skipTerminating || !e.terminating) && test(e)) {
          m.perNode[e.node]! += 1;
          m.total += 1;
        }
      }
    } else {
      for (let i = 0; i < this.n; i++) {
        let c = 0;
        for (const e of this.pods[i]!) if ((!skipTerminating || !e.terminating) && test(e)) c++;
        if (c !== 0) {
          m.perNode[i] = c;
          m.total += c;
        }
      }
    }
    this.matchers.push(m);
    this.matcherBySig.set(sig, m);
    return m;
  }

  /**
   * The pods that can match all of `hints` (selectors a matching pod must satisfy): the smallest label-index
   * bucket among their `key = value` requirements; undefined when no hint has one (scan everything).
   */
  private candidates(hints: readonly Selector[]): Iterable<PodEntry> | undefined {
    let best: Set<PodEntry> | undefined;
    for (const h of hints) {
      if (h.kind === "nothing") return [];
      for (const [k, v] of h.equalities) {
        const bucket = this.byLabel.get(`${k}\u0000${v}`);
        if (bucket === undefined) return [];
        if (best === undefined || bucket.size < best.size) best = bucket;
      }
    }
    return best;
  }

  private indexLabels(e: PodEntry, add: boolean): void {
    const keys = labelKeys(e.labels);
    for (let j = 0; j < keys.length; j++) {
      const key = keys[j]!;
      let bucket = this.byLabel.get(key);
      if (add) {
        if (bucket === undefined) this.byLabel.set(key, (bucket = new Set()));
        bucket.add(e);
      } else bucket?.delete(e);
    }
  }

  /**
   * The matcher of the pods of one owner (the system default spreading), seeded from the snapshot's podsByOwner
   * and the pods placed in this pass, through indexes (no scan of the fleet).
   */
  ownerMatcher(owner: string): Matcher {
    let m = this.ownerMatchers.get(owner);
    if (m !== undefined) return m;
    m = new Matcher(this.matchers.length, `owner\u0000${owner}`, (e) => e.owner === owner, true, this.n);
    const seeds = this.ownerIndex.get(owner) ?? [];
    for (let k = 0; k < seeds.length; k += 2) {
      m.perNode[seeds[k]!]! += seeds[k + 1]!;
      m.total += seeds[k + 1]!;
    }
    // podsByOwner counts terminating pods too; spreading does not (those the snapshot lists as terminating).
    for (const e of this.terminatingByOwner.get(owner) ?? []) {
      if (!e.terminating || m.perNode[e.node]! <= 0) continue;
      m.perNode[e.node]! -= 1;
      m.total -= 1;
    }
    for (const e of this.placedByOwner.get(owner) ?? []) {
      m.perNode[e.node]! += 1;
      m.total += 1;
    }
    this.matchers.push(m);
    this.ownerMatchers.set(owner, m);
    return m;
  }

  /** A domain counter of a matcher over a key and an eligibility mask (cached by signature). */
  counter(m: Matcher, key: string, mask: Uint8Array | undefined, maskSig: string): DomainCounter {
    const sig = `${m.id}\u0000${key}\u0000${maskSig}`;
    let c = this.counterBySig.get(sig);
    if (c === undefined) {
      c = new DomainCounter(this.domains(key), mask, m);
      m.counters.push(c);
      this.counterBySig.set(sig, c);
    }
    return c;
  }

  /** A node mask cached by signature, built by `build` on first use. */
  mask(sig: string, build: (i: number) => boolean): Uint8Array {
    let mask = this.masks.get(sig);
    if (mask === undefined) {
      mask = new Uint8Array(this.n);
      for (let i = 0; i < this.n; i++) mask[i] = build(i) ? 1 : 0;
      this.masks.set(sig, mask);
    }
    return mask;
  }

  /** A per-node Int32 cache cached by signature, filled with `init` (plugins memoize per-node answers in it). */
  nodeCache(sig: string, init: number): Int32Array {
    let c = this.nodeCaches.get(sig);
    if (c === undefined) {
      c = new Int32Array(this.n).fill(init);
      this.nodeCaches.set(sig, c);
    }
    return c;
  }

  /** The term group with this shape, created on first use (holders are added as pods come). */
  group(kind: TermKind, term: CompiledTerm): TermGroup {
    const byTerm = this.groupByTerm[kind]!;
    let g = byTerm.get(term);
    if (g !== undefined) return g;
    const sig = `${kind}\u0000${term.key}\u0000${term.weight}\u0000${term.matchSig}`;
    g = this.groupBySig.get(sig);
    if (g === undefined) {
      g = new TermGroup(this.groups.length, kind, term, this.domains(term.key));
      this.groups.push(g);
      this.groupBySig.set(sig, g);
    }
    byTerm.set(term, g);
    return g;
  }

  /** The term groups whose term selects a pod with this namespace and labels (memoized per labels). */
  groupsMatching(namespace: string, labels: Labels, groupKey: string): readonly TermGroup[] {
    let memo = this.groupMemo.get(groupKey);
    if (memo === undefined) this.groupMemo.set(groupKey, (memo = { checked: 0, hits: [] }));
    for (; memo.checked < this.groups.length; memo.checked++) {
      const g = this.groups[memo.checked]!;
      if (this.termMatches(g.term, namespace, labels)) memo.hits.push(g);
    }
    return memo.hits;
  }

  private matchersOf(e: PodEntry): readonly Matcher[] {
    let memo = this.matcherMemo.get(e.matchKey);
    if (memo === undefined) this.matcherMemo.set(e.matchKey, (memo = { checked: 0, hits: [] }));
    for (; memo.checked < this.matchers.length; memo.checked++) {
      const m = this.matchers[memo.checked]!;
      if (m.test(e)) memo.hits.push(m);
    }
    return memo.hits;
  }

  private addHolder(e: PodEntry, delta: number): void {
    const t = e.terms;
    if (t === undefined) return;
    this.addHolders(TermKind.RequiredAnti, t.requiredAnti, e.node, delta);
    this.addHolders(TermKind.RequiredAffinity, t.requiredAffinity, e.node, delta);
    this.addHolders(TermKind.PreferredAffinity, t.preferredAffinity, e.node, delta);
    this.addHolders(TermKind.PreferredAnti, t.preferredAnti, e.node, delta);
  }

  private addHolders(kind: TermKind, list: readonly CompiledTerm[], i: number, delta: number): void {
    for (let k = 0; k < list.length; k++) {
      const g = this.group(kind, list[k]!);
      const d = g.domains.of[i]!;
      if (d < 0) continue;
      g.holders[d]! += delta;
      g.total += delta;
    }
  }

  private count(e: PodEntry, i: number, delta: number): void {
    const ms = this.matchersOf(e);
    for (let k = 0; k < ms.length; k++) {
      const m = ms[k]!;
      if (m.skipTerminating && e.terminating) continue;
      m.add(i, delta);
    }
  }

  /** Puts a pod on node i: resources, ports, pod list, every matcher, term group and view. */
  addPod(e: PodEntry, i: number): void {
    e.node = i;
    this.changedAt[i] = ++this.tick;
    this.reqCpu[i]! += e.cpu;
    this.reqMem[i]! += e.mem;
    this.scoreCpu[i]! += e.scoreCpu;
    this.scoreMem[i]! += e.scoreMem;
    if (e.ext !== undefined) for (const [name, q] of Object.entries(e.ext)) this.reqExt[i]![name] = (this.reqExt[i]![name] ?? 0) + q;
    this.podCount[i]! += 1;
    this.freePorts[i]! -= e.ports;
    if (e.hostPorts.length > 0) {
      let set = this.hostPorts[i];
      if (set === undefined) this.hostPorts[i] = set = new HostPortSet();
      for (const p of e.hostPorts) set.add(p);
    }
    this.pods[i]!.push(e);
    this.indexLabels(e, true);
    if (isPlaced(e)) {
      let set = this.placedByOwner.get(e.owner);
      if (set === undefined) this.placedByOwner.set(e.owner, (set = new Set()));
      set.add(e);
    }
    this.count(e, i, 1);
    this.addHolder(e, 1);
    if (this.ownerCounts !== undefined) this.ownerCounts[i]![e.owner] = (this.ownerCounts[i]![e.owner] ?? 0) + 1;
  }

  /** Takes a pod off its node: the exact inverse of addPod. */
  removePod(e: PodEntry): void {
    const i = e.node;
    const list = this.pods[i]!;
    const at = list.indexOf(e);
    if (at < 0) return;
    list.splice(at, 1);
    this.changedAt[i] = ++this.tick;
    this.indexLabels(e, false);
    if (isPlaced(e)) this.placedByOwner.get(e.owner)?.delete(e);
    this.reqCpu[i]! -= e.cpu;
    this.reqMem[i]! -= e.mem;
    this.scoreCpu[i]! -= e.scoreCpu;
    this.scoreMem[i]! -= e.scoreMem;
    if (e.ext !== undefined) for (const [name, q] of Object.entries(e.ext)) this.reqExt[i]![name] = (this.reqExt[i]![name] ?? 0) - q;
    this.podCount[i]! -= 1;
    this.freePorts[i]! += e.ports;
    const set = this.hostPorts[i];
    if (set !== undefined) for (const p of e.hostPorts) set.remove(p);
    this.count(e, i, -1);
    this.addHolder(e, -1);
    if (this.ownerCounts !== undefined) {
      const c = (this.ownerCounts[i]![e.owner] ?? 0) - 1;
      if (c > 0) this.ownerCounts[i]![e.owner] = c;
      else delete this.ownerCounts[i]![e.owner];
    }
  }

  /** Marks a pod terminating (it keeps its resources; spreading stops counting it). */
  setTerminating(e: PodEntry): void {
    if (e.terminating) return;
    const ms = this.matchersOf(e);
    for (const m of ms) if (m.skipTerminating) m.add(e.node, -1);
    e.terminating = true;
  }

  /** A NodeSnapshot of node i's current state, for custom plugins. Requires views. */
  view(i: number): NodeSnapshot {
    const x = this.nodes[i]!;
    const pods = this.pods[i]!.map((e) => (e.terminating && !e.summary.terminating ? { ...e.summary, terminating: true } : e.summary));
    return {
      ...x,
      allocatable: { ...x.allocatable },
      requested: { cpuMillis: this.reqCpu[i]!, memoryBytes: this.reqMem[i]!, ...(Object.keys(this.reqExt[i]!).length > 0 ? { extended: { ...this.reqExt[i]! } } : {}) },
      requestedForScoring: { cpuMillis: this.scoreCpu[i]!, memoryBytes: this.scoreMem[i]! },
      podCount: this.podCount[i]!,
      freePorts: this.freePorts[i]!,
      podsByOwner: this.ownerCounts !== undefined ? { ...this.ownerCounts[i]! } : { ...x.podsByOwner },
      pods,
    };
  }
}

/** Placed-in-this-pass entries carry a summary made by the scheduler, marked with this symbol. */
export const PLACED: unique symbol = Symbol("placed");

/** Whether the entry is a pod placed in this pass (not one of the snapshot's pods). */
export function isPlaced(e: PodEntry): boolean {
  return (e.summary as { [PLACED]?: boolean })[PLACED] === true;
}
