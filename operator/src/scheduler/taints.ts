/**
 * TaintToleration: the filter (the first NoSchedule/NoExecute taint the pod does not tolerate, memoized per
 * node and tolerations) and the score (intolerable PreferNoSchedule taints, fewer is better).
 */
import { EMPTY_LIST, type Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { tolerationsTolerate } from "./match.js";
import { defaultNormalize, MAX_NODE_SCORE } from "./normalize.js";
import { taintReason } from "./reasons.js";

/** The reason id of the first untolerated NoSchedule/NoExecute taint of node i, or 0 (memoized per tolerations). */
export function taintStatus(engine: Engine, cy: Cycle, i: number): number {
  const cache = (cy.taintCache ??= engine.cl.nodeCache(`taint\u0000${cy.p.tolerations.sig}`, -1));
  let v = cache[i]!;
  if (v < 0) {
    v = 0;
    for (const t of engine.cl.taints[i] ?? EMPTY_LIST) {
      if (t.effect === "PreferNoSchedule") continue;
      if (!tolerationsTolerate(cy.p.tolerations.list, t)) {
        v = engine.reasons.id("TaintToleration", [taintReason(t.key, t.value)], false);
        break;
      }
    }
    cache[i] = v;
  }
  return v;
}

/** TaintToleration: intolerable PreferNoSchedule taints per node, reverse-normalized (fewer is better). */
export function taintScore(engine: Engine, cy: Cycle, f: Int32Array, m: number, out: Float64Array): number | undefined {
  const cl = engine.cl;
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
