/**
 * A StatefulSet scaled by an autoscaler's count (ReplicaCountPort), on the real fleet cache, placer and
 * controller over a fake runtime: the count replaces spec.replicas, and the set scales by its own rules —
 * OrderedReady creates one ordinal at a time, each once the one below is ready, and removes the highest
 * first, one at a time; Parallel creates and removes them all at once. The record's desired count is the
 * autoscaler's; with no count (no autoscaler) spec.replicas in Git rules again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { StatefulSetController } from "../../../operator/src/controllers/statefulset/controller.js";
import type { DesiredView, WorkloadReporter } from "../../../operator/src/controllers/types.js";
import { PodPlacer } from "../../../operator/src/controllers/workload/placer.js";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet } from "../../../operator/src/runtime/fleet.js";
import { DEFAULT_OWNER } from "../../../operator/src/runtime/labels.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";
import { waitFor } from "../../support/wait.js";
import { silentLogger } from "../../../operator/src/api/log.js";

const KEY = "StatefulSet/default/db";

function graphOf(policy: "OrderedReady" | "Parallel", replicas = 1): DesiredGraph {
  const content = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: ${replicas}
  serviceName: db
  podManagementPolicy: ${policy}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: main, image: "db:1", resources: {requests: {cpu: 100m}}}]
`;
  const built = buildGraph(loadManifests([{ path: "db.yaml", content }]).objects);
  expect(built.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return built.graph;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** The controller over one fake node; `count` is what the stand-in autoscaler says (undefined: none). */
async function setup(graph: DesiredGraph) {
  const fleet = new Fleet({ runtimeFactory: (n) => new FakeRuntime({ name: n.name, cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 }), pollMs: 60_000 });
  cleanup = () => fleet.close();
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
  const state: { count: number | undefined } = { count: undefined };
  const asked: string[] = [];
  const placer = new PodPlacer({ fleet, desired, instance: DEFAULT_OWNER, seed: 1 });
  const controller = new StatefulSetController({
    desired,
    fleet,
    reporter,
    placer,
    replicas: {
      replicas: (w) => {
        asked.push(w);
        return state.count;
      },
    },
  });
  await fleet.setNodes([{ name: "a", endpoint: "unix:///fake/a.sock", network: "host", address: "127.0.0.1", portRange: { from: 30000, to: 30099 }, unschedulable: false, labels: {} }]);
  fleet.start();
  const live = () =>
    fleet
      .pods(KEY)
      .filter((p) => p.phase !== "Terminating")
      .map((p) => p.name)
      .sort();
  /**
   * Reconciles until `want` pods are live and ready, recording after each reconcile the live pods and how
   * many of them were not ready (OrderedReady never has two at once).
   */
  const settle = async (want: string[]) => {
    const seen: string[][] = [];
    let maxUnready = 0;
    await waitFor(
      `pods ${want.join(", ")} ready`,
      async () => {
        await controller.reconcile(KEY);
        const pods = fleet.pods(KEY);
        maxUnready = Math.max(maxUnready, pods.filter((p) => !p.ready || p.phase === "Terminating").length);
        const now = live();
        if (seen.at(-1)?.join() !== now.join()) seen.push(now);
        return now.join() === want.join() && pods.length === want.length && pods.every((p) => p.ready) ? true : undefined;
      },
      30_000,
      50,
    );
    return { seen, maxUnready };
  };
  return { fleet, records, state, asked, controller, settle, live };
}

describe("a StatefulSet an autoscaler scales", () => {
  it("OrderedReady: up one ordinal at a time, each after the one below is ready; down from the highest, one at a time", async () => {
    const s = await setup(graphOf("OrderedReady", 1));
    await s.settle(["db-0"]);
    expect(s.asked).toContain(KEY);
    s.state.count = 3;
    const up = await s.settle(["db-0", "db-1", "db-2"]);
    expect(up.seen).toEqual([
      ["db-0", "db-1"],
      ["db-0", "db-1", "db-2"],
    ]);
    expect(up.maxUnready).toBe(1);
    expect(s.records.get(KEY)!.replicas).toMatchObject({ desired: 3, ready: 3 });
    expect(s.records.get(KEY)!.statefulSet?.podManagementPolicy).toBe("OrderedReady");

    s.state.count = 1;
    const down = await s.settle(["db-0"]);
    expect(down.seen).toEqual([["db-0", "db-1"], ["db-0"]]);
    expect(down.maxUnready).toBe(1);
    expect(s.records.get(KEY)!.replicas.desired).toBe(1);
  });

  it("Parallel: every new ordinal at once, and every condemned one at once", async () => {
    const s = await setup(graphOf("Parallel", 1));
    await s.settle(["db-0"]);
    s.state.count = 4;
    await s.controller.reconcile(KEY);
    expect(s.live()).toEqual(["db-0", "db-1", "db-2", "db-3"]);
    await s.settle(["db-0", "db-1", "db-2", "db-3"]);
    s.state.count = 2;
    await s.controller.reconcile(KEY);
    expect(s.live()).toEqual(["db-0", "db-1"]);
    expect(s.records.get(KEY)!.replicas.desired).toBe(2);
  });

  it("without a count (the autoscaler gone) spec.replicas in Git rules again", async () => {
    const s = await setup(graphOf("Parallel", 2));
    s.state.count = 3;
    await s.settle(["db-0", "db-1", "db-2"]);
    s.state.count = undefined;
    await s.settle(["db-0", "db-1"]);
    expect(s.records.get(KEY)!.replicas.desired).toBe(2);
  });
});
