/**
 * PodDisruptionBudgets in the graph and in plans: a budget is a dependency of every workload of its
 * namespace whose pod template its selector matches (across workloads), guards none of another namespace,
 * and a plan says which workloads a created budget guards.
 */
import { describe, expect, it } from "vitest";
import type { PodDisruptionBudget } from "../../../operator/src/api/objects.js";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { formatPlan, planGraphs } from "../../../operator/src/sync/plan.js";
import { deployment, manifest, namespace } from "./fabricate.js";

function pdb(name: string, ns: string, selector: PodDisruptionBudget["spec"]["selector"]): PodDisruptionBudget {
  return { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name, namespace: ns }, spec: { minAvailable: 1, ...(selector ? { selector } : {}) } };
}

describe("PodDisruptionBudgets in the graph", () => {
  const objects = [
    manifest(deployment("web", "default", { labels: { app: "web", tier: "front" } })),
    manifest(deployment("cache", "default", { labels: { app: "cache", tier: "front" } })),
    manifest(deployment("api", "default", { labels: { app: "api", tier: "back" } })),
    manifest(deployment("web", "other", { labels: { app: "web", tier: "front" } })),
    manifest(namespace("other")),
    manifest(pdb("front", "default", { matchLabels: { tier: "front" } })),
  ];

  it("makes the budget a dependency of every workload of its namespace it guards", () => {
    const { graph, diagnostics } = buildGraph(objects);
    expect(diagnostics).toEqual([]);
    expect(graph.dependentsOf("PodDisruptionBudget/default/front")).toEqual(["Deployment/default/cache", "Deployment/default/web"]);
  });

  it("plans a budget with the workloads it guards", () => {
    const { graph } = buildGraph(objects);
    const lines = formatPlan({ to: "b".repeat(40), changes: planGraphs(undefined, graph, 0), diagnostics: [], valid: true });
    expect(lines).toContain("  create PodDisruptionBudget/default/front (guards Deployment/default/cache, Deployment/default/web)");
    const lonely = buildGraph([manifest(pdb("none", "default", { matchLabels: { app: "nothing" } }))]).graph;
    expect(planGraphs(undefined, lonely, 0).find((c) => c.key === "PodDisruptionBudget/default/none")?.details).toEqual(["guards no workload"]);
  });
});
