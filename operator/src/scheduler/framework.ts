/**
 * kube-scheduler's framework in miniature, on the Cluster's typed arrays: one Cycle per pod (PreFilter: resolve
 * what the pod's constraints read), Filter (first failing plugin decides the node's reasons), the sampling of
 * feasible nodes (percentageOfNodesToScore, round robin), Score + NormalizeScore with weights, the seeded
 * choice among the best, and the assume step.
 *
 * The built-in plugins are implemented here, each next to the Kubernetes rule it copies; plugins.ts exposes
 * them as profile entries. Custom plugins (FilterPlugin/ScorePlugin on NodeSnapshot views) run beside them.
 */
import { CoxError } from "../api/errors.js";
import { Cluster, HOSTNAME_KEY, TermKind, type CompiledTerm, type DomainCounter, type Domains, type Matcher, type PodEntry, type TermGroup } from "./cluster.js";
import { compileLabelSelector, tolerationsTolerate, type Selector } from "./match.js";
import { entryForPlaced, type PodInfo, type SpreadConstraint } from "./podinfo.js";
import { seededRandom } from "./random.js";
import {
  REASON_EXISTING_ANTI_AFFINITY,
  REASON_VOLUME_NODE_CONFLICT,
  REASON_INSUFFICIENT_CPU,
  insufficientReason,
  REASON_INSUFFICIENT_MEMORY,
  REASON_NO_FREE_PORTS,
  REASON_NODE_AFFINITY,
  REASON_NODE_NAME,
  REASON_POD_AFFINITY,
  REASON_POD_ANTI_AFFINITY,
  REASON_SPREAD,
  REASON_SPREAD_MISSING_LABEL,
  REASON_TOO_MANY_PODS,
  REASON_UNSCHEDULABLE,
  taintReason,
} from "./reasons.js";
import type { CycleState, FilterPlugin, FilterResult, NodeSnapshot, ScheduleOptions, SchedulerProfile, ScorePlugin } from "./types.js";

/** Highest score a plugin gives a node (kube-scheduler's MaxNodeScore). */
const MAX_NODE_SCORE = 100;

/** Marks the profile entries implemented here; the value says which plugin and how it is configured. */
export const BUILTIN: unique symbol = Symbol("coxswain.scheduler.builtin");

/** Built-in filter plugins, in kube-scheduler's default order. */
export const FilterCode = {
  NodeUnschedulable: 1,
  NodeName: 2,
  TaintToleration: 3,
  NodeAffinity: 4,
  NodePorts: 5,
  NodeResourcesFit: 6,
  VolumeBinding: 7,
  PodTopologySpread: 8,
  InterPodAffinity: 9,
} as const;

/** Built-in score plugins. */
export const ScoreCode = {
  TaintToleration: 1,
  NodeAffinity: 2,
  PodTopologySpread: 3,
  InterPodAffinity: 4,
  NodeResourcesFit: 5,
  BalancedAllocation: 6,
  ImageLocality: 7,
} as const;

/** Resource weights of the NodeResourcesFit and BalancedAllocation scores (Kubernetes' default: cpu 1, memory 1). */
export interface ResourceWeights {
  cpu: number;
  memory: number;
}

/** One point of RequestedToCapacityRatio's shape: utilization 0..100 → score 0..10. */
export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

/**
 * NodeResourcesFit's scoring strategy (KubeSchedulerConfiguration NodeResourcesFitArgs.scoringStrategy):
 * LeastAllocated (default, spreads), MostAllocated (bin-packs) or RequestedToCapacityRatio (a broken-linear
 * function of utilization).
 */
export type ScoringStrategy = { type: "LeastAllocated" | "MostAllocated"; resources?: ResourceWeights } | { type: "RequestedToCapacityRatio"; shape: readonly UtilizationShapePoint[]; resources?: ResourceWeights };

/** What a built-in profile entry carries under BUILTIN. */
export type BuiltinSpec = { kind: "filter"; code: number } | { kind: "score"; code: number; strategy?: ScoringStrategy };

interface ProfileFilter {
  code: number;
  plugin: FilterPlugin;
}

interface ProfileScore {
  code: number;
  weight: number;
  plugin: ScorePlugin;
  strategy: ScoringStrategy | undefined;
}

/** A profile resolved into built-in codes (0 = custom plugin). */
export interface CompiledProfile {
  filters: readonly ProfileFilter[];
  scores: readonly ProfileScore[];
  /** Some plugin is custom: the cluster keeps NodeSnapshot views for it. */
  custom: boolean;
}

function builtinOf(p: object): BuiltinSpec | undefined {
  return (p as { [BUILTIN]?: BuiltinSpec })[BUILTIN];
}

/** Resolves a profile's entries. */
export function compileProfile(profile: SchedulerProfile): CompiledProfile {
  let custom = false;
  const filters = profile.filters.map((plugin): ProfileFilter => {
    const b = builtinOf(plugin);
    if (b?.kind === "filter") return { code: b.code, plugin };
    custom = true;
    return { code: 0, plugin };
  });
  const scores = profile.scores.map((plugin): ProfileScore => {
    const b = builtinOf(plugin);
    if (b?.kind === "score") return { code: b.code, weight: plugin.weight, plugin, strategy: b.strategy };
    custom = true;
    return { code: 0, weight: plugin.weight, plugin, strategy: undefined };
  });
  return { filters, scores, custom };
}

/** A set of reasons one filter gave a node, interned: nodes store its id (0 = feasible). */
export interface ReasonSet {
  readonly reasons: readonly string[];
  /** Removing pods from the node might help (Kubernetes' Unschedulable); else UnschedulableAndUnresolvable. */
  readonly resolvable: boolean;
  readonly plugin: string;
}

/** Interned reason sets of one pass. */
class ReasonSets {
  readonly list: ReasonSet[] = [{ reasons: [], resolvable: false, plugin: "" }];
  private readonly ids = new Map<string, number>();

  /** The id of a reason set (interned: equal sets share one id). */
  id(plugin: string, reasons: readonly string[], resolvable: boolean): number {
    const key = `${plugin}\u0000${resolvable ? 1 : 0}\u0000${reasons.join("\u0001")}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push({ reasons: [...reasons], resolvable, plugin });
      this.ids.set(key, id);
    }
    return id;
  }
}

/** A DoNotSchedule constraint resolved against the cluster. */
interface HardSpread {
  readonly c: SpreadConstraint;
  readonly domains: Domains;
  /** undefined: the selector is empty or absent, which counts no pods (countPodsMatchSelector). */
  readonly counter: DomainCounter | undefined;
  readonly selfMatch: number;
  /** Per-domain verdicts for the scan (few domains only). */
  quick?: QuickSpread;
}

/** Whether each domain of a constraint's key passes its skew check (1) right now. */
interface QuickSpread {
  readonly of: Int32Array;
  readonly ok: Uint8Array;
}

/** A node that some quick verdict rejects (no domain, or a skewed one). */
function quickReject(quick: readonly QuickSpread[], i: number): boolean {
  for (let k = 0; k < quick.length; k++) {
    const q = quick[k]!;
    const d = q.of[i]!;
    if (d < 0 || q.ok[d] === 0) return true;
  }
  return false;
}

/** A required (anti-)affinity term of the incoming pod, resolved. */
interface TermCounter {
  readonly domains: Domains;
  readonly counter: DomainCounter;
}

/** A soft spreading constraint resolved for scoring. */
interface SoftSpread {
  readonly c: SpreadConstraint;
  readonly domains: Domains;
  readonly hostname: boolean;
  /** Matching pods per node (hostname constraints), live. */
  readonly perNode: Int32Array | undefined;
  /** Matching pods per domain over eligible nodes (other keys), live. */
  readonly counts: Int32Array | undefined;
  /** Scratch stamps per domain, to count the domains among the scored nodes. */
  readonly seen: Int32Array;
  /** maxSkew − 1, added per constraint to the raw score. */
  readonly base: number;
}

/** One additive part of the InterPodAffinity score: weight × count of the node's domain. */
interface ScorePart {
  readonly of: Int32Array;
  readonly counts: Int32Array;
  readonly w: number;
}

/**
 * Per-pod state of one scheduling cycle (PreFilter results and what scoring resolves). Everything here depends
 * only on the pod's template (constraints, affinity, tolerations, owner, namespace, labels), and reads the
 * cluster's counters live, so consecutive replicas of one template share one Cycle (see Engine.cycle).
 */
export class Cycle {
  /** Active filters, in profile order: built-in codes, or -(k + 1) for the profile's k-th filter (custom). */
  readonly filters: number[] = [];
  /** The profile's filters are the built-ins in kube-scheduler's order: use the straight-line filter. */
  canonical = false;
  fUnschedulable = false;
  fNodeName = false;
  fTaint = false;
  fAffinity = false;
  fPorts = false;
  fFit = false;
  fVolume = false;
  fSpread = false;
  fInterPod = false;
  nodeNameIndex = -1;
  taintCache: Int32Array | undefined;
  affinityCache: Int32Array | undefined;
  readonly spread: HardSpread[] = [];
  readonly affinityTerms: TermCounter[] = [];
  readonly antiTerms: TermCounter[] = [];
  readonly existingAnti: TermGroup[] = [];
  /** cluster.groups.length when this cycle was resolved (a new term group means resolving again). */
  groupsSeen = 0;
  softSpread: SoftSpread[] | undefined;
  interParts: ScorePart[] | undefined;
  state: CycleState = new Map();

  constructor(public p: PodInfo) {}
}

/** Whether two pods share everything a Cycle resolves (the replicas of one template do). */
function sameTemplate(a: PodInfo, b: PodInfo): boolean {
  return (
    a.spreadHard === b.spreadHard &&
    a.spreadSoft === b.spreadSoft &&
    a.podAffinity === b.podAffinity &&
    a.nodeAffinity === b.nodeAffinity &&
    a.tolerations === b.tolerations &&
    a.owner === b.owner &&
    a.namespace === b.namespace &&
    a.groupKey === b.groupKey &&
    a.req.nodeName === b.req.nodeName &&
    claimsSig(a.req.claims) === claimsSig(b.req.claims) &&
    (a.ports > 0 || a.hostPorts.length > 0) === (b.ports > 0 || b.hostPorts.length > 0)
  );
}

const EMPTY_LIST: readonly never[] = [];

/** The claims of a pod and their nodes as one string (two pods with equal signatures filter alike). */
function claimsSig(claims: PodInfo["req"]["claims"]): string {
  return (claims ?? EMPTY_LIST).map((c) => `${c.name}\u0000${c.node ?? ""}`).join("\u0001");
}

/** The engine of one pass: the cluster, the compiled profile, reason sets, buffers and the seeded PRNG. */
export class Engine {
  readonly cl: Cluster;
  readonly reasons = new ReasonSets();
  readonly random: () => number;
  /** Round-robin start of the next filtering pass. */
  nextStart: number;
  private readonly pct: number;
  private readonly fitReasons: Int32Array;
  private readonly rPorts: number;
  private readonly rUnschedulable: number;
  private readonly rNodeName: number;
  private readonly rNodeAffinity: number;
  private readonly rSpread: number;
  private readonly rSpreadLabel: number;
  private readonly rAffinity: number;
  private readonly rAnti: number;
  private readonly rExistingAnti: number;
  private readonly rVolume: number;
  /** The claims ("namespace/name") that placements of this pass bound (the first pod of an unbound claim binds it). */
  private readonly claimNodes = new Map<string, string>();
  /** Buffers sized to the fleet, reused by every cycle. */
  readonly feasible: Int32Array;
  readonly statuses: Int32Array;
  private readonly totals: Float64Array;
  private readonly buf: Float64Array;
  private stampCycle = 0;
  private readonly spreadWeights = new Float64Array(64);
  private readonly stamps = new Map<Domains, Int32Array>();

  /** The budgets preemption weighs (ScheduleOptions.disruptionBudgets), their selectors compiled. */
  readonly budgets: readonly { namespace: string; selector: Selector; disruptionsAllowed: number }[];

  constructor(
    nodes: readonly NodeSnapshot[],
    readonly profile: CompiledProfile,
    opts: ScheduleOptions,
  ) {
    this.budgets = (opts.disruptionBudgets ?? []).map((b) => ({ namespace: b.namespace, selector: compileLabelSelector(b.selector), disruptionsAllowed: b.disruptionsAllowed }));
    this.cl = new Cluster(nodes, { views: profile.custom, ...(opts.namespaceLabels ? { namespaceLabels: opts.namespaceLabels } : {}) });
    const n = this.cl.n;
    this.random = seededRandom(opts.seed ?? DEFAULT_SEED);
    this.pct = opts.percentageOfNodesToScore ?? 0;
    if (!(this.pct >= 0 && this.pct <= 100)) {
      throw new CoxError("InvalidArgument", `percentageOfNodesToScore ${this.pct} is out of range; expected 0..100 (0 = adaptive)`);
    }
    const start = opts.startIndex ?? 0;
    this.nextStart = n === 0 ? 0 : ((Math.trunc(start) % n) + n) % n;
    this.feasible = new Int32Array(n);
    this.statuses = new Int32Array(n);
    this.totals = new Float64Array(n);
    this.buf = new Float64Array(n);
    const r = this.reasons;
    this.fitReasons = new Int32Array(8);
    for (let bits = 1; bits < 8; bits++) {
      const list: string[] = [];
      if (bits & 1) list.push(REASON_TOO_MANY_PODS);
      if (bits & 2) list.push(REASON_INSUFFICIENT_CPU);
      if (bits & 4) list.push(REASON_INSUFFICIENT_MEMORY);
      this.fitReasons[bits] = r.id("NodeResourcesFit", list, true);
    }
    this.rPorts = r.id("NodePorts", [REASON_NO_FREE_PORTS], true);
    this.rUnschedulable = r.id("NodeUnschedulable", [REASON_UNSCHEDULABLE], false);
    this.rNodeName = r.id("NodeName", [REASON_NODE_NAME], false);
    this.rNodeAffinity = r.id("NodeAffinity", [REASON_NODE_AFFINITY], false);
    this.rSpread = r.id("PodTopologySpread", [REASON_SPREAD], true);
    this.rSpreadLabel = r.id("PodTopologySpread", [REASON_SPREAD_MISSING_LABEL], false);
    this.rAffinity = r.id("InterPodAffinity", [REASON_POD_AFFINITY], false);
    this.rAnti = r.id("InterPodAffinity", [REASON_POD_ANTI_AFFINITY], true);
    this.rExistingAnti = r.id("InterPodAffinity", [REASON_EXISTING_ANTI_AFFINITY], true);
    this.rVolume = r.id("VolumeBinding", [REASON_VOLUME_NODE_CONFLICT], false);
  }

  // -------------------------------------------------------------------------------------------------------
  // PreFilter

  private lastCycle: Cycle | undefined;

  /**
   * Resolves what the pod's filters read (PreFilter). The result stays valid while pods come and go (counters
   * are live), so the previous pod's Cycle is reused when this pod has the same template and no new term group
   * appeared since.
   */
  cycle(p: PodInfo): Cycle {
    const last = this.lastCycle;
    if (last !== undefined && last.groupsSeen === this.cl.groups.length && sameTemplate(last.p, p)) {
      last.p = p;
      if (this.profile.custom) last.state = new Map();
      return last;
    }
    const cy = this.buildCycle(p);
    this.lastCycle = cy;
    return cy;
  }

  private buildCycle(p: PodInfo): Cycle {
    const cy = new Cycle(p);
    const cl = this.cl;
    cy.groupsSeen = cl.groups.length;
    const filters = this.profile.filters;
    let canonical = true;
    let lastCode = 0;
    for (let k = 0; k < filters.length; k++) {
      const code = filters[k]!.code;
      if (code === 0 || code <= lastCode) canonical = false;
      lastCode = code;
      switch (code) {
        case 0:
          cy.filters.push(-(k + 1));
          break;
        case FilterCode.NodeUnschedulable:
          if (!p.tolerations.toleratesUnschedulable) cy.fUnschedulable = true;
          break;
        case FilterCode.NodeName:
          if (p.req.nodeName !== undefined) {
            cy.nodeNameIndex = cl.index.get(p.req.nodeName) ?? -1;
            cy.fNodeName = true;
          }
          break;
        case FilterCode.TaintToleration:
          if (cl.anyHardTaint) {
            cy.taintCache = cl.nodeCache(`taint\u0000${p.tolerations.sig}`, -1);
            cy.fTaint = true;
          }
          break;
        case FilterCode.NodeAffinity:
          if (p.nodeAffinity.required !== undefined) {
            cy.affinityCache = cl.nodeCache(`naff\u0000${p.nodeAffinity.required.sig}`, -1);
            cy.fAffinity = true;
          }
          break;
        case FilterCode.NodePorts:
          if (p.ports > 0 || p.hostPorts.length > 0) cy.fPorts = true;
          break;
        case FilterCode.NodeResourcesFit:
          cy.fFit = true;
          break;
        case FilterCode.VolumeBinding:
          if ((p.req.claims?.length ?? 0) > 0) cy.fVolume = true;
          break;
        case FilterCode.PodTopologySpread:
          if (p.spreadHard.length > 0) {
            this.prepareSpread(cy);
            cy.fSpread = true;
          }
          break;
        case FilterCode.InterPodAffinity:
          if (this.prepareInterPod(cy)) cy.fInterPod = true;
          break;
      }
      if (code !== 0 && this.active(cy, code)) cy.filters.push(code);
    }
    cy.canonical = canonical;
    return cy;
  }

  private active(cy: Cycle, code: number): boolean {
    switch (code) {
      case FilterCode.NodeUnschedulable:
        return cy.fUnschedulable;
      case FilterCode.NodeName:
        return cy.fNodeName;
      case FilterCode.TaintToleration:
        return cy.fTaint;
      case FilterCode.NodeAffinity:
        return cy.fAffinity;
      case FilterCode.NodePorts:
        return cy.fPorts;
      case FilterCode.NodeResourcesFit:
        return cy.fFit;
      case FilterCode.VolumeBinding:
        return cy.fVolume;
      case FilterCode.PodTopologySpread:
        return cy.fSpread;
      case FilterCode.InterPodAffinity:
        return cy.fInterPod;
      default:
        return false;
    }
  }

  /** Whether node i matches the pod's required node affinity (memoized per affinity signature). */
  private nodeAffinityMatches(cy: Cycle, i: number): boolean {
    const req = cy.p.nodeAffinity.required;
    if (req === undefined) return true;
    const cache = (cy.affinityCache ??= this.cl.nodeCache(`naff\u0000${req.sig}`, -1));
    let v = cache[i]!;
    if (v < 0) cache[i] = v = req.matches(this.cl.labels[i]!, this.cl.names[i]!) ? 1 : 0;
    return v === 1;
  }

  /** The reason id of the first untolerated NoSchedule/NoExecute taint of node i, or 0 (memoized per tolerations). */
  private taintStatus(cy: Cycle, i: number): number {
    const cache = (cy.taintCache ??= this.cl.nodeCache(`taint\u0000${cy.p.tolerations.sig}`, -1));
    let v = cache[i]!;
    if (v < 0) {
      v = 0;
      for (const t of this.cl.taints[i] ?? EMPTY_LIST) {
        if (t.effect === "PreferNoSchedule") continue;
        if (!tolerationsTolerate(cy.p.tolerations.list, t)) {
          v = this.reasons.id("TaintToleration", [taintReason(t.key, t.value)], false);
          break;
        }
      }
      cache[i] = v;
    }
    return v;
  }

  private readonly spreadMatchers = new WeakMap<SpreadConstraint, Map<string, Matcher>>();

  /** The matcher of a spreading selector: pods of the pod's namespace matching it, terminating ones excluded. */
  private spreadMatcher(p: PodInfo, c: SpreadConstraint): Matcher | undefined {
    const cl = this.cl;
    // System default constraint: the pods of the same owner (seeded from the nodes' podsByOwner).
    if (c.selector === undefined) return cl.ownerMatcher(p.owner);
    // countPodsMatchSelector: an empty selector counts no pods (and an absent one matches none).
    if (c.selector.kind !== "match") return undefined;
    let byNs = this.spreadMatchers.get(c);
    if (byNs === undefined) this.spreadMatchers.set(c, (byNs = new Map()));
    const ns = p.namespace;
    let m = byNs.get(ns);
    if (m === undefined) {
      const sel = c.selector;
      m = cl.matcher(`spread\u0000${ns}\u0000${sel.sig}`, (e) => e.namespace === ns && sel.matches(e.labels), true, [sel]);
      byNs.set(ns, m);
    }
    return m;
  }

  /**
   * The nodes whose pods count for a constraint (PreFilter's processNode + matchNodeInclusionPolicies): nodes
   * with every key in `keys`, matching the pod's required node affinity when the policy honors it, and
   * tolerating its NoSchedule/NoExecute taints when that policy honors them.
   */
  private eligibility(cy: Cycle, keys: readonly string[], c: SpreadConstraint): { mask: Uint8Array | undefined; sig: string } {
    const p = cy.p;
    const aff = c.honorAffinity && p.nodeAffinity.required !== undefined;
    const taints = c.honorTaints && this.cl.anyHardTaint;
    const needKeys = keys.filter((k) => k !== HOSTNAME_KEY);
    if (!aff && !taints && needKeys.length === 0) return { mask: undefined, sig: "*" };
    const sig = `${needKeys.join("\u0001")}\u0000${aff ? p.nodeAffinity.required!.sig : "*"}\u0000${taints ? p.tolerations.sig : "*"}`;
    const cl = this.cl;
    const mask = cl.mask(sig, (i) => {
      for (const k of needKeys) if (!cl.hasKey(i, k)) return false;
      if (aff && !this.nodeAffinityMatches(cy, i)) return false;
      if (taints && this.taintStatus(cy, i) !== 0) return false;
      return true;
    });
    return { mask, sig };
  }

  private prepareSpread(cy: Cycle): void {
    const keys = cy.p.spreadHard.map((c) => c.key);
    for (const c of cy.p.spreadHard) {
      const domains = this.cl.domains(c.key);
      const m = this.spreadMatcher(cy.p, c);
      let counter: DomainCounter | undefined;
      if (m !== undefined) {
        const { mask, sig } = this.eligibility(cy, keys, c);
        counter = this.cl.counter(m, c.key, mask, sig);
      }
      cy.spread.push({ c, domains, counter, selfMatch: c.selfMatch ? 1 : 0 });
    }
  }

  private termMatcher(t: CompiledTerm): Matcher {
    const cl = this.cl;
    return cl.matcher(`term\u0000${t.matchSig}`, (e) => cl.termMatches(t, e.namespace, e.labels), false, [t.selector]);
  }

  private prepareInterPod(cy: Cycle): boolean {
    const cl = this.cl;
    const pa = cy.p.podAffinity;
    if (pa.requiredAffinity.length > 0) {
      // updateWithAffinityTerms: a pod counts for the terms only when it matches all of them.
      const terms = pa.requiredAffinity;
      const m = cl.matcher(
        `all\u0000${terms.map((t) => t.matchSig).join("\u0001")}`,
        (e) => terms.every((t) => cl.termMatches(t, e.namespace, e.labels)),
        false,
        terms.map((t) => t.selector),
      );
      for (const t of terms) cy.affinityTerms.push({ domains: cl.domains(t.key), counter: cl.counter(m, t.key, undefined, "*") });
    }
    for (const t of pa.requiredAnti) {
      cy.antiTerms.push({ domains: cl.domains(t.key), counter: cl.counter(this.termMatcher(t), t.key, undefined, "*") });
    }
    for (const g of cl.groupsMatching(cy.p.namespace, cy.p.labels, cy.p.groupKey)) {
      if (g.kind === TermKind.RequiredAnti) cy.existingAnti.push(g);
    }
    return cy.affinityTerms.length > 0 || cy.antiTerms.length > 0 || cy.existingAnti.length > 0;
  }

  // -------------------------------------------------------------------------------------------------------
  // Filter

  /** Runs the cycle's filters on node i: 0 when the pod fits, else the id of the first failing filter's reasons. */
  filter(cy: Cycle, i: number): number {
    if (cy.canonical) return this.filterCanonical(cy, i);
    const fs = cy.filters;
    for (let k = 0; k < fs.length; k++) {
      const code = fs[k]!;
      const r = code > 0 ? this.builtinStatus(cy, code, i) : this.customStatus(cy, -code - 1, i);
      if (r !== 0) return r;
    }
    return 0;
  }

  /** One built-in filter on node i (the cycle says it applies to the pod). */
  private builtinStatus(cy: Cycle, code: number, i: number): number {
    switch (code) {
      case FilterCode.NodeUnschedulable:
        return this.cl.unschedulable[i] === 1 ? this.rUnschedulable : 0;
      case FilterCode.NodeName:
        return i !== cy.nodeNameIndex ? this.rNodeName : 0;
      case FilterCode.TaintToleration:
        return this.cl.taints[i] !== undefined ? this.taintStatus(cy, i) : 0;
      case FilterCode.NodeAffinity:
        return this.nodeAffinityMatches(cy, i) ? 0 : this.rNodeAffinity;
      case FilterCode.NodePorts:
        return this.portsStatus(cy.p, i);
      case FilterCode.NodeResourcesFit:
        return this.fitStatus(cy.p, i);
      case FilterCode.VolumeBinding:
        return this.volumeStatus(cy.p, i);
      case FilterCode.PodTopologySpread:
        return this.spreadStatus(cy, i);
      case FilterCode.InterPodAffinity:
        return this.interPodStatus(cy, i);
      default:
        return 0;
    }
  }

  /** filter() for the default order: the same checks, straight-line (the hot loop of every pass). */
  private filterCanonical(cy: Cycle, i: number): number {
    const cl = this.cl;
    const p = cy.p;
    if (cy.fUnschedulable && cl.unschedulable[i] === 1) return this.rUnschedulable;
    if (cy.fNodeName && i !== cy.nodeNameIndex) return this.rNodeName;
    if (cy.fTaint && cl.taints[i] !== undefined) {
      const r = this.taintStatus(cy, i);
      if (r !== 0) return r;
    }
    if (cy.fAffinity && !this.nodeAffinityMatches(cy, i)) return this.rNodeAffinity;
    if (cy.fPorts) {
      const r = this.portsStatus(p, i);
      if (r !== 0) return r;
    }
    if (cy.fFit) {
      const r = this.fitStatus(p, i);
      if (r !== 0) return r;
    }
    if (cy.fVolume) {
      const r = this.volumeStatus(p, i);
      if (r !== 0) return r;
    }
    if (cy.fSpread) {
      const r = this.spreadStatus(cy, i);
      if (r !== 0) return r;
    }
    if (cy.fInterPod) return this.interPodStatus(cy, i);
    return 0;
  }

  /**
   * NodeResourcesFit.Filter (fitsRequest): the pod count, then each resource the pod requests (> 0) against
   * allocatable − requested, extended resources last (by name; a node offers none it does not declare);
   * every shortfall is reported.
   */
  private fitStatus(p: PodInfo, i: number): number {
    const cl = this.cl;
    let bits = 0;
    if (cl.podCount[i]! + 1 > cl.allocPods[i]!) bits = 1;
    if (p.cpu > 0 && p.cpu > cl.allocCpu[i]! - cl.reqCpu[i]!) bits |= 2;
    if (p.mem > 0 && p.mem > cl.allocMem[i]! - cl.reqMem[i]!) bits |= 4;
    let short: string[] | undefined;
    for (const [name, q] of p.ext) {
      if (q > (cl.allocExt[i]?.[name] ?? 0) - (cl.reqExt[i]![name] ?? 0)) (short ??= []).push(name);
    }
    if (short === undefined) return bits === 0 ? 0 : this.fitReasons[bits]!;
    const list = bits === 0 ? [] : this.reasons.list[this.fitReasons[bits]!]!.reasons;
    return this.reasons.id("NodeResourcesFit", [...list, ...short.map(insufficientReason)], true);
  }

  /**
   * VolumeBinding.Filter for coxswain's claims (a local volume of one node, ReadWriteOnce): a claim bound to
   * a node fits that node only, also when that node is not in the snapshot (then the pod fits nowhere: its
   * data is never moved). An unbound claim fits every node; the placement binds it (assume).
   */
  private volumeStatus(p: PodInfo, i: number): number {
    const name = this.cl.names[i]!;
    for (const c of p.req.claims ?? EMPTY_LIST) {
      const bound = c.node ?? this.claimNodes.get(c.name);
      if (bound !== undefined && bound !== name) return this.rVolume;
    }
    return 0;
  }

  private portsStatus(p: PodInfo, i: number): number {
    if (p.ports > 0 && p.ports > this.cl.freePorts[i]!) return this.rPorts;
    if (p.hostPorts.length > 0) {
      const used = this.cl.hostPorts[i];
      if (used !== undefined) for (const hp of p.hostPorts) if (used.conflicts(hp)) return this.rPorts;
    }
    return 0;
  }

  /** PodTopologySpread.Filter: skew = matching pods in the node's domain + self − global minimum ≤ maxSkew. */
  private spreadStatus(cy: Cycle, i: number): number {
    const list = cy.spread;
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      const d = s.domains.of[i]!;
      if (d < 0) return this.rSpreadLabel;
      const counter = s.counter;
      let match = 0;
      let min = 0;
      if (counter !== undefined) {
        match = counter.counts[d]!;
        min = counter.presentCount < s.c.minDomains ? 0 : counter.min();
      }
      if (match + s.selfMatch - min > s.c.maxSkew) return this.rSpread;
    }
    return 0;
  }

  /** InterPodAffinity.Filter: the pod's affinity, its anti-affinity, then the existing pods' anti-affinity. */
  private interPodStatus(cy: Cycle, i: number): number {
    const aff = cy.affinityTerms;
    if (aff.length > 0) {
      let podsExist = true;
      for (let k = 0; k < aff.length; k++) {
        const t = aff[k]!;
        const d = t.domains.of[i]!;
        // All topology labels must exist on the node.
        if (d < 0) return this.rAffinity;
        if (t.counter.counts[d]! <= 0) podsExist = false;
      }
      if (!podsExist) {
        // The first pod of a group with affinity to itself may go anywhere (no pod matches yet).
        let any = false;
        for (let k = 0; k < aff.length; k++) if (aff[k]!.counter.total > 0) any = true;
        if (any || !cy.p.podAffinity.selfMatchesAffinity) return this.rAffinity;
      }
    }
    const anti = cy.antiTerms;
    for (let k = 0; k < anti.length; k++) {
      const t = anti[k]!;
      const d = t.domains.of[i]!;
      if (d >= 0 && t.counter.counts[d]! > 0) return this.rAnti;
    }
    const ex = cy.existingAnti;
    for (let k = 0; k < ex.length; k++) {
      const g = ex[k]!;
      const d = g.domains.of[i]!;
      if (d >= 0 && g.holders[d]! > 0) return this.rExistingAnti;
    }
    return 0;
  }

  private customStatus(cy: Cycle, k: number, i: number): number {
    const plugin = this.profile.filters[k]!.plugin;
    const r: FilterResult = plugin.filter(cy.p.req, this.cl.view(i), cy.state);
    if (r === undefined) return 0;
    const list = typeof r === "string" ? [r] : r;
    if (list.length === 0) return 0;
    return this.reasons.id(plugin.name, list, plugin.resolvable ?? false);
  }

  /**
   * numFeasibleNodesToFind: all nodes below 100; else max(100, N·pct/100) with pct = max(5, 50 − N/125) when
   * percentageOfNodesToScore is 0 (integer arithmetic, as Kubernetes).
   */
  numFeasibleNodesToFind(): number {
    const n = this.cl.n;
    if (n < 100 || this.pct >= 100) return n;
    let pct = this.pct;
    if (pct === 0) pct = Math.max(5, 50 - Math.trunc(n / 125));
    const num = Math.trunc((n * pct) / 100);
    return Math.max(num, 100);
  }

  /**
   * findNodesThatPassFilters: from the round-robin start, filter nodes until `limit` feasible ones are found
   * (feasible indexes in this.feasible; the reason id of each rejected node in this.statuses). Advances the
   * start past the nodes processed. Returns the number of feasible nodes.
   */
  findFeasible(cy: Cycle, limit: number, advance = true): number {
    const n = this.cl.n;
    const feasible = this.feasible;
    const statuses = this.statuses;
    const quick = cy.fSpread ? this.quickSpread(cy) : undefined;
    let m = 0;
    let processed = 0;
    const start = this.nextStart;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      processed++;
      if (quick !== undefined && quickReject(quick, i)) {
        // Spreading rejects the node whatever comes first; the exact reason is only needed if nothing fits.
        statuses[i] = this.rSpread;
        continue;
      }
      const r = this.filter(cy, i);
      statuses[i] = r;
      if (r === 0) {
        feasible[m++] = i;
        if (m >= limit) break;
      }
    }
    if (m === 0 && quick !== undefined) for (let i = 0; i < n; i++) statuses[i] = this.filter(cy, i);
    if (advance && n > 0) this.nextStart = (start + processed) % n;
    return m;
  }

  /**
   * For DoNotSchedule constraints over few domains (zones, regions), the verdict per domain, computed once per
   * pod: the scan then drops the nodes of skewed domains with one lookup. Same feasible nodes as the filter.
   */
  private quickSpread(cy: Cycle): QuickSpread[] | undefined {
    let out: QuickSpread[] | undefined;
    const limit = Math.max(64, this.cl.n >> 4);
    for (const s of cy.spread) {
      const domains = s.domains.values.length;
      if (domains > limit) continue;
      const q = (s.quick ??= { of: s.domains.of, ok: new Uint8Array(domains) });
      const counter = s.counter;
      const min = counter === undefined || counter.presentCount < s.c.minDomains ? 0 : counter.min();
      for (let d = 0; d < domains; d++) {
        const match = counter === undefined ? 0 : counter.counts[d]!;
        q.ok[d] = match + s.selfMatch - min > s.c.maxSkew ? 0 : 1;
      }
      (out ??= []).push(q);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------------------
  // Score

  /**
   * Scores the feasible nodes: per plugin, a normalized 0..100 score times its weight, summed into this.totals.
   * With `record`, each plugin's normalized scores are also kept (for explanations and tests).
   */
  score(cy: Cycle, feasible: Int32Array, m: number, record?: Map<string, Float64Array>): Float64Array {
    const totals = this.totals;
    totals.fill(0, 0, m);
    const out = this.buf;
    let constant = 0;
    for (const s of this.profile.scores) {
      const c = this.scorePlugin(cy, s, feasible, m, out);
      const w = s.weight;
      if (c !== undefined) {
        // The same for every node: it cannot change the choice, so it is added once, to the chosen total.
        constant += c * w;
        if (record) record.set(s.plugin.name, new Float64Array(m).fill(c));
      } else {
        for (let k = 0; k < m; k++) totals[k]! += out[k]! * w;
        if (record) record.set(s.plugin.name, out.slice(0, m));
      }
    }
    this.scoreConstant = constant;
    return totals;
  }

  /** The part of the last score() every node got alike (not included in its totals). */
  scoreConstant = 0;

  /** One plugin's normalized scores into out[0..m), or a constant when every node gets the same (0 = skipped). */
  private scorePlugin(cy: Cycle, s: ProfileScore, f: Int32Array, m: number, out: Float64Array): number | undefined {
    switch (s.code) {
      case ScoreCode.TaintToleration:
        return this.taintScore(cy, f, m, out);
      case ScoreCode.NodeAffinity:
        return this.nodeAffinityScore(cy, f, m, out);
      case ScoreCode.PodTopologySpread:
        return this.spreadScore(cy, f, m, out);
      case ScoreCode.InterPodAffinity:
        return this.interPodScore(cy, f, m, out);
      case ScoreCode.NodeResourcesFit:
        return this.fitScore(cy, s.strategy ?? LEAST_ALLOCATED, f, m, out);
      case ScoreCode.BalancedAllocation:
        return this.balancedScore(cy, s.strategy?.resources ?? DEFAULT_RESOURCES, f, m, out);
      case ScoreCode.ImageLocality:
        return this.imageScore(cy, f, m, out);
      default:
        return this.customScore(cy, s.plugin, f, m, out);
    }
  }

  /** TaintToleration: intolerable PreferNoSchedule taints per node, reverse-normalized (fewer is better). */
  private taintScore(cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const cl = this.cl;
    if (!cl.anyPreferTaint) return MAX_NODE_SCORE;
    const prefer = cy.p.tolerations.prefer;
    const cache = cl.nodeCache(`ptaint\u0000${cy.p.tolerations.preferSig}`, -1);
    let max = 0;
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      let c = cache[i]!;
      if (c < 0) {
        c = 0;
        for (const t of cl.taints[i] ?? EMPTY_LIST) if (t.effect === "PreferNoSchedule" && !tolerationsTolerate(prefer, t)) c++;
        cache[i] = c;
      }
      out[k] = c;
      if (c > max) max = c;
    }
    return defaultNormalize(out, m, max, true);
  }

  /** NodeAffinity: sum of the weights of the preferred terms a node matches, normalized by the maximum. */
  private nodeAffinityScore(cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const na = cy.p.nodeAffinity;
    if (na.preferred.length === 0) return 0;
    const cl = this.cl;
    const cache = cl.nodeCache(`pnaff\u0000${na.preferredSig}`, -1);
    let max = 0;
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      let c = cache[i]!;
      if (c < 0) {
        c = 0;
        for (const t of na.preferred) if (t.matcher.matches(cl.labels[i]!, cl.names[i]!)) c += t.weight;
        cache[i] = c;
      }
      out[k] = c;
      if (c > max) max = c;
    }
    return defaultNormalize(out, m, max, false);
  }

  /**
   * PodTopologySpread score: per node Σ over the soft constraints (the pod's ScheduleAnyway ones, or the system
   * defaults) of count·log(domains + 2) + maxSkew − 1, rounded; then the lowest gets 100 and the others
   * 100·(max + min − s)/max. With explicit constraints, feasible nodes lacking a key are ignored (score 0).
   */
  private spreadScore(cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const p = cy.p;
    const cs = p.spreadSoft;
    if (cs.length === 0 || m === 0) return 0;
    const cl = this.cl;
    const requireAll = !p.spreadSystemDefault;
    const plan = (cy.softSpread ??= this.softSpreadPlan(cy, requireAll));
    // With explicit constraints, nodes missing a key are ignored (score 0): marked out[k] = -1 meanwhile.
    let ignored = 0;
    if (requireAll) {
      for (let k = 0; k < m; k++) {
        const i = f[k]!;
        let ok = true;
        for (const c of cs) if (!cl.hasKey(i, c.key)) ok = false;
        out[k] = ok ? 0 : -1;
        if (!ok) ignored++;
      }
    } else out.fill(0, 0, m);
    // topologyNormalizingWeight: log(number of domains among the scored nodes + 2).
    const weights = plan.length <= this.spreadWeights.length ? this.spreadWeights : new Float64Array(plan.length);
    for (let ci = 0; ci < plan.length; ci++) {
      const s = plan[ci]!;
      let size = 0;
      if (s.hostname) size = m - ignored;
      else {
        const stamp = ++this.stampCycle;
        const seen = s.seen;
        const of = s.domains.of;
        for (let k = 0; k < m; k++) {
          if (out[k]! < 0) continue;
          const d = of[f[k]!]!;
          if (d >= 0 && seen[d] !== stamp) {
            seen[d] = stamp;
            size++;
          }
        }
      }
      weights[ci] = Math.log(size + 2);
    }
    // Raw score per node, one constraint at a time (tight loops), then rounded as the plugin returns
    // int64(math.Round(score)), then normalized.
    for (let ci = 0; ci < plan.length; ci++) {
      const s = plan[ci]!;
      const w = weights[ci]!;
      const base = s.base;
      const of = s.domains.of;
      const perNode = s.perNode;
      const counts = s.counts;
      if (perNode !== undefined) {
        // Hostname: every node is its own domain.
        for (let k = 0; k < m; k++) if (out[k]! >= 0) out[k]! += perNode[f[k]!]! * w + base;
      } else if (counts !== undefined) {
        for (let k = 0; k < m; k++) {
          if (out[k]! < 0) continue;
          const d = of[f[k]!]!;
          if (d >= 0) out[k]! += counts[d]! * w + base;
        }
      } else {
        for (let k = 0; k < m; k++) if (out[k]! >= 0 && of[f[k]!]! >= 0) out[k]! += base;
      }
    }
    let min = Infinity;
    let max = 0;
    for (let k = 0; k < m; k++) {
      const v = out[k]!;
      if (v < 0) continue;
      const r = Math.round(v);
      out[k] = r;
      if (r < min) min = r;
      if (r > max) max = r;
    }
    for (let k = 0; k < m; k++) {
      const s = out[k]!;
      if (s < 0) out[k] = 0;
      else if (max === 0) out[k] = MAX_NODE_SCORE;
      else out[k] = Math.trunc((MAX_NODE_SCORE * (max + min - s)) / max);
    }
    return undefined;
  }

  /** Resolves the soft constraints' matchers and counters (PreScore's initPreScoreState, once per template). */
  private softSpreadPlan(cy: Cycle, requireAll: boolean): SoftSpread[] {
    const cl = this.cl;
    const cs = cy.p.spreadSoft;
    const keys = cs.map((c) => c.key);
    return cs.map((c): SoftSpread => {
      const domains = cl.domains(c.key);
      const matcher = this.spreadMatcher(cy.p, c);
      const hostname = c.key === HOSTNAME_KEY;
      let counts: Int32Array | undefined;
      if (!hostname && matcher !== undefined) {
        const { mask, sig } = this.eligibility(cy, requireAll ? keys : [c.key], c);
        counts = cl.counter(matcher, c.key, mask, `S\u0000${sig}`).counts;
      }
      let seen = this.stamps.get(domains);
      if (seen === undefined) this.stamps.set(domains, (seen = new Int32Array(domains.values.length)));
      return { c, domains, hostname, perNode: hostname ? matcher?.perNode : undefined, counts, seen, base: c.maxSkew - 1 };
    });
  }

  /**
   * InterPodAffinity score: for each domain, + weight per existing pod matching a preferred affinity term of
   * the pod, − weight per pod matching a preferred anti-affinity term; and the other direction: + 1 (hard
   * weight) per existing pod whose required affinity selects the pod, ± weight per existing pod whose preferred
   * (anti-)affinity selects it. Min-max normalized to 0..100.
   */
  private interPodScore(cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const parts = (cy.interParts ??= this.interPodParts(cy));
    if (parts.length === 0) return 0;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      let s = 0;
      for (let j = 0; j < parts.length; j++) {
        const part = parts[j]!;
        const d = part.of[i]!;
        if (d >= 0) s += part.counts[d]! * part.w;
      }
      out[k] = s;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    const diff = max - min;
    for (let k = 0; k < m; k++) out[k] = diff > 0 ? Math.trunc(MAX_NODE_SCORE * ((out[k]! - min) / diff)) : 0;
    return undefined;
  }

  /** The additive parts of the InterPodAffinity score for the cycle's pod (its terms, and term groups selecting it). */
  private interPodParts(cy: Cycle): ScorePart[] {
    const cl = this.cl;
    const pa = cy.p.podAffinity;
    const parts: ScorePart[] = [];
    for (const t of pa.preferredAffinity) {
      const c = cl.counter(this.termMatcher(t), t.key, undefined, "*");
      parts.push({ of: c.domains.of, counts: c.counts, w: t.weight });
    }
    for (const t of pa.preferredAnti) {
      const c = cl.counter(this.termMatcher(t), t.key, undefined, "*");
      parts.push({ of: c.domains.of, counts: c.counts, w: -t.weight });
    }
    for (const g of cl.groupsMatching(cy.p.namespace, cy.p.labels, cy.p.groupKey)) {
      const w = g.kind === TermKind.RequiredAffinity ? HARD_POD_AFFINITY_WEIGHT : g.kind === TermKind.PreferredAffinity ? g.term.weight : g.kind === TermKind.PreferredAnti ? -g.term.weight : 0;
      if (w !== 0) parts.push({ of: g.domains.of, counts: g.holders, w });
    }
    return parts;
  }

  /** NodeResourcesFit score with the profile's strategy, on scoring requests (100m / 200Mi defaults) incl. the pod. */
  private fitScore(cy: Cycle, strategy: ScoringStrategy, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const cl = this.cl;
    const p = cy.p;
    const wc = strategy.resources?.cpu ?? 1;
    const wm = strategy.resources?.memory ?? 1;
    const allocCpu = cl.allocCpu;
    const allocMem = cl.allocMem;
    const reqCpu = cl.scoreCpu;
    const reqMem = cl.scoreMem;
    if (strategy.type === "RequestedToCapacityRatio") {
      const fn = brokenLinear(strategy.shape);
      for (let k = 0; k < m; k++) {
        const i = f[k]!;
        out[k] = ratioScore(fn, reqCpu[i]! + p.scoreCpu, allocCpu[i]!, wc, reqMem[i]! + p.scoreMem, allocMem[i]!, wm);
      }
      return undefined;
    }
    const most = strategy.type === "MostAllocated";
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      let sum = 0;
      let weights = 0;
      const cc = allocCpu[i]!;
      if (cc > 0 && wc > 0) {
        const r = reqCpu[i]! + p.scoreCpu;
        sum += (most ? mostRequested(r, cc) : leastRequested(r, cc)) * wc;
        weights += wc;
      }
      const mc = allocMem[i]!;
      if (mc > 0 && wm > 0) {
        const r = reqMem[i]! + p.scoreMem;
        sum += (most ? mostRequested(r, mc) : leastRequested(r, mc)) * wm;
        weights += wm;
      }
      out[k] = weights === 0 ? 0 : Math.trunc(sum / weights);
    }
    return undefined;
  }

  /**
   * NodeResourcesBalancedAllocation: fractions f = min(1, requested/allocatable) on real requests incl. the pod;
   * score = (1 − std(f))·100, std = |f1 − f2|/2 for two resources. Skipped for a pod that requests nothing.
   */
  private balancedScore(cy: Cycle, rw: ResourceWeights, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const p = cy.p;
    if (p.cpu === 0 && p.mem === 0) return 0;
    const cl = this.cl;
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      let n = 0;
      let f1 = 0;
      let f2 = 0;
      const cc = cl.allocCpu[i]!;
      if (cc > 0 && rw.cpu > 0) {
        f1 = Math.min(1, (cl.reqCpu[i]! + p.cpu) / cc);
        n++;
      }
      const mc = cl.allocMem[i]!;
      if (mc > 0 && rw.memory > 0) {
        const x = Math.min(1, (cl.reqMem[i]! + p.mem) / mc);
        if (n === 0) f1 = x;
        else f2 = x;
        n++;
      }
      const std = n === 2 ? Math.abs((f1 - f2) / 2) : 0;
      out[k] = Math.trunc((1 - std) * MAX_NODE_SCORE);
    }
    return undefined;
  }

  /**
   * ImageLocality: Σ over the pod's container images held by the node of size·(nodes holding it / all nodes),
   * clamped to [23 MiB, 1000 MiB·containers] and scaled to 0..100.
   */
  private imageScore(cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const imgs = cy.p.images;
    if (imgs.length === 0) return 0;
    const cl = this.cl;
    let any = false;
    for (const img of imgs) if ((cl.imageNodes.get(img) ?? 0) > 0) any = true;
    if (!any) return 0;
    const total = cl.n;
    const maxThreshold = MAX_CONTAINER_THRESHOLD * imgs.length;
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      const held = cl.images[i];
      let sum = 0;
      if (held !== undefined) {
        for (const img of imgs) {
          if (!held.has(img)) continue;
          const size = cl.imageSizes.get(img) ?? DEFAULT_IMAGE_SIZE_BYTES;
          sum += Math.trunc(size * ((cl.imageNodes.get(img) ?? 0) / total));
        }
      }
      if (sum < MIN_IMAGE_THRESHOLD) sum = MIN_IMAGE_THRESHOLD;
      else if (sum > maxThreshold) sum = maxThreshold;
      out[k] = Math.trunc((MAX_NODE_SCORE * (sum - MIN_IMAGE_THRESHOLD)) / (maxThreshold - MIN_IMAGE_THRESHOLD));
    }
    return undefined;
  }

  private customScore(cy: Cycle, plugin: ScorePlugin, f: Int32Array, m: number, out: Float64Array): number | undefined {
    const views: NodeSnapshot[] = new Array(m);
    for (let k = 0; k < m; k++) views[k] = this.cl.view(f[k]!);
    if (plugin.preScore?.(cy.p.req, views, cy.state) === false) return 0;
    for (let k = 0; k < m; k++) out[k] = plugin.score(cy.p.req, views[k]!, cy.state);
    const scores = out.subarray(0, m);
    plugin.normalize?.(cy.p.req, scores, views, cy.state);
    for (let k = 0; k < m; k++) {
      const s = out[k]!;
      if (!(s >= 0 && s <= MAX_NODE_SCORE)) {
        throw new CoxError("InvalidArgument", `score plugin ${plugin.name} gave node ${views[k]!.name} the score ${s}; expected 0..${MAX_NODE_SCORE}`);
      }
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------------------
  // Select and assume

  /** selectHost: the highest total; ties broken uniformly at random (reservoir sampling with the seeded PRNG). */
  select(totals: Float64Array, m: number): number {
    let best = 0;
    let ties = 1;
    for (let k = 1; k < m; k++) {
      const s = totals[k]!;
      if (s > totals[best]!) {
        best = k;
        ties = 1;
      } else if (s === totals[best]!) {
        ties += 1;
        if (Math.floor(this.random() * ties) === 0) best = k;
      }
    }
    return best;
  }

  /** The assume step: the pod counts on node i at once, for every later decision of the pass. */
  assume(p: PodInfo, i: number): PodEntry {
    for (const c of p.req.claims ?? EMPTY_LIST) if (c.node === undefined && !this.claimNodes.has(c.name)) this.claimNodes.set(c.name, this.cl.names[i]!);
    const e = entryForPlaced(p);
    this.cl.addPod(e, i);
    return e;
  }
}

/** Seed used when none is given, so that runs are reproducible by default. */
export const DEFAULT_SEED = 0x5eed;

/** Kubernetes' InterPodAffinityArgs.hardPodAffinityWeight default. */
const HARD_POD_AFFINITY_WEIGHT = 1;

const MIB = 1024 * 1024;
/** ImageLocality's minThreshold (23 MiB) and per-container maxThreshold (1000 MiB). */
const MIN_IMAGE_THRESHOLD = 23 * MIB;
const MAX_CONTAINER_THRESHOLD = 1000 * MIB;
/** Size assumed for an image whose size no node reported (coxswain's choice; sizes are then all equal). */
const DEFAULT_IMAGE_SIZE_BYTES = 256 * MIB;

const DEFAULT_RESOURCES: ResourceWeights = { cpu: 1, memory: 1 };
const LEAST_ALLOCATED: ScoringStrategy = { type: "LeastAllocated" };

/** ((capacity − requested)·100)/capacity in integer arithmetic; 0 when the request exceeds capacity. */
function leastRequested(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** (min(requested, capacity)·100)/capacity in integer arithmetic. */
function mostRequested(requested: number, capacity: number): number {
  if (capacity <= 0) return 0;
  return Math.trunc((Math.min(requested, capacity) * MAX_NODE_SCORE) / capacity);
}

/** helper.BuildBrokenLinearFunction over shape points scaled to 0..100 (score·10), integer arithmetic. */
function brokenLinear(shape: readonly UtilizationShapePoint[]): (u: number) => number {
  const pts = shape.map((s) => ({ u: s.utilization, s: s.score * (MAX_NODE_SCORE / 10) }));
  return (p) => {
    for (let i = 0; i < pts.length; i++) {
      const pt = pts[i]!;
      if (p <= pt.u) {
        if (i === 0) return pts[0]!.s;
        const prev = pts[i - 1]!;
        return prev.s + Math.trunc(((pt.s - prev.s) * (p - prev.u)) / (pt.u - prev.u));
      }
    }
    return pts.length === 0 ? 0 : pts[pts.length - 1]!.s;
  };
}

/** RequestedToCapacityRatio: per resource f(requested·100/capacity), weighted mean over resources scoring > 0, rounded. */
function ratioScore(fn: (u: number) => number, rc: number, cc: number, wc: number, rm: number, cm: number, wm: number): number {
  let sum = 0;
  let weights = 0;
  const one = (r: number, c: number, w: number): void => {
    if (c === 0 || w <= 0) return;
    const s = r > c ? fn(100) : fn(Math.trunc((r * 100) / c));
    if (s > 0) {
      sum += s * w;
      weights += w;
    }
  };
  one(rc, cc, wc);
  one(rm, cm, wm);
  return weights === 0 ? 0 : Math.round(sum / weights);
}

/**
 * helper.DefaultNormalizeScore: scale to 0..100 by the maximum (reverse: 100 − that). With maximum 0 every node
 * gets 100 when reversed and keeps 0 otherwise — returned as a constant.
 */
function defaultNormalize(out: Float64Array, m: number, max: number, reverse: boolean): number | undefined {
  if (max === 0) return reverse ? MAX_NODE_SCORE : 0;
  for (let k = 0; k < m; k++) {
    const s = Math.trunc((MAX_NODE_SCORE * out[k]!) / max);
    out[k] = reverse ? MAX_NODE_SCORE - s : s;
  }
  return undefined;
}
