/**
 * kube-scheduler's framework in miniature, on the Cluster's typed arrays: one Cycle per pod (PreFilter: resolve
 * what the pod's constraints read), Filter (first failing plugin decides the node's reasons), the sampling of
 * feasible nodes (percentageOfNodesToScore, round robin), Score + NormalizeScore with weights, the seeded
 * choice among the best, and the assume step.
 *
 * The built-in plugins live one family per file (fit.ts, ports.ts, taints.ts, node-affinity.ts, volume.ts,
 * spread.ts, interpod.ts, images.ts), each next to the Kubernetes rule it copies, as functions of the Engine;
 * NodeUnschedulable and NodeName, one comparison each, are inline here. plugins.ts exposes them as profile
 * entries. Custom plugins (FilterPlugin/ScorePlugin on NodeSnapshot views) run beside them.
 */
import { CoxError } from "../api/errors.js";
import { Cluster, type Domains, type Matcher, type NodeMemo, type PodEntry } from "./cluster.js";
import { Cycle, EMPTY_LIST, sameTemplate } from "./cycle.js";
import { balancedScore, DEFAULT_RESOURCES, fitScore, fitStatus, LEAST_ALLOCATED, type ScoringStrategy } from "./fit.js";
import { imageScore } from "./images.js";
import { interPodScore, interPodStatus, prepareInterPod } from "./interpod.js";
import { compileLabelSelector, type Selector } from "./match.js";
import { nodeAffinityMatches, nodeAffinityScore } from "./node-affinity.js";
import { MAX_NODE_SCORE } from "./normalize.js";
import { entryForPlaced, type PodInfo, type SpreadConstraint } from "./podinfo.js";
import { portsStatus } from "./ports.js";
import { seededRandom } from "./random.js";
import { ReasonSets } from "./reason-sets.js";
import {
  REASON_EXISTING_ANTI_AFFINITY,
  REASON_VOLUME_NODE_CONFLICT,
  REASON_INSUFFICIENT_CPU,
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
} from "./reasons.js";
import { prepareSpread, quickReject, quickSpread, spreadScore, spreadStatus } from "./spread.js";
import { taintScore, taintStatus } from "./taints.js";
import type { FilterPlugin, FilterResult, NodeSnapshot, ScheduleOptions, SchedulerProfile, ScorePlugin } from "./types.js";
import { volumeStatus } from "./volume.js";

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

/**
 * The built-in scores that, when they return undefined, have also added out[k]·weight to totals[k] themselves
 * (the same sums in the same plugin order as the runner's loop).
 */
function addsItself(code: number): boolean {
  return code === ScoreCode.NodeResourcesFit || code === ScoreCode.BalancedAllocation || code === ScoreCode.PodTopologySpread;
}

/** The engine of one pass: the cluster, the compiled profile, reason sets, buffers and the seeded PRNG. */
export class Engine {
  readonly cl: Cluster;
  readonly reasons = new ReasonSets();
  readonly random: () => number;
  /** Round-robin start of the next filtering pass. */
  nextStart: number;
  private readonly pct: number;
  /** The interned reason ids of the built-in filters, read by each plugin's file (NodeResourcesFit: per bits of pods, cpu, memory). */
  readonly fitReasons: Int32Array;
  readonly rPorts: number;
  readonly rUnschedulable: number;
  readonly rNodeName: number;
  readonly rNodeAffinity: number;
  readonly rSpread: number;
  readonly rSpreadLabel: number;
  readonly rAffinity: number;
  readonly rAnti: number;
  readonly rExistingAnti: number;
  readonly rVolume: number;
  /** The claims ("namespace/name") that placements of this pass bound (the first pod of an unbound claim binds it). */
  readonly claimNodes = new Map<string, string>();
  /** Buffers sized to the fleet, reused by every cycle. */
  readonly feasible: Int32Array;
  readonly statuses: Int32Array;
  private readonly totals: Float64Array;
  private readonly buf: Float64Array;
  /** Scratch of spread.ts spreadScore: the stamp of its last domain count, the weights, stamps per domains. */
  stampCycle = 0;
  readonly spreadWeights = new Float64Array(64);
  readonly stamps = new Map<Domains, Int32Array>();
  /** Per-node memos of the NodeResourcesFit score per strategy and of BalancedAllocation per weights (fit.ts). */
  readonly fitMemos = new Map<object, NodeMemo>();
  readonly balancedMemos = new Map<object, NodeMemo>();
  /** Matchers of spreading selectors, per constraint and namespace (spread.ts spreadMatcher). */
  readonly spreadMatchers = new WeakMap<SpreadConstraint, Map<string, Matcher>>();

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
            prepareSpread(this, cy);
            cy.fSpread = true;
          }
          break;
        case FilterCode.InterPodAffinity:
          if (prepareInterPod(this, cy)) cy.fInterPod = true;
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

  // -------------------------------------------------------------------------------------------------------
  // Filter

  /** Runs the cycle's filters on node i: 0 when the pod fits, else the id of the first failing filter's reasons. */
  filter(cy: Cycle, i: number): number {
    if (cy.canonical) return this.filterCanonical(cy, i, cy.fSpread);
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
        return this.cl.taints[i] !== undefined ? taintStatus(this, cy, i) : 0;
      case FilterCode.NodeAffinity:
        return nodeAffinityMatches(this, cy, i) ? 0 : this.rNodeAffinity;
      case FilterCode.NodePorts:
        return portsStatus(this, cy.p, i);
      case FilterCode.NodeResourcesFit:
        return fitStatus(this, cy.p, i);
      case FilterCode.VolumeBinding:
        return volumeStatus(this, cy.p, i);
      case FilterCode.PodTopologySpread:
        return spreadStatus(this, cy, i);
      case FilterCode.InterPodAffinity:
        return interPodStatus(this, cy, i);
      default:
        return 0;
    }
  }

  /**
   * filter() for the default order: the same checks, straight-line (the hot loop of every pass). `spread`:
   * run PodTopologySpread (false when the scan's per-domain verdicts already passed the node).
   */
  private filterCanonical(cy: Cycle, i: number, spread: boolean): number {
    const cl = this.cl;
    const p = cy.p;
    if (cy.fUnschedulable && cl.unschedulable[i] === 1) return this.rUnschedulable;
    if (cy.fNodeName && i !== cy.nodeNameIndex) return this.rNodeName;
    if (cy.fTaint && cl.taints[i] !== undefined) {
      const r = taintStatus(this, cy, i);
      if (r !== 0) return r;
    }
    if (cy.fAffinity && !nodeAffinityMatches(this, cy, i)) return this.rNodeAffinity;
    if (cy.fPorts) {
      const r = portsStatus(this, p, i);
      if (r !== 0) return r;
    }
    if (cy.fFit) {
      const r = fitStatus(this, p, i);
      if (r !== 0) return r;
    }
    if (cy.fVolume) {
      const r = volumeStatus(this, p, i);
      if (r !== 0) return r;
    }
    if (spread) {
      const r = spreadStatus(this, cy, i);
      if (r !== 0) return r;
    }
    if (cy.fInterPod) return interPodStatus(this, cy, i);
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
   * (feasible indexes in this.feasible). When none is, this.statuses holds the reason id of every node (only
   * then is it read). Advances the start past the nodes processed. Returns the number of feasible nodes.
   */
  findFeasible(cy: Cycle, limit: number, advance = true): number {
    const n = this.cl.n;
    const feasible = this.feasible;
    const statuses = this.statuses;
    const quick = cy.fSpread ? quickSpread(this, cy) : undefined;
    // Every DoNotSchedule constraint has its per-domain verdict: a node they pass passes spreadStatus (the same
    // counts and minimum, unchanged during the scan), so the straight-line filter need not check it again.
    const quickAll = quick !== undefined && quick.length === cy.spread.length && cy.canonical;
    // One verdict (one constraint over few domains, the common case) is read inline.
    const q0 = quick !== undefined && quick.length === 1 ? quick[0]! : undefined;
    const q0of = q0?.of;
    const q0ok = q0?.ok;
    let m = 0;
    let processed = 0;
    const start = this.nextStart;
    for (let k = 0; k < n; k++) {
      let i = start + k;
      if (i >= n) i -= n;
      processed++;
      // Spreading rejects the node whatever comes first; the exact reason is only needed if nothing fits, and
      // then every node is filtered again below: no status is written for it here.
      if (q0of !== undefined) {
        const d = q0of[i]!;
        if (d < 0 || q0ok![d] === 0) continue;
      } else if (quick !== undefined && quickReject(quick, i)) continue;
      const r = quickAll ? this.filterCanonical(cy, i, false) : this.filter(cy, i);
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
      const c = this.scorePlugin(cy, s, feasible, m, out, totals);
      const w = s.weight;
      if (c !== undefined) {
        // The same for every node: it cannot change the choice, so it is added once, to the chosen total.
        constant += c * w;
        if (record) record.set(s.plugin.name, new Float64Array(m).fill(c));
      } else {
        // The hot built-ins add their weighted scores to the totals in their own last loop (one pass less).
        if (!addsItself(s.code)) for (let k = 0; k < m; k++) totals[k]! += out[k]! * w;
        if (record) record.set(s.plugin.name, out.slice(0, m));
      }
    }
    this.scoreConstant = constant;
    return totals;
  }

  /** The part of the last score() every node got alike (not included in its totals). */
  scoreConstant = 0;

  /** One plugin's normalized scores into out[0..m), or a constant when every node gets the same (0 = skipped). */
  private scorePlugin(cy: Cycle, s: ProfileScore, f: Int32Array, m: number, out: Float64Array, totals: Float64Array): number | undefined {
    switch (s.code) {
      case ScoreCode.TaintToleration:
        return taintScore(this, cy, f, m, out);
      case ScoreCode.NodeAffinity:
        return nodeAffinityScore(this, cy, f, m, out);
      case ScoreCode.PodTopologySpread:
        return spreadScore(this, cy, f, m, out, totals, s.weight);
      case ScoreCode.InterPodAffinity:
        return interPodScore(this, cy, f, m, out);
      case ScoreCode.NodeResourcesFit:
        return fitScore(this, cy, s.strategy ?? LEAST_ALLOCATED, f, m, out, totals, s.weight);
      case ScoreCode.BalancedAllocation:
        return balancedScore(this, cy, s.strategy?.resources ?? DEFAULT_RESOURCES, f, m, out, totals, s.weight);
      case ScoreCode.ImageLocality:
        return imageScore(this, cy, f, m, out);
      default:
        return this.customScore(cy, s.plugin, f, m, out);
    }
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
