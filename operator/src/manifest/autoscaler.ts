/**
 * The rules of a HorizontalPodAutoscaler beyond its schema: what it may target (AUTOSCALE_TARGET_KINDS),
 * minReplicas ≤ maxReplicas, and the metrics coxswain can measure — Resource metrics of cpu and memory with
 * a Utilization or AverageValue target, as the engines report them. Whether the target exists in the commit
 * is a rule across objects (graph/autoscalers.ts).
 */
import { KINDS, type Deployment, type HorizontalPodAutoscaler, type ReplicaSet, type ReplicationController, type Rollout, type StatefulSet } from "../api/objects.js";
import { fieldError, listOf, showValue, type Issue } from "./issue.js";
import { quantityOrIssue } from "./pod.js";
import { MAX_REPLICAS } from "./workload.js";

/** What an autoscaler may scale: a workload with a scale subresource (spec.replicas) that coxswain runs. */
export type ScaleTarget = Deployment | ReplicaSet | ReplicationController | Rollout | StatefulSet;

/**
 * The kinds an autoscaler may scale, sorted: those with Kubernetes' scale subresource among the kinds coxswain
 * runs (a DaemonSet, Job, CronJob or bare Pod has none). Each one's controller reads the autoscaler's count
 * through ReplicaCountPort (controllers/workload and controllers/statefulset, where they observe the object).
 */
export const AUTOSCALE_TARGET_KINDS: readonly ScaleTarget["kind"][] = Object.freeze(["Deployment", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);

/** Whether an object is of a kind an autoscaler may scale. */
export function isScaleTarget(obj: { kind: string }): obj is ScaleTarget {
  return (AUTOSCALE_TARGET_KINDS as readonly string[]).includes(obj.kind);
}

/** InvalidField and SchemaViolation errors of an autoscaler coxswain cannot run. */
export function autoscalerIssues(hpa: HorizontalPodAutoscaler): Issue[] {
  const issues: Issue[] = [];
  const { spec } = hpa;
  const ref = spec.scaleTargetRef;
  const targetKind = AUTOSCALE_TARGET_KINDS.find((k) => k === ref.kind);
  if (targetKind === undefined) {
    issues.push(fieldError("InvalidField", ["spec", "scaleTargetRef", "kind"], `coxswain scales a ${listOf(AUTOSCALE_TARGET_KINDS)} only: the kinds with a scale subresource (got ${showValue(ref.kind)})`));
  } else if (ref.apiVersion !== undefined && !KINDS[targetKind].apiVersions.includes(ref.apiVersion)) {
    issues.push(fieldError("InvalidField", ["spec", "scaleTargetRef", "apiVersion"], `a ${targetKind} is apiVersion ${KINDS[targetKind].apiVersions.join(" or ")} (got ${showValue(ref.apiVersion)})`));
  }
  const min = spec.minReplicas ?? 1;
  if (spec.maxReplicas > MAX_REPLICAS) {
    issues.push(fieldError("InvalidField", ["spec", "maxReplicas"], `must be at most ${MAX_REPLICAS.toLocaleString("en-US")}, the most pods coxswain runs of one workload (got ${spec.maxReplicas})`));
  }
  if (spec.maxReplicas < min) {
    issues.push(fieldError("InvalidField", ["spec", "maxReplicas"], `must be at least minReplicas (${min}), as in Kubernetes (got ${spec.maxReplicas})`));
  }
  (spec.metrics ?? []).forEach((m, i) => {
    const path = ["spec", "metrics", i];
    if (m.type !== "Resource") {
      issues.push(fieldError("SchemaViolation", [...path, "type"], `${showValue(m.type)} is not supported by coxswain: it has no metrics API for it; use Resource (cpu or memory)`));
      return;
    }
    if (m.resource === undefined) {
      issues.push(fieldError("InvalidField", [...path, "resource"], 'missing: a metric of type Resource needs "resource" (name cpu or memory, and a target)'));
      return;
    }
    const { name, target } = m.resource;
    const tpath = [...path, "resource", "target"];
    if (target.type === "Utilization") {
      if (target.averageUtilization === undefined) issues.push(fieldError("InvalidField", [...tpath, "averageUtilization"], "missing: a Utilization target needs averageUtilization (percent of the pods' requests)"));
      if (target.averageValue !== undefined) issues.push(fieldError("InvalidField", [...tpath, "averageValue"], "must be absent for a Utilization target (use averageUtilization)"));
    } else if (target.type === "AverageValue") {
      if (target.averageValue === undefined) issues.push(fieldError("InvalidField", [...tpath, "averageValue"], `missing: an AverageValue target needs averageValue (a ${name} quantity per pod)`));
      else {
        const v = quantityOrIssue(name, target.averageValue, [...tpath, "averageValue"], issues);
        if (v === 0) issues.push(fieldError("InvalidField", [...tpath, "averageValue"], "must be more than 0"));
      }
      if (target.averageUtilization !== undefined) issues.push(fieldError("InvalidField", [...tpath, "averageUtilization"], "must be absent for an AverageValue target (use averageValue)"));
    } else {
      issues.push(fieldError("InvalidField", [...tpath, "type"], `"Value" is not valid for a Resource metric (as in Kubernetes): expected Utilization or AverageValue`));
    }
  });
  return issues;
}
