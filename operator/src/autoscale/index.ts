/**
 * The HorizontalPodAutoscaler's decisions, pure: one metric's replica count (replicas.ts) and one sync with
 * stabilization, rate limits and conditions (decide.ts). controllers/autoscaler measures and applies.
 */
export {
  DEFAULT_METRIC,
  DEFAULT_SCALE_DOWN,
  DEFAULT_SCALE_UP,
  decideScale,
  metricName,
  resolveBehavior,
  resolveMetrics,
  type AutoscalerMemory,
  type MetricStatus,
  type ResolvedBehavior,
  type ScaleDecision,
  type ScaleInput,
  type ScalingRules,
} from "./decide.js";
export { CPU_INITIALIZATION_PERIOD_MS, DEFAULT_TOLERANCE, metricReplicas, type MetricReplicas, type ResolvedMetric, type ScalePod, type ScaledResource } from "./replicas.js";
