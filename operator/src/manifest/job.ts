/**
 * Rules and defaults of the Job kind (Kubernetes' batch/v1 validation) beyond its schema. The pod template's
 * own rules are in pod.ts; what a Job does is rollout/job.ts and controllers/job/.
 */
import type { Job } from "../api/objects.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import { dropIgnoredPodFields, podTemplateIssues } from "./pod.js";
import { selectorIssues, unmetRequirements } from "./selector.js";
import { defaultRequestsFromLimits } from "./workload.js";

/** Rules for a Job beyond its schema. */
export function jobIssues(job: Job): Issue[] {
  const issues: Issue[] = [];
  const spec = job.spec;
  const policy = spec.template.spec.restartPolicy;
  if (policy !== "OnFailure" && policy !== "Never") {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "template", "spec", "restartPolicy"],
        `must be OnFailure or Never for a Job (as in Kubernetes: its pods run to completion) (got ${policy === undefined ? "nothing: Always is the default" : showValue(policy)})`,
      ),
    );
  }
  if (spec.selector !== undefined) {
    const bad = selectorIssues(spec.selector, ["spec", "selector"]);
    issues.push(...bad);
    const unmet = bad.length === 0 ? unmetRequirements(spec.selector, spec.template.metadata.labels) : [];
    if (unmet.length > 0) {
      issues.push(fieldError("InvalidField", ["spec", "template", "metadata", "labels"], `selector does not match template labels: unmet: ${unmet.join(", ")}`));
    }
  }
  issues.push(...podTemplateIssues(spec.template, ["spec", "template"]));
  return issues;
}

/**
 * Defaults a JSON schema cannot express, in place: the template's ignored fields dropped as for every pod
 * template (pod.ts) — but its restartPolicy kept, which decides what the kubelet does with the Job's pods —,
 * and requests from limits (as for workloads).
 */
export function applyJobDefaults(job: Job): void {
  const policy = job.spec.template.spec.restartPolicy;
  dropIgnoredPodFields(job.spec.template);
  if (policy !== undefined) job.spec.template.spec.restartPolicy = policy;
  defaultRequestsFromLimits(job.spec.template);
}
