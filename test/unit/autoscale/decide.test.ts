/**
 * The HorizontalPodAutoscaler's decisions against Kubernetes' documented algorithm
 * (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details) and the
 * cases of its replica calculator and behavior code: one table per rule.
 */
import { describe, expect, it } from "vitest";
import {
  CPU_INITIALIZATION_PERIOD_MS,
  decideScale,
  metricReplicas,
  resolveBehavior,
  resolveMetrics,
  type AutoscalerMemory,
  type ResolvedMetric,
  type ScaleInput,
  type ScalePod,
} from "../../../operator/src/autoscale/index.js";

const NOW = 10_000_000;
const OLD = NOW - 2 * CPU_INITIALIZATION_PERIOD_MS; // started long ago: past the cpu initialization period

/** A running, ready pod started long ago with `cpu` millicores of usage and a 1000m request. */
function pod(name: string, cpu: number | undefined, o: Partial<ScalePod> = {}): ScalePod {
  return {
    name,
    phase: "Running",
    ready: true,
    startedAt: OLD,
    readySince: OLD,
    everReady: true,
    usage: cpu === undefined ? {} : { cpu },
    windowStart: NOW - 15_000,
    requests: { cpu: 1000 },
    ...o,
  };
}

const pods = (usages: (number | undefined)[], o: (i: number) => Partial<ScalePod> = () => ({})): ScalePod[] => usages.map((u, i) => pod(`p${i}`, u, o(i)));
const cpuUtil = (n: number): ResolvedMetric => ({ resource: "cpu", type: "Utilization", averageUtilization: n });
const cpuAvg = (m: number): ResolvedMetric => ({ resource: "cpu", type: "AverageValue", averageValue: m });

describe("metricReplicas (Kubernetes' replica calculator)", () => {
  it.each([
    // The documentation's example: 200m against 100m doubles, 50m halves.
    ["200m per pod against an average value of 100m doubles", cpuAvg(100), 2, pods([200, 200]), 4],
    ["50m per pod against 100m halves", cpuAvg(100), 4, pods([50, 50, 50, 50]), 2],
    ["105m against 100m is within the tolerance of 0.1: unchanged", cpuAvg(100), 3, pods([105, 105, 105]), 3],
    ["111m against 100m is outside it", cpuAvg(100), 3, pods([111, 111, 111]), 4],
    // Utilization = usage / request: 1500m of 3000m is 50 %, against 30 % → ceil(3 × 50/30) = 5.
    ["scale up by utilization", cpuUtil(30), 3, pods([300, 500, 700]), 5],
    // 1400m of 5000m is 28 %, against 50 % → ceil(5 × 0.56) = 3.
    ["scale down by utilization", cpuUtil(50), 5, pods([100, 300, 500, 250, 250]), 3],
    // A not-ready pod counts as 0 % on a scale-up: 1200m of 2000m = 60 % (ratio 2), again with it at 0: 40 % → ceil(1.33 × 3) = 4.
    ["an unready pod counts as 0 on a scale-up", cpuUtil(30), 3, pods([300, 500, 700], (i) => (i === 0 ? { ready: false, everReady: false } : {})), 4],
    // On a scale-down unready pods are left out: 1000m of 3000m = 33 % → ceil(0.66 × 3) = 2.
    ["unready pods are left out of a scale-down", cpuUtil(50), 5, pods([100, 300, 500, 250, 250], (i) => (i < 2 ? { ready: false, everReady: false } : {})), 2],
    ["failed and stopping pods are ignored", cpuUtil(30), 2, [...pods([500, 700]), pod("f", 0, { phase: "Failed" }), pod("t", 0, { phase: "Terminating" })], 4],
    // A missing pod counts as 0 on a scale-up: 3000m of 3000m = 100 % against 50 → 6.
    ["a pod without a sample counts as 0 on a scale-up", cpuUtil(50), 3, pods([1500, 1500, undefined]), 6],
    // … and as 100 % of its request on a scale-down: 1200m of 3000m = 40 % → ceil(0.8 × 3) = 3, not ceil(0.2 × 2) = 1.
    ["a pod without a sample counts as its request on a scale-down", cpuUtil(50), 3, pods([100, 100, undefined]), 3],
    ["a missing pod at the target keeps the count", cpuUtil(100), 2, pods([1000, undefined]), 2],
    // A Pending pod is unready: on a scale-up it counts as 0.
    ["a Pending pod counts as 0 on a scale-up", cpuUtil(50), 2, [...pods([1000]), pod("pending", undefined, { phase: "Pending", startedAt: undefined })], 2],
    // Within its first 300 s a pod whose sample began before it was ready does not count (cpu).
    ["a new pod's sample from before its readiness is not counted", cpuUtil(50), 2, [...pods([1000]), pod("new", 5000, { startedAt: NOW - 20_000, readySince: NOW - 10_000, windowStart: NOW - 15_000 })], 2],
  ])("%s", (_name, metric, current, ps, want) => {
    const r = metricReplicas(metric, current, ps, NOW);
    expect("replicas" in r ? r.replicas : r.invalid).toBe(want);
  });

  it("reports the utilization as Kubernetes' integer percent", () => {
    expect(metricReplicas(cpuUtil(50), 5, pods([100, 300, 500, 250, 250]), NOW)).toEqual({ replicas: 3, current: { averageUtilization: 28, averageValue: 280 } });
  });

  it.each([
    ["a container without a request makes Utilization invalid", cpuUtil(50), pods([100, 100], (i) => (i === 1 ? { requests: {} } : {}))],
    ["no pod has a sample", cpuUtil(50), pods([undefined, undefined])],
    ["no pods", cpuUtil(50), []],
  ])("%s", (_name, metric, ps) => {
    expect(metricReplicas(metric, 2, ps, NOW)).toHaveProperty("invalid");
  });

  it("AverageValue needs no request (memory in bytes)", () => {
    const mem: ResolvedMetric = { resource: "memory", type: "AverageValue", averageValue: 100 * 2 ** 20 };
    const ps = pods([0, 0]).map((p) => ({ ...p, usage: { memory: 300 * 2 ** 20 }, requests: {} }));
    expect(metricReplicas(mem, 2, ps, NOW)).toMatchObject({ replicas: 6 });
  });
});

/** A sync input with Kubernetes' defaults. */
function input(o: Partial<ScaleInput> & { currentReplicas: number; pods: ScalePod[] }): ScaleInput {
  return { minReplicas: 1, maxReplicas: 10, metrics: [cpuUtil(50)], behavior: resolveBehavior(undefined), now: NOW, memory: undefined, conditions: [], ...o };
}
const conditionOf = (d: { conditions: { type: string; status: string; reason: string }[] }, type: string) => {
  const c = d.conditions.find((x) => x.type === type)!;
  return `${c.status} ${c.reason}`;
};

describe("decideScale (Kubernetes' HPA sync)", () => {
  it("scales up at once with the reason and conditions Kubernetes gives", () => {
    const d = decideScale(input({ currentReplicas: 2, pods: pods([1000, 1000]) }));
    expect(d.desiredReplicas).toBe(4);
    expect(d.reason).toBe("cpu resource utilization (percentage of request) above target");
    expect(conditionOf(d, "AbleToScale")).toBe("True SucceededRescale");
    expect(conditionOf(d, "ScalingActive")).toBe("True ValidMetricFound");
    expect(conditionOf(d, "ScalingLimited")).toBe("False DesiredWithinRange");
    expect(d.metrics[0]!.current).toEqual({ averageUtilization: 100, averageValue: 1000 });
  });

  it("the default scale-up rate is max(4 pods, 100 %) per 15 s", () => {
    const first = decideScale(input({ currentReplicas: 1, maxReplicas: 40, pods: pods([10_000]) }));
    expect(first.desiredReplicas).toBe(5);
    expect(conditionOf(first, "ScalingLimited")).toBe("True ScaleUpLimit");
    // 10 s later the 4 pods added count against the period: nothing more.
    const many = pods([1000, 1000, 1000, 1000, 1000]);
    const same = decideScale(input({ currentReplicas: 5, maxReplicas: 40, pods: many, now: NOW + 10_000, memory: first.memory }));
    expect(same.desiredReplicas).toBe(5);
    // A period later: max(5 + 4, 2 × 5) = 10.
    const next = decideScale(input({ currentReplicas: 5, maxReplicas: 40, pods: many, now: NOW + 16_000, memory: first.memory }));
    expect(next.desiredReplicas).toBe(10);
  });

  it("is clamped to maxReplicas (TooManyReplicas) and brings a count outside the bounds back first", () => {
    const d = decideScale(input({ currentReplicas: 4, maxReplicas: 5, pods: pods([1000, 1000, 1000, 1000]) }));
    expect(d.desiredReplicas).toBe(5);
    expect(conditionOf(d, "ScalingLimited")).toBe("True TooManyReplicas");
    expect(decideScale(input({ currentReplicas: 7, maxReplicas: 5, pods: [] }))).toMatchObject({ desiredReplicas: 5, reason: "Current number of replicas above Spec.MaxReplicas" });
    expect(decideScale(input({ currentReplicas: 1, minReplicas: 2, pods: [] }))).toMatchObject({ desiredReplicas: 2, reason: "Current number of replicas below Spec.MinReplicas" });
  });

  it("scale-down waits for the 300 s stabilization window (the first sync seeds it with the current count)", () => {
    const low = pods([100, 100, 100, 100]);
    const first = decideScale(input({ currentReplicas: 4, pods: low }));
    expect(first.desiredReplicas).toBe(4);
    expect(conditionOf(first, "AbleToScale")).toBe("True ScaleDownStabilized");
    const mid = decideScale(input({ currentReplicas: 4, pods: low, now: NOW + 299_000, memory: first.memory }));
    expect(mid.desiredReplicas).toBe(4);
    const after = decideScale(input({ currentReplicas: 4, pods: low, now: NOW + 301_000, memory: mid.memory }));
    expect(after.desiredReplicas).toBe(1);
    expect(after.reason).toBe("All metrics below target");
    expect(conditionOf(after, "ScalingLimited")).toBe("False DesiredWithinRange");
  });

  it("a stabilization window takes the highest recommendation of the window down, not the latest", () => {
    const behavior = resolveBehavior({ scaleDown: { stabilizationWindowSeconds: 60 } });
    const memory: AutoscalerMemory = {
      recommendations: [
        { replicas: 3, at: NOW - 30_000 },
        { replicas: 6, at: NOW - 90_000 },
      ],
      scaleUpEvents: [],
      scaleDownEvents: [],
    };
    const d = decideScale(input({ currentReplicas: 6, pods: pods([0, 0, 0, 0, 0, 0]), behavior, memory }));
    expect(d.desiredReplicas).toBe(3);
  });

  it("the documentation's scale-down policies: 10 % or 4 pods per 60 s, the bigger change (8 of 80)", () => {
    const behavior = resolveBehavior({
      scaleDown: {
        stabilizationWindowSeconds: 0,
        policies: [
          { type: "Pods", value: 4, periodSeconds: 60 },
          { type: "Percent", value: 10, periodSeconds: 60 },
        ],
      },
    });
    const idle = (n: number) => pods(Array.from({ length: n }, () => 10));
    const first = decideScale(input({ currentReplicas: 80, maxReplicas: 100, pods: idle(80), behavior }));
    expect(first.desiredReplicas).toBe(72);
    expect(conditionOf(first, "ScalingLimited")).toBe("True ScaleDownLimit");
    const within = decideScale(input({ currentReplicas: 72, maxReplicas: 100, pods: idle(72), behavior, memory: first.memory, now: NOW + 30_000 }));
    expect(within.desiredReplicas).toBe(72);
    // 72 × 0.9 = 64.8 → 64: 8 pods again.
    const later = decideScale(input({ currentReplicas: 72, maxReplicas: 100, pods: idle(72), behavior, memory: first.memory, now: NOW + 61_000 }));
    expect(later.desiredReplicas).toBe(64);
    // selectPolicy Min: the smaller change, 4 pods.
    const min = resolveBehavior({ scaleDown: { ...behavior.scaleDown, selectPolicy: "Min" } });
    expect(decideScale(input({ currentReplicas: 80, maxReplicas: 100, pods: idle(80), behavior: min })).desiredReplicas).toBe(76);
  });

  it("selectPolicy Disabled turns a direction off", () => {
    const behavior = resolveBehavior({ scaleUp: { selectPolicy: "Disabled" } });
    const d = decideScale(input({ currentReplicas: 2, pods: pods([1000, 1000]), behavior }));
    expect(d.desiredReplicas).toBe(2);
    expect(conditionOf(d, "ScalingLimited")).toBe("True ScaleUpLimit");
  });

  it("spec.replicas 0 disables scaling", () => {
    const d = decideScale(input({ currentReplicas: 0, pods: [] }));
    expect(d.desiredReplicas).toBe(0);
    expect(conditionOf(d, "ScalingActive")).toBe("False ScalingDisabled");
  });

  it("an invalid metric keeps the count (ScalingActive False), and blocks a scale-down proposed by the others", () => {
    const noRequests = pods([100, 100]).map((p) => ({ ...p, requests: {} }));
    const d = decideScale(input({ currentReplicas: 2, pods: noRequests }));
    expect(d.desiredReplicas).toBe(2);
    expect(conditionOf(d, "ScalingActive")).toBe("False FailedGetResourceMetric");
    const mixed = decideScale(
      input({
        currentReplicas: 4,
        pods: pods([0, 0, 0, 0]).map((p) => ({ ...p, usage: { cpu: 0 } })),
        metrics: [cpuAvg(100), { resource: "memory", type: "AverageValue", averageValue: 1 }],
        behavior: resolveBehavior({ scaleDown: { stabilizationWindowSeconds: 0 } }),
      }),
    );
    expect(mixed.desiredReplicas).toBe(4);
  });

  it("the largest proposal of several metrics wins", () => {
    const ps = pods([200, 200]).map((p) => ({ ...p, usage: { cpu: 200, memory: 250 } }));
    const d = decideScale(input({ currentReplicas: 2, pods: ps, metrics: [cpuAvg(100), { resource: "memory", type: "AverageValue", averageValue: 100 }] }));
    expect(d.desiredReplicas).toBe(5);
    expect(d.reason).toBe("memory resource above target");
  });

  it("resolveMetrics: cpu at 80 % when absent, quantities as millicores and bytes", () => {
    const hpa = (metrics?: unknown) =>
      ({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "h" }, spec: { scaleTargetRef: { kind: "Deployment", name: "w" }, maxReplicas: 3, ...(metrics ? { metrics } : {}) } }) as never;
    expect(resolveMetrics(hpa())).toEqual([{ resource: "cpu", type: "Utilization", averageUtilization: 80 }]);
    expect(
      resolveMetrics(
        hpa([
          { type: "Resource", resource: { name: "cpu", target: { type: "AverageValue", averageValue: "0.5" } } },
          { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "64Mi" } } },
        ]),
      ),
    ).toEqual([
      { resource: "cpu", type: "AverageValue", averageValue: 500 },
      { resource: "memory", type: "AverageValue", averageValue: 64 * 2 ** 20 },
    ]);
  });
});
