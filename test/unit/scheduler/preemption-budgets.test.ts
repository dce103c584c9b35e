/**
 * Preemption and PodDisruptionBudgets, as kube-scheduler's DefaultPreemption weighs them: victims whose
 * removal would violate a budget are reprieved first, the node with the fewest violations wins, and when
 * every way to make room violates a budget, preemption still happens (best effort). A property test: with a
 * node where room can be made within every budget, the chosen victims never exceed a budget's allowance.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { selectVictims } from "../../../operator/src/scheduler/index.js";
import type { DisruptionBudgetStatus, NodeSnapshot, PodSummary } from "../../../operator/src/scheduler/types.js";
import { nodeWith, pod, running } from "./builders.js";

const cpu = (cpuMillis: number) => ({ requests: { cpuMillis, memoryBytes: 0 } });
const low = (name: string, priority: number, millis: number, app: string) => running(name, { priority, ...cpu(millis), labels: { app }, startTime: 1000 });
const guard = (app: string, disruptionsAllowed: number): DisruptionBudgetStatus => ({ namespace: "default", selector: { matchLabels: { app } }, disruptionsAllowed });
const victims = (nodes: NodeSnapshot[], budgets: DisruptionBudgetStatus[], millis = 2000) => {
  const r = selectVictims(pod("p", { priority: 10, ...cpu(millis) }), nodes, { disruptionBudgets: budgets, seed: 1 });
  return r && { node: r.node, victims: r.victims.map((v) => v.name) };
};

describe("preemption with PodDisruptionBudgets", () => {
  const cases: { name: string; nodes: NodeSnapshot[]; budgets: DisruptionBudgetStatus[]; want: { node: string; victims: string[] } }[] = [
    {
      name: "prefers the node whose victim no budget guards (fewest violations first)",
      nodes: [nodeWith("a", [low("guarded", 0, 4000, "db")]), nodeWith("b", [low("free", 5, 4000, "web")])],
      budgets: [guard("db", 0)],
      want: { node: "b", victims: ["free"] },
    },
    {
      name: "still preempts when every choice violates a budget (best effort)",
      nodes: [nodeWith("a", [low("db-0", 0, 4000, "db")]), nodeWith("b", [low("db-1", 3, 4000, "db")])],
      budgets: [guard("db", 0)],
      want: { node: "a", victims: ["db-0"] },
    },
    {
      name: "on one node, reprieves the guarded pod first even though it is the less important one",
      nodes: [nodeWith("a", [low("guarded", 1, 2000, "db"), low("free", 5, 2000, "web")])],
      budgets: [guard("db", 0)],
      want: { node: "a", victims: ["free"] },
    },
    {
      name: "without budgets, the less important pod is the victim",
      nodes: [nodeWith("a", [low("guarded", 1, 2000, "db"), low("free", 5, 2000, "web")])],
      budgets: [],
      want: { node: "a", victims: ["guarded"] },
    },
    {
      name: "a budget that allows a disruption does not hold its pod",
      nodes: [nodeWith("a", [low("guarded", 1, 2000, "db"), low("free", 5, 2000, "web")])],
      budgets: [guard("db", 1)],
      want: { node: "a", victims: ["guarded"] },
    },
    {
      name: "an empty selector guards nothing, as kube-scheduler reads it",
      nodes: [nodeWith("a", [low("guarded", 1, 2000, "db"), low("free", 5, 2000, "web")])],
      budgets: [{ namespace: "default", selector: {}, disruptionsAllowed: 0 }],
      want: { node: "a", victims: ["guarded"] },
    },
    {
      name: "a budget of another namespace guards nothing here",
      nodes: [nodeWith("a", [low("guarded", 1, 2000, "db"), low("free", 5, 2000, "web")])],
      budgets: [{ ...guard("db", 0), namespace: "other" }],
      want: { node: "a", victims: ["guarded"] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(victims(c.nodes, c.budgets)).toEqual(c.want);
    });
  }

  it("with a choice, never takes more pods of a budget than it allows; without one, still preempts", () => {
    const apps = ["a", "b", "c", "d"];
    const podArb = fc.record({ priority: fc.integer({ min: 0, max: 5 }), millis: fc.constantFrom(500, 1000, 1500, 2000), app: fc.constantFrom(...apps) });
    const arb = fc.record({
      nodes: fc.array(fc.array(podArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
      allowed: fc.array(fc.integer({ min: -1, max: 2 }), { minLength: apps.length, maxLength: apps.length }),
      millis: fc.constantFrom(1000, 2000, 3000, 4000),
    });
    fc.assert(
      fc.property(arb, ({ nodes: spec, allowed, millis }) => {
        const nodes = spec.map((ps, i) =>
          nodeWith(
            `n${i}`,
            ps.map((p, j) => low(`n${i}-${j}`, p.priority, p.millis, p.app)),
          ),
        );
        // -1: the app has no budget.
        const budgets = apps.flatMap((app, k) => (allowed[k]! >= 0 ? [guard(app, allowed[k]!)] : []));
        const allowance = new Map(budgets.map((b) => [b.selector!.matchLabels!.app!, b.disruptionsAllowed]));
        const byName = new Map<string, PodSummary>(nodes.flatMap((n) => n.pods ?? []).map((p) => [p.name, p]));
        const withBudgets = selectVictims(pod("p", { priority: 10, ...cpu(millis) }), nodes, { disruptionBudgets: budgets, seed: 3 });
        const without = selectVictims(pod("p", { priority: 10, ...cpu(millis) }), nodes, { seed: 3 });
        // Best effort: budgets never stop a preemption that would happen without them.
        expect(withBudgets === undefined).toBe(without === undefined);
        // Is there a choice? A node where removing the lower-priority pods no budget holds back makes room:
        // the unguarded ones and, per budget, its most important guarded ones up to its allowance.
        const choice = nodes.some((n) => {
          const left = new Map(allowance);
          const lower = [...(n.pods ?? [])].filter((p) => (p.priority ?? 0) < 10).sort((x, y) => (y.priority ?? 0) - (x.priority ?? 0) || x.name.localeCompare(y.name));
          let freed = 0;
          for (const p of lower) {
            const app = p.labels!.app!;
            const a = left.get(app);
            if (a === undefined) freed += p.requests!.cpuMillis;
            else if (a > 0) {
              left.set(app, a - 1);
              freed += p.requests!.cpuMillis;
            }
          }
          return 4000 - n.requested.cpuMillis + freed >= millis;
        });
        if (!withBudgets || !choice) return;
        const taken = new Map<string, number>();
        for (const v of withBudgets.victims) {
          const app = byName.get(v.name)!.labels!.app!;
          taken.set(app, (taken.get(app) ?? 0) + 1);
        }
        for (const [app, n] of taken) {
          const a = allowance.get(app);
          if (a !== undefined) expect(n, `victims of budget ${app}`).toBeLessThanOrEqual(a);
        }
      }),
      { numRuns: 400, seed: 12 },
    );
  });
});
