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
import { parse, stringify } from "yaml";
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

/** The whole record of a status file (for `coxswain status`); undefined when it is not one. */
export function readAutoscalerStatus(text: string): AutoscalerRecord | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== "object") return undefined;
  const d = doc as Partial<AutoscalerRecord>;
  if (typeof d.autoscaler !== "string" || typeof d.target !== "string" || typeof d.desiredReplicas !== "number") return undefined;
  return {
    autoscaler: d.autoscaler,
    target: d.target,
    minReplicas: Number(d.minReplicas ?? 1),
    maxReplicas: Number(d.maxReplicas ?? 0),
    currentReplicas: Number(d.currentReplicas ?? 0),
    desiredReplicas: d.desiredReplicas,
    gitReplicas: Number(d.gitReplicas ?? 0),
    currentMetrics: Array.isArray(d.currentMetrics) ? d.currentMetrics : [],
    ...(typeof d.lastScaleTime === "string" ? { lastScaleTime: d.lastScaleTime } : {}),
    ...(typeof d.lastScaleReason === "string" ? { lastScaleReason: d.lastScaleReason } : {}),
    conditions: Array.isArray(d.conditions) ? d.conditions : [],
    message: typeof d.message === "string" ? d.message : "",
  };
}

/** What a status file says that a restart needs; empty when it cannot be read. */
export function readAutoscalerRecord(text: string): { target?: string; desiredReplicas?: number; lastScaleTime?: string; lastScaleReason?: string; conditions?: Condition[] } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return {};
  }
  if (doc === null || typeof doc !== "object") return {};
  const d = doc as Record<string, unknown>;
  return {
    ...(typeof d.target === "string" ? { target: d.target } : {}),
    ...(typeof d.desiredReplicas === "number" && Number.isInteger(d.desiredReplicas) && d.desiredReplicas >= 0 ? { desiredReplicas: d.desiredReplicas } : {}),
    ...(typeof d.lastScaleTime === "string" ? { lastScaleTime: d.lastScaleTime } : {}),
    ...(typeof d.lastScaleReason === "string" ? { lastScaleReason: d.lastScaleReason } : {}),
    ...(Array.isArray(d.conditions) ? { conditions: d.conditions as Condition[] } : {}),
  };
}
