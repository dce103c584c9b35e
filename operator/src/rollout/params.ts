/**
 * A Deployment's rolling-update parameters: Kubernetes' defaults, validation and percentage rounding
 * (deploymentutil.ResolveFenceposts and MaxUnavailable).
 */
import { CoxError } from "../api/errors.js";
import type { DeploymentSpec } from "../api/generated/deployment.js";
import type { RolloutParams } from "./types.js";

/** apps/v1 default of spec.replicas. */
export const DEFAULT_REPLICAS = 1;
/** apps/v1 default of spec.strategy.rollingUpdate.maxSurge. */
export const DEFAULT_MAX_SURGE = "25%";
/** apps/v1 default of spec.strategy.rollingUpdate.maxUnavailable. */
export const DEFAULT_MAX_UNAVAILABLE = "25%";
/** apps/v1 default of spec.minReadySeconds. */
export const DEFAULT_MIN_READY_SECONDS = 0;
/** apps/v1 default of spec.progressDeadlineSeconds. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

function invalid(field: string, value: unknown, expected: string): CoxError {
  return new CoxError("InvalidField", `spec.${field}: ${JSON.stringify(value)} is invalid; expected ${expected}`, {
    details: { field: `spec.${field}`, value },
  });
}

function nonNegativeInt(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw invalid(field, value, "an integer ≥ 0");
  return value;
}

/** An int-or-percent value: a count, or a whole percentage (Kubernetes accepts only "<digits>%"). */
type IntOrPercent = { kind: "int"; value: number } | { kind: "percent"; value: number };

function parseIntOrPercent(field: string, value: unknown): IntOrPercent {
  if (typeof value === "number") return { kind: "int", value: nonNegativeInt(field, value) };
  if (typeof value === "string") {
    const m = /^([0-9]+)%$/.exec(value);
    if (m) return { kind: "percent", value: Number(m[1]) };
  }
  throw invalid(field, value, 'an integer ≥ 0 or a whole percentage such as "25%"');
}

/**
 * Defaults, validates and resolves a Deployment's rollout parameters.
 * - replicas 1, maxSurge 25%, maxUnavailable 25%, minReadySeconds 0, progressDeadlineSeconds 600;
 * - surge = ceil(pct·replicas), unavailable = floor(pct·replicas), counts as given; both 0 → unavailable 1
 *   (ResolveFenceposts); unavailable is then capped at replicas, and 0 when replicas is 0 (MaxUnavailable).
 *   10 replicas at 25%/25% → 3/2; 3 replicas → 1/0; 1 replica → 1/0.
 * Throws CoxError InvalidField where Kubernetes' validation rejects the spec: negative or fractional counts,
 * malformed percentages, maxUnavailable above 100%, maxSurge and maxUnavailable both 0, or
 * progressDeadlineSeconds not greater than minReadySeconds.
 */
export function resolveRollingParams(spec: DeploymentSpec): RolloutParams {
  const replicas = nonNegativeInt("replicas", spec.replicas ?? DEFAULT_REPLICAS);
  const minReadySeconds = nonNegativeInt("minReadySeconds", spec.minReadySeconds ?? DEFAULT_MIN_READY_SECONDS);
  const progressDeadlineSeconds = nonNegativeInt("progressDeadlineSeconds", spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS);
  if (progressDeadlineSeconds <= minReadySeconds) {
    throw invalid("progressDeadlineSeconds", progressDeadlineSeconds, `a value greater than minReadySeconds (${minReadySeconds})`);
  }
  const rolling = spec.strategy?.rollingUpdate;
  const surgeRaw = rolling?.maxSurge ?? DEFAULT_MAX_SURGE;
  const unavailableRaw = rolling?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
  const surge = parseIntOrPercent("strategy.rollingUpdate.maxSurge", surgeRaw);
  const unavailable = parseIntOrPercent("strategy.rollingUpdate.maxUnavailable", unavailableRaw);
  if (unavailable.kind === "percent" && unavailable.value > 100) {
    throw invalid("strategy.rollingUpdate.maxUnavailable", unavailableRaw, "at most 100%");
  }
  if (surge.value === 0 && unavailable.value === 0) {
    throw invalid("strategy.rollingUpdate.maxUnavailable", unavailableRaw, "a value above 0 when maxSurge is 0");
  }

  const maxSurge = surge.kind === "int" ? surge.value : Math.ceil((surge.value * replicas) / 100);
  let maxUnavailable = unavailable.kind === "int" ? unavailable.value : Math.floor((unavailable.value * replicas) / 100);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  maxUnavailable = Math.min(maxUnavailable, replicas);
  return { replicas, maxSurge, maxUnavailable, minReadySeconds, progressDeadlineSeconds };
}
