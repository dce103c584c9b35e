/**
 * `coxswain plan`'s text on hand-made plans: each object and what changes in it, in the plan's order, each
 * new pod's placement below its workload; at most PLAN_TEXT_CHANGES changes (or as many as asked) and
 * PLAN_TEXT_PODS placements a change, the rest counted; the summary counts everything.
 */
import { describe, expect, it } from "vitest";
import { formatPlan, PLAN_TEXT_CHANGES, PLAN_TEXT_PODS, type Plan, type PlannedChange } from "../../../operator/src/sync/plan.js";

const plan = (changes: PlannedChange[]): Plan => ({ from: "a".repeat(40), to: "b".repeat(40), changes, diagnostics: [], valid: true, nodes: ["n1"] });
const cm = (i: number): PlannedChange => ({ action: "update", key: `ConfigMap/default/cm${String(i).padStart(4, "0")}`, fields: ["data.A"], details: ["data.A 1 → 2"] });
const pods = (n: number, unfit = 0) =>
  Array.from({ length: n }, (_, i) => (i < n - unfit ? { pod: `web-r-${i + 1}`, node: "n1", fits: true } : { pod: `web-r-${i + 1}`, fits: false, message: "0/1 nodes are available" }));

describe("formatPlan", () => {
  it.each<[string, Plan, number | undefined, (lines: string[]) => void]>([
    [
      "names each object and what changes, with its pods below it",
      plan([
        { action: "create", key: "Service/default/web", fields: [] },
        { action: "update", key: "Deployment/default/web", fields: ["spec.replicas"], details: ["replicas 2 → 4"], placements: pods(2) },
        { action: "delete", key: "ConfigMap/default/old", fields: [] },
      ]),
      undefined,
      (lines) =>
        expect(lines.slice(1)).toEqual([
          "  create Service/default/web",
          "  update Deployment/default/web (replicas 2 → 4)",
          "      web-r-1 → n1",
          "      web-r-2 → n1",
          "  delete ConfigMap/default/old",
          "1 to create, 1 to update, 1 to delete; 2 new pod(s) on 1 node(s): 2 fit",
        ]),
    ],
    [
      `prints ${PLAN_TEXT_CHANGES} changes and counts the rest; the summary counts all`,
      plan(Array.from({ length: PLAN_TEXT_CHANGES + 5 }, (_, i) => cm(i))),
      undefined,
      (lines) => {
        expect(lines).toHaveLength(PLAN_TEXT_CHANGES + 3);
        expect(lines.at(-2)).toBe("  … and 5 more change(s) (--output json lists every change)");
        expect(lines.at(-1)).toBe(`0 to create, ${PLAN_TEXT_CHANGES + 5} to update, 0 to delete; 0 new pod(s) on 1 node(s): 0 fit`);
      },
    ],
    [
      "prints as many changes as asked",
      plan([cm(1), cm(2), cm(3)]),
      2,
      (lines) => expect(lines.slice(1, 4)).toEqual(["  update ConfigMap/default/cm0001 (data.A 1 → 2)", "  update ConfigMap/default/cm0002 (data.A 1 → 2)", "  … and 1 more change(s) (--output json lists every change)"]),
    ],
    [
      `prints ${PLAN_TEXT_PODS} placements of a change and counts the rest, with those that do not fit`,
      plan([{ action: "create", key: "Deployment/default/web", fields: [], placements: pods(PLAN_TEXT_PODS + 7, 2) }]),
      undefined,
      (lines) => {
        expect(lines.filter((l) => /^ {6}web-r-/.test(l))).toHaveLength(PLAN_TEXT_PODS);
        expect(lines.at(-2)).toBe("      … and 7 more pod(s): 5 fit, 2 do not fit");
        expect(lines.at(-1)).toMatch(new RegExp(`; ${PLAN_TEXT_PODS + 7} new pod\\(s\\) on 1 node\\(s\\): ${PLAN_TEXT_PODS + 5} fit, 2 do not fit$`));
      },
    ],
  ])("%s", (_what, p, max, check) => {
    check(formatPlan(p, max));
  });
});
