/**
 * Drains and PodDisruptionBudgets for StatefulSets and DaemonSets, on the real fleet cache, placer and
 * controllers over fake runtimes. A StatefulSet's pods run on node a, node b joins and a drains: the
 * drain's move (the highest ordinal on a) goes only while every budget over it allows a disruption; a held
 * move leaves the pod, gives DrainBlocked, a DisruptionBudget event and the node's drain-wait line. The
 * set's own rolling update is not limited by budgets, and two sets under one budget never spend the same
 * disruption. A DaemonSet's pod stays on a draining node (as `kubectl drain --ignore-daemonsets` leaves
 * it) and is never asked of a budget; when its node stops fitting, it goes whatever the budgets say.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { WorkloadEvent } from "../../../operator/src/api/conditions.js";
import { DaemonSetController } from "../../../operator/src/controllers/daemonset/controller.js";
import { DrainWaits } from "../../../operator/src/controllers/disruption/drain-waits.js";
import { StatefulSetController } from "../../../operator/src/controllers/statefulset/controller.js";
import type { DesiredView, WorkloadReporter } from "../../../operator/src/controllers/types.js";
import { PodPlacer } from "../../../operator/src/controllers/workload/placer.js";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet, type NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { DEFAULT_OWNER } from "../../../operator/src/runtime/labels.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";
import { waitFor } from "../../support/wait.js";
import { silentLogger } from "../../../operator/src/api/log.js";

const GiB = 2 ** 30;

function node(name: string, drain = false, labels: Record<string, string> = {}): NodeConfig {
  const base = name === "a" ? 30000 : 31000;
  return { name, endpoint: `unix:///fake/${name}.sock`, network: "host", address: "127.0.0.1", portRange: { from: base, to: base + 99 }, unschedulable: false, labels, ...(drain ? { drain } : {}) };
}

const DAEMON = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent, tier: data}}
  template:
    metadata: {labels: {app: agent, tier: data}}
    spec:
      terminationGracePeriodSeconds: 0
      nodeSelector: {zone: x}
      containers: [{name: main, image: "agent:1", resources: {requests: {cpu: 100m}}}]
`;

function setYaml(name: string, replicas: number, image = "db:1"): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  serviceName: ${name}
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: ${name}, tier: data}}
  template:
    metadata: {labels: {app: ${name}, tier: data}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: main, image: "${image}", resources: {requests: {cpu: 100m}}}]
`;
}

function budgetYaml(spec: string): string {
  return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: data}
spec:
  ${spec}
`;
}

function graphOf(docs: string[]): DesiredGraph {
  const built = buildGraph(loadManifests(docs.map((content, i) => ({ path: `m${i}.yaml`, content }))).objects);
  expect(built.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return built.graph;
}

/** The controller on a fleet of fake nodes, with a graph the test swaps. */
function setup(initial: DesiredGraph) {
  let graph = initial;
  const fleet = new Fleet({ runtimeFactory: (n) => new FakeRuntime({ name: n.name, cpuMillis: 4000, memoryBytes: 8 * GiB }), pollMs: 60_000 });
  const desired: DesiredView = {
    graph: () => graph,
    commit: () => "c1",
    ready: () => true,
    entry: (key) => {
      const m = graph.get(key);
      return m ? { object: m.object, graph, commit: "c1", paused: false } : undefined;
    },
  };
  const records = new Map<string, WorkloadRecord>();
  const reporter: WorkloadReporter = {
    report: (record) => records.set(`${record.kind}/${record.namespace}/${record.name}`, record),
    removed: (key) => records.delete(key),
    previousEvents: () => [],
    previousRecord: (key) => records.get(key),
    log: () => silentLogger,
  };
  const drainWaits = new DrainWaits();
  const placer = new PodPlacer({ fleet, desired, instance: DEFAULT_OWNER, seed: 1 });
  const controller = new StatefulSetController({ desired, fleet, reporter, placer, drainWaits });
  const daemons = new DaemonSetController({ desired, fleet, reporter, placer });
  return {
    fleet,
    records,
    drainWaits,
    controller,
    daemons,
    setGraph: (g: DesiredGraph) => (graph = g),
    /** Reconciles the sets until each has `replicas` ready pods. */
    async settle(sets: Record<string, number>): Promise<void> {
      await waitFor(
        "every set ready",
        async () => {
          for (const name of Object.keys(sets)) await controller.reconcile(`StatefulSet/default/${name}`);
          return Object.entries(sets).every(([name, n]) => fleet.pods(`StatefulSet/default/${name}`).filter((p) => p.ready).length === n);
        },
        30_000,
        100,
      );
    },
    live: (name: string) =>
      fleet
        .pods(`StatefulSet/default/${name}`)
        .filter((p) => p.phase !== "Terminating")
        .map((p) => p.name),
  };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** The set's three pods ready on a, then b joins and a drains; one reconcile of the set. */
async function drainOnce(budget: string | undefined) {
  const g = graphOf([setYaml("db", 3), ...(budget ? [budgetYaml(budget)] : [])]);
  const s = setup(g);
  cleanup = () => s.fleet.close();
  await s.fleet.setNodes([node("a")]);
  s.fleet.start();
  await s.settle({ db: 3 });
  await s.fleet.setNodes([node("a", true), node("b")]);
  await s.controller.reconcile("StatefulSet/default/db");
  const record = s.records.get("StatefulSet/default/db")!;
  return { s, record, live: s.live("db") };
}

const held = (line: string) => ({ kept: ["db-0", "db-1", "db-2"], line });

describe("a StatefulSet's drain and PodDisruptionBudgets", () => {
  const cases: { name: string; budget?: string; kept: string[]; line?: string }[] = [
    { name: "no budget: the highest ordinal on the draining node goes", kept: ["db-0", "db-1"] },
    { name: "maxUnavailable 1 allows one disruption", budget: "maxUnavailable: 1\n  selector: {matchLabels: {tier: data}}", kept: ["db-0", "db-1"] },
    { name: "a budget over other pods does not hold it", budget: "minAvailable: 3\n  selector: {matchLabels: {app: web}}", kept: ["db-0", "db-1"] },
    {
      name: "minAvailable 3 of 3 holds it",
      budget: "minAvailable: 3\n  selector: {matchLabels: {tier: data}}",
      ...held("drain of node a waits: PodDisruptionBudget default/data allows 0 disruptions (3 healthy, 3 desired)"),
    },
    {
      name: 'minAvailable "100%" (of spec.replicas) holds it',
      budget: 'minAvailable: "100%"\n  selector: {matchLabels: {tier: data}}',
      ...held("drain of node a waits: PodDisruptionBudget default/data allows 0 disruptions (3 healthy, 3 desired)"),
    },
    {
      name: "maxUnavailable 0 holds it",
      budget: "maxUnavailable: 0\n  selector: {matchLabels: {app: db}}",
      ...held("drain of node a waits: PodDisruptionBudget default/data allows 0 disruptions (3 healthy, 3 desired)"),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { s, record, live } = await drainOnce(c.budget);
      expect(live).toEqual(c.kept);
      const blocked = record.conditions.find((x) => x.type === "DrainBlocked");
      const events = record.events.filter((e: WorkloadEvent) => e.reason === "DisruptionBudget").map((e) => e.message);
      if (c.line) {
        expect(blocked).toMatchObject({ status: "True", reason: "DisruptionBudget", message: c.line });
        expect(events).toEqual([c.line]);
        expect(s.drainWaits.forNode("a")).toEqual([c.line]);
      } else {
        expect(blocked).toBeUndefined();
        expect(events).toEqual([]);
        expect(s.drainWaits.forNode("a")).toEqual([]);
        expect(record.events.map((e) => e.message)).toContain("delete Pod db-2 in StatefulSet db");
      }
    });
  }

  it("a held drain goes on once the budget allows it, and its condition and drain-wait line clear", async () => {
    const { s } = await drainOnce("minAvailable: 3\n  selector: {matchLabels: {tier: data}}");
    expect(s.drainWaits.forNode("a")).toHaveLength(1);
    s.setGraph(graphOf([setYaml("db", 3), budgetYaml("minAvailable: 2\n  selector: {matchLabels: {tier: data}}")]));
    await s.controller.reconcile("StatefulSet/default/db");
    expect(s.live("db")).toEqual(["db-0", "db-1"]);
    expect(s.records.get("StatefulSet/default/db")!.conditions.some((x) => x.type === "DrainBlocked")).toBe(false);
    expect(s.drainWaits.forNode("a")).toEqual([]);
  });

  it("the set's own rolling update is not limited by budgets", async () => {
    const budget = budgetYaml("minAvailable: 3\n  selector: {matchLabels: {tier: data}}");
    const s = setup(graphOf([setYaml("db", 3), budget]));
    cleanup = () => s.fleet.close();
    await s.fleet.setNodes([node("a")]);
    s.fleet.start();
    await s.settle({ db: 3 });
    s.setGraph(graphOf([setYaml("db", 3, "db:2"), budget]));
    await s.controller.reconcile("StatefulSet/default/db");
    expect(s.live("db")).toEqual(["db-0", "db-1"]);
    expect(s.records.get("StatefulSet/default/db")!.conditions.some((x) => x.type === "DrainBlocked")).toBe(false);
  });

  it("two sets under one budget never spend the same disruption", async () => {
    const budget = budgetYaml("minAvailable: 3\n  selector: {matchLabels: {tier: data}}");
    const s = setup(graphOf([setYaml("db", 2), setYaml("cache", 2), budget]));
    cleanup = () => s.fleet.close();
    await s.fleet.setNodes([node("a")]);
    s.fleet.start();
    await s.settle({ db: 2, cache: 2 });
    await s.fleet.setNodes([node("a", true), node("b")]);
    await s.controller.reconcile("StatefulSet/default/cache");
    await s.controller.reconcile("StatefulSet/default/db");
    expect(s.live("cache")).toEqual(["cache-0"]);
    expect(s.live("db")).toEqual(["db-0", "db-1"]);
    expect(s.drainWaits.forNode("a")).toEqual(["drain of node a waits: PodDisruptionBudget default/data allows 0 disruptions (3 healthy, 3 desired)"]);
  });
});

describe("a DaemonSet on a draining node", () => {
  /** The DaemonSet's pods ready on nodes a and b (both in zone x), under a budget that allows no disruption. */
  async function running() {
    const s = setup(graphOf([DAEMON, budgetYaml("minAvailable: 2\n  selector: {matchLabels: {app: agent}}")]));
    cleanup = () => s.fleet.close();
    await s.fleet.setNodes([node("a", false, { zone: "x" }), node("b", false, { zone: "x" })]);
    s.fleet.start();
    await waitFor(
      "the agent on both nodes",
      async () => {
        await s.daemons.reconcile("DaemonSet/default/agent");
        return s.fleet.pods("DaemonSet/default/agent").filter((p) => p.ready).length === 2;
      },
      30_000,
      100,
    );
    return s;
  }

  it("keeps its pod there, as kubectl drain --ignore-daemonsets leaves it, and no budget is asked", async () => {
    const s = await running();
    await s.fleet.setNodes([node("a", true, { zone: "x" }), node("b", false, { zone: "x" })]);
    await s.daemons.reconcile("DaemonSet/default/agent");
    const pods = s.fleet.pods("DaemonSet/default/agent").filter((p) => p.phase !== "Terminating");
    expect(pods.map((p) => p.node).sort()).toEqual(["a", "b"]);
    const record = s.records.get("DaemonSet/default/agent")!;
    expect(record.daemonSet?.desiredNumberScheduled).toBe(2);
    expect(record.conditions.some((c) => c.type === "DrainBlocked")).toBe(false);
    expect(s.drainWaits.forNode("a")).toEqual([]);
  });

  it("removes its pod from a node that stops fitting, whatever the budgets say (its own deletion, not an eviction)", async () => {
    const s = await running();
    await s.fleet.setNodes([node("a", true, {}), node("b", false, { zone: "x" })]);
    await s.daemons.reconcile("DaemonSet/default/agent");
    const pods = s.fleet.pods("DaemonSet/default/agent").filter((p) => p.phase !== "Terminating");
    expect(pods.map((p) => p.node)).toEqual(["b"]);
    expect(s.records.get("DaemonSet/default/agent")!.daemonSet?.desiredNumberScheduled).toBe(1);
  });
});
