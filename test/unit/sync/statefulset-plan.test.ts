/**
 * What a plan says of a StatefulSet (sync/plan.ts): its pods by ordinal name, each placed with its own
 * claims (a bound claim pins its ordinal to that node), and on a template change only the ordinals the
 * update replaces; and which claims of StatefulSets the claim controller records (controllers/claim/plan.ts).
 */
import { describe, expect, it } from "vitest";
import { statefulSetClaims } from "../../../operator/src/controllers/claim/plan.js";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { StatefulSet } from "../../../operator/src/api/objects.js";
import type { NodeSnapshot } from "../../../operator/src/scheduler/types.js";
import { placeChanges, planGraphs, type FleetView } from "../../../operator/src/sync/plan.js";

const Mi = 2 ** 20;

function graphOf(yaml: string): DesiredGraph {
  const set = loadManifests([{ path: "db.yaml", content: yaml }]);
  const built = buildGraph(set.objects);
  const errors = [...set.diagnostics, ...built.diagnostics].filter((d) => d.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => `${e.file}:${e.line} ${e.message}`).join("\n"));
  return built.graph;
}

function db(o: { replicas: number; image: string; partition?: number }): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: ${o.replicas}
  selector: {matchLabels: {app: db}}
${o.partition !== undefined ? `  updateStrategy: {rollingUpdate: {partition: ${o.partition}}}\n` : ""}  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: ${o.image}
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`;
}

function node(name: string): NodeSnapshot {
  return {
    name,
    unschedulable: false,
    labels: { "kubernetes.io/hostname": name },
    allocatable: { cpuMillis: 4000, memoryBytes: 4096 * Mi, pods: 110 },
    requested: { cpuMillis: 0, memoryBytes: 0 },
    requestedForScoring: { cpuMillis: 0, memoryBytes: 0 },
    podCount: 0,
    freePorts: 100,
    podsByOwner: {},
    pods: [],
  };
}

function fleet(pods: { name: string; revision: string }[], bound: Record<string, string>): FleetView {
  return { snapshot: () => [node("a"), node("b")], pods: () => pods, claimNode: (c) => bound[c] };
}

describe("a StatefulSet in a plan", () => {
  it("places its pods by ordinal name, each where its claim is bound", () => {
    const after = graphOf(db({ replicas: 3, image: "db:1" }));
    const changes = placeChanges(planGraphs(undefined, after, 0), after, fleet([], { "default/data-db-1": "b", "default/data-db-2": "a" }));
    const c = changes.find((x) => x.key === "StatefulSet/default/db")!;
    expect(c.placements!.map((p) => [p.pod, p.fits])).toEqual([
      ["db-0", true],
      ["db-1", true],
      ["db-2", true],
    ]);
    expect(c.placements!.slice(1).map((p) => p.node)).toEqual(["b", "a"]);
  });

  it("on a template change, plans only the ordinals from the partition up, each replacing its pod", () => {
    const before = graphOf(db({ replicas: 3, image: "db:1" }));
    const after = graphOf(db({ replicas: 3, image: "db:2", partition: 2 }));
    const live = ["db-0", "db-1", "db-2"].map((name) => ({ name, revision: "old" }));
    const changes = placeChanges(planGraphs(before, after, 0), after, fleet(live, {}));
    const c = changes.find((x) => x.key === "StatefulSet/default/db")!;
    expect(c.rollsTo?.replicas).toBe(3);
    expect(c.placements).toMatchObject([{ pod: "db-2", fits: true, message: "replacing db-2 of revision old" }]);
  });
});

describe("the claims of StatefulSets", () => {
  const set = (replicas: number): StatefulSet => graphOf(db({ replicas, image: "db:1" })).get("StatefulSet/default/db")!.object as StatefulSet;

  it("are those of the ordinals below replicas, and of higher ordinals that still have data", () => {
    expect(statefulSetClaims([set(2)], new Set()).map((c) => c.claim)).toEqual(["default/data-db-0", "default/data-db-1"]);
    const kept = statefulSetClaims([set(1)], new Set(["default/data-db-2", "default/data-db-x", "default/other-db-3"]));
    expect(kept).toEqual([
      { claim: "default/data-db-0", storage: "1Gi", deleteDataOnRemoval: false },
      { claim: "default/data-db-2", storage: "1Gi", deleteDataOnRemoval: false },
    ]);
  });
});
