/** `coxswain status` shows Jobs in a table of their own (status, completions, active, failed, duration), workloads as before. */
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
});
