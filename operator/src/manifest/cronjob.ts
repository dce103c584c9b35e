/**
 * Rules and defaults of the CronJob kind (Kubernetes' batch/v1 validation) beyond its schema. The schedule and
 * time zone are read by the decision's own parser (rollout/cronjob.ts), so what validation accepts is what the
 * controller runs; the jobTemplate is checked as a Job is (job.ts), at its place under spec.jobTemplate.
 */
import { cronJobAsJob, type CronJob } from "../api/objects.js";
import { parseSchedule } from "../api/schedule.js";
import { fieldError, type Issue } from "./issue.js";
import { applyJobDefaults, jobIssues } from "./job.js";

/** Rules for a CronJob beyond its schema. */
export function cronJobIssues(cj: CronJob): Issue[] {
  const issues: Issue[] = [];
  const parsed = parseSchedule(cj.spec.schedule, cj.spec.timeZone);
  if ("error" in parsed) {
    // parseSchedule checks the time zone before the fields: its error names the one at fault.
    issues.push(fieldError("InvalidField", ["spec", parsed.error.startsWith("unknown time zone") ? "timeZone" : "schedule"], parsed.error));
  }
  // The jobTemplate is a Job's spec: its issues, at their path under spec.jobTemplate.
  for (const issue of jobIssues(cronJobAsJob(cj))) issues.push({ ...issue, path: ["spec", "jobTemplate", ...issue.path] });
  return issues;
}

/** The jobTemplate's defaults, as for a Job (job.ts). */
export function applyCronJobDefaults(cj: CronJob): void {
  applyJobDefaults(cronJobAsJob(cj));
}
