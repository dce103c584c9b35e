/**
 * One sync of a HorizontalPodAutoscaler, as Kubernetes' HPA controller does it (reconcileAutoscaler in
 * pkg/controller/podautoscaler/horizontal.go), pure: the target's replica count, its pods' samples, the
 * time and what was remembered from earlier syncs in; the replica count, the reason, the conditions and the
 * memory for the next sync out.
 *
 * - spec.replicas 0 turns autoscaling off (ScalingActive=False ScalingDisabled); a count above maxReplicas
 *   or below minReplicas is brought back into range first, without measuring.
 * - Otherwise every metric proposes a count (replicas.ts) and the highest wins. All metrics invalid, or
 *   some invalid while the others would scale down: nothing changes (ScalingActive=False
 *   FailedGetResourceMetric).
 * - The proposal is stabilized: scaling up takes the lowest recommendation of the scale-up window (0 s by
 *   default), scaling down the highest of the scale-down window (300 s); the first sync seeds that window
 *   with the current count, so a restart does not scale down at once (AbleToScale's reason says which).
 * - Then rate-limited by the direction's policies (Pods, Percent; per periodSeconds, counting the changes
 *   made in that period; selectPolicy Max, Min or Disabled) and clamped to [minReplicas, maxReplicas]
 *   (ScalingLimited says by what: ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas).
 */
import { setCondition, type Condition } from "../api/conditions.js";
import type { HorizontalPodAutoscalerBehavior, HPAScalingRules } from "../api/generated/index.js";
import type { HorizontalPodAutoscaler } from "../api/objects.js";
import { parseCpu, parseMemory } from "../api/quantity.js";
import { DEFAULT_TOLERANCE, metricReplicas, type ResolvedMetric, type ScalePod } from "./replicas.js";

/** A direction's scaling rules with Kubernetes' defaults filled in. */
export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: "Max" | "Min" | "Disabled";
  policies: { type: "Pods" | "Percent"; value: number; periodSeconds: number }[];
}

/** Kubernetes' default scale-up: no stabilization, max(4 pods, 100 %) per 15 s. */
const DEFAULT_SCALE_UP: ScalingRules = Object.freeze({
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Pods", value: 4, periodSeconds: 15 },
    { type: "Percent", value: 100, periodSeconds: 15 },
  ],
}) as ScalingRules;

/** Kubernetes' default scale-down: the highest recommendation of 300 s, 100 % per 15 s. */
const DEFAULT_SCALE_DOWN: ScalingRules = Object.freeze({
  stabilizationWindowSeconds: 300,
  selectPolicy: "Max",
  policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
}) as ScalingRules;

/** Both directions' rules. */
export interface ResolvedBehavior {
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** spec.behavior with Kubernetes' defaults filled in per direction and per field. */
export function resolveBehavior(b: HorizontalPodAutoscalerBehavior | undefined): ResolvedBehavior {
  const one = (r: HPAScalingRules | undefined, d: ScalingRules): ScalingRules => ({
    stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? d.stabilizationWindowSeconds,
    selectPolicy: r?.selectPolicy ?? d.selectPolicy,
    policies: (r?.policies ?? d.policies).map((p) => ({ ...p })),
  });
  return { scaleUp: one(b?.scaleUp, DEFAULT_SCALE_UP), scaleDown: one(b?.scaleDown, DEFAULT_SCALE_DOWN) };
}

/** Kubernetes' default metric when spec.metrics is left out: cpu at 80 % of the requests. */
const DEFAULT_METRIC: ResolvedMetric = Object.freeze({ resource: "cpu", type: "Utilization", averageUtilization: 80 });

/**
 * spec.metrics as numbers (averageValue in millicores or bytes), DEFAULT_METRIC when absent. Only what
 * manifest/autoscaler.ts accepts reaches it (Resource metrics with their target's value).
 */
export function resolveMetrics(hpa: HorizontalPodAutoscaler): ResolvedMetric[] {
  const metrics = hpa.spec.metrics;
  if (metrics === undefined || metrics.length === 0) return [{ ...DEFAULT_METRIC }];
  return metrics.flatMap((m): ResolvedMetric[] => {
    const r = m.resource;
    if (m.type !== "Resource" || r === undefined) return [];
    if (r.target.type === "Utilization") return [{ resource: r.name, type: "Utilization", averageUtilization: r.target.averageUtilization ?? 0 }];
    const v = r.target.averageValue ?? 0;
    return [{ resource: r.name, type: "AverageValue", averageValue: r.name === "cpu" ? parseCpu(v) : parseMemory(v) }];
  });
}

/** What an autoscaler remembers between syncs (in memory, as Kubernetes does). */
export interface AutoscalerMemory {
  /** Unstabilized recommendations of the last syncs (within the longer window). */
  recommendations: { replicas: number; at: number }[];
  /** Changes made (replicas added / removed) within the longest policy period of each direction. */
  scaleUpEvents: { change: number; at: number }[];
  scaleDownEvents: { change: number; at: number }[];
}

/** Input of decideScale. */
export interface ScaleInput {
  minReplicas: number;
  maxReplicas: number;
  metrics: readonly ResolvedMetric[];
  behavior: ResolvedBehavior;
  /** The target's replica count now (Kubernetes: the scale subresource's spec.replicas). */
  currentReplicas: number;
  pods: readonly ScalePod[];
  now: number;
  /** undefined at the first sync of this autoscaler. */
  memory: AutoscalerMemory | undefined;
  /** The conditions as last decided (transition times are kept while a status holds). */
  conditions: readonly Condition[];
  tolerance?: number;
}

/** A metric's target and what was measured (absent when it could not be). */
export interface MetricStatus {
  metric: ResolvedMetric;
  current?: { averageUtilization?: number; averageValue: number };
}

/** The outcome of one sync. */
export interface ScaleDecision {
  desiredReplicas: number;
  /** Why the count changes ("cpu resource utilization (percentage of request) above target"); only when it does. */
  reason?: string;
  metrics: MetricStatus[];
  /** AbleToScale, ScalingActive, ScalingLimited (those this sync decided; the others as they were). */
  conditions: Condition[];
  memory: AutoscalerMemory;
}

/** Kubernetes' name of a metric in reasons and messages. */
function metricName(m: ResolvedMetric): string {
  return m.type === "Utilization" ? `${m.resource} resource utilization (percentage of request)` : `${m.resource} resource`;
}

/** One sync; see the module comment. */
export function decideScale(input: ScaleInput): ScaleDecision {
  const { minReplicas, maxReplicas, behavior, currentReplicas, now } = input;
  const at = new Date(now);
  let conditions = setCondition(input.conditions, { type: "AbleToScale", status: "True", reason: "SucceededGetScale", message: "the HPA controller was able to get the target's current scale" }, at);
  const set = (type: string, status: "True" | "False", reason: string, message: string): void => {
    conditions = setCondition(conditions, { type, status, reason, message }, at);
  };
  const memory: AutoscalerMemory = input.memory
    ? { recommendations: [...input.memory.recommendations], scaleUpEvents: [...input.memory.scaleUpEvents], scaleDownEvents: [...input.memory.scaleDownEvents] }
    : { recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };
  const statuses: MetricStatus[] = input.metrics.map((metric) => ({ metric }));
  const result = (desired: number, reason: string | undefined): ScaleDecision => {
    if (desired !== currentReplicas) {
      recordEvent(memory, behavior, currentReplicas, desired, now);
      set("AbleToScale", "True", "SucceededRescale", `the HPA controller was able to update the target scale to ${desired}`);
    }
    return { desiredReplicas: desired, ...(desired !== currentReplicas && reason !== undefined ? { reason } : {}), metrics: statuses, conditions, memory };
  };

  if (currentReplicas === 0 && minReplicas !== 0) {
    set("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
    return result(currentReplicas, undefined);
  }
  if (currentReplicas > maxReplicas) return result(maxReplicas, "Current number of replicas above Spec.MaxReplicas");
  if (currentReplicas < minReplicas) return result(minReplicas, "Current number of replicas below Spec.MinReplicas");

  let proposal = 0;
  let proposer: string | undefined;
  let invalid: string | undefined;
  let invalidCount = 0;
  input.metrics.forEach((metric, i) => {
    const r = metricReplicas(metric, currentReplicas, input.pods, now, input.tolerance ?? DEFAULT_TOLERANCE);
    if ("invalid" in r) {
      invalidCount++;
      invalid ??= `${metricName(metric)}: ${r.invalid}`;
      return;
    }
    statuses[i]!.current = r.current;
    if (proposer === undefined || r.replicas > proposal) {
      proposal = r.replicas;
      proposer = metricName(metric);
    }
  });
  if (invalidCount >= input.metrics.length || (invalidCount > 0 && proposal < currentReplicas)) {
    set("ScalingActive", "False", "FailedGetResourceMetric", `the HPA was unable to compute the replica count: ${invalid}`);
    return result(currentReplicas, undefined);
  }
  set("ScalingActive", "True", "ValidMetricFound", `the HPA was able to successfully calculate a replica count from ${proposer}`);
  const reason = proposal > currentReplicas ? `${proposer} above target` : proposal < currentReplicas ? "All metrics below target" : undefined;

  // Stabilization (the first sync seeds the scale-down window with the current count).
  if (input.memory === undefined && behavior.scaleDown.stabilizationWindowSeconds > 0) memory.recommendations.push({ replicas: currentReplicas, at: now });
  const upCutoff = now - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  let up = proposal;
  let down = proposal;
  for (const rec of memory.recommendations) {
    if (rec.at > upCutoff) up = Math.min(up, rec.replicas);
    if (rec.at > downCutoff) down = Math.max(down, rec.replicas);
  }
  let stabilized = Math.min(Math.max(currentReplicas, up), down);
  memory.recommendations = memory.recommendations.filter((r) => r.at >= upCutoff || r.at >= downCutoff);
  memory.recommendations.push({ replicas: proposal, at: now });
  if (stabilized !== proposal) {
    if (proposal >= currentReplicas) set("AbleToScale", "True", "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation");
    else set("AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
  } else set("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");

  // Rate limits and bounds.
  const limited = limitRate(stabilized, currentReplicas, minReplicas, maxReplicas, memory, behavior, now);
  set("ScalingLimited", limited.replicas === stabilized ? "False" : "True", limited.reason, limited.message);
  stabilized = limited.replicas;
  return result(stabilized, reason);
}

/** Kubernetes' convertDesiredReplicasWithBehaviorRate: the count allowed by the policies and the bounds. */
function limitRate(desired: number, current: number, min: number, max: number, memory: AutoscalerMemory, behavior: ResolvedBehavior, now: number): { replicas: number; reason: string; message: string } {
  if (desired > current) {
    const limit = Math.max(current, scaleLimit("up", current, memory, behavior.scaleUp, now));
    const allowed = Math.min(max, limit);
    const [reason, message] =
      max > limit ? ["ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"] : ["TooManyReplicas", "the desired replica count is more than the maximum replica count"];
    if (desired > allowed) return { replicas: allowed, reason, message };
  } else if (desired < current) {
    const limit = Math.min(current, scaleLimit("down", current, memory, behavior.scaleDown, now));
    const allowed = Math.max(min, limit);
    const [reason, message] =
      min < limit ? ["ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"] : ["TooFewReplicas", "the desired replica count is less than the minimum replica count"];
    if (desired < allowed) return { replicas: allowed, reason, message };
  }
  return { replicas: desired, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" };
}

/** Kubernetes' calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors. */
function scaleLimit(dir: "up" | "down", current: number, memory: AutoscalerMemory, rules: ScalingRules, now: number): number {
  if (rules.selectPolicy === "Disabled") return current;
  // Up: Max takes the highest proposal, Min the lowest; down: Max (the biggest change) the lowest count.
  const pickHighest = (dir === "up") === (rules.selectPolicy === "Max");
  let result = pickHighest ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const p of rules.policies) {
    const since = now - p.periodSeconds * 1000;
    const added = memory.scaleUpEvents.filter((e) => e.at > since).reduce((s, e) => s + e.change, 0);
    const removed = memory.scaleDownEvents.filter((e) => e.at > since).reduce((s, e) => s + e.change, 0);
    const periodStart = current - added + removed;
    const proposed = dir === "up" ? (p.type === "Pods" ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100))) : p.type === "Pods" ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
    result = pickHighest ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/** Kubernetes' storeScaleEvent: the change, kept while the direction's longest policy period covers it. */
function recordEvent(memory: AutoscalerMemory, behavior: ResolvedBehavior, from: number, to: number, now: number): void {
  const keep = (rules: ScalingRules, events: { change: number; at: number }[]): { change: number; at: number }[] => {
    const longest = Math.max(0, ...rules.policies.map((p) => p.periodSeconds)) * 1000;
    return events.filter((e) => e.at > now - longest);
  };
  if (to > from) memory.scaleUpEvents = [...keep(behavior.scaleUp, memory.scaleUpEvents), { change: to - from, at: now }];
  else memory.scaleDownEvents = [...keep(behavior.scaleDown, memory.scaleDownEvents), { change: from - to, at: now }];
}
