/**
 * A canary's share of requests as HAProxy server weights: a table of cases, and properties for any pod
 * counts — the revision totals are exactly in the ratio weight : (100 − weight), every weight is within
 * HAProxy's 0–256, a revision's weights differ by at most 1, and a server is left at 0 only where the
 * module comment says it may be.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_SERVER_WEIGHT, splitWeights } from "../../../operator/src/traffic/weights.js";
import { codeOf } from "../../support/errors.js";

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe("splitWeights", () => {
  const cases: { name: string; canary: number; stable: number; weight: number; want: { canary: number[]; stable: number[] } }[] = [
    { name: "gives one canary pod a tenth of the requests beside one stable pod at weight 10", canary: 1, stable: 1, weight: 10, want: { canary: [28], stable: [252] } },
    { name: "gives two canary pods a tenth together beside two stable pods at weight 10", canary: 2, stable: 2, weight: 10, want: { canary: [28, 28], stable: [252, 252] } },
    { name: "gives one canary pod a tenth beside two stable pods at weight 10, not a third", canary: 1, stable: 2, weight: 10, want: { canary: [56], stable: [252, 252] } },
    { name: "splits evenly at weight 50 whatever the pod counts", canary: 1, stable: 3, weight: 50, want: { canary: [256], stable: [86, 85, 85] } },
    { name: "reduces the ratio to lowest terms (33 : 67)", canary: 3, stable: 10, weight: 33, want: { canary: [253, 253, 253], stable: [155, 154, 154, 154, 154, 154, 154, 154, 154, 154] } },
    { name: "gives the canary nothing at weight 0", canary: 2, stable: 3, weight: 0, want: { canary: [0, 0], stable: [1, 1, 1] } },
    { name: "gives the stable revision nothing at weight 100", canary: 2, stable: 3, weight: 100, want: { canary: [1, 1], stable: [0, 0, 0] } },
    { name: "lets the canary take every request when the stable revision has no ready pod", canary: 2, stable: 0, weight: 10, want: { canary: [1, 1], stable: [] } },
    { name: "lets the stable revision take every request when the canary has no ready pod, even at weight 100", canary: 0, stable: 2, weight: 100, want: { canary: [], stable: [1, 1] } },
    { name: "lets the canary take every request at weight 0 when it is all there is", canary: 1, stable: 0, weight: 0, want: { canary: [1], stable: [] } },
    { name: "returns no weights for no pods", canary: 0, stable: 0, weight: 30, want: { canary: [], stable: [] } },
    { name: "leaves a canary pod at 0 rather than miss the share when three canary pods stand beside one stable pod at weight 1", canary: 3, stable: 1, weight: 1, want: { canary: [1, 1, 0], stable: [198] } },
    { name: "keeps the stable pod within 256 at weight 99", canary: 1, stable: 1, weight: 99, want: { canary: [198], stable: [2] } },
  ];
  it.each(cases)("$name", ({ canary, stable, weight, want }) => {
    expect(splitWeights(canary, stable, weight)).toEqual(want);
  });

  const bad: { name: string; canary: number; stable: number; weight: number }[] = [
    { name: "refuses a weight above 100", canary: 1, stable: 1, weight: 101 },
    { name: "refuses a negative weight", canary: 1, stable: 1, weight: -1 },
    { name: "refuses a fractional weight", canary: 1, stable: 1, weight: 12.5 },
    { name: "refuses a negative pod count", canary: -1, stable: 1, weight: 10 },
  ];
  it.each(bad)("$name", ({ canary, stable, weight }) => {
    expect(codeOf(() => splitWeights(canary, stable, weight))).toBe("InvalidArgument");
  });
});

describe("splitWeights properties", () => {
  const counts = fc.integer({ min: 1, max: 300 });
  const weights = fc.integer({ min: 1, max: 99 });

  it("puts the revision totals exactly in the ratio weight : (100 − weight), for any pod counts", () => {
    fc.assert(
      fc.property(counts, counts, weights, (c, s, w) => {
        const out = splitWeights(c, s, w);
        expect(sum(out.canary) * (100 - w)).toBe(sum(out.stable) * w);
        expect(sum(out.canary)).toBeGreaterThan(0);
        expect(sum(out.stable)).toBeGreaterThan(0);
      }),
    );
  });

  it("keeps every weight within 0–256 and a revision's weights within 1 of each other, one per pod", () => {
    fc.assert(
      fc.property(counts, counts, fc.integer({ min: 0, max: 100 }), (c, s, w) => {
        const out = splitWeights(c, s, w);
        expect(out.canary).toHaveLength(c);
        expect(out.stable).toHaveLength(s);
        for (const side of [out.canary, out.stable]) {
          for (const x of side) expect(Number.isInteger(x) && x >= 0 && x <= MAX_SERVER_WEIGHT).toBe(true);
          expect(Math.max(...side) - Math.min(...side)).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it("leaves a pod at 0 only when its revision's exact total is smaller than its pod count", () => {
    fc.assert(
      fc.property(counts, counts, weights, (c, s, w) => {
        const out = splitWeights(c, s, w);
        if (out.canary.includes(0)) expect(sum(out.canary)).toBeLessThan(c);
        if (out.stable.includes(0)) expect(sum(out.stable)).toBeLessThan(s);
      }),
    );
  });

  it("leaves no pod at 0 when the pod counts are those Argo gives a step (canary ceil(replicas × weight / 100), stable all replicas or the rest)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), weights, fc.boolean(), (replicas, w, routed) => {
        const c = Math.ceil((replicas * w) / 100);
        const s = routed ? replicas : Math.max(1, replicas - c);
        const out = splitWeights(c, s, w);
        expect(Math.min(...out.canary, ...out.stable)).toBeGreaterThan(0);
      }),
    );
  });

  it("spreads a revision's total so that no pod's weight is more than 1 % off another's once each gets 100 or more", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), weights, (c, s, w) => {
        const out = splitWeights(c, s, w);
        for (const side of [out.canary, out.stable]) {
          const min = Math.min(...side);
          if (min >= 100) expect((Math.max(...side) - min) / min).toBeLessThanOrEqual(0.01);
        }
      }),
    );
  });
});
