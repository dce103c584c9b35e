/**
 * The HorizontalPodAutoscaler's decisions, pure: one metric's replica count (replicas.ts) and one sync with
 * stabilization, rate limits and conditions (decide.ts). controllers/autoscaler measures and applies.
 */
export { decideScale, resolveBehavior, resolveMetrics, type AutoscalerMemory, type MetricStatus, type ScaleInput } from "./decide.js";
export { CPU_INITIALIZATION_PERIOD_MS, metricReplicas, type ResolvedMetric, type ScalePod } from "./replicas.js";
