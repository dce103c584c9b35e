/**
 * `--scheduler-scoring`, `--scheduler-weight` and `--percentage-of-nodes-to-score` (run and plan): what
 * they turn into, and the errors for bad values (asserted by code).
 */
import { describe, expect, it } from "vitest";
import { parseSchedulerFlags } from "../../../operator/src/cli/args.js";
import { BUILTIN } from "../../../operator/src/scheduler/framework.js";
import { codeOf } from "../../support/errors.js";

type Flags = Parameters<typeof parseSchedulerFlags>[0];

function weights(flags: Flags): Record<string, number> {
  const profile = parseSchedulerFlags(flags)!.profile!;
  return Object.fromEntries(profile.scores.map((s) => [s.name, s.weight]));
}

describe("scheduler flags", () => {
  it("give nothing when none is set, so the default profile runs", () => {
    expect(parseSchedulerFlags({})).toBeUndefined();
  });

  it("keep Kubernetes' default weights unless a weight is given", () => {
    expect(weights({ "scheduler-scoring": "MostAllocated" })).toEqual({
      TaintToleration: 3,
      NodeAffinity: 2,
      PodTopologySpread: 2,
      InterPodAffinity: 2,
      NodeResourcesFit: 1,
      NodeResourcesBalancedAllocation: 1,
      ImageLocality: 1,
    });
    expect(weights({ "scheduler-weight": ["NodeResourcesBalancedAllocation=3", "ImageLocality=0.5"] })).toMatchObject({ NodeResourcesBalancedAllocation: 3, ImageLocality: 0.5, NodeResourcesFit: 1 });
  });

  it("score NodeResourcesFit with the strategy named", () => {
    const strategy = (s: string) => {
      const fit = parseSchedulerFlags({ "scheduler-scoring": s })!.profile!.scores.find((p) => p.name === "NodeResourcesFit")!;
      return (fit as unknown as Record<symbol, { strategy?: { type: string } }>)[BUILTIN]?.strategy?.type;
    };
    expect(strategy("MostAllocated")).toBe("MostAllocated");
    expect(strategy("LeastAllocated")).toBe("LeastAllocated");
  });

  it("pass percentageOfNodesToScore through", () => {
    expect(parseSchedulerFlags({ "percentage-of-nodes-to-score": "30" })).toEqual({ percentageOfNodesToScore: 30 });
    expect(parseSchedulerFlags({ "percentage-of-nodes-to-score": "0" })).toEqual({ percentageOfNodesToScore: 0 });
  });

  it.each<[string, Flags]>([
    ["an unknown strategy", { "scheduler-scoring": "BinPack" }],
    ["RequestedToCapacityRatio, which needs a shape no flag gives", { "scheduler-scoring": "RequestedToCapacityRatio" }],
    ["an unknown plugin", { "scheduler-weight": "Spread=2" }],
    ["a filter-only plugin", { "scheduler-weight": "NodePorts=2" }],
    ["a zero weight", { "scheduler-weight": "ImageLocality=0" }],
    ["a weight without a number", { "scheduler-weight": "ImageLocality" }],
    ["a percentage above 100", { "percentage-of-nodes-to-score": "101" }],
    ["a negative percentage", { "percentage-of-nodes-to-score": "-1" }],
  ])("refuse %s with InvalidArgument", (_, flags) => {
    expect(codeOf(() => parseSchedulerFlags(flags))).toBe("InvalidArgument");
  });
});
