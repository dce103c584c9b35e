/**
 * The status file of a HorizontalPodAutoscaler: autoscalers/<namespace>/<name>.yaml on the status branch,
 * with what Kubernetes' HPA status says — current and desired replicas, current metrics, the last scale
 * time, the conditions AbleToScale, ScalingActive and ScalingLimited — plus the last scaling reason and the
 * replica count in Git that the autoscaler overrides.
 *
 * Rendering is pure and deterministic (no clock). The file is read back after a restart
 * (readAutoscalerRecord): its desiredReplicas is the target's count until the autoscaler's next sync, so a
 * restart never drops the workload back to the count in Git.
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";
import type { Condition } from "../api/conditions.js";

/** autoscalers/<namespace>/<name>.yaml. */
export function autoscalerPath(namespace: string, name: string): string {
  return `autoscalers/${namespace}/${name}.yaml`;
}

/** One metric as the status shows it: the target and what was measured. */
export interface AutoscalerMetricRecord {
  /** cpu or memory. */
  resource: string;
  /** "Utilization 50%" or "AverageValue 100m". */
  target: string;
  /** The pods' average utilization in percent of their requests (Utilization targets). */
  averageUtilization?: number;
  /** The pods' average use: "120m" (cpu), "96Mi" (memory); absent when it could not be measured. */
  averageValue?: string;
}

/** What the status file of one autoscaler says. */
export interface AutoscalerRecord {
  /** Its key, HorizontalPodAutoscaler/<ns>/<name>. */
  autoscaler: string;
  /** The workload it scales (key). */
  target: string;
  minReplicas: number;
  maxReplicas: number;
  /** Pods of the target now (not stopping). */
  currentReplicas: number;
  /** The count the autoscaler set (the workload's replicas while it is targeted). */
  desiredReplicas: number;
  /** spec.replicas in Git, ignored while the autoscaler scales the workload. */
  gitReplicas: number;
  currentMetrics: AutoscalerMetricRecord[];
  /** ISO time of the last change of the count, and why (Kubernetes' rescale reason). */
  lastScaleTime?: string;
  lastScaleReason?: string;
  conditions: Condition[];
  /** One line for people. */
  message: string;
}

/** The YAML text of an autoscaler's status file. */
export function renderAutoscalerRecord(r: AutoscalerRecord): string {
  return stringify(
    {
      autoscaler: r.autoscaler,
      target: r.target,
      minReplicas: r.minReplicas,
      maxReplicas: r.maxReplicas,
      currentReplicas: r.currentReplicas,
      desiredReplicas: r.desiredReplicas,
      gitReplicas: r.gitReplicas,
      currentMetrics: r.currentMetrics,
      ...(r.lastScaleTime !== undefined ? { lastScaleTime: r.lastScaleTime } : {}),
      ...(r.lastScaleReason !== undefined ? { lastScaleReason: r.lastScaleReason } : {}),
      conditions: r.conditions,
      message: r.message,
    },
    { lineWidth: 0 },
  );
}

/** The whole record of a status file (for `coxswain status`); undefined when it is absent or not one (status/schemas.ts). */
export function readAutoscalerStatus(text: string): AutoscalerRecord | undefined {
  const d = statusRecordOrUndefined("autoscaler", text) as unknown as Partial<AutoscalerRecord> & Pick<AutoscalerRecord, "autoscaler" | "target" | "desiredReplicas">;
  if (!d) return undefined;
  return {
    autoscaler: d.autoscaler,
    target: d.target,
    minReplicas: d.minReplicas ?? 1,
    maxReplicas: d.maxReplicas ?? 0,
    currentReplicas: d.currentReplicas ?? 0,
    desiredReplicas: d.desiredReplicas,
    gitReplicas: d.gitReplicas ?? 0,
    currentMetrics: d.currentMetrics ?? [],
    ...(d.lastScaleTime !== undefined ? { lastScaleTime: d.lastScaleTime } : {}),
    ...(d.lastScaleReason !== undefined ? { lastScaleReason: d.lastScaleReason } : {}),
    conditions: d.conditions ?? [],
    message: d.message ?? "",
  };
}

/** What a status file says that a restart needs; empty when it is absent or not one (status/schemas.ts). */
export function readAutoscalerRecord(text: string): { target?: string; desiredReplicas?: number; lastScaleTime?: string; lastScaleReason?: string; conditions?: Condition[] } {
  const r = readAutoscalerStatus(text);
  if (!r) return {};
  return {
    target: r.target,
    desiredReplicas: r.desiredReplicas,
    ...(r.lastScaleTime !== undefined ? { lastScaleTime: r.lastScaleTime } : {}),
    ...(r.lastScaleReason !== undefined ? { lastScaleReason: r.lastScaleReason } : {}),
    conditions: r.conditions,
  };
}
