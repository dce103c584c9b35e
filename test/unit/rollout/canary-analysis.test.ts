/**
 * Analysis steps in a canary rollout (canaryStep with input.analysis): what the step does with each verdict
 * of the analysis, and how promotion counts analyses among its gates. The verdicts themselves are
 * analysis.test.ts's.
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { canaryStep, DEFAULT_ANALYSIS } from "../../../operator/src/rollout/index.js";
import type { CanaryInput, CanaryResult, CanaryStepSpec } from "../../../operator/src/rollout/types.js";
import { available, desiredByRevision, params, T } from "./builders.js";

const ANALYSIS: CanaryStepSpec = { analysis: { ...DEFAULT_ANALYSIS } };
/** 10 replicas: 20% of them, an analysis, an indefinite pause, 50%, an analysis. */
const STEPS: CanaryStepSpec[] = [{ setWeight: 20 }, ANALYSIS, { pause: {} }, { setWeight: 50 }, ANALYSIS];

/** The canary at 20%: 8 stable pods and 2 of the new revision, all available. */
function at20(o: Partial<CanaryInput> = {}): CanaryInput {
  return { params: params(10, 3, 2), steps: STEPS, revision: "b", stable: "a", now: T, lastProgressAt: T, pods: [...available("a", 8), ...available("b", 2)], ...o };
}

interface Case {
  name: string;
  input: CanaryInput;
  want: Partial<Pick<CanaryResult, "weight" | "waiting" | "promoteToPass" | "deadlineExceeded" | "progressed" | "create">> & { stepIndex: number; pauseStartedAt?: number | null; desired?: Record<string, number> };
}

const cases: Case[] = [
  {
    name: "enters an analysis step once the weight before it is reached, and starts measuring then",
    input: at20({ status: { revision: "b", stepIndex: 0 } }),
    want: { stepIndex: 1, waiting: "analysis", pauseStartedAt: T, weight: 20, progressed: true },
  },
  {
    name: "keeps the weight and waits while the analysis is running, without running the progress deadline",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 60_000 }, analysis: { stepIndex: 1, phase: "Running" }, lastProgressAt: T - 3_600_000 }),
    want: { stepIndex: 1, waiting: "analysis", pauseStartedAt: T - 60_000, deadlineExceeded: false, create: 0, desired: { a: 8, b: 2 } },
  },
  {
    name: "starts the analysis of its step afresh when the verdict it is given is another step's",
    input: at20({ status: { revision: "b", stepIndex: 1 }, analysis: { stepIndex: 4, phase: "Successful" } }),
    want: { stepIndex: 1, waiting: "analysis", pauseStartedAt: T },
  },
  {
    name: "goes on to the next step when the analysis passed",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 90_000 }, analysis: { stepIndex: 1, phase: "Successful" } }),
    want: { stepIndex: 2, waiting: "promotion", promoteToPass: 2, pauseStartedAt: T, progressed: true },
  },
  {
    name: "holds the step, waiting for nothing, when the analysis failed: the caller fails the rollout",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 30_000 }, analysis: { stepIndex: 1, phase: "Failed" } }),
    want: { stepIndex: 1, pauseStartedAt: T - 30_000, create: 0, desired: { a: 8, b: 2 } },
  },
  {
    name: "waits for promotion when the analysis is inconclusive, as the first gate",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 30_000 }, analysis: { stepIndex: 1, phase: "Inconclusive" } }),
    want: { stepIndex: 1, waiting: "promotion", promoteToPass: 1, pauseStartedAt: T - 30_000 },
  },
  {
    name: "passes an inconclusive analysis when promoted past it",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T - 30_000 }, analysis: { stepIndex: 1, phase: "Inconclusive" }, promote: 1 }),
    want: { stepIndex: 2, waiting: "promotion", promoteToPass: 2 },
  },
  {
    name: "still measures an analysis a promotion already covers: a promotion passes only an inconclusive one",
    input: at20({ status: { revision: "b", stepIndex: 0 }, promote: 1 }),
    want: { stepIndex: 1, waiting: "analysis" },
  },
  {
    name: "never passes a failed analysis on a numbered promotion",
    input: at20({ status: { revision: "b", stepIndex: 1 }, analysis: { stepIndex: 1, phase: "Failed" }, promote: 5 }),
    want: { stepIndex: 1 },
  },
  {
    name: "skips a running analysis with every other remaining step when promoted in full",
    input: at20({ status: { revision: "b", stepIndex: 1, pauseStartedAt: T }, analysis: { stepIndex: 1, phase: "Running" }, promote: "full" }),
    want: { stepIndex: 5, weight: 100 },
  },
  {
    name: "counts the analysis before an indefinite pause among the gates a promotion passes",
    input: at20({ status: { revision: "b", stepIndex: 2, pauseStartedAt: T }, promote: 1 }),
    want: { stepIndex: 2, waiting: "promotion", promoteToPass: 2 },
  },
  {
    name: "enters the analysis again when the step index is derived from the pods: it is never skipped on a guess",
    input: at20(),
    want: { stepIndex: 1, waiting: "analysis", pauseStartedAt: T },
  },
];

describe("canaryStep with analysis steps", () => {
  it.each(cases)("$name", ({ input, want }) => {
    const got = canaryStep(input);
    const { stepIndex, pauseStartedAt, desired, ...rest } = want;
    expect(got).toMatchObject(rest);
    if (!("waiting" in want)) expect(got.waiting).toBeUndefined();
    expect(got.status.stepIndex).toBe(stepIndex);
    if (pauseStartedAt === null) expect(got.status.pauseStartedAt).toBeUndefined();
    else if (pauseStartedAt !== undefined) expect(got.status.pauseStartedAt).toBe(pauseStartedAt);
    if (desired) expect(desiredByRevision(got)).toEqual(desired);
  });

  it("says in its reason which step measures, and how", () => {
    expect(canaryStep(at20({ status: { revision: "b", stepIndex: 0 } })).reason).toContain("step 2/5 (analysis, 3 × 30s): measuring");
  });

  it("throws InvalidArgument for a malformed analysis step", () => {
    let caught: unknown;
    try {
      canaryStep(at20({ steps: [{ setWeight: 20 }, { analysis: { ...DEFAULT_ANALYSIS, count: 0 } }] }));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});
