/**
 * Canary rollouts: Argo Rollouts' replica arithmetic (checked against the vectors of Argo's own tests),
 * basic and traffic-routed, steps, pauses, promotion through the annotation, the step index derived from
 * pods, rollback to stable, the share of requests the Services are told and the wait for every proxy to
 * send a step's weight.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { basicCanaryCounts, canaryStep, canaryWeightAt, canaryWeightCounts, deriveCanaryStepIndex, routedCanaryCounts } from "../../../operator/src/rollout/index.js";
import type { CanaryInput, CanaryResult, CanaryStepSpec } from "../../../operator/src/rollout/types.js";
import { as, available, createsByRevision, desiredByRevision, params, removalsByRevision, starting, T } from "./builders.js";

describe("canaryWeightCounts (Argo's approximateWeightedCanaryStableReplicaCounts)", () => {
  // [replicas, weight, maxSurge, canary, stable]
  const vectors: [number, number, number, number, number][] = [
    [0, 50, 1, 0, 0],
    [1, 0, 0, 0, 1],
    [1, 49, 0, 0, 1],
    [1, 50, 0, 1, 0],
    [1, 1, 1, 1, 1],
    [1, 99, 1, 1, 1],
    [1, 100, 1, 1, 0],
    [2, 1, 0, 1, 1],
    [2, 99, 0, 1, 1],
    [2, 1, 1, 1, 2],
    [2, 99, 1, 2, 1],
    [3, 10, 0, 1, 2],
    [3, 50, 0, 2, 1],
    [3, 25, 1, 1, 3],
    [3, 33, 1, 1, 2],
    [3, 49, 1, 2, 2],
    [10, 1, 0, 1, 9],
    [10, 14, 0, 1, 9],
    [10, 15, 0, 2, 8],
    [10, 99, 0, 9, 1],
    [10, 1, 1, 1, 10],
    [10, 19, 1, 2, 9],
    [10, 23, 1, 2, 8],
    [10, 24, 1, 3, 8],
    [10, 99, 1, 10, 1],
    [10, 100, 1, 10, 0],
  ];
  it.each(vectors)("%i replicas at weight %i with surge %i → canary %i, stable %i", (replicas, weight, surge, canary, stable) => {
    expect(canaryWeightCounts(replicas, weight, surge)).toEqual({ canary, stable });
  });
});

describe("basicCanaryCounts (Argo's CalculateReplicaCountsForBasicCanary)", () => {
  interface V {
    name: string;
    replicas: number;
    weight: number;
    surge: number;
    unavailable: number;
    stable: [size: number, available: number];
    canary: [size: number, available: number];
    others?: number;
    want: [canary: number, stable: number];
  }
  const vectors: V[] = [
    { name: "does not count replicas above a revision's size as removable", replicas: 10, weight: 100, surge: 3, unavailable: 0, stable: [7, 8], canary: [6, 3], want: [6, 7] },
    { name: "uses maxSurge to scale up the canary", replicas: 10, weight: 20, surge: 2, unavailable: 0, stable: [10, 10], canary: [0, 0], want: [2, 10] },
    { name: "scales down extra stable replicas", replicas: 10, weight: 20, surge: 2, unavailable: 0, stable: [10, 10], canary: [2, 2], want: [2, 8] },
    { name: "does not go past maxSurge", replicas: 10, weight: 30, surge: 2, unavailable: 0, stable: [10, 10], canary: [0, 0], want: [2, 10] },
    { name: "uses maxUnavailable to scale the stable revision down", replicas: 10, weight: 20, surge: 0, unavailable: 2, stable: [10, 10], canary: [0, 0], want: [0, 8] },
    { name: "does not go past maxUnavailable", replicas: 10, weight: 30, surge: 0, unavailable: 2, stable: [10, 10], canary: [0, 0], want: [0, 8] },
    { name: "uses maxSurge and maxUnavailable together", replicas: 10, weight: 50, surge: 2, unavailable: 1, stable: [10, 10], canary: [0, 0], want: [2, 9] },
    { name: "scales the canary to zero at weight 0", replicas: 10, weight: 0, surge: 1, unavailable: 1, stable: [10, 10], canary: [1, 1], want: [0, 10] },
    { name: "scales the stable revision to zero at weight 100", replicas: 10, weight: 100, surge: 1, unavailable: 1, stable: [1, 1], canary: [10, 10], want: [10, 0] },
    { name: "never scales the canary to zero at a non-zero weight", replicas: 1, weight: 20, surge: 1, unavailable: 0, stable: [1, 1], canary: [0, 0], want: [1, 1] },
    { name: "scales the stable revision up before the canary", replicas: 10, weight: 30, surge: 1, unavailable: 0, stable: [1, 1], canary: [0, 0], others: 3, want: [1, 7] },
    { name: "scales both down when above limits", replicas: 10, weight: 30, surge: 0, unavailable: 3, stable: [8, 5], canary: [4, 4], want: [3, 7] },
    { name: "scales the stable and the canary by their availability", replicas: 10, weight: 100, surge: 1, unavailable: 0, stable: [10, 2], canary: [10, 8], want: [9, 2] },
    { name: "leaves new and stable alone while other revisions still have replicas", replicas: 10, weight: 30, surge: 0, unavailable: 1, stable: [8, 6], canary: [4, 2], others: 3, want: [4, 8] },
    { name: "does not round past maxSurge with an uneven weight", replicas: 10, weight: 5, surge: 0, unavailable: 1, stable: [10, 10], canary: [0, 0], want: [0, 9] },
    { name: "does not round past maxSurge with an uneven weight (next step)", replicas: 10, weight: 5, surge: 0, unavailable: 1, stable: [9, 9], canary: [0, 0], want: [1, 9] },
    { name: "honours maxSurge when the stable revision is unavailable", replicas: 4, weight: 100, surge: 1, unavailable: 0, stable: [4, 1], canary: [0, 0], want: [1, 4] },
    { name: "scales down to maxUnavailable without exceeding maxSurge", replicas: 3, weight: 99, surge: 0, unavailable: 2, stable: [3, 3], canary: [0, 0], want: [0, 1] },
    { name: "scales down to maxUnavailable without exceeding maxSurge (next step)", replicas: 3, weight: 99, surge: 0, unavailable: 2, stable: [1, 1], canary: [0, 0], want: [2, 1] },
    { name: "honours maxUnavailable while scaling an unavailable stable revision down", replicas: 4, weight: 100, surge: 1, unavailable: 0, stable: [4, 1], canary: [1, 1], want: [1, 3] },
    { name: "does not bring the canary down before the stable revision surged when the weight drops", replicas: 4, weight: 0, surge: 1, unavailable: 0, stable: [0, 0], canary: [4, 4], want: [4, 1] },
    { name: "waits for the surged stable revision to become available when the weight drops", replicas: 4, weight: 0, surge: 1, unavailable: 0, stable: [1, 0], canary: [4, 4], want: [4, 1] },
    { name: "takes the canary down by one once the surged stable pod is available", replicas: 4, weight: 0, surge: 1, unavailable: 0, stable: [1, 1], canary: [4, 4], want: [3, 1] },
    { name: "promotes fully within maxSurge and maxUnavailable", replicas: 4, weight: 100, surge: 4, unavailable: 4, stable: [4, 4], canary: [0, 0], want: [4, 0] },
    { name: "promotes fully honouring maxSurge", replicas: 4, weight: 100, surge: 3, unavailable: 0, stable: [4, 4], canary: [0, 0], want: [3, 4] },
  ];
  it.each(vectors)("$name", (v) => {
    const got = basicCanaryCounts({
      replicas: v.replicas,
      weight: v.weight,
      maxSurge: v.surge,
      maxUnavailable: v.unavailable,
      newRS: { size: v.canary[0], available: v.canary[1] },
      stableRS: { size: v.stable[0], available: v.stable[1] },
      othersSize: v.others ?? 0,
    });
    expect([got.newCount, got.stableCount]).toEqual(v.want);
  });

  it("sends a rollout without a stable revision to full replicas", () => {
    expect(basicCanaryCounts({ replicas: 10, weight: 10, maxSurge: 0, maxUnavailable: 1, newRS: { size: 9, available: 9 }, othersSize: 0 })).toEqual({ newCount: 10, stableCount: 0 });
  });
});

describe("routedCanaryCounts (Argo's CalculateReplicaCountsForTrafficRoutedCanary, no dynamicStableScale)", () => {
  it.each([
    { name: "gives one canary pod for 10 % of 10 replicas and keeps all 10 stable", replicas: 10, weight: 10, want: { canary: 1, stable: 10 } },
    { name: "rounds the canary up: 10 % of 2 replicas is one pod", replicas: 2, weight: 10, want: { canary: 1, stable: 2 } },
    { name: "rounds 33 % of 3 replicas up to one pod", replicas: 3, weight: 33, want: { canary: 1, stable: 3 } },
    { name: "gives the canary nothing at weight 0", replicas: 4, weight: 0, want: { canary: 0, stable: 4 } },
    { name: "runs both in full at weight 100", replicas: 4, weight: 100, want: { canary: 4, stable: 4 } },
  ])("$name", ({ replicas, weight, want }) => {
    expect(routedCanaryCounts(replicas, weight)).toEqual(want);
  });
});

describe("canaryWeightAt", () => {
  const steps: CanaryStepSpec[] = [{ pause: {} }, { setWeight: 20 }, { pause: { durationSeconds: 10 } }, { setWeight: 60 }];
  it.each([
    [0, 0],
    [1, 20],
    [2, 20],
    [3, 60],
    [4, 100],
  ])("at step %i the weight is %i", (index, weight) => {
    expect(canaryWeightAt(steps, index)).toBe(weight);
  });
});

describe("deriveCanaryStepIndex", () => {
  const steps: CanaryStepSpec[] = [{ setWeight: 20 }, { pause: { durationSeconds: 30 } }, { setWeight: 50 }, { pause: {} }];
  it.each([
    { name: "no new pod: step 0", pods: 0, want: 0 },
    { name: "the first step's count: that step (the pause after it is entered again)", pods: 2, want: 0 },
    { name: "more than the first step's count: the second setWeight step (the pause before it was passed)", pods: 3, want: 2 },
    { name: "the second step's count exactly: that step, never past the indefinite pause after it", pods: 5, want: 2 },
    { name: "more than every step's count: the end (every pause was passed)", pods: 6, want: 4 },
  ])("$name", ({ pods, want }) => {
    expect(deriveCanaryStepIndex(steps, 10, 3, pods)).toBe(want);
  });

  it("uses the traffic-routed counts with trafficRouting: 3 new pods of 10 are past the first step (2) but not the second (5)", () => {
    expect(deriveCanaryStepIndex(steps, 10, 3, 3, true)).toBe(2);
    expect(deriveCanaryStepIndex(steps, 10, 3, 6, true)).toBe(4);
  });

  it("counts a pause before the first setWeight as passed once there is a new pod", () => {
    expect(deriveCanaryStepIndex([{ pause: {} }, { setWeight: 50 }], 4, 1, 1)).toBe(1);
    expect(deriveCanaryStepIndex([{ pause: {} }, { setWeight: 50 }], 4, 1, 0)).toBe(0);
  });
});

const STEPS: CanaryStepSpec[] = [{ setWeight: 20 }, { pause: { durationSeconds: 30 } }, { setWeight: 50 }, { pause: {} }, { setWeight: 80 }, { pause: {} }];

function canary(o: Partial<CanaryInput> & Pick<CanaryInput, "pods">): CanaryInput {
  return { params: params(10, 3, 2), steps: STEPS, revision: "b", stable: "a", now: T, lastProgressAt: T, ...o };
}

interface Case {
  name: string;
  input: CanaryInput;
  want: Partial<Pick<CanaryResult, "create" | "remove" | "weight" | "trafficWeight" | "waiting" | "promoteToPass" | "promoted" | "stable" | "complete" | "progressed" | "deadlineExceeded" | "requeueAfterMs">> & {
    stepIndex?: number;
    pauseStartedAt?: number | null;
    desired?: Record<string, number>;
    creates?: Record<string, number>;
    removals?: Record<string, string[]>;
  };
}

const cases: Case[] = [
  {
    name: "starts by scaling the stable revision down within maxUnavailable (Argo scales stable before new)",
    input: canary({ pods: available("a", 10) }),
    want: { stepIndex: 0, weight: 20, desired: { b: 0, a: 8 }, removals: { a: ["a-9", "a-8"] }, create: 0 },
  },
  {
    name: "then creates the canary pods for the first weight",
    input: canary({ pods: [...available("a", 8), ...as(available("a", 2, 8), { terminating: true })], status: { revision: "b", stepIndex: 0 } }),
    want: { stepIndex: 0, desired: { b: 2, a: 8 }, create: 2 },
  },
  {
    name: "completes a setWeight step when the canary pods are available, and starts the timed pause",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 0 } }),
    want: { stepIndex: 1, waiting: "pause", pauseStartedAt: T, requeueAfterMs: 30_000, create: 0, remove: [], progressed: true },
  },
  {
    name: "keeps waiting in a timed pause and does not run the progress deadline",
    input: canary({
      pods: [...available("a", 8), ...available("b", 2)],
      status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 10_000 },
      lastProgressAt: T - 3_600_000,
    }),
    want: { stepIndex: 1, waiting: "pause", requeueAfterMs: 20_000, deadlineExceeded: false, pauseStartedAt: T - 10_000 },
  },
  {
    name: "ends a timed pause after its duration and moves to the next weight",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 30_000 } }),
    // weight 50 → 5/5, but only maxUnavailable 2 may go at once: the stable revision first to 6.
    want: { stepIndex: 2, weight: 50, pauseStartedAt: null, desired: { b: 2, a: 6 }, removals: { a: ["a-7", "a-6"] }, progressed: true },
  },
  {
    name: "waits in an indefinite pause for the promote annotation",
    input: canary({ pods: [...available("a", 5), ...available("b", 5)], status: { revision: "b", stepIndex: 3 }, lastProgressAt: T - 3_600_000 }),
    want: { stepIndex: 3, waiting: "promotion", promoteToPass: 1, deadlineExceeded: false, create: 0, remove: [] },
  },
  {
    name: "passes the first indefinite pause when promoted to 1 and moves to the next weight",
    input: canary({ pods: [...available("a", 5), ...available("b", 5)], status: { revision: "b", stepIndex: 3 }, promote: 1 }),
    want: { stepIndex: 4, weight: 80, desired: { b: 5, a: 3 }, progressed: true },
  },
  {
    name: "stops at the second indefinite pause when promoted to 1",
    input: canary({ pods: [...available("a", 2), ...available("b", 8)], status: { revision: "b", stepIndex: 4 }, promote: 1 }),
    want: { stepIndex: 5, waiting: "promotion", promoteToPass: 2, weight: 80, create: 0, remove: [] },
  },
  {
    name: "skips every remaining step when promoted in full and rolls out within maxSurge/maxUnavailable",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 1, pauseStartedAt: T }, promote: "full" }),
    // weight 100 at maxSurge 3 / maxUnavailable 2, stable first: 8 → 6.
    want: { stepIndex: 6, weight: 100, desired: { b: 2, a: 6 }, progressed: true },
  },
  {
    name: "makes the new revision stable when every step is done and all its replicas are available",
    input: canary({ pods: [...available("a", 1), ...available("b", 10)], status: { revision: "b", stepIndex: 6 }, sizes: { replicas: 10, maxReplicas: 13, byRevision: { a: 1, b: 10 } } }),
    want: { promoted: true, stable: "b", desired: { b: 10, a: 0 }, removals: { a: ["a-0"] } },
  },
  {
    name: "is complete once the stable revision is the wanted one and nothing else runs",
    input: canary({ pods: available("b", 10), stable: "b" }),
    want: { complete: true, weight: 100, trafficWeight: 100, create: 0, remove: [] },
  },
  {
    name: "has no steps on the first rollout: the new revision goes to full replicas within maxSurge",
    input: canary({ pods: [], stable: undefined }),
    want: { weight: 100, create: 10, stepIndex: 6 },
  },
  {
    name: "skips every step when rolling back to the stable revision, and removes the canary as others",
    input: canary({ revision: "a", stable: "a", pods: [...available("a", 8), ...as(starting("b", 2), { createdAt: T - 1000 })], status: { revision: "b", stepIndex: 2 } }),
    want: { weight: 100, trafficWeight: 100, desired: { a: 10, b: 2 }, creates: { a: 2 } },
  },
  {
    name: "removes a failed canary's unavailable pods once the stable revision is back to full",
    input: canary({ revision: "a", stable: "a", pods: [...available("a", 10), ...starting("b", 2)] }),
    want: { desired: { a: 10, b: 0 }, removals: { b: ["b-1", "b-0"] } },
  },
  {
    name: "derives the step index from the pods when the status is lost, entering the pause again",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)] }),
    want: { stepIndex: 1, waiting: "pause", pauseStartedAt: T },
  },
  {
    name: "ignores a status kept for another revision",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "x", stepIndex: 5 } }),
    want: { stepIndex: 1, waiting: "pause" },
  },
  {
    name: "keeps counting a stable revision with no pod left as the stable one: an indefinite pause is not skipped",
    input: canary({ params: params(1, 0, 1), steps: [{ setWeight: 50 }, { pause: {} }], pods: available("b", 1), status: { revision: "b", stepIndex: 0 } }),
    want: { stepIndex: 1, waiting: "promotion", stable: "a", promoted: false },
  },
  {
    name: "holds sizes and step while spec.paused",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 0 }, paused: true, lastProgressAt: T - 3_600_000 }),
    want: { stepIndex: 0, waiting: "paused", create: 0, remove: [], deadlineExceeded: false, desired: { b: 2, a: 8 } },
  },
  {
    name: "reports the progress deadline while canary pods never become available",
    input: canary({
      pods: [...as(available("a", 8), { readySince: T - 700_000 }), ...starting("b", 2)],
      status: { revision: "b", stepIndex: 0 },
      lastProgressAt: T - 600_001,
    }),
    want: { stepIndex: 0, deadlineExceeded: true, progressed: false },
  },
  {
    name: "waits at a setWeight step whose pods are there until every node's proxy sends its weight",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 0 }, traffic: { appliedWeight: 0 } }),
    want: { stepIndex: 0, weight: 20, trafficWeight: 20, create: 0, remove: [], progressed: false },
  },
  {
    name: "waits at a setWeight step while not every node's proxy runs a weight",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 0 }, traffic: {} }),
    want: { stepIndex: 0, trafficWeight: 20 },
  },
  {
    name: "moves past a setWeight step once every node's proxy sends its weight",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 0 }, traffic: { appliedWeight: 20 } }),
    want: { stepIndex: 1, waiting: "pause", trafficWeight: 20, progressed: true },
  },
  {
    name: "tells the Services the previous weight while the next step's pods are not there yet",
    input: canary({ pods: [...available("a", 8), ...available("b", 2)], status: { revision: "b", stepIndex: 2 }, traffic: { appliedWeight: 20 } }),
    want: { stepIndex: 2, weight: 50, trafficWeight: 20 },
  },
  {
    name: "tells the Services the canary's share of ready pods between the previous weight and the step's while pods come and go",
    input: canary({ pods: [...available("a", 6), ...available("b", 4), ...starting("b", 1, 4)], status: { revision: "b", stepIndex: 2 }, traffic: { appliedWeight: 20 } }),
    want: { stepIndex: 2, weight: 50, trafficWeight: 40 },
  },
  {
    name: "keeps the stable revision at all replicas and gives the canary ceil(replicas × weight / 100) with trafficRouting",
    input: canary({ pods: available("a", 10), status: { revision: "b", stepIndex: 0 }, trafficRouting: true }),
    want: { stepIndex: 0, weight: 20, trafficWeight: 0, desired: { a: 10, b: 2 }, create: 2 },
  },
  {
    name: "holds the previous weight with trafficRouting until the canary's pods are there, the stable ones all staying",
    input: canary({ pods: [...available("a", 10), ...available("b", 2)], status: { revision: "b", stepIndex: 2 }, trafficRouting: true, traffic: { appliedWeight: 20 } }),
    want: { stepIndex: 2, weight: 50, trafficWeight: 20, desired: { a: 10, b: 5 }, create: 3 },
  },
  {
    name: "runs both revisions in full after the last step with trafficRouting, then makes the new one stable",
    input: canary({ pods: [...available("a", 10), ...available("b", 10)], status: { revision: "b", stepIndex: 6 }, trafficRouting: true, sizes: { replicas: 10, maxReplicas: 13, byRevision: { a: 10, b: 10 } } }),
    want: { promoted: true, stable: "b", trafficWeight: 100 },
  },
];

describe("canaryStep", () => {
  it.each(cases)("$name", ({ input: i, want }) => {
    const got = canaryStep(i);
    const { stepIndex, pauseStartedAt, desired, creates, removals, ...rest } = want;
    expect(got).toMatchObject(rest);
    if (stepIndex !== undefined) expect(got.status.stepIndex).toBe(stepIndex);
    if (pauseStartedAt === null) expect(got.status.pauseStartedAt).toBeUndefined();
    else if (pauseStartedAt !== undefined) expect(got.status.pauseStartedAt).toBe(pauseStartedAt);
    if (desired) expect(desiredByRevision(got)).toEqual(desired);
    if (creates) expect(createsByRevision(got)).toEqual(creates);
    if (removals) expect(removalsByRevision(got)).toEqual(removals);
    expect(got.status.revision).toBe(i.revision);
  });

  it.each([
    { name: "a weight above 100", steps: [{ setWeight: 101 }] as CanaryStepSpec[] },
    { name: "a negative pause", steps: [{ pause: { durationSeconds: -1 } }] as CanaryStepSpec[] },
    { name: "a step that is neither", steps: [{}] as unknown as CanaryStepSpec[] },
  ])("throws InvalidArgument for $name", ({ steps }) => {
    let caught: unknown;
    try {
      canaryStep(canary({ pods: [], steps }));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});
