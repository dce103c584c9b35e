/**
 * rollout/promote.ts: the promote value passes the gate a Rollout waits at and no further, always differs
 * from the rollout's baseline (only a change promotes), and a Rollout waiting for no promotion is a conflict
 * unless spec.paused is to be cleared.
 */
import { describe, expect, it } from "vitest";
import { decidePromote } from "../../../operator/src/rollout/promote.js";
import type { CanaryStepSpec } from "../../../operator/src/rollout/types.js";

const steps: CanaryStepSpec[] = [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: { durationSeconds: 30 } }, { pause: {} }];

describe("decidePromote", () => {
  it("passes the gate the canary waits at: the count of gates up to it", () => {
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 1, waiting: "promotion", paused: false, full: false })).toEqual({ annotation: "1", unpause: false });
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 4, waiting: "promotion", paused: false, full: false, baseline: "1", current: "1" })).toEqual({ annotation: "2", unpause: false });
  });

  it("writes the same count in another text when it is the baseline", () => {
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 1, waiting: "promotion", baseline: "1", current: "1", paused: false, full: false })).toEqual({ annotation: "01", unpause: false });
    expect(decidePromote({ strategy: "BlueGreen", waiting: "promotion", baseline: "1", paused: true, full: false })).toEqual({ annotation: "01", unpause: true });
  });

  it("refuses when nothing waits for a promotion, or Git already holds one", () => {
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 3, waiting: "pause", paused: false, full: false })).toHaveProperty("conflict");
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 5, paused: false, full: false })).toHaveProperty("conflict");
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 1, waiting: "promotion", current: "1", paused: false, full: false })).toHaveProperty("conflict");
  });

  it("clears spec.paused, and skips every step with full", () => {
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 3, waiting: "pause", paused: true, full: false })).toEqual({ unpause: true });
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 3, waiting: "pause", paused: false, full: true })).toEqual({ annotation: "full", unpause: false });
    expect(decidePromote({ strategy: "Canary", steps, stepIndex: 3, baseline: "full", paused: false, full: true })).toHaveProperty("conflict");
  });
});
