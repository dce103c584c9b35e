/** `coxswain status` shows Jobs and CronJobs in tables of their own (Jobs: status, completions, active, failed, duration; CronJobs: schedule, last and next times), workloads as before. */
import { describe, expect, it } from "vitest";
import { formatStatus, type StatusReport } from "../../../operator/src/cli/status.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";

function record(kind: string, name: string, extra: Partial<WorkloadRecord> = {}): WorkloadRecord {
  return {
    kind,
    namespace: "default",
    name,
    revision: "abc123",
    commit: "0123456789abcdef",
    replicas: { desired: 1, current: 1, updated: 1, ready: 1, available: 1 },
    pods: [],
    conditions: [],
    events: [],
    ...extra,
  };
}

describe("coxswain status with Jobs", () => {
  it("lists Jobs apart from the workloads, as kubectl get jobs does", () => {
    const report: StatusReport = {
      repository: "/repo",
      statusBranch: null,
      summary: null,
      head: null,
      branchHead: null,
      problems: [],
      budgets: [],
      autoscalers: [],
      cronJobs: [],
      workloads: [
        record("Deployment", "web"),
        record("Job", "migrate", {
          conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "", lastTransitionTime: "2026-12-06T10:00:00Z" }],
          job: { phase: "Failed", completions: "0/1", active: 0, failed: 2, startTime: "2026-12-06T10:00:00Z", completionTime: "2026-12-06T10:00:12Z" },
        }),
        record("Job", "work", { job: { phase: "Running", completions: "1/3", active: 2, failed: 0, startTime: "2026-12-06T10:00:00Z" } }),
      ],
    };
    const lines = formatStatus(report);
    const start = lines.findIndex((l) => l.startsWith("WORKLOAD"));
    expect(lines.slice(start, lines.indexOf("", start)).map((l) => l.split(/\s{2,}/)[0])).toEqual(["WORKLOAD", "Deployment/default/web"]);
    const jobs = lines.slice(lines.findIndex((l) => l.startsWith("JOB")));
    expect(jobs.slice(0, 3).map((l) => l.split(/\s{2,}/))).toEqual([
      ["JOB", "REVISION", "COMMIT", "STATUS", "COMPLETIONS", "ACTIVE", "FAILED", "DURATION"],
      ["Job/default/migrate", "abc123", "0123456", "Failed(BackoffLimitExceeded)", "0/1", "0", "2", "12s"],
      ["Job/default/work", "abc123", "0123456", "Running", "1/3", "2", "0", "-"],
    ]);
  });

  it("lists CronJobs in a table of their own: schedule, time zone, suspend, active runs, last schedule and success, next time", () => {
    const report: StatusReport = {
      repository: "/repo",
      statusBranch: null,
      summary: null,
      head: null,
      branchHead: null,
      problems: [],
      workloads: [],
      budgets: [],
      autoscalers: [],
      cronJobs: [
        {
          namespace: "default",
          name: "nightly",
          schedule: "0 2 * * *",
          timeZone: "Europe/Berlin",
          suspend: false,
          createdAt: "2026-12-01T00:00:00.000Z",
          lastScheduleTime: "2026-12-06T01:00:00.000Z",
          lastSuccessfulTime: "2026-12-06T01:00:09.123Z",
          nextRunAt: "2026-12-07T01:00:00.000Z",
          runs: [{ name: "nightly-29947020", scheduledAt: "2026-12-06T01:00:00.000Z", phase: "Complete", finishedAt: "2026-12-06T01:00:09.123Z" }],
          removing: [],
        },
        {
          namespace: "default",
          name: "paused",
          schedule: "@hourly",
          suspend: true,
          createdAt: "2026-12-01T00:00:00.000Z",
          nextRunAt: "2026-12-06T11:00:00.000Z",
          runs: [{ name: "paused-1", scheduledAt: "2026-12-06T10:00:00.000Z", phase: "Running" }],
          removing: [],
        },
      ],
    };
    const lines = formatStatus(report);
    const rows = lines.slice(lines.findIndex((l) => l.startsWith("CRONJOB"))).map((l) => l.split(/\s{2,}/));
    expect(rows).toEqual([
      ["CRONJOB", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "LAST SUCCESS", "NEXT"],
      ["CronJob/default/nightly", "0 2 * * *", "Europe/Berlin", "False", "0", "2026-12-06T01:00:00Z", "2026-12-06T01:00:09Z", "2026-12-07T01:00:00Z"],
      ["CronJob/default/paused", "@hourly", "-", "True", "1", "-", "-", "-"],
    ]);
  });
});
