/**
 * PodDisruptionBudget arithmetic (rollout/disruption.ts) against Kubernetes' disruption controller and
 * eviction API: the status fields, the rounding of percentages (both round up), selectors across
 * workloads, unhealthyPodEvictionPolicy, and a batch of evictions using up the budget one pod at a time.
 */
import { describe, expect, it } from "vitest";
import { admitDisruptions, budgetStatus, budgetStates, describeBlocked, scaledValue, type Budget, type BudgetPod } from "../../../operator/src/rollout/disruption.js";

function pods(n: number, opts: Omit<Partial<BudgetPod>, "ready"> & { ready?: number } = {}): BudgetPod[] {
  const ready = opts.ready ?? n;
  return Array.from({ length: n }, (_, i) => ({
    name: `${opts.owner?.split("/")[2] ?? "web"}-${i}`,
    namespace: opts.namespace ?? "default",
    labels: opts.labels ?? { app: "web" },
    owner: opts.owner ?? "Deployment/default/web",
    phase: opts.phase ?? "Running",
    ready: i < ready,
  }));
}

const web = (spec: Partial<Budget>): Budget => ({ name: "default/web", namespace: "default", selector: { matchLabels: { app: "web" } }, ...spec });

describe("budget status", () => {
  // [what, spec, pods (n, ready), replicas, expected status]
  const cases: [string, Partial<Budget>, number, number, number, { currentHealthy: number; desiredHealthy: number; disruptionsAllowed: number; expectedPods: number }][] = [
    ["minAvailable 2 of 2 ready: none may go (the drain example)", { minAvailable: 2 }, 2, 2, 2, { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2 }],
    ["minAvailable 1 of 2 ready", { minAvailable: 1 }, 2, 2, 2, { currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2 }],
    ["minAvailable as a number counts the matched pods, not replicas", { minAvailable: 2 }, 3, 3, 5, { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3 }],
    ["minAvailable 50% of 7 rounds up to 4 (Kubernetes' documented example)", { minAvailable: "50%" }, 7, 7, 7, { currentHealthy: 7, desiredHealthy: 4, disruptionsAllowed: 3, expectedPods: 7 }],
    ["a percentage counts the owners' replicas, not the pods seen", { minAvailable: "50%" }, 3, 3, 7, { currentHealthy: 3, desiredHealthy: 4, disruptionsAllowed: 0, expectedPods: 7 }],
    ["maxUnavailable 50% of 7 rounds the unavailable pods up to 4: 3 desired", { maxUnavailable: "50%" }, 7, 7, 7, { currentHealthy: 7, desiredHealthy: 3, disruptionsAllowed: 4, expectedPods: 7 }],
    ["maxUnavailable 1 of 3 with one not ready: none may go", { maxUnavailable: 1 }, 3, 2, 3, { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3 }],
    ["maxUnavailable 0 prevents every voluntary eviction", { maxUnavailable: 0 }, 3, 3, 3, { currentHealthy: 3, desiredHealthy: 3, disruptionsAllowed: 0, expectedPods: 3 }],
    ["maxUnavailable above the scale: desiredHealthy is 0, not negative", { maxUnavailable: 5 }, 2, 2, 2, { currentHealthy: 2, desiredHealthy: 0, disruptionsAllowed: 2, expectedPods: 2 }],
    ["minAvailable 100% (a singleton): none may go", { minAvailable: "100%" }, 1, 1, 1, { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 1 }],
    ["no pods: nothing is allowed", { maxUnavailable: 1 }, 0, 0, 3, { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 }],
  ];
  for (const [what, spec, n, ready, replicas, want] of cases) {
    it(what, () => {
      const s = budgetStatus(web(spec), pods(n, { ready }), () => replicas);
      expect({ currentHealthy: s.currentHealthy, desiredHealthy: s.desiredHealthy, disruptionsAllowed: s.disruptionsAllowed, expectedPods: s.expectedPods }).toEqual(want);
    });
  }

  it("rounds percentages up", () => {
    expect(scaledValue("50%", 7)).toBe(4);
    expect(scaledValue("25%", 3)).toBe(1);
    expect(scaledValue("0%", 9)).toBe(0);
    expect(scaledValue(3, 9)).toBe(3);
  });

  it("counts pods of every workload its selector matches, in its namespace only, terminating ones not healthy", () => {
    const all = [
      ...pods(2, { owner: "Deployment/default/web", labels: { app: "web", tier: "front" } }),
      ...pods(3, { owner: "StatefulSet/default/cache", labels: { app: "cache", tier: "front" } }),
      ...pods(2, { owner: "Deployment/other/web", namespace: "other", labels: { tier: "front" } }),
      ...pods(1, { owner: "Deployment/default/api", labels: { tier: "back" } }),
    ];
    all[0]!.phase = "Terminating";
    const budget: Budget = { name: "default/front", namespace: "default", selector: { matchLabels: { tier: "front" } }, maxUnavailable: "20%" };
    const scale: Record<string, number> = { "Deployment/default/web": 2, "StatefulSet/default/cache": 3 };
    const s = budgetStatus(budget, all, (o) => scale[o]);
    expect(s.pods).toEqual(["cache-0", "cache-1", "cache-2", "web-0", "web-1"]);
    // 5 expected, 20% of 5 = 1 unavailable → 4 desired; 4 healthy (web-0 terminates) → 0 allowed.
    expect(s).toMatchObject({ expectedPods: 5, desiredHealthy: 4, currentHealthy: 4, disruptionsAllowed: 0 });
  });

  it("selects no pod without a selector, and every pod of its namespace with {}", () => {
    expect(budgetStatus({ name: "default/none", namespace: "default", minAvailable: 0 }, pods(2), () => 2).pods).toEqual([]);
    expect(budgetStatus({ name: "default/all", namespace: "default", selector: {}, minAvailable: 0 }, pods(2), () => 2).pods).toEqual(["web-0", "web-1"]);
  });

  it("lists budgets by name", () => {
    const states = budgetStates([web({ name: "default/z", minAvailable: 1 }), web({ name: "default/a", minAvailable: 1 })], pods(2), () => 2);
    expect(states.map((s) => s.budget.name)).toEqual(["default/a", "default/z"]);
  });
});

describe("evictions", () => {
  it("blocks every pod when the budget allows 0, and says which budget and why", () => {
    const all = pods(2);
    const states = budgetStates([web({ minAvailable: 2 })], all, () => 2);
    const v = admitDisruptions(states, all, ["web-0", "web-1"]);
    expect(v.allowed).toEqual([]);
    expect(v.blocked.map((b) => b.budget)).toEqual(["default/web", "default/web"]);
    expect(describeBlocked(v.blocked[0]!)).toBe("PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)");
  });

  it("lets pods go one at a time as the budget allows: each ready pod uses one disruption", () => {
    const all = pods(3);
    const states = budgetStates([web({ minAvailable: 2 })], all, () => 3);
    expect(admitDisruptions(states, all, ["web-2", "web-1", "web-0"])).toMatchObject({ allowed: ["web-2"], blocked: [{ pod: "web-1" }, { pod: "web-0" }] });
  });

  it("needs every budget that matches the pod; one that matches nothing does not hold it", () => {
    const all = pods(3);
    const loose = web({ name: "default/loose", maxUnavailable: 2 });
    const tight = web({ name: "default/tight", minAvailable: 3 });
    const other: Budget = { name: "default/other", namespace: "default", selector: { matchLabels: { app: "api" } }, minAvailable: 5 };
    const v = admitDisruptions(
      budgetStates([loose, tight, other], all, () => 3),
      all,
      ["web-0"],
    );
    expect(v.blocked).toEqual([{ pod: "web-0", budget: "default/tight", status: { currentHealthy: 3, desiredHealthy: 3, disruptionsAllowed: 0, expectedPods: 3 } }]);
    expect(
      admitDisruptions(
        budgetStates([loose, other], all, () => 3),
        all,
        ["web-0"],
      ).allowed,
    ).toEqual(["web-0"]);
  });

  it("never guards pods that do not run yet, failed or already terminating ones, nor pods it does not know", () => {
    const all = [...pods(2)];
    all.push({ ...all[0]!, name: "pending", phase: "Pending", ready: false }, { ...all[0]!, name: "failed", phase: "Failed", ready: false }, { ...all[0]!, name: "leaving", phase: "Terminating", ready: false });
    const states = budgetStates([web({ minAvailable: 5 })], all, () => 2);
    expect(admitDisruptions(states, all, ["pending", "failed", "leaving", "gone"]).allowed).toEqual(["pending", "failed", "leaving", "gone"]);
  });

  // unhealthyPodEvictionPolicy: a running pod that is not ready.
  const unhealthy: [string, Budget["unhealthyPodEvictionPolicy"], number, number, boolean][] = [
    ["IfHealthyBudget (default) lets it go while the budget is healthy, using up nothing", undefined, 3, 1, true],
    ["IfHealthyBudget holds it while the budget is short (only a ready pod would be a disruption)", "IfHealthyBudget", 3, 3, false],
    ["AlwaysAllow lets it go even while the budget is short", "AlwaysAllow", 3, 3, true],
  ];
  for (const [what, policy, n, minAvailable, allowed] of unhealthy) {
    it(what, () => {
      const all = pods(n, { ready: n - 1 });
      const states = budgetStates([web({ minAvailable, ...(policy ? { unhealthyPodEvictionPolicy: policy } : {}) })], all, () => n);
      const notReady = all[n - 1]!.name;
      expect(admitDisruptions(states, all, [notReady]).allowed).toEqual(allowed ? [notReady] : []);
      if (allowed && policy !== "AlwaysAllow") {
        // It used up no disruption: the one disruption allowed is still there for a ready pod.
        expect(admitDisruptions(states, all, [notReady, all[0]!.name, all[1]!.name]).allowed).toEqual([notReady, all[0]!.name]);
      }
    });
  }
});
