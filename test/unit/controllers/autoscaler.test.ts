/**
 * The autoscaler controller on stand-ins for the fleet and a node's runtime (readings set by the test):
 * CPU rates from two readings, the count told through ReplicaCountPort and onScaled, the status file, the
 * count read back from it after a restart, spec.replicas 0 in Git, and an autoscaler removed.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AutoscalerController } from "../../../operator/src/controllers/autoscaler/controller.js";
import { buildGraph, type DesiredGraph } from "../../../operator/src/graph/index.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import type { ObservedPod } from "../../../operator/src/runtime/fleet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerUsage, NodeRuntime } from "../../../operator/src/runtime/types.js";

const WEB = "Deployment/default/web";
const HPA_PATH = "autoscalers/default/web.yaml";

function graphOf(replicas: number, withHpa = true): DesiredGraph {
  const files = [
    {
      path: "web.yaml",
      content: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1", resources: {requests: {cpu: 100m}}}]
`,
    },
    ...(withHpa
      ? [
          {
            path: "hpa.yaml",
            content: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
`,
          },
        ]
      : []),
  ];
  const built = buildGraph(loadManifests(files).objects);
  expect(built.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return built.graph;
}

function pod(name: string): ObservedPod {
  return {
    name,
    node: "n1",
    owner: WEB,
    namespace: "default",
    labels: {},
    workload: "web",
    revision: "r1",
    commit: "c",
    phase: "Running",
    containers: [{ id: `${name}-c`, runtimeName: name, image: "web:1", labels: { [LABELS.requests]: JSON.stringify({ cpuMillis: 100, memoryBytes: 0 }) }, state: "running", createdAt: 0, startedAt: 0, restartCount: 0 }],
    ports: [],
    requests: { cpuMillis: 100, memoryBytes: 0 },
    requestsForScoring: { cpuMillis: 100, memoryBytes: 0 },
    createdAt: 0,
    ready: true,
    readySince: 0,
    firstReadyAt: 0,
    restartCount: 0,
    crashLooping: false,
  };
}

/** A controller over `graph` whose pods burn `millis` each (set later through the returned setter). */
function setup(initialGraph: DesiredGraph, files: Map<string, string> = new Map()) {
  let graph = initialGraph;
  let now = 1_000_000;
  let millis = 0;
  const cpu = new Map<string, number>();
  let pods = [pod("web-1"), pod("web-2")];
  const runtime = {
    async usage(id: string): Promise<ContainerUsage | undefined> {
      return { cpuNanos: cpu.get(id) ?? 0, memoryBytes: 1 << 20, at: now };
    },
  } as unknown as NodeRuntime;
  const scaled: string[] = [];
  const ctl = new AutoscalerController({
    desired: { graph: () => graph },
    fleet: { pods: () => pods, runtimeOf: () => runtime },
    setStatusFile: (path, content) => (content === undefined ? files.delete(path) : files.set(path, content)),
    statusFiles: (prefix) => [...files.keys()].filter((p) => p.startsWith(prefix)),
    statusFile: (path) => files.get(path),
    onScaled: (w) => scaled.push(w),
    syncPeriodMs: 15_000,
    now: () => now,
  });
  /** Advances the clock by 15 s, the pods having burnt `millis` each meanwhile, and syncs. */
  const sync = async () => {
    now += 15_000;
    for (const p of pods) for (const c of p.containers) cpu.set(c.id, (cpu.get(c.id) ?? 0) + millis * 15_000 * 1000);
    return ctl.reconcile("HorizontalPodAutoscaler/*");
  };
  return {
    ctl,
    files,
    scaled,
    sync,
    burn: (m: number) => (millis = m),
    setGraph: (g: DesiredGraph) => (graph = g),
    setPods: (n: number) => (pods = Array.from({ length: n }, (_, i) => pod(`web-${i + 1}`))),
  };
}

const status = (files: Map<string, string>) => parse(files.get(HPA_PATH)!) as Record<string, unknown> & { conditions: { type: string; reason: string }[] };

describe("the autoscaler controller", () => {
  it("needs two readings for a CPU rate, then scales and tells the workload controller", async () => {
    const t = setup(graphOf(2));
    t.burn(100); // 100 % of the 100m request, against 50 %
    expect(await t.sync()).toEqual({ requeueAfterMs: 15_000 });
    // First reading: no rate yet, no metric, no change.
    expect(t.ctl.replicas(WEB)).toBe(2);
    expect(status(t.files).conditions.find((c) => c.type === "ScalingActive")!.reason).toBe("FailedGetResourceMetric");
    await t.sync();
    expect(t.ctl.replicas(WEB)).toBe(4);
    expect(t.scaled.at(-1)).toBe(WEB);
    const s = status(t.files);
    expect(s).toMatchObject({
      autoscaler: "HorizontalPodAutoscaler/default/web",
      target: WEB,
      currentReplicas: 2,
      desiredReplicas: 4,
      gitReplicas: 2,
      currentMetrics: [{ resource: "cpu", target: "Utilization 50%", averageUtilization: 100, averageValue: "100m" }],
      lastScaleReason: "cpu resource utilization (percentage of request) above target",
    });
    expect(s.message).toContain("spec.replicas in Git (2) is ignored");
  });

  it("keeps the recorded count after a restart until it syncs, and not for a workload no autoscaler targets", async () => {
    const first = setup(graphOf(2));
    first.burn(100);
    await first.sync();
    await first.sync();
    const restarted = setup(graphOf(2), first.files);
    expect(restarted.ctl.replicas(WEB)).toBe(4);
    expect(setup(graphOf(2, false), first.files).ctl.replicas(WEB)).toBeUndefined();
  });

  it("gives the count back to Git when the autoscaler is removed, and removes its status file", async () => {
    const t = setup(graphOf(2));
    t.burn(100);
    await t.sync();
    await t.sync();
    t.setGraph(graphOf(2, false));
    t.scaled.length = 0;
    await t.sync();
    expect(t.scaled).toEqual([WEB]);
    expect(t.ctl.replicas(WEB)).toBeUndefined();
    expect(t.files.has(HPA_PATH)).toBe(false);
  });

  it("scales nothing while spec.replicas is 0 in Git", async () => {
    const t = setup(graphOf(0));
    t.setPods(0);
    await t.sync();
    expect(t.ctl.replicas(WEB)).toBeUndefined();
    expect(status(t.files).conditions.find((c) => c.type === "ScalingActive")!.reason).toBe("ScalingDisabled");
  });
});
