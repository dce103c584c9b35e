/**
 * What budgets.ts counts as an owner's scale (expectedPods for a percentage or maxUnavailable): spec.replicas
 * of a StatefulSet or Deployment in the graph (an autoscaled one's count from its record), a DaemonSet's desiredNumberScheduled from its status record,
 * the pods present for a DaemonSet not recorded yet or an owner gone from Git; and admitDrainMoves over it.
 */
import { describe, expect, it } from "vitest";
import { admitDrainMoves, disruptionStates, type WorkloadRecords } from "../../../operator/src/controllers/disruption/budgets.js";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { ObservedPod } from "../../../operator/src/runtime/fleet.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";

const TEMPLATE = `selector: {matchLabels: {tier: edge}}
  template:
    metadata: {labels: {tier: edge}}
    spec:
      containers: [{name: main, image: "edge:1"}]`;

const DAEMON = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  ${TEMPLATE}
`;
const STATEFUL = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 4
  serviceName: db
  ${TEMPLATE}
`;

const HPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: db}
spec:
  scaleTargetRef: {kind: StatefulSet, name: db}
  maxReplicas: 5
`;

function graphOf(docs: string[], budget: string): DesiredGraph {
  const files = [...docs, `apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: edge}\nspec:\n  selector: {matchLabels: {tier: edge}}\n  ${budget}\n`].map((content, i) => ({ path: `m${i}.yaml`, content }));
  const built = buildGraph(loadManifests(files).objects);
  expect(built.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return built.graph;
}

function pod(name: string, owner: string, node = "n1", ready = true): ObservedPod {
  return {
    name,
    node,
    owner,
    namespace: "default",
    labels: { tier: "edge" },
    workload: owner.split("/")[2]!,
    revision: "r1",
    commit: "c",
    phase: "Running",
    containers: [],
    ports: [],
    requests: { cpuMillis: 0, memoryBytes: 0 },
    requestsForScoring: { cpuMillis: 0, memoryBytes: 0 },
    createdAt: 0,
    ready,
    restartCount: 0,
    crashLooping: false,
  };
}

/** A DaemonSet's status record saying how many nodes should run its pod. */
function daemonRecord(desired: number): WorkloadRecords {
  return (key) =>
    key === "DaemonSet/default/agent"
      ? ({
          kind: "DaemonSet",
          daemonSet: { desiredNumberScheduled: desired, currentNumberScheduled: 2, numberMisscheduled: 0, numberReady: 2, updatedNumberScheduled: 2, numberAvailable: 2, numberUnavailable: 0, nodes: [] },
        } as unknown as WorkloadRecord)
      : undefined;
}

const AGENT = "DaemonSet/default/agent";
const DB = "StatefulSet/default/db";

describe("the scale budgets count", () => {
  const cases: {
    name: string;
    docs: string[];
    budget: string;
    pods: ObservedPod[];
    records?: WorkloadRecords;
    want: { expectedPods: number; desiredHealthy: number; currentHealthy: number; disruptionsAllowed: number };
  }[] = [
    {
      name: "a DaemonSet: its desiredNumberScheduled (3 nodes should run it, 2 pods exist)",
      docs: [DAEMON],
      budget: "maxUnavailable: 1",
      pods: [pod("agent-a", AGENT, "n1"), pod("agent-b", AGENT, "n2")],
      records: daemonRecord(3),
      want: { expectedPods: 3, desiredHealthy: 2, currentHealthy: 2, disruptionsAllowed: 0 },
    },
    {
      name: 'a DaemonSet with minAvailable "50%": of desiredNumberScheduled, rounded up',
      docs: [DAEMON],
      budget: 'minAvailable: "50%"',
      pods: [pod("agent-a", AGENT, "n1"), pod("agent-b", AGENT, "n2"), pod("agent-c", AGENT, "n3")],
      records: daemonRecord(5),
      want: { expectedPods: 5, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    },
    {
      name: "a DaemonSet not recorded yet: its pods",
      docs: [DAEMON],
      budget: "maxUnavailable: 1",
      pods: [pod("agent-a", AGENT, "n1"), pod("agent-b", AGENT, "n2")],
      want: { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 },
    },
    {
      name: "a DaemonSet gone from Git: its pods, whatever its old record says",
      docs: [],
      budget: "maxUnavailable: 1",
      pods: [pod("agent-a", AGENT, "n1"), pod("agent-b", AGENT, "n2")],
      records: daemonRecord(3),
      want: { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 },
    },
    {
      name: "a StatefulSet: spec.replicas (4), with a pod missing",
      docs: [STATEFUL],
      budget: "maxUnavailable: 1",
      pods: [pod("db-0", DB), pod("db-1", DB), pod("db-2", DB)],
      want: { expectedPods: 4, desiredHealthy: 3, currentHealthy: 3, disruptionsAllowed: 0 },
    },
    {
      name: "an autoscaled StatefulSet: the count it runs (its record: 2), not spec.replicas in Git (4)",
      docs: [STATEFUL, HPA],
      budget: "maxUnavailable: 1",
      pods: [pod("db-0", DB), pod("db-1", DB)],
      records: (key) => (key === DB ? ({ kind: "StatefulSet", replicas: { desired: 2 } } as unknown as WorkloadRecord) : undefined),
      want: { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 },
    },
    {
      name: "an autoscaled StatefulSet not recorded yet: spec.replicas in Git",
      docs: [STATEFUL, HPA],
      budget: "maxUnavailable: 1",
      pods: [pod("db-0", DB), pod("db-1", DB)],
      want: { expectedPods: 4, desiredHealthy: 3, currentHealthy: 2, disruptionsAllowed: 0 },
    },
    {
      name: "both under one budget: the sum of their scales",
      docs: [DAEMON, STATEFUL],
      budget: "maxUnavailable: 2",
      pods: [pod("agent-a", AGENT), pod("agent-b", AGENT), pod("db-0", DB), pod("db-1", DB), pod("db-2", DB), pod("db-3", DB)],
      records: daemonRecord(3),
      want: { expectedPods: 7, desiredHealthy: 5, currentHealthy: 6, disruptionsAllowed: 1 },
    },
    {
      name: "minAvailable as a number counts the matched pods, not scales",
      docs: [DAEMON],
      budget: "minAvailable: 1",
      pods: [pod("agent-a", AGENT), pod("agent-b", AGENT)],
      records: daemonRecord(3),
      want: { expectedPods: 2, desiredHealthy: 1, currentHealthy: 2, disruptionsAllowed: 1 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [state] = disruptionStates(graphOf(c.docs, c.budget), c.pods, c.records);
      const { expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed } = state!;
      expect({ expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed }).toEqual(c.want);
    });
  }
});

describe("admitDrainMoves", () => {
  const both = [pod("agent-a", AGENT, "n1"), pod("agent-b", AGENT, "n2"), pod("db-0", DB, "n1"), pod("db-1", DB, "n2"), pod("db-2", DB, "n2"), pod("db-3", DB, "n1")];
  const cases: { name: string; records?: WorkloadRecords; remove: string[]; evictions: string[]; allowed: string[]; blocked: [string, string][] }[] = [
    {
      name: "a drain's move under a budget with room goes",
      remove: ["db-3"],
      evictions: ["db-3"],
      allowed: ["db-3"],
      blocked: [],
    },
    {
      name: "a DaemonSet's missing pods use up the room (desiredNumberScheduled 4): the move waits, and says which budget",
      records: daemonRecord(4),
      remove: ["db-3"],
      evictions: ["db-3"],
      allowed: [],
      blocked: [["n1", "drain of node n1 waits: PodDisruptionBudget default/edge allows 0 disruptions (6 healthy, 7 desired)"]],
    },
    {
      name: "one disruption: the first move goes, the next waits",
      remove: ["db-3", "db-0"],
      evictions: ["db-3", "db-0"],
      allowed: ["db-3"],
      blocked: [["n1", "drain of node n1 waits: PodDisruptionBudget default/edge allows 0 disruptions (6 healthy, 5 desired)"]],
    },
    {
      name: "removals that are not a drain's move are never asked",
      records: daemonRecord(4),
      remove: ["db-3", "db-2"],
      evictions: [],
      allowed: ["db-3", "db-2"],
      blocked: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const graph = graphOf([DAEMON, STATEFUL], "maxUnavailable: 1");
      const out = admitDrainMoves({ graph, fleetPods: both, pods: both.filter((p) => p.owner === DB), remove: c.remove, evictions: c.evictions, ...(c.records ? { records: c.records } : {}) });
      expect(out.allowed).toEqual(c.allowed);
      expect([...out.blocked]).toEqual(c.blocked);
    });
  }

  it("without a graph nothing is held", () => {
    expect(admitDrainMoves({ graph: undefined, fleetPods: both, pods: both, remove: ["db-3"], evictions: ["db-3"] })).toEqual({ allowed: ["db-3"], blocked: new Map() });
  });
});
