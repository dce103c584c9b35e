/**
 * NodeAffinity (a pod's nodeSelector and required node affinity as one selector): the filter, memoized per
 * node and selector, and the score of its preferred terms.
 */
import type { Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { defaultNormalize } from "./normalize.js";

/** Whether node i matches the pod's required node affinity (memoized per affinity signature). */
export function nodeAffinityMatches(engine: Engine, cy: Cycle, i: number): boolean {
  const req = cy.p.nodeAffinity.required;
  if (req === undefined) return true;
  const cache = (cy.affinityCache ??= engine.cl.nodeCache(`naff\u0000${req.sig}`, -1));
  let v = cache[i]!;
  if (v < 0) cache[i] = v = req.matches(engine.cl.labels[i]!, engine.cl.names[i]!) ? 1 : 0;
  return v === 1;
}

/** NodeAffinity: sum of the weights of the preferred terms a node matches, normalized by the maximum. */
export function nodeAffinityScore(engine: Engine, cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
  const na = cy.p.nodeAffinity;
  if (na.preferred.length === 0) return 0;
  const cl = engine.cl;
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
