/**
 * Failure detection (crash ratio, pod start deadline, progress deadline — in that order) and stability.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { detectFailure, resolveFailurePolicy, rolloutHealth } from "../../../operator/src/rollout/index.js";
import type { HealthInput, HealthPod, RolloutHealth } from "../../../operator/src/rollout/types.js";
import { T } from "./builders.js";

/** A pod ready since `readyFor` ms ago (created a minute before that). */
function ready(name: string, readyFor = 60_000, o: Partial<HealthPod> = {}): HealthPod {
  return { name, createdAt: T - readyFor - 60_000, ready: true, readySince: T - readyFor, restartCount: 0, crashLooping: false, ...o };
}

/** A pod created `age` ms ago that is not ready. */
function notReady(name: string, age: number, o: Partial<HealthPod> = {}): HealthPod {
  return { name, createdAt: T - age, ready: false, restartCount: 0, crashLooping: false, ...o };
}

function health(pods: HealthPod[], o: Partial<HealthInput> = {}, policy: Parameters<typeof resolveFailurePolicy>[1] = {}): HealthInput {
  return {
    now: T,
    lastProgressAt: T,
    replicas: pods.length,
    complete: false,
    policy: resolveFailurePolicy({ progressDeadlineSeconds: 600 }, policy),
    pods,
    ...o,
  };
}

interface Case {
  name: string;
  input: HealthInput;
  want: { code?: string; pods?: string[]; stable?: boolean; requeueAfterMs?: number | null; crashed?: string[] };
}

const cases: Case[] = [
  {
    name: "fails on one crashed updated pod with the default ratio 0",
    input: health([ready("p0"), ready("p1", 1000, { restartCount: 1 }), ready("p2")]),
    want: { code: "CrashLoopBackOff", pods: ["p1"], crashed: ["p1"] },
  },
  {
    name: "counts a pod in crash-loop back-off as crashed even when its restart count was lost",
    input: health([notReady("p0", 5000, { crashLooping: true }), ready("p1")]),
    want: { code: "CrashLoopBackOff", pods: ["p0"] },
  },
  {
    name: "counts a failed pod as crashed",
    input: health([notReady("p0", 5000, { failed: true }), ready("p1")]),
    want: { code: "CrashLoopBackOff", pods: ["p0"] },
  },
  {
    name: "tolerates crashes up to maxFailureRatio (2 of 4 at 0.5)",
    input: health([ready("p0", 1000, { restartCount: 2 }), ready("p1", 1000, { restartCount: 1 }), ready("p2"), ready("p3")], {}, { maxFailureRatio: 0.5 }),
    want: { code: undefined, crashed: ["p0", "p1"] },
  },
  {
    name: "fails above maxFailureRatio (3 of 4 at 0.5)",
    input: health([ready("p0", 1000, { restartCount: 2 }), ready("p1", 1000, { restartCount: 1 }), notReady("p2", 1000, { crashLooping: true }), ready("p3")], {}, { maxFailureRatio: 0.5 }),
    want: { code: "CrashLoopBackOff", pods: ["p0", "p1", "p2"] },
  },
  {
    name: "fails a pod that was never ready more than podStartDeadlineSeconds (300) after creation",
    input: health([notReady("p0", 300_001), ready("p1")], { lastProgressAt: T }),
    want: { code: "PodStartDeadlineExceeded", pods: ["p0"] },
  },
  {
    name: "does not fail a pod exactly at its start deadline and looks again just after",
    input: health([notReady("p0", 300_000)]),
    want: { code: undefined, requeueAfterMs: 1 },
  },
  {
    name: "uses the progress deadline as the start deadline when it is shorter",
    input: health([notReady("p0", 61_000)], { policy: resolveFailurePolicy({ progressDeadlineSeconds: 60 }) }),
    want: { code: "PodStartDeadlineExceeded", pods: ["p0"] },
  },
  {
    name: "takes a pod that was ready once as started, even if it is not ready now",
    input: health([notReady("p0", 400_000, { firstReadyAt: T - 390_000 })]),
    want: { code: undefined },
  },
  {
    name: "reports the progress deadline when nothing progressed for longer than progressDeadlineSeconds",
    input: health([ready("p0")], { lastProgressAt: T - 600_001 }),
    want: { code: "ProgressDeadlineExceeded", pods: [] },
  },
  {
    name: "does not run the progress deadline while paused",
    input: health([ready("p0")], { lastProgressAt: T - 3_600_000, paused: true }),
    want: { code: undefined, requeueAfterMs: null },
  },
  {
    name: "does not run the progress deadline for a complete rollout",
    input: health([ready("p0", 60_000)], { lastProgressAt: T - 3_600_000, complete: true }),
    want: { code: undefined, stable: true },
  },
  {
    name: "reports a crash before a missed start deadline, and that before the progress deadline",
    input: health([notReady("p0", 400_000), ready("p1", 1000, { restartCount: 1 })], { lastProgressAt: T - 700_000 }),
    want: { code: "CrashLoopBackOff", pods: ["p1"] },
  },
  {
    name: "reports a missed start deadline before the progress deadline",
    input: health([notReady("p0", 400_000)], { lastProgressAt: T - 700_000 }),
    want: { code: "PodStartDeadlineExceeded" },
  },
  {
    name: "is stable when complete and every updated pod was ready for monitorSeconds",
    input: health([ready("p0", 5000), ready("p1", 7000)], { complete: true }),
    want: { code: undefined, stable: true, requeueAfterMs: null },
  },
  {
    name: "is not stable yet within the monitor window, and says when it will be",
    input: health([ready("p0", 2000), ready("p1", 7000)], { complete: true }),
    want: { code: undefined, stable: false, requeueAfterMs: 3000 },
  },
  {
    name: "is never stable while not complete",
    input: health([ready("p0", 60_000)], { complete: false }),
    want: { stable: false },
  },
  {
    name: "is never stable with a failure, even when complete",
    input: health([ready("p0", 60_000, { restartCount: 1 })], { complete: true }),
    want: { code: "CrashLoopBackOff", stable: false },
  },
];

describe("rolloutHealth", () => {
  it.each(cases)("$name", ({ input, want }) => {
    const got: RolloutHealth = rolloutHealth(input);
    expect(got.failure?.code).toBe(want.code);
    if (want.pods) expect(got.failure?.pods).toEqual(want.pods);
    if (want.stable !== undefined) expect(got.stable).toBe(want.stable);
    if (want.requeueAfterMs === null) expect(got.requeueAfterMs).toBeUndefined();
    else if (want.requeueAfterMs !== undefined) expect(got.requeueAfterMs).toBe(want.requeueAfterMs);
    if (want.crashed) expect(got.crashedPods).toEqual(want.crashed);
    if (got.failure) expect(got.failure.message.length).toBeGreaterThan(0);
    expect(detectFailure(input)).toEqual(got.failure);
  });

  it("throws InvalidArgument for two pods with the same name", () => {
    let caught: unknown;
    try {
      rolloutHealth(health([ready("p0"), ready("p0")]));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("throws InvalidArgument for a failure ratio above 1", () => {
    let caught: unknown;
    try {
      resolveFailurePolicy({ progressDeadlineSeconds: 600 }, { maxFailureRatio: 1.5 });
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});
