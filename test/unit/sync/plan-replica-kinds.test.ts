/** Plans of ReplicaSets and bare Pods (sync/plan.ts): what would run, where — no rollout for a set, a replaced Pod. */
import { describe, expect, it } from "vitest";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { NodeSnapshot } from "../../../operator/src/scheduler/types.js";
import { buildPlan, type FleetView } from "../../../operator/src/sync/plan.js";

const Mi = 2 ** 20;

function graphOf(content: string): DesiredGraph {
  const set = loadManifests([{ path: "x.yaml", content }]);
  const built = buildGraph(set.objects);
  const errors = [...set.diagnostics, ...built.diagnostics].filter((d) => d.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => `${e.file}:${e.line} ${e.message}`).join("\n"));
  return built.graph;
}

/** One roomy node running `pods` pods of `owner` at revision "old". */
function fleetWith(owner: string, pods: string[]): FleetView {
  const node: NodeSnapshot = {
    name: "n1",
    unschedulable: false,
    labels: { "kubernetes.io/hostname": "n1" },
    allocatable: { cpuMillis: 8000, memoryBytes: 8192 * Mi, pods: 110 },
    requested: { cpuMillis: 0, memoryBytes: 0 },
    requestedForScoring: { cpuMillis: 0, memoryBytes: 0 },
    podCount: pods.length,
    freePorts: 100,
    podsByOwner: pods.length ? { [owner]: pods.length } : {},
    pods: pods.map((name) => ({ name, namespace: "default", owner, labels: {}, requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 100, memoryBytes: 200 * Mi }, ports: 0 })),
  };
  return { snapshot: () => [node], pods: (o) => (o === owner ? pods.map((name) => ({ name, revision: "old" })) : []) };
}

const replicaSet = (replicas: number) => `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:v2"}]
`;

const pod = `apiVersion: v1
kind: Pod
metadata: {name: toolbox}
spec:
  containers: [{name: t, image: "toolbox:v2"}]
`;

describe("plans of the kinds that do not roll", () => {
  it.each([
    { name: "a ReplicaSet's template change places nothing: its running pods keep their template", replicas: 3, want: [] },
    { name: "with a scale-up, only the missing pods are placed, beside the running ones", replicas: 4, want: ["web-"] },
  ])("$name", ({ replicas, want }) => {
    const plan = buildPlan({ from: "a".repeat(40), target: { commit: "b".repeat(40), graph: graphOf(replicaSet(replicas)), diagnostics: [] }, fleet: fleetWith("ReplicaSet/default/web", ["w1", "w2", "w3"]) });
    const change = plan.changes.find((c) => c.key === "ReplicaSet/default/web")!;
    expect(change.rollsTo?.replicas).toBe(replicas);
    expect(change.placements!.map((p) => p.pod.slice(0, 4))).toEqual(want);
    for (const p of change.placements!) expect(p).toMatchObject({ fits: true, node: "n1", message: "new pods only: running pods keep their template" });
  });

  it("a bare Pod whose spec changed is placed again under its own name, once its old pod is gone", () => {
    const plan = buildPlan({ from: "a".repeat(40), target: { commit: "b".repeat(40), graph: graphOf(pod), diagnostics: [] }, fleet: fleetWith("Pod/default/toolbox", ["toolbox"]) });
    const change = plan.changes.find((c) => c.key === "Pod/default/toolbox")!;
    expect(change.placements).toEqual([{ pod: "toolbox", node: "n1", fits: true, message: "after the old pods are removed" }]);
  });
});
