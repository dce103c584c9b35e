/**
 * The rules of a HorizontalPodAutoscaler beyond its schema: what it may target (AUTOSCALE_TARGET_KINDS),
 * minReplicas ≤ maxReplicas, and the metrics coxswain can measure — Resource metrics of cpu and memory with
 * a Utilization or AverageValue target, as the engines report them. Whether the target exists in the commit
 * is a rule across objects (graph/autoscalers.ts).
 */
import { KINDS, type HorizontalPodAutoscaler, type Kind } from "../api/objects.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import { quantityOrIssue } from "./pod.js";

/**
 * The kinds an autoscaler may scale: workloads with spec.replicas that the workload controller runs. A kind
 * added here must also read the autoscaler's count (controllers/workload reads it in observe()).
 */
export const AUTOSCALE_TARGET_KINDS: readonly Kind[] = Object.freeze(["Deployment", "Rollout"]);

/** InvalidField and SchemaViolation errors of an autoscaler coxswain cannot run. */
export function autoscalerIssues(hpa: HorizontalPodAutoscaler): Issue[] {
  const issues: Issue[] = [];
  const { spec } = hpa;
  const ref = spec.scaleTargetRef;
  const targetKind = AUTOSCALE_TARGET_KINDS.find((k) => k === ref.kind);
  if (targetKind === undefined) {
    issues.push(
      fieldError("InvalidField", ["spec", "scaleTargetRef", "kind"], `coxswain scales ${AUTOSCALE_TARGET_KINDS.join(" or ")} only (got ${showValue(ref.kind)})`),
    );
  } else if (ref.apiVersion !== undefined && !KINDS[targetKind].apiVersions.includes(ref.apiVersion)) {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "scaleTargetRef", "apiVersion"],
        `a ${targetKind} is apiVersion ${KINDS[targetKind].apiVersions.join(" or ")} (got ${showValue(ref.apiVersion)})`,
      ),
    );
  }
  const min = spec.minReplicas ?? 1;
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
