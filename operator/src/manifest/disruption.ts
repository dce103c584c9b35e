/**
 * The rules of a PodDisruptionBudget beyond its schema, as Kubernetes' ValidatePodDisruptionBudgetSpec:
 * minAvailable and maxUnavailable are mutually exclusive, each a whole number ≥ 0 or a percentage of at
 * most 100%, and the selector's expressions are well formed.
 */
import type { PodDisruptionBudget } from "../api/objects.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import { selectorIssues } from "./selector.js";

/** InvalidField errors of a budget Kubernetes would refuse. */
export function disruptionBudgetIssues(pdb: PodDisruptionBudget): Issue[] {
  const issues: Issue[] = [];
  const spec = pdb.spec;
  if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined) {
    issues.push(fieldError("InvalidField", ["spec", "maxUnavailable"], "minAvailable and maxUnavailable cannot be both set (as in Kubernetes): keep one of them"));
  }
  for (const field of ["minAvailable", "maxUnavailable"] as const) {
    const v = spec[field];
    if (v === undefined) continue;
    if (typeof v === "number" && !Number.isInteger(v)) {
      issues.push(fieldError("InvalidField", ["spec", field], `must be a whole number or a percentage like "50%" (got ${showValue(v)})`));
    } else if (typeof v === "string" && Number(v.slice(0, -1)) > 100) {
      issues.push(fieldError("InvalidField", ["spec", field], `must not be greater than 100% (got ${showValue(v)})`));
    }
  }
  if (spec.selector) issues.push(...selectorIssues(spec.selector, ["spec", "selector"]));
  return issues;
}
