/**
 * What a commit means for a workload a HorizontalPodAutoscaler scales: a change of spec.replicas alone is
 * not a rollout (changedWorkloads) and places no pod in a plan, which notes the autoscaler instead; a
 * template change still rolls out; spec.replicas going to 0 (autoscaling off) is a change.
 */
import { describe, expect, it } from "vitest";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import { changedWorkloads } from "../../../operator/src/sync/branch-sync.js";
import { buildPlan, formatPlan } from "../../../operator/src/sync/plan.js";

function deployment(replicas: number, image = "web:1"): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "${image}", resources: {requests: {cpu: 100m}}}]
`;
}

const HPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}
    - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 128Mi}}}
`;

function graphOf(files: Record<string, string>): DesiredGraph {
  const set = loadManifests(Object.entries(files).map(([path, content]) => ({ path, content })));
  const built = buildGraph(set.objects);
  const errors = [...set.diagnostics, ...built.diagnostics].filter((d) => d.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => `${e.file}:${e.line} ${e.message}`).join("\n"));
  return built.graph;
}

describe("workloads an autoscaler scales", () => {
  it.each([
    ["a replicas-only change of an autoscaled workload is not a rollout", deployment(2), deployment(5), true, []],
    ["a replicas-only change without an autoscaler is", deployment(2), deployment(5), false, ["Deployment/default/web"]],
    ["a template change of an autoscaled workload is", deployment(2), deployment(2, "web:2"), true, ["Deployment/default/web"]],
    ["spec.replicas to 0 turns autoscaling off: a change", deployment(2), deployment(0), true, ["Deployment/default/web"]],
  ])("%s", (_name, before, after, autoscaled, want) => {
    const extra: Record<string, string> = autoscaled ? { "hpa.yaml": HPA } : {};
    expect(changedWorkloads(graphOf({ "web.yaml": before, ...extra }), graphOf({ "web.yaml": after, ...extra }))).toEqual(want);
  });

  // Every kind with a scale subresource: a replicas-only change is the autoscaler's, a template change rolls.
  const scalable: [kind: string, apiVersion: string, extra: string][] = [
    ["ReplicaSet", "apps/v1", ""],
    ["ReplicationController", "v1", ""],
    ["StatefulSet", "apps/v1", "  serviceName: web\n"],
  ];
  function workload(kind: string, apiVersion: string, extra: string, replicas: number, image = "web:1"): string {
    const selector = kind === "ReplicationController" ? "{app: web}" : "{matchLabels: {app: web}}";
    return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: web}\nspec:\n  replicas: ${replicas}\n${extra}  selector: ${selector}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: "${image}"}]\n`;
  }
  const hpaOf = (kind: string) => HPA.replace("{apiVersion: apps/v1, kind: Deployment, name: web}", `{kind: ${kind}, name: web}`);
  it.each(scalable)("%s: a replicas-only change of an autoscaled one is not a rollout; a template change and replicas 0 are", (kind, apiVersion, extra) => {
    const key = `${kind}/default/web`;
    const changed = (before: string, after: string, hpa = true) =>
      changedWorkloads(graphOf({ "web.yaml": before, ...(hpa ? { "hpa.yaml": hpaOf(kind) } : {}) }), graphOf({ "web.yaml": after, ...(hpa ? { "hpa.yaml": hpaOf(kind) } : {}) }));
    expect(changed(workload(kind, apiVersion, extra, 2), workload(kind, apiVersion, extra, 5))).toEqual([]);
    expect(changed(workload(kind, apiVersion, extra, 2), workload(kind, apiVersion, extra, 5), false)).toEqual([key]);
    expect(changed(workload(kind, apiVersion, extra, 2), workload(kind, apiVersion, extra, 2, "web:2"))).toEqual([key]);
    expect(changed(workload(kind, apiVersion, extra, 2), workload(kind, apiVersion, extra, 0))).toEqual([key]);
  });

  it("a change of the autoscaler alone changes no workload", () => {
    expect(changedWorkloads(graphOf({ "web.yaml": deployment(2), "hpa.yaml": HPA }), graphOf({ "web.yaml": deployment(2), "hpa.yaml": HPA.replace("maxReplicas: 6", "maxReplicas: 8") }))).toEqual([]);
  });

  it("the plan notes the autoscaler, places no pod for a replicas-only change, and says what the autoscaler scales", () => {
    const before = graphOf({ "web.yaml": deployment(2) });
    const after = graphOf({ "web.yaml": deployment(5), "hpa.yaml": HPA });
    const fleet = { snapshot: () => [], pods: () => [] };
    const plan = buildPlan({ from: "a".repeat(40), fromGraph: before, target: { commit: "b".repeat(40), graph: after, diagnostics: [] } as never, fleet });
    const lines = formatPlan(plan);
    expect(lines).toContain("  update Deployment/default/web (replicas 2 → 5) [scaled by HorizontalPodAutoscaler/default/web: spec.replicas in Git is ignored]");
    expect(lines).toContain("  create HorizontalPodAutoscaler/default/web [scales Deployment/default/web between 2 and 6 replicas on cpu 60%, memory 128Mi per pod]");
    expect(plan.changes.find((c) => c.key === "Deployment/default/web")?.placements).toBeUndefined();
  });
});
