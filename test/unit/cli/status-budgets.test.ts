/**
 * PodDisruptionBudgets in `coxswain status`: the status file disruptionbudgets/<ns>/<name>.yaml reads back
 * as it was rendered, and the human output has kubectl get pdb's columns with Kubernetes' status fields.
 */
import { describe, expect, it } from "vitest";
import { formatStatus, type StatusReport } from "../../../operator/src/cli/status.js";
import { budgetPath, readBudgetRecord, renderBudgetRecord, type BudgetRecord } from "../../../operator/src/status/disruption-budgets.js";

const web: BudgetRecord = {
  budget: "default/web",
  minAvailable: 2,
  unhealthyPodEvictionPolicy: "IfHealthyBudget",
  status: {
    currentHealthy: 2,
    desiredHealthy: 2,
    disruptionsAllowed: 0,
    expectedPods: 2,
    conditions: [{ type: "DisruptionAllowed", status: "False", reason: "InsufficientPods", message: "no disruption allowed: 2 healthy, 2 desired, 2 expected" }],
  },
  pods: ["web-a", "web-b"],
};

describe("PodDisruptionBudgets in coxswain status", () => {
  it("reads a budget's status file back as rendered, at disruptionbudgets/<ns>/<name>.yaml", () => {
    expect(budgetPath("default/web")).toBe("disruptionbudgets/default/web.yaml");
    expect(readBudgetRecord(renderBudgetRecord(web))).toEqual(web);
    expect(readBudgetRecord("not: a budget")).toBeUndefined();
  });

  it("prints one row per budget, sorted, with kubectl get pdb's columns and the status fields", () => {
    const report: StatusReport = {
      repository: "/repo",
      statusBranch: null,
      summary: null,
      head: null,
      branchHead: null,
      workloads: [],
      autoscalers: [],
      cronJobs: [],
      budgets: [web, { ...web, budget: "shop/cart", minAvailable: undefined, maxUnavailable: "25%", status: { ...web.status, currentHealthy: 4, desiredHealthy: 3, disruptionsAllowed: 1, expectedPods: 4 } }].map((b) => {
        const { minAvailable, ...rest } = b;
        return minAvailable === undefined ? rest : b;
      }),
      problems: [],
    };
    const lines = formatStatus(report);
    const at = lines.findIndex((l) => l.startsWith("BUDGET"));
    expect(lines.slice(at, at + 3)).toEqual([
      "BUDGET       MIN AVAILABLE  MAX UNAVAILABLE  ALLOWED DISRUPTIONS  HEALTHY  DESIRED  EXPECTED",
      "default/web  2              N/A              0                    2        2        2",
      "shop/cart    N/A            25%              1                    4        3        4",
    ]);
  });
});
