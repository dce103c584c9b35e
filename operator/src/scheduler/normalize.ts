/**
 * What every built-in score plugin shares: the 0..100 range of a node's score and Kubernetes' default
 * normalization (helper.DefaultNormalizeScore).
 */

/** Highest score a plugin gives a node (kube-scheduler's MaxNodeScore). */
export const MAX_NODE_SCORE = 100;

/**
 * helper.DefaultNormalizeScore: scale to 0..100 by the maximum (reverse: 100 − that). With maximum 0 every node
 * gets 100 when reversed and keeps 0 otherwise — returned as a constant.
 */
export function defaultNormalize(out: Float64Array, m: number, max: number, reverse: boolean): number | undefined {
  if (max === 0) return reverse ? MAX_NODE_SCORE : 0;
  for (let k = 0; k < m; k++) {
    const s = Math.trunc((MAX_NODE_SCORE * out[k]!) / max);
    out[k] = reverse ? MAX_NODE_SCORE - s : s;
  }
  return undefined;
}
