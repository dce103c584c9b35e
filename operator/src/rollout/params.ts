/**
 * Rollout parameters from manifests: Kubernetes' Deployment defaults, validation and percentage rounding
 * (deploymentutil.ResolveFenceposts and MaxUnavailable), Argo Rollouts' canary and blue/green defaults, pause
 * durations, the promote annotation, and the failure policy's defaults.
 */
import { CoxError } from "../api/errors.js";
import type { DeploymentSpec } from "../api/generated/deployment.js";
import type { CanaryAnalysis, RolloutSpec } from "../api/generated/rollout.js";
import type { AnalysisSpec, BlueGreenParams, CanaryStepSpec, FailurePolicy, PodReplacementPolicy, Promote, RolloutParams } from "./types.js";

/** apps/v1 default of spec.replicas. */
const DEFAULT_REPLICAS = 1;
/** apps/v1 default of spec.strategy.rollingUpdate.maxSurge. */
const DEFAULT_MAX_SURGE = "25%";
/** apps/v1 default of spec.strategy.rollingUpdate.maxUnavailable. */
const DEFAULT_MAX_UNAVAILABLE = "25%";
/** apps/v1 default of spec.minReadySeconds. */
const DEFAULT_MIN_READY_SECONDS = 0;
/** apps/v1 default of spec.progressDeadlineSeconds. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
/** apps/v1 default of spec.revisionHistoryLimit. */
const DEFAULT_REVISION_HISTORY_LIMIT = 10;
/** Argo Rollouts' default of strategy.blueGreen.scaleDownDelaySeconds. */
const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;
/** Per-pod start deadline: Nomad's update.healthy_deadline (5 min). */
const DEFAULT_POD_START_DEADLINE_SECONDS = 300;
/** Swarm's update max_failure_ratio: 0, any crash of an updated pod fails the rollout. */
const DEFAULT_MAX_FAILURE_RATIO = 0;
/** Swarm's update monitor: 5 s. */
const DEFAULT_MONITOR_SECONDS = 5;

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

/** Resolves maxSurge and maxUnavailable as ResolveFenceposts and MaxUnavailable do; `prefix` names the fields. */
function resolveFenceposts(prefix: string, surgeRaw: unknown, unavailableRaw: unknown, replicas: number): { maxSurge: number; maxUnavailable: number } {
  const surge = parseIntOrPercent(`${prefix}.maxSurge`, surgeRaw);
  const unavailable = parseIntOrPercent(`${prefix}.maxUnavailable`, unavailableRaw);
  if (unavailable.kind === "percent" && unavailable.value > 100) {
    throw invalid(`${prefix}.maxUnavailable`, unavailableRaw, "at most 100%");
  }
  if (surge.value === 0 && unavailable.value === 0) {
    throw invalid(`${prefix}.maxUnavailable`, unavailableRaw, "a value above 0 when maxSurge is 0");
  }
  const maxSurge = surge.kind === "int" ? surge.value : Math.ceil((surge.value * replicas) / 100);
  let maxUnavailable = unavailable.kind === "int" ? unavailable.value : Math.floor((unavailable.value * replicas) / 100);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  maxUnavailable = Math.min(maxUnavailable, replicas);
  return { maxSurge, maxUnavailable };
}

/** replicas, minReadySeconds, progressDeadlineSeconds and revisionHistoryLimit, defaulted and validated. */
function commonFields(spec: { replicas?: unknown; minReadySeconds?: unknown; progressDeadlineSeconds?: unknown; revisionHistoryLimit?: unknown; podReplacementPolicy?: unknown }) {
  const replicas = nonNegativeInt("replicas", spec.replicas ?? DEFAULT_REPLICAS);
  const minReadySeconds = nonNegativeInt("minReadySeconds", spec.minReadySeconds ?? DEFAULT_MIN_READY_SECONDS);
  const progressDeadlineSeconds = nonNegativeInt("progressDeadlineSeconds", spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS);
  if (progressDeadlineSeconds <= minReadySeconds) {
    throw invalid("progressDeadlineSeconds", progressDeadlineSeconds, `a value greater than minReadySeconds (${minReadySeconds})`);
  }
  const revisionHistoryLimit = nonNegativeInt("revisionHistoryLimit", spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY_LIMIT);
  const podReplacementPolicy = spec.podReplacementPolicy ?? "TerminationStarted";
  if (podReplacementPolicy !== "TerminationStarted" && podReplacementPolicy !== "TerminationComplete") {
    throw invalid("podReplacementPolicy", podReplacementPolicy, '"TerminationStarted" or "TerminationComplete"');
  }
  return { replicas, minReadySeconds, progressDeadlineSeconds, revisionHistoryLimit, podReplacementPolicy: podReplacementPolicy as PodReplacementPolicy };
}

/**
 * Defaults, validates and resolves a Deployment's rollout parameters.
 * - replicas 1, strategy RollingUpdate, maxSurge 25%, maxUnavailable 25%, minReadySeconds 0,
 *   progressDeadlineSeconds 600, revisionHistoryLimit 10, paused false;
 * - surge = ceil(pct·replicas), unavailable = floor(pct·replicas), counts as given; both 0 → unavailable 1
 *   (ResolveFenceposts); unavailable is then capped at replicas, and 0 when replicas is 0 (MaxUnavailable).
 *   10 replicas at 25%/25% → 3/2; 3 replicas → 1/0; 1 replica → 1/0.
 * - Recreate: maxSurge and maxUnavailable are 0 (deploymentutil.MaxSurge/MaxUnavailable for non-rolling).
 * Throws CoxError InvalidField where Kubernetes' validation rejects the spec: negative or fractional counts,
 * malformed percentages, maxUnavailable above 100%, maxSurge and maxUnavailable both 0, progressDeadlineSeconds
 * not greater than minReadySeconds, an unknown strategy type, or rollingUpdate with Recreate.
 */
export function resolveRollingParams(spec: DeploymentSpec): RolloutParams {
  // Read through a loose view: the generated type may lag behind the fields Kubernetes accepts.
  const loose = spec as DeploymentSpec & { paused?: unknown; revisionHistoryLimit?: unknown; strategy?: { type?: unknown; rollingUpdate?: unknown } };
  const common = commonFields(loose);
  const type = loose.strategy?.type ?? "RollingUpdate";
  if (type !== "RollingUpdate" && type !== "Recreate") throw invalid("strategy.type", type, '"RollingUpdate" or "Recreate"');
  const paused = loose.paused ?? false;
  if (typeof paused !== "boolean") throw invalid("paused", paused, "true or false");
  if (type === "Recreate") {
    if (loose.strategy?.rollingUpdate !== undefined) {
      throw invalid("strategy.rollingUpdate", loose.strategy.rollingUpdate, "no rollingUpdate when strategy type is 'Recreate'");
    }
    // MaxSurge and MaxUnavailable are 0 for anything but RollingUpdate (deploymentutil).
    return {
      replicas: common.replicas,
      maxSurge: 0,
      maxUnavailable: 0,
      minReadySeconds: common.minReadySeconds,
      progressDeadlineSeconds: common.progressDeadlineSeconds,
      strategy: "Recreate",
      paused,
      revisionHistoryLimit: common.revisionHistoryLimit,
      podReplacementPolicy: common.podReplacementPolicy,
    };
  }
  const rolling = spec.strategy?.rollingUpdate;
  const { maxSurge, maxUnavailable } = resolveFenceposts("strategy.rollingUpdate", rolling?.maxSurge ?? DEFAULT_MAX_SURGE, rolling?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE, common.replicas);
  return {
    replicas: common.replicas,
    maxSurge,
    maxUnavailable,
    minReadySeconds: common.minReadySeconds,
    progressDeadlineSeconds: common.progressDeadlineSeconds,
    strategy: "RollingUpdate",
    paused,
    revisionHistoryLimit: common.revisionHistoryLimit,
    podReplacementPolicy: common.podReplacementPolicy,
  };
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A pause duration in whole seconds, as Argo's RolloutPause.DurationSeconds: an integer (or a string of digits)
 * is seconds; otherwise a Go duration such as "30s", "5m", "1h30m" or "1.5h", truncated to whole seconds.
 * Throws CoxError InvalidField (naming `field`) for anything else or a negative value.
 */
export function parseDurationSeconds(value: unknown, field = "duration"): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else if (typeof value === "string") {
    if (/^[0-9]+$/.test(value)) return Number(value);
    const unit = /([0-9]*\.?[0-9]+|[0-9]+\.)(ns|us|µs|ms|s|m|h)/y;
    let total = 0;
    let at = 0;
    while (at < value.length) {
      unit.lastIndex = at;
      const m = unit.exec(value);
      if (!m) break;
      total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
      at = unit.lastIndex;
    }
    if (value.length > 0 && at === value.length) return Math.trunc(total + 1e-9);
  }
  throw invalid(field, value, 'whole seconds (an integer ≥ 0) or a duration such as "30s", "5m", "1h" or "1h30m"');
}

/**
 * The coxswain.io/promote annotation: "full" skips every remaining step; a non-negative integer N means
 * "promoted past the first N indefinite pauses". Absent → undefined. Throws CoxError InvalidField otherwise.
 */
export function parsePromote(value: string | undefined): Promote | undefined {
  if (value === undefined) return undefined;
  if (value === "full") return "full";
  if (/^[0-9]+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  throw new CoxError("InvalidField", `metadata.annotations["coxswain.io/promote"]: ${JSON.stringify(value)} is invalid; expected "full" or a non-negative integer`, {
    details: { field: 'metadata.annotations["coxswain.io/promote"]', value },
  });
}

/**
 * A Rollout's canary parameters, Argo's defaults applied: replicas 1, maxSurge 25%, maxUnavailable 25%
 * (ResolveFenceposts rounding, both 0 rejected), minReadySeconds 0, progressDeadlineSeconds 600,
 * revisionHistoryLimit 10; steps with setWeight 0–100, a pause (duration in seconds; none = until promoted) or
 * an analysis (DEFAULT_ANALYSIS for what it does not say).
 * Throws CoxError InvalidField on invalid values, or when the strategy is not canary.
 */
export function resolveCanaryParams(spec: RolloutSpec): { params: RolloutParams; steps: CanaryStepSpec[] } {
  const canary = spec.strategy?.canary;
  if (!canary) throw invalid("strategy.canary", undefined, "a canary strategy");
  const common = commonFields(spec);
  const paused = spec.paused ?? false;
  const { maxSurge, maxUnavailable } = resolveFenceposts("strategy.canary", canary.maxSurge ?? DEFAULT_MAX_SURGE, canary.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE, common.replicas);
  const steps: CanaryStepSpec[] = (canary.steps ?? []).map((step, i) => {
    const field = `strategy.canary.steps[${i}]`;
    const kinds = [step.setWeight, step.pause, step.analysis].filter((k) => k !== undefined).length;
    if (kinds !== 1) throw invalid(field, step, "exactly one of setWeight, pause or analysis");
    if (step.analysis !== undefined) return { analysis: resolveAnalysis(step.analysis, `${field}.analysis`) };
    if (step.setWeight !== undefined) {
      const w = step.setWeight;
      if (typeof w !== "number" || !Number.isSafeInteger(w) || w < 0 || w > 100) throw invalid(`${field}.setWeight`, w, "an integer from 0 to 100");
      return { setWeight: w };
    }
    const d = step.pause!.duration;
    return d === undefined ? { pause: {} } : { pause: { durationSeconds: parseDurationSeconds(d, `${field}.pause.duration`) } };
  });
  return {
    params: {
      replicas: common.replicas,
      maxSurge,
      maxUnavailable,
      minReadySeconds: common.minReadySeconds,
      progressDeadlineSeconds: common.progressDeadlineSeconds,
      paused,
      revisionHistoryLimit: common.revisionHistoryLimit,
      podReplacementPolicy: common.podReplacementPolicy,
    },
    steps,
  };
}

/** Defaults of a canary analysis step (crds/rollout.yaml, CanaryAnalysis). */
export const DEFAULT_ANALYSIS: Readonly<AnalysisSpec> = { intervalSeconds: 30, count: 3, failureLimit: 0, inconclusiveLimit: 0, minRequests: 20, successRateMin: 99 };

/** A canary analysis step with its defaults; throws CoxError InvalidField (naming `field`) on invalid values. */
function resolveAnalysis(a: CanaryAnalysis, field: string): AnalysisSpec {
  const intervalSeconds = a.interval === undefined ? DEFAULT_ANALYSIS.intervalSeconds : parseDurationSeconds(a.interval, `${field}.interval`);
  if (intervalSeconds < 1) throw invalid(`${field}.interval`, a.interval, "at least 1 second");
  const positive = (name: string, v: unknown): number => {
    const n = nonNegativeInt(`${field}.${name}`, v);
    if (n < 1) throw invalid(`${field}.${name}`, v, "an integer ≥ 1");
    return n;
  };
  const spec: AnalysisSpec = {
    intervalSeconds,
    count: positive("count", a.count ?? DEFAULT_ANALYSIS.count),
    failureLimit: nonNegativeInt(`${field}.failureLimit`, a.failureLimit ?? DEFAULT_ANALYSIS.failureLimit),
    inconclusiveLimit: nonNegativeInt(`${field}.inconclusiveLimit`, a.inconclusiveLimit ?? DEFAULT_ANALYSIS.inconclusiveLimit),
    minRequests: positive("minRequests", a.minRequests ?? DEFAULT_ANALYSIS.minRequests),
    successRateMin: a.successRate?.min ?? DEFAULT_ANALYSIS.successRateMin,
  };
  if (typeof spec.successRateMin !== "number" || !(spec.successRateMin >= 0 && spec.successRateMin <= 100)) {
    throw invalid(`${field}.successRate.min`, a.successRate?.min, "a percentage from 0 to 100");
  }
  const l = a.latencyP95;
  if (l !== undefined) {
    if (l.maxMs === undefined && l.maxRatio === undefined) throw invalid(`${field}.latencyP95`, l, "maxMs, maxRatio or both");
    if (l.maxMs !== undefined) positive("latencyP95.maxMs", l.maxMs);
    if (l.maxRatio !== undefined && !(typeof l.maxRatio === "number" && l.maxRatio > 0 && Number.isFinite(l.maxRatio))) throw invalid(`${field}.latencyP95.maxRatio`, l.maxRatio, "a number > 0");
    spec.latencyP95 = { ...(l.maxMs !== undefined ? { maxMs: l.maxMs } : {}), ...(l.maxRatio !== undefined ? { maxRatio: l.maxRatio } : {}) };
  }
  return spec;
}

/**
 * A Rollout's blue/green parameters, Argo's defaults applied: autoPromotionEnabled true, autoPromotionSeconds 0,
 * scaleDownDelaySeconds 30, previewReplicaCount unset (full replicas; a larger value is capped at replicas).
 * maxSurge and maxUnavailable are not used by blue/green (0). Throws CoxError InvalidField on invalid values,
 * or when the strategy is not blue/green.
 */
export function resolveBlueGreenParams(spec: RolloutSpec): { params: RolloutParams; blueGreen: BlueGreenParams } {
  const bg = spec.strategy?.blueGreen;
  if (!bg) throw invalid("strategy.blueGreen", undefined, "a blueGreen strategy");
  const common = commonFields(spec);
  const autoPromotionEnabled = bg.autoPromotionEnabled ?? true;
  if (typeof autoPromotionEnabled !== "boolean") throw invalid("strategy.blueGreen.autoPromotionEnabled", autoPromotionEnabled, "true or false");
  const autoPromotionSeconds = nonNegativeInt("strategy.blueGreen.autoPromotionSeconds", bg.autoPromotionSeconds ?? 0);
  const scaleDownDelaySeconds = nonNegativeInt("strategy.blueGreen.scaleDownDelaySeconds", bg.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS);
  const blueGreen: BlueGreenParams = { autoPromotionEnabled, autoPromotionSeconds, scaleDownDelaySeconds };
  if (bg.previewReplicaCount !== undefined) {
    blueGreen.previewReplicaCount = Math.min(common.replicas, nonNegativeInt("strategy.blueGreen.previewReplicaCount", bg.previewReplicaCount));
  }
  return {
    params: {
      replicas: common.replicas,
      maxSurge: 0,
      maxUnavailable: 0,
      minReadySeconds: common.minReadySeconds,
      progressDeadlineSeconds: common.progressDeadlineSeconds,
      paused: spec.paused ?? false,
      revisionHistoryLimit: common.revisionHistoryLimit,
      podReplacementPolicy: common.podReplacementPolicy,
    },
    blueGreen,
  };
}

/**
 * The failure policy of a workload: its progressDeadlineSeconds, and coxswain's defaults for the rest —
 * podStartDeadlineSeconds 300 (Nomad's healthy_deadline), maxFailureRatio 0 (Swarm), monitorSeconds 5 (Swarm) —
 * unless overridden. Throws CoxError InvalidArgument on negative or non-finite overrides, or a ratio above 1.
 */
export function resolveFailurePolicy(params: Pick<RolloutParams, "progressDeadlineSeconds">, overrides: Partial<Omit<FailurePolicy, "progressDeadlineSeconds">> = {}): FailurePolicy {
  const policy: FailurePolicy = {
    progressDeadlineSeconds: params.progressDeadlineSeconds,
    podStartDeadlineSeconds: overrides.podStartDeadlineSeconds ?? DEFAULT_POD_START_DEADLINE_SECONDS,
    maxFailureRatio: overrides.maxFailureRatio ?? DEFAULT_MAX_FAILURE_RATIO,
    monitorSeconds: overrides.monitorSeconds ?? DEFAULT_MONITOR_SECONDS,
  };
  for (const [k, v] of Object.entries(policy)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new CoxError("InvalidArgument", `failure policy ${k} is ${String(v)}; expected a number ≥ 0`);
    }
  }
  if (policy.maxFailureRatio > 1) throw new CoxError("InvalidArgument", `failure policy maxFailureRatio is ${policy.maxFailureRatio}; expected a ratio from 0 to 1`);
  return policy;
}
