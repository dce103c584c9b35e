/**
 * Kubernetes' replica calculator for Resource metrics (pkg/controller/podautoscaler/replica_calculator.go),
 * pure: one metric's usage per pod in, the replica count it asks for out.
 *
 *   desired = ceil(currentReplicas × currentValue / targetValue), nothing when |1 − ratio| ≤ tolerance (0.1)
 *
 * Pods are grouped as Kubernetes groups them: a stopping or failed pod is ignored; a Pending pod is unready;
 * a pod without a sample is missing; for cpu, a pod not ready during its first 300 s (or whose sample began
 * before it became ready), or not ready and never ready since, is unready too. The ratio is computed over
 * the ready pods with samples; then, when pods are missing or (scaling up) unready, it is computed again
 * conservatively — missing pods at 100 % of their request (or the target, when higher) on a scale-down and
 * at 0 on a scale-up, unready pods at 0 on a scale-up — and nothing changes when that second ratio is within
 * the tolerance or points the other way. Utilization is usage / requests in whole percent (truncated, as
 * Kubernetes' integer arithmetic does); a pod with a container that requests none of the resource makes the
 * metric invalid (Kubernetes' "missing request for cpu").
 */

/** Kubernetes' default tolerance (--horizontal-pod-autoscaler-tolerance). */
export const DEFAULT_TOLERANCE = 0.1;

/** Kubernetes' --horizontal-pod-autoscaler-cpu-initialization-period: 5 minutes. */
export const CPU_INITIALIZATION_PERIOD_MS = 300_000;

/** A resource an autoscaler measures. */
export type ScaledResource = "cpu" | "memory";

/** One metric of an autoscaler, with its target resolved to numbers. */
export type ResolvedMetric =
  | { resource: ScaledResource; type: "Utilization"; averageUtilization: number }
  /** averageValue in millicores (cpu) or bytes (memory) per pod. */
  | { resource: ScaledResource; type: "AverageValue"; averageValue: number };

/** A pod of the target as the calculator sees it. */
export interface ScalePod {
  name: string;
  /** Stopping or failed pods are ignored; Pending ones are unready. */
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Terminating";
  ready: boolean;
  /** Epoch ms of the pod's start (its first container's); undefined while it never started. */
  startedAt?: number;
  /** Epoch ms since when it has been ready; undefined while not ready. */
  readySince?: number;
  /** It was ready at some point since it started. */
  everReady: boolean;
  /**
   * The pod's usage over the last sampling window: cpu in millicores (a rate), memory in bytes (working
   * set); a resource left out has no sample yet (the pod is "missing").
   */
  usage: Partial<Record<ScaledResource, number>>;
  /** Epoch ms at which the usage window began (the earlier of its two samples). */
  windowStart?: number;
  /**
   * Sum of the containers' requests (millicores, bytes); a resource left out is one some container
   * requests none of.
   */
  requests: Partial<Record<ScaledResource, number>>;
}

/** What one metric says. */
export type MetricReplicas =
  | {
      replicas: number;
      /** The measured average: utilization in percent (Utilization) and the average value per pod (both). */
      current: { averageUtilization?: number; averageValue: number };
    }
  | {
      /** Kubernetes' reason on ScalingActive=False: FailedGetResourceMetric. */
      invalid: string;
    };

/** The replica count `metric` asks for, given `currentReplicas` (the target's spec.replicas) and its pods. */
export function metricReplicas(metric: ResolvedMetric, currentReplicas: number, pods: readonly ScalePod[], now: number, tolerance = DEFAULT_TOLERANCE): MetricReplicas {
  const res = metric.resource;
  if (pods.length === 0) return { invalid: "no pods of the target: there is nothing to measure" };
  const metrics = new Map<string, number>();
  const unready: ScalePod[] = [];
  const missing: ScalePod[] = [];
  let readyCount = 0;
  const considered: ScalePod[] = [];
  for (const p of pods) {
    if (p.phase === "Terminating" || p.phase === "Failed") continue;
    considered.push(p);
    if (p.phase === "Pending") {
      unready.push(p);
      continue;
    }
    const usage = p.usage[res];
    if (usage === undefined) {
      missing.push(p);
      continue;
    }
    if (res === "cpu" && cpuUnready(p, now)) {
      unready.push(p);
      continue;
    }
    metrics.set(p.name, usage);
    readyCount++;
  }
  const requests = new Map<string, number>();
  if (metric.type === "Utilization") {
    for (const p of considered) {
      const r = p.requests[res];
      if (r === undefined || r <= 0) return { invalid: `missing request for ${res} in a container of pod ${p.name}: Utilization needs every container's ${res} request` };
      requests.set(p.name, r);
    }
  }
  if (metrics.size === 0) return { invalid: "did not receive metrics for any ready pod of the target (pods might be unready, or too new to have two samples)" };

  const ratioOf = (m: Map<string, number>): { ratio: number; utilization?: number; average: number } => {
    let total = 0;
    for (const v of m.values()) total += v;
    const average = Math.trunc(total / m.size);
    if (metric.type === "AverageValue") return { ratio: average / metric.averageValue, average };
    let req = 0;
    for (const name of m.keys()) req += requests.get(name) ?? 0;
    const utilization = Math.trunc((total * 100) / req);
    return { ratio: utilization / metric.averageUtilization, utilization, average };
  };
  const first = ratioOf(metrics);
  const current = { ...(first.utilization !== undefined ? { averageUtilization: first.utilization } : {}), averageValue: first.average };
  const ratio = first.ratio;
  const scaleUpWithUnready = unready.length > 0 && ratio > 1;
  if (!scaleUpWithUnready && missing.length === 0) {
    if (Math.abs(1 - ratio) <= tolerance) return { replicas: currentReplicas, current };
    return { replicas: Math.ceil(ratio * readyCount), current };
  }
  if (missing.length > 0) {
    for (const p of missing) {
      if (ratio < 1) {
        // On a scale-down a missing pod counts as using all it asked for (or the target, when above 100 %).
        metrics.set(p.name, metric.type === "AverageValue" ? metric.averageValue : Math.trunc((requests.get(p.name)! * Math.max(100, metric.averageUtilization)) / 100));
      } else if (ratio > 1) metrics.set(p.name, 0);
    }
  }
  if (scaleUpWithUnready) for (const p of unready) metrics.set(p.name, 0);
  const second = ratioOf(metrics).ratio;
  if (Math.abs(1 - second) <= tolerance || (ratio < 1 && second > 1) || (ratio > 1 && second < 1)) return { replicas: currentReplicas, current };
  const replicas = Math.ceil(second * metrics.size);
  if ((second < 1 && replicas > currentReplicas) || (second > 1 && replicas < currentReplicas)) return { replicas: currentReplicas, current };
  return { replicas, current };
}

/** Kubernetes' test for a cpu sample that does not count: the pod is (still) unready by its readiness. */
function cpuUnready(p: ScalePod, now: number): boolean {
  if (p.startedAt === undefined) return true;
  if (p.startedAt + CPU_INITIALIZATION_PERIOD_MS > now) {
    // Still initializing: not ready, or the sample began before it became ready.
    return !p.ready || (p.readySince !== undefined && p.windowStart !== undefined && p.windowStart < p.readySince);
  }
  // Later: only a pod that has never been ready since its start is unready.
  return !p.ready && !p.everReady;
}
