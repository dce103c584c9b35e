/**
 * PodTopologySpread: DoNotSchedule constraints resolved against the cluster's live domain counters (PreFilter),
 * the filter (skew ≤ maxSkew) with its per-domain shortcut for the scan, and the score of ScheduleAnyway
 * constraints or the system defaults.
 */
import { HOSTNAME_KEY, type DomainCounter, type Domains, type Matcher } from "./cluster.js";
import type { Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { nodeAffinityMatches } from "./node-affinity.js";
import { MAX_NODE_SCORE } from "./normalize.js";
import type { PodInfo, SpreadConstraint } from "./podinfo.js";
import { taintStatus } from "./taints.js";

/** A DoNotSchedule constraint resolved against the cluster. */
export interface HardSpread {
  readonly c: SpreadConstraint;
  readonly domains: Domains;
  /** undefined: the selector is empty or absent, which counts no pods (countPodsMatchSelector). */
  readonly counter: DomainCounter | undefined;
  readonly selfMatch: number;
  /** Per-domain verdicts for the scan (few domains only). */
  quick?: QuickSpread;
}

/** Whether each domain of a constraint's key passes its skew check (1) right now. */
export interface QuickSpread {
  readonly of: Int32Array;
  readonly ok: Uint8Array;
}

/** A node that some quick verdict rejects (no domain, or a skewed one). */
export function quickReject(quick: readonly QuickSpread[], i: number): boolean {
  for (let k = 0; k < quick.length; k++) {
    const q = quick[k]!;
    const d = q.of[i]!;
    if (d < 0 || q.ok[d] === 0) return true;
  }
  return false;
}

/** A soft spreading constraint resolved for scoring. */
export interface SoftSpread {
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

/** The soft constraints of a template, resolved for scoring (PreScore), once per Cycle. */
export interface SoftSpreadPlan {
  readonly constraints: readonly SoftSpread[];
  /**
   * With explicit constraints, the nodes that have every key (1), read instead of each node's labels for each
   * pod scored; undefined when no node can lack one (system defaults, or hostname keys only).
   */
  readonly hasKeys: Uint8Array | undefined;
}

/** The matcher of a spreading selector: pods of the pod's namespace matching it, terminating ones excluded. */
function spreadMatcher(engine: Engine, p: PodInfo, c: SpreadConstraint): Matcher | undefined {
  const cl = engine.cl;
  // System default constraint: the pods of the same owner (seeded from the nodes' podsByOwner).
  if (c.selector === undefined) return cl.ownerMatcher(p.owner);
  // countPodsMatchSelector: an empty selector counts no pods (and an absent one matches none).
  if (c.selector.kind !== "match") return undefined;
  let byNs = engine.spreadMatchers.get(c);
  if (byNs === undefined) engine.spreadMatchers.set(c, (byNs = new Map()));
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
function eligibility(engine: Engine, cy: Cycle, keys: readonly string[], c: SpreadConstraint): { mask: Uint8Array | undefined; sig: string } {
  const p = cy.p;
  const aff = c.honorAffinity && p.nodeAffinity.required !== undefined;
  const taints = c.honorTaints && engine.cl.anyHardTaint;
  const needKeys = keys.filter((k) => k !== HOSTNAME_KEY);
  if (!aff && !taints && needKeys.length === 0) return { mask: undefined, sig: "*" };
  const sig = `${needKeys.join("\u0001")}\u0000${aff ? p.nodeAffinity.required!.sig : "*"}\u0000${taints ? p.tolerations.sig : "*"}`;
  const cl = engine.cl;
  const mask = cl.mask(sig, (i) => {
    for (const k of needKeys) if (!cl.hasKey(i, k)) return false;
    if (aff && !nodeAffinityMatches(engine, cy, i)) return false;
    if (taints && taintStatus(engine, cy, i) !== 0) return false;
    return true;
  });
  return { mask, sig };
}

export function prepareSpread(engine: Engine, cy: Cycle): void {
  const keys = cy.p.spreadHard.map((c) => c.key);
  for (const c of cy.p.spreadHard) {
    const domains = engine.cl.domains(c.key);
    const m = spreadMatcher(engine, cy.p, c);
    let counter: DomainCounter | undefined;
    if (m !== undefined) {
      const { mask, sig } = eligibility(engine, cy, keys, c);
      counter = engine.cl.counter(m, c.key, mask, sig);
    }
    cy.spread.push({ c, domains, counter, selfMatch: c.selfMatch ? 1 : 0 });
  }
}

/** PodTopologySpread.Filter: skew = matching pods in the node's domain + self − global minimum ≤ maxSkew. */
export function spreadStatus(engine: Engine, cy: Cycle, i: number): number {
  const list = cy.spread;
  for (let k = 0; k < list.length; k++) {
    const s = list[k]!;
    const d = s.domains.of[i]!;
    if (d < 0) return engine.rSpreadLabel;
    const counter = s.counter;
    let match = 0;
    let min = 0;
    if (counter !== undefined) {
      match = counter.counts[d]!;
      min = counter.presentCount < s.c.minDomains ? 0 : counter.min();
    }
    if (match + s.selfMatch - min > s.c.maxSkew) return engine.rSpread;
  }
  return 0;
}

/**
 * For DoNotSchedule constraints over few domains (zones, regions), the verdict per domain, computed once per
 * pod: the scan then drops the nodes of skewed domains with one lookup. Same feasible nodes as the filter.
 */
export function quickSpread(engine: Engine, cy: Cycle): QuickSpread[] | undefined {
  let out: QuickSpread[] | undefined;
  const limit = Math.max(64, engine.cl.n >> 4);
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

/**
 * PodTopologySpread score: per node Σ over the soft constraints (the pod's ScheduleAnyway ones, or the system
 * defaults) of count·log(domains + 2) + maxSkew − 1, rounded; then the lowest gets 100 and the others
 * 100·(max + min − s)/max. With explicit constraints, feasible nodes lacking a key are ignored (score 0).
 * Scores in out[k], also added times `weight` to totals[k] (nothing added when it returns 0: no soft constraint).
 */
export function spreadScore(engine: Engine, cy: Cycle, f: Int32Array, m: number, out: Float64Array, totals: Float64Array, weight: number): number | undefined {
  const p = cy.p;
  const cs = p.spreadSoft;
  if (cs.length === 0 || m === 0) return 0;
  const requireAll = !p.spreadSystemDefault;
  const resolved = (cy.softSpread ??= softSpreadPlan(engine, cy, requireAll));
  const plan = resolved.constraints;
  // With explicit constraints, nodes missing a key are ignored (score 0): marked out[k] = -1 meanwhile.
  let ignored = 0;
  const hasKeys = resolved.hasKeys;
  if (hasKeys !== undefined) {
    for (let k = 0; k < m; k++) {
      if (hasKeys[f[k]!] === 1) out[k] = 0;
      else {
        out[k] = -1;
        ignored++;
      }
    }
  } else out.fill(0, 0, m);
  // topologyNormalizingWeight: log(number of domains among the scored nodes + 2).
  const weights = plan.length <= engine.spreadWeights.length ? engine.spreadWeights : new Float64Array(plan.length);
  for (let ci = 0; ci < plan.length; ci++) {
    const s = plan[ci]!;
    let size = 0;
    if (s.hostname) size = m - ignored;
    else {
      const stamp = ++engine.stampCycle;
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
  // int64(math.Round(score)) in the last constraint's loop, then normalized.
  const last = plan.length - 1;
  for (let ci = 0; ci < last; ci++) {
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
  {
    const s = plan[last]!;
    const w = weights[last]!;
    const base = s.base;
    const of = s.domains.of;
    const perNode = s.perNode;
    const counts = s.counts;
    for (let k = 0; k < m; k++) {
      let v = out[k]!;
      if (v < 0) continue;
      if (perNode !== undefined) v += perNode[f[k]!]! * w + base;
      else {
        const d = of[f[k]!]!;
        if (d >= 0) v += counts !== undefined ? counts[d]! * w + base : base;
      }
      const r = Math.round(v);
      out[k] = r;
      if (r < min) min = r;
      if (r > max) max = r;
    }
  }
  // Most nodes share a few raw scores: the last one's normalized value is reused (one division per distinct run).
  let lastRaw = Number.NaN;
  let lastScore = 0;
  for (let k = 0; k < m; k++) {
    const s = out[k]!;
    let v: number;
    if (s < 0) v = 0;
    else if (max === 0) v = MAX_NODE_SCORE;
    else if (Object.is(s, lastRaw)) v = lastScore;
    else {
      v = Math.trunc((MAX_NODE_SCORE * (max + min - s)) / max);
      lastRaw = s;
      lastScore = v;
    }
    out[k] = v;
    totals[k]! += v * weight;
  }
  return undefined;
}

/** Resolves the soft constraints' matchers and counters (PreScore's initPreScoreState, once per template). */
function softSpreadPlan(engine: Engine, cy: Cycle, requireAll: boolean): SoftSpreadPlan {
  const cl = engine.cl;
  const cs = cy.p.spreadSoft;
  const keys = cs.map((c) => c.key);
  // Every node has a hostname. The signature has one NUL, eligibility's two or more: the masks never mix.
  const needKeys = keys.filter((k) => k !== HOSTNAME_KEY);
  const hasKeys =
    requireAll && needKeys.length > 0
      ? cl.mask(`keys\u0000${needKeys.join("\u0001")}`, (i) => {
          for (const k of needKeys) if (!cl.hasKey(i, k)) return false;
          return true;
        })
      : undefined;
  const constraints = cs.map((c): SoftSpread => {
    const domains = cl.domains(c.key);
    const matcher = spreadMatcher(engine, cy.p, c);
    const hostname = c.key === HOSTNAME_KEY;
    let counts: Int32Array | undefined;
    if (!hostname && matcher !== undefined) {
      const { mask, sig } = eligibility(engine, cy, requireAll ? keys : [c.key], c);
      counts = cl.counter(matcher, c.key, mask, `S\u0000${sig}`).counts;
    }
    let seen = engine.stamps.get(domains);
    if (seen === undefined) engine.stamps.set(domains, (seen = new Int32Array(domains.values.length)));
    return { c, domains, hostname, perNode: hostname ? matcher?.perNode : undefined, counts, seen, base: c.maxSkew - 1 };
  });
  return { constraints, hasKeys };
}
