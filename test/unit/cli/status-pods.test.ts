/** `coxswain status` lists bare Pods in a table of their own, as `kubectl get pods` does: status (phase), restarts, node, restartPolicy. */
import { describe, expect, it } from "vitest";
import { formatStatus, type StatusReport } from "../../../operator/src/cli/status.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";

function pod(name: string, phase: string, restartPolicy: string, extra: Partial<WorkloadRecord> = {}): WorkloadRecord {
  return {
    kind: "Pod",
    namespace: "default",
    name,
    revision: "abc123",
    commit: "0123456789abcdef",
    replicas: { desired: 1, current: 1, updated: 1, ready: 0, available: 0 },
    pods: [{ name, node: "a", revision: "abc123", ready: false, endpoints: [] }],
    conditions: [],
    events: [],
    strategy: "Pod",
    pod: { phase, restartPolicy },
    ...extra,
  };
}

describe("coxswain status with bare Pods", () => {
  it("shows each Pod's phase (Succeeded, Failed), restarts in place, node and restartPolicy", () => {
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
        pod("done", "Succeeded", "Never", { pods: [{ name: "done", node: "a", revision: "abc123", ready: false, endpoints: [], state: "Succeeded" }] }),
        pod("broken", "Failed", "Never"),
        pod("retry", "Running", "OnFailure", { pods: [{ name: "retry", node: "b", revision: "abc123", ready: false, endpoints: [], restarts: 3, state: "CrashLoopBackOff" }] }),
        pod("gone", "Failed", "Always", { pods: [], placed: { revision: "abc123", node: "c" } }),
      ],
    };
    const lines = formatStatus(report);
    const start = lines.findIndex((l) => l.startsWith("POD "));
    expect(lines.slice(start, start + 5).map((l) => l.split(/\s{2,}/))).toEqual([
      ["POD", "STATUS", "RESTARTS", "NODE", "RESTART POLICY"],
      ["default/done", "Succeeded", "0", "a", "Never"],
      ["default/broken", "Failed", "0", "a", "Never"],
      ["default/retry", "Running", "3", "b", "OnFailure"],
      ["default/gone", "Failed", "0", "c", "Always"],
    ]);
  });
});
