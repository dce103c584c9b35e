/**
 * A canary's share of requests as HAProxy server weights: the per-server integer weights (0–256, HAProxy's
 * range) that make the canary revision's servers take `weight` % of a listener's new requests and the stable
 * revision's the rest, whatever the number of pods on each side.
 *
 * The rounding, and its bound:
 * - The revision totals are exactly in the ratio weight : (100 − weight): with a/b that ratio in lowest
 *   terms, the totals are a·g and b·g for the largest g that keeps every server within 256. HAProxy's
 *   roundrobin hands out new requests in proportion to the weights, so the share itself is not rounded.
 * - Rounding happens inside a revision: its total is spread over its servers as evenly as integers allow
 *   (no two differ by more than 1), so a pod's share of its revision's requests is off by at most
 *   1 / ⌊total ÷ pods⌋ of an even share — under 1 % whenever a revision's pods get 100 or more each, which
 *   a large g gives them.
 * - A server gets 0 only when its revision has more pods than its total (the ratio cannot give each of
 *   them 1 while the other revision's pods stay within 256): e.g. 3 ready canary pods beside 1 stable pod
 *   at setWeight 1 give the canary 2 (1, 1, 0) against the stable pod's 198. Exactness wins over
 *   spreading in such lopsided states, which only a pod count far from what the step asked for reaches.
 *
 * Guarantees: pure; equal inputs give equal outputs; weight 0 gives every canary server 0 and weight 100
 * every stable server 0, as long as the other revision has a server; a revision with no server leaves the
 * other to take every request (1 each), so that a Service never refuses requests it could serve.
 */
import { CoxError } from "../api/errors.js";

/** HAProxy's largest server weight. */
export const MAX_SERVER_WEIGHT = 256;

/** Per-server weights of the two revisions of a split listener, in server order. */
export interface SplitWeights {
  canary: number[];
  stable: number[];
}

/**
 * The weights of `canary` canary servers and `stable` stable servers such that the canary's take `weight`
 * % of new requests (see the module comment for the rounding and its bound). Throws InvalidArgument for a
 * weight that is not an integer from 0 to 100, or a count that is not a non-negative integer.
 */
export function splitWeights(canary: number, stable: number, weight: number): SplitWeights {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new CoxError("InvalidArgument", `canary weight ${weight} is not an integer from 0 to 100`, { details: { weight } });
  }
  for (const n of [canary, stable]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new CoxError("InvalidArgument", `server count ${n} is not a non-negative integer`, { details: { count: n } });
  }
  if (canary === 0 || stable === 0) return { canary: new Array<number>(canary).fill(1), stable: new Array<number>(stable).fill(1) };
  if (weight === 0) return { canary: new Array<number>(canary).fill(0), stable: new Array<number>(stable).fill(1) };
  if (weight === 100) return { canary: new Array<number>(canary).fill(1), stable: new Array<number>(stable).fill(0) };
  const d = gcd(weight, 100 - weight);
  const a = weight / d;
  const b = (100 - weight) / d;
  const g = Math.min(Math.floor((MAX_SERVER_WEIGHT * canary) / a), Math.floor((MAX_SERVER_WEIGHT * stable) / b));
  return { canary: spread(a * g, canary), stable: spread(b * g, stable) };
}

/** `total` over `n` servers, as evenly as integers go: the first (total mod n) get one more. */
function spread(total: number, n: number): number[] {
  const base = Math.floor(total / n);
  const extra = total - base * n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}

function gcd(x: number, y: number): number {
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}
