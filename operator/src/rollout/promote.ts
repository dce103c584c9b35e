/**
 * What a promotion asked through the API (POST …/promote) writes to Git: the value of a Rollout's
 * coxswain.io/promote annotation that passes the gate it waits at now — and no further —, and whether
 * spec.paused goes back to false (as `kubectl argo rollouts promote` does). The annotation is level-based
 * (the value present when a rollout starts is its baseline; only a change promotes), so the value chosen
 * always differs from the baseline: when the count needed is the baseline itself, it is written with a
 * leading zero ("01"), the same number in another text. Pure.
 */
import { isGate } from "./canary.js";
import type { CanaryStepSpec } from "./types.js";

/** What promote decides from: the Rollout in Git and its status record. */
export interface PromoteInput {
  strategy: "Canary" | "BlueGreen";
  /** The canary's steps (resolveCanaryParams). */
  steps?: readonly CanaryStepSpec[];
  /** The status record: the canary's step index, what the rollout waits for, the promote baseline. */
  stepIndex?: number;
  waiting?: string;
  baseline?: string;
  /** The annotation's value in Git now. */
  current?: string;
  /** spec.paused in Git. */
  paused: boolean;
  /** Skip every remaining step ("full"), as `promote --full`. */
  full: boolean;
}

/** The fields to write, or why the Rollout is not in a state a promotion changes. */
export type PromoteDecision = { annotation?: string; unpause: boolean } | { conflict: string };

/** Decides a promotion (see the module comment). */
export function decidePromote(input: PromoteInput): PromoteDecision {
  const changed = input.current !== undefined && input.current !== input.baseline;
  if (input.full) {
    if (input.current === "full" && changed) return input.paused ? { unpause: true } : { conflict: 'coxswain.io/promote is "full" in Git already; the sync applies it' };
    if (input.baseline === "full") return { conflict: 'this rollout started with coxswain.io/promote: "full", which therefore promotes nothing; change the annotation by hand' };
    return { annotation: "full", unpause: input.paused };
  }
  if (input.waiting !== "promotion") {
    if (input.paused) return { unpause: true };
    if (input.waiting === "pause") return { conflict: "the rollout waits for a timed pause, which ends by itself; ?full=true skips every remaining step" };
    if (input.waiting === "analysis") return { conflict: "the rollout is measuring an analysis step; ?full=true skips every remaining step" };
    return { conflict: "the rollout is not paused: it waits for no promotion" };
  }
  // Gates passed by the count N: the first N gates (canary); any N ≥ 1 (blue/green).
  const ordinal = input.strategy === "Canary" ? (input.steps ?? []).slice(0, input.stepIndex ?? 0).filter(isGate).length : 0;
  const passes = (v: string | undefined): boolean => v === "full" || (v !== undefined && /^[0-9]+$/.test(v) && Number(v) > ordinal);
  if (changed && passes(input.current)) return { conflict: `coxswain.io/promote is "${input.current}" in Git already, which passes this pause; the sync applies it` };
  const count = String(ordinal + 1);
  return { annotation: count === input.baseline ? `0${count}` : count, unpause: input.paused };
}
