/**
 * InterPodAffinity: the pod's required affinity and anti-affinity terms and the existing pods' anti-affinity,
 * resolved against the cluster's live counters (PreFilter), the filter, and the score of preferred terms in both
 * directions.
 */
import { TermKind, type CompiledTerm, type DomainCounter, type Domains, type Matcher } from "./cluster.js";
import type { Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { MAX_NODE_SCORE } from "./normalize.js";

/** A required (anti-)affinity term of the incoming pod, resolved. */
export interface TermCounter {
  readonly domains: Domains;
  readonly counter: DomainCounter;
}

/**
 * One "no counted pod in the node's domain" check of the filter (the pod's required anti-affinity terms, then the
 * existing pods' anti-affinity groups): the domain of each node, the live counts per domain, the reason id.
 */
export interface AntiCheck {
  readonly of: Int32Array;
  readonly counts: Int32Array;
  readonly reason: number;
}

/** One additive part of the InterPodAffinity score: weight × count of the node's domain. */
export interface ScorePart {
  readonly of: Int32Array;
  readonly counts: Int32Array;
  readonly w: number;
}

/** Kubernetes' InterPodAffinityArgs.hardPodAffinityWeight default. */
const HARD_POD_AFFINITY_WEIGHT = 1;

function termMatcher(engine: Engine, t: CompiledTerm): Matcher {
  const cl = engine.cl;
  return cl.matcher(`term\u0000${t.matchSig}`, (e) => cl.termMatches(t, e.namespace, e.labels), false, [t.selector]);
}

export function prepareInterPod(engine: Engine, cy: Cycle): boolean {
  const cl = engine.cl;
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
  // The pod's anti-affinity terms first, then the existing pods' (the filter's order of reasons), as one list of
  // plain checks: the scan runs them on every node it filters.
  for (const t of pa.requiredAnti) {
    const c = cl.counter(termMatcher(engine, t), t.key, undefined, "*");
    cy.antiChecks.push({ of: c.domains.of, counts: c.counts, reason: engine.rAnti });
  }
  for (const g of cl.groupsMatching(cy.p.namespace, cy.p.labels, cy.p.groupKey)) {
    if (g.kind === TermKind.RequiredAnti) cy.antiChecks.push({ of: g.domains.of, counts: g.holders, reason: engine.rExistingAnti });
  }
  return cy.affinityTerms.length > 0 || cy.antiChecks.length > 0;
}

/** InterPodAffinity.Filter: the pod's affinity, its anti-affinity, then the existing pods' anti-affinity. */
export function interPodStatus(engine: Engine, cy: Cycle, i: number): number {
  const aff = cy.affinityTerms;
  if (aff.length > 0) {
    let podsExist = true;
    for (let k = 0; k < aff.length; k++) {
      const t = aff[k]!;
      const d = t.domains.of[i]!;
      // All topology labels must exist on the node.
      if (d < 0) return engine.rAffinity;
      if (t.counter.counts[d]! <= 0) podsExist = false;
    }
    if (!podsExist) {
      // The first pod of a group with affinity to itself may go anywhere (no pod matches yet).
      let any = false;
      for (let k = 0; k < aff.length; k++) if (aff[k]!.counter.total > 0) any = true;
      if (any || !cy.p.podAffinity.selfMatchesAffinity) return engine.rAffinity;
    }
  }
  const checks = cy.antiChecks;
  for (let k = 0; k < checks.length; k++) {
    const c = checks[k]!;
    const d = c.of[i]!;
    if (d >= 0 && c.counts[d]! > 0) return c.reason;
  }
  return 0;
}

/**
 * InterPodAffinity score: for each domain, + weight per existing pod matching a preferred affinity term of
 * the pod, − weight per pod matching a preferred anti-affinity term; and the other direction: + 1 (hard
 * weight) per existing pod whose required affinity selects the pod, ± weight per existing pod whose preferred
 * (anti-)affinity selects it. Min-max normalized to 0..100.
 */
export function interPodScore(engine: Engine, cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
  const parts = (cy.interParts ??= interPodParts(engine, cy));
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
function interPodParts(engine: Engine, cy: Cycle): ScorePart[] {
  const cl = engine.cl;
  const pa = cy.p.podAffinity;
  const parts: ScorePart[] = [];
  for (const t of pa.preferredAffinity) {
    const c = cl.counter(termMatcher(engine, t), t.key, undefined, "*");
    parts.push({ of: c.domains.of, counts: c.counts, w: t.weight });
  }
  for (const t of pa.preferredAnti) {
    const c = cl.counter(termMatcher(engine, t), t.key, undefined, "*");
    parts.push({ of: c.domains.of, counts: c.counts, w: -t.weight });
  }
  for (const g of cl.groupsMatching(cy.p.namespace, cy.p.labels, cy.p.groupKey)) {
    const w = g.kind === TermKind.RequiredAffinity ? HARD_POD_AFFINITY_WEIGHT : g.kind === TermKind.PreferredAffinity ? g.term.weight : g.kind === TermKind.PreferredAnti ? -g.term.weight : 0;
    if (w !== 0) parts.push({ of: g.domains.of, counts: g.holders, w });
  }
  return parts;
}
