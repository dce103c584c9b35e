/**
 * A DaemonSet's plan: which nodes get a pod (the ones whose labels and taints the pod fits), placed with the
 * node's name by the real scheduler, and what a node without room says.
 */
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { NodeSnapshot } from "../../../operator/src/scheduler/types.js";
import { buildPlan, formatPlan } from "../../../operator/src/sync/plan.js";

const agent = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {agent: "yes"}
      containers:
        - name: agent
          image: agent:1
          resources: {requests: {cpu: 500m}}
`;

function node(name: string, cpu: number, extra: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    unschedulable: false,
    labels: { agent: "yes" },
    allocatable: { cpuMillis: cpu, memoryBytes: 2 ** 32, pods: 110 },
    requested: { cpuMillis: 0, memoryBytes: 0 },
    requestedForScoring: { cpuMillis: 0, memoryBytes: 0 },
    podCount: 0,
    freePorts: 100,
    podsByOwner: {},
    ...extra,
  };
}

describe("the plan of a DaemonSet", () => {
  it("places one pod on each node that fits, by name, and says why a node without room does not fit", () => {
    const set = loadManifests([{ path: "agent.yaml", content: agent }]);
    const graph = buildGraph(set.objects).graph;
    const nodes = [
      node("n1", 2000),
      node("n2", 2000, { unschedulable: true }), // cordoned: daemon pods tolerate it
      node("n3", 2000, { labels: { agent: "no" } }),
      node("n4", 2000, { taints: [{ key: "dedicated", effect: "NoSchedule" }] }),
      node("n5", 200),
    ];
    const plan = buildPlan({ target: { commit: "b".repeat(40), graph, diagnostics: [] }, fleet: { snapshot: () => nodes, pods: () => [] } });
    const change = plan.changes.find((c) => c.key === "DaemonSet/default/agent")!;
    expect(change.rollsTo?.replicas).toBe(3);
    expect(change.placements!.map((p) => [p.node ?? null, p.fits])).toEqual([
      ["n1", true],
      ["n2", true],
      [null, false],
    ]);
    expect(change.placements![2]!.message).toMatch(/^0\/5 nodes are available: 1 Insufficient cpu, /);
    expect(formatPlan(plan).join("\n")).toMatch(/create DaemonSet\/default\/agent → rolls out revision \w+ \(one pod on each node that fits: 3\)/);
  });
});
