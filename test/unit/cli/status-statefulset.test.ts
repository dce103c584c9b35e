/**
 * `coxswain status` prints a StatefulSet's own state under the workloads: its podManagementPolicy, update
 * strategy, partition, the revision ordinals below the partition keep, its Service and its claims.
 */
import { describe, expect, it } from "vitest";
import { formatStatus, type StatusReport } from "../../../operator/src/cli/status.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";

const web: WorkloadRecord = {
  kind: "StatefulSet",
  namespace: "default",
  name: "web",
  revision: "b2c3d4",
  commit: "0123456789abcdef",
  replicas: { desired: 3, current: 3, updated: 1, ready: 3, available: 3 },
  pods: [],
  conditions: [],
  events: [],
  strategy: "RollingUpdate",
  statefulSet: { podManagementPolicy: "OrderedReady", partition: 2, currentRevision: "a1b2c3", serviceName: "web", claims: ["data-web-0", "data-web-1", "data-web-2"] },
};

describe("coxswain status of a StatefulSet", () => {
  it("has a row of its own with its policy, partition, current revision, Service and claims", () => {
    const report: StatusReport = { repository: "/repo", statusBranch: null, summary: null, head: null, branchHead: null, workloads: [web], problems: [], budgets: [], autoscalers: [], cronJobs: [] };
    const lines = formatStatus(report);
    const at = lines.findIndex((l) => l.startsWith("STATEFULSET"));
    expect(lines[at]!.split(/ {2,}/)).toEqual(["STATEFULSET", "POLICY", "UPDATE", "PARTITION", "CURRENT", "SERVICE", "CLAIMS"]);
    expect(lines[at + 1]!.split(/ {2,}/)).toEqual(["default/web", "OrderedReady", "RollingUpdate", "2", "a1b2c3", "web", "data-web-0,data-web-1,data-web-2"]);
    expect(lines.some((l) => l.startsWith("StatefulSet/default/web"))).toBe(true);
  });
});
