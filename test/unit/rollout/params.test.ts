import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import type { DeploymentSpec } from "../../../operator/src/api/generated/deployment.js";
import type { RolloutSpec } from "../../../operator/src/api/generated/rollout.js";
import { DEFAULT_ANALYSIS, parseDurationSeconds, parsePromote, resolveBlueGreenParams, resolveCanaryParams, resolveFailurePolicy, resolveRollingParams } from "../../../operator/src/rollout/index.js";

function spec(o: Partial<DeploymentSpec> & { maxSurge?: number | string; maxUnavailable?: number | string } = {}): DeploymentSpec {
  const { maxSurge, maxUnavailable, ...rest } = o;
  const rollingUpdate = {
    ...(maxSurge !== undefined ? { maxSurge } : {}),
    ...(maxUnavailable !== undefined ? { maxUnavailable } : {}),
  };
  return {
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "web:1" }] } },
    ...(Object.keys(rollingUpdate).length > 0 ? { strategy: { type: "RollingUpdate", rollingUpdate } } : {}),
    ...rest,
  };
}

describe("resolveRollingParams", () => {
  const cases: { name: string; spec: DeploymentSpec; want: [replicas: number, surge: number, unavailable: number] }[] = [
    { name: "defaults to 1 replica at 25%/25%, which resolves to surge 1, unavailable 0", spec: spec(), want: [1, 1, 0] },
    { name: "resolves 10 replicas at 25%/25% to surge 3 (rounded up) and unavailable 2 (rounded down)", spec: spec({ replicas: 10 }), want: [10, 3, 2] },
    { name: "resolves 3 replicas at 25%/25% to surge 1 and unavailable 0", spec: spec({ replicas: 3 }), want: [3, 1, 0] },
    { name: "resolves 4 replicas at 25%/25% to exactly 1 and 1", spec: spec({ replicas: 4 }), want: [4, 1, 1] },
    { name: "takes absolute numbers as they are", spec: spec({ replicas: 10, maxSurge: 4, maxUnavailable: 1 }), want: [10, 4, 1] },
    {
      name: "sets unavailable to 1 when both round to 0",
      spec: spec({ replicas: 3, maxSurge: "0%", maxUnavailable: "10%" }),
      want: [3, 0, 1],
    },
    { name: "allows a surge above 100%", spec: spec({ replicas: 3, maxSurge: "200%" }), want: [3, 6, 0] },
    { name: "caps unavailable at replicas", spec: spec({ replicas: 3, maxUnavailable: 5 }), want: [3, 1, 3] },
    { name: "resolves 0 replicas to unavailable 0", spec: spec({ replicas: 0 }), want: [0, 0, 0] },
    { name: "accepts 100% unavailable", spec: spec({ replicas: 5, maxSurge: 0, maxUnavailable: "100%" }), want: [5, 0, 5] },
  ];
  it.each(cases)("$name", ({ spec: s, want }) => {
    const p = resolveRollingParams(s);
    expect([p.replicas, p.maxSurge, p.maxUnavailable]).toEqual(want);
  });

  it("defaults minReadySeconds to 0 and progressDeadlineSeconds to 600, and keeps given values", () => {
    expect(resolveRollingParams(spec())).toMatchObject({ minReadySeconds: 0, progressDeadlineSeconds: 600 });
    expect(resolveRollingParams(spec({ minReadySeconds: 5, progressDeadlineSeconds: 60 }))).toMatchObject({
      minReadySeconds: 5,
      progressDeadlineSeconds: 60,
    });
  });

  const invalid: { name: string; spec: DeploymentSpec }[] = [
    { name: "a count given as a string without %", spec: spec({ maxSurge: "2" }) },
    { name: "a fractional percentage", spec: spec({ maxSurge: "2.5%" }) },
    { name: "a negative count", spec: spec({ maxUnavailable: -1 }) },
    { name: "a fractional count", spec: spec({ maxSurge: 1.5 }) },
    { name: "maxUnavailable above 100%", spec: spec({ maxUnavailable: "150%" }) },
    { name: "maxSurge and maxUnavailable both 0", spec: spec({ maxSurge: 0, maxUnavailable: "0%" }) },
    { name: "negative replicas", spec: spec({ replicas: -1 }) },
    { name: "progressDeadlineSeconds not above minReadySeconds", spec: spec({ minReadySeconds: 30, progressDeadlineSeconds: 30 }) },
  ];
  it.each(invalid)("rejects $name with InvalidField", ({ spec: s }) => {
    let caught: unknown;
    try {
      resolveRollingParams(s);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("resolveRollingParams: strategy, paused, revision history", () => {
  it("defaults to RollingUpdate, not paused, revisionHistoryLimit 10, podReplacementPolicy TerminationStarted (Kubernetes' default)", () => {
    expect(resolveRollingParams(spec())).toMatchObject({ strategy: "RollingUpdate", paused: false, revisionHistoryLimit: 10, podReplacementPolicy: "TerminationStarted" });
    expect(resolveRollingParams({ ...spec(), podReplacementPolicy: "TerminationComplete" })).toMatchObject({ podReplacementPolicy: "TerminationComplete" });
  });

  it("takes Recreate with maxSurge and maxUnavailable 0, paused and the history limit as given", () => {
    const s = { ...spec({ replicas: 4 }), strategy: { type: "Recreate" as const }, paused: true, revisionHistoryLimit: 2 };
    expect(resolveRollingParams(s)).toMatchObject({ strategy: "Recreate", maxSurge: 0, maxUnavailable: 0, paused: true, revisionHistoryLimit: 2, replicas: 4 });
  });

  it.each([
    { name: "rollingUpdate with Recreate", spec: { ...spec(), strategy: { type: "Recreate", rollingUpdate: { maxSurge: 1 } } } },
    { name: "an unknown strategy type", spec: { ...spec(), strategy: { type: "BlueGreen" } } },
    { name: "a negative revisionHistoryLimit", spec: { ...spec(), revisionHistoryLimit: -1 } },
    { name: "an unknown podReplacementPolicy", spec: { ...spec(), podReplacementPolicy: "Always" } },
  ])("rejects $name with InvalidField", ({ spec: s }) => {
    let caught: unknown;
    try {
      resolveRollingParams(s as DeploymentSpec);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

function rolloutSpec(strategy: RolloutSpec["strategy"], o: Partial<RolloutSpec> = {}): RolloutSpec {
  return {
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "web:1" }] } },
    strategy,
    ...o,
  } as RolloutSpec;
}

describe("resolveCanaryParams", () => {
  it("applies Argo's defaults: 1 replica, 25%/25%, no steps", () => {
    const got = resolveCanaryParams(rolloutSpec({ canary: {} }));
    expect(got.params).toMatchObject({ replicas: 1, maxSurge: 1, maxUnavailable: 0, minReadySeconds: 0, progressDeadlineSeconds: 600, paused: false });
    expect(got.steps).toEqual([]);
  });

  it("resolves steps, pause durations in seconds and surge/unavailable", () => {
    const got = resolveCanaryParams(
      rolloutSpec({ canary: { maxSurge: "20%", maxUnavailable: 1, steps: [{ setWeight: 20 }, { pause: { duration: "1m30s" } }, { setWeight: 50 }, { pause: {} }, { pause: { duration: 45 } }] } }, { replicas: 10 }),
    );
    expect(got.params).toMatchObject({ replicas: 10, maxSurge: 2, maxUnavailable: 1 });
    expect(got.steps).toEqual([{ setWeight: 20 }, { pause: { durationSeconds: 90 } }, { setWeight: 50 }, { pause: {} }, { pause: { durationSeconds: 45 } }]);
  });

  it.each([
    { name: "a weight above 100", strategy: { canary: { steps: [{ setWeight: 120 }] } } },
    { name: "a step with both setWeight and pause", strategy: { canary: { steps: [{ setWeight: 10, pause: {} }] } } },
    { name: "a step with neither", strategy: { canary: { steps: [{}] } } },
    { name: "a malformed duration", strategy: { canary: { steps: [{ pause: { duration: "soon" } }] } } },
    { name: "maxSurge and maxUnavailable both 0", strategy: { canary: { maxSurge: 0, maxUnavailable: 0 } } },
    { name: "a blue/green strategy", strategy: { blueGreen: {} } },
  ])("rejects $name with InvalidField", ({ strategy }) => {
    let caught: unknown;
    try {
      resolveCanaryParams(rolloutSpec(strategy as RolloutSpec["strategy"]));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("resolveCanaryParams: analysis steps", () => {
  it("fills what an analysis step does not say with the defaults: 3 windows of 30 s, no failure or inconclusive window tolerated, 20 requests, 99% success, no latency check", () => {
    const got = resolveCanaryParams(rolloutSpec({ canary: { steps: [{ setWeight: 20 }, { analysis: {} }] } }));
    expect(got.steps[1]).toEqual({ analysis: { intervalSeconds: 30, count: 3, failureLimit: 0, inconclusiveLimit: 0, minRequests: 20, successRateMin: 99 } });
    expect(got.steps[1]).toEqual({ analysis: DEFAULT_ANALYSIS });
  });

  it("resolves every field of an analysis step, its interval as a duration", () => {
    const analysis = { interval: "1m30s", count: 5, failureLimit: 1, inconclusiveLimit: 2, minRequests: 100, successRate: { min: 99.5 }, latencyP95: { maxMs: 250, maxRatio: 1.5 } };
    expect(resolveCanaryParams(rolloutSpec({ canary: { steps: [{ setWeight: 20 }, { analysis }] } })).steps[1]).toEqual({
      analysis: { intervalSeconds: 90, count: 5, failureLimit: 1, inconclusiveLimit: 2, minRequests: 100, successRateMin: 99.5, latencyP95: { maxMs: 250, maxRatio: 1.5 } },
    });
  });

  it.each([
    { name: "an interval under a second", analysis: { interval: "500ms" } },
    { name: "an interval that is no duration", analysis: { interval: "soon" } },
    { name: "a count of 0", analysis: { count: 0 } },
    { name: "minRequests of 0", analysis: { minRequests: 0 } },
    { name: "a success rate above 100", analysis: { successRate: { min: 101 } } },
    { name: "a latency check without a limit", analysis: { latencyP95: {} } },
    { name: "a latency ratio of 0", analysis: { latencyP95: { maxRatio: 0 } } },
    { name: "a step with both setWeight and analysis", step: { setWeight: 10, analysis: {} } },
  ])("rejects $name with InvalidField", ({ analysis, step }) => {
    let caught: unknown;
    try {
      resolveCanaryParams(rolloutSpec({ canary: { steps: [step ?? { analysis }] } } as RolloutSpec["strategy"]));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("resolveBlueGreenParams", () => {
  it("applies Argo's defaults: auto promotion at once, scale-down delay 30 s, full preview", () => {
    const got = resolveBlueGreenParams(rolloutSpec({ blueGreen: {} }, { replicas: 3 }));
    expect(got.blueGreen).toEqual({ autoPromotionEnabled: true, autoPromotionSeconds: 0, scaleDownDelaySeconds: 30 });
    expect(got.params).toMatchObject({ replicas: 3, maxSurge: 0, maxUnavailable: 0 });
  });

  it("keeps given values and caps previewReplicaCount at replicas", () => {
    const got = resolveBlueGreenParams(rolloutSpec({ blueGreen: { autoPromotionEnabled: false, autoPromotionSeconds: 20, scaleDownDelaySeconds: 0, previewReplicaCount: 9 } }, { replicas: 3, paused: true }));
    expect(got.blueGreen).toEqual({ autoPromotionEnabled: false, autoPromotionSeconds: 20, scaleDownDelaySeconds: 0, previewReplicaCount: 3 });
    expect(got.params.paused).toBe(true);
  });

  it("rejects a negative scale-down delay with InvalidField", () => {
    let caught: unknown;
    try {
      resolveBlueGreenParams(rolloutSpec({ blueGreen: { scaleDownDelaySeconds: -5 } }));
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("parseDurationSeconds", () => {
  it.each([
    [30, 30],
    ["45", 45],
    ["30s", 30],
    ["5m", 300],
    ["1h", 3600],
    ["1h30m", 5400],
    ["1.5h", 5400],
    ["1500ms", 1],
    ["0s", 0],
  ] as [string | number, number][])("reads %j as %i seconds", (value, want) => {
    expect(parseDurationSeconds(value)).toBe(want);
  });

  it.each([[-1], [1.5], ["-5s"], ["5 m"], ["5d"], [""], ["s"], [null]])("rejects %j with InvalidField", (value) => {
    let caught: unknown;
    try {
      parseDurationSeconds(value);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("parsePromote", () => {
  it.each([
    [undefined, undefined],
    ["full", "full"],
    ["0", 0],
    ["2", 2],
  ] as [string | undefined, unknown][])("reads %j as %j", (value, want) => {
    expect(parsePromote(value)).toBe(want);
  });

  it.each([["yes"], ["-1"], ["1.5"], ["Full"], [""]])("rejects %j with InvalidField", (value) => {
    let caught: unknown;
    try {
      parsePromote(value);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidField")).toBe(true);
  });
});

describe("resolveFailurePolicy", () => {
  it("takes the progress deadline and coxswain's defaults: start deadline 300 s, ratio 0, monitor 5 s", () => {
    expect(resolveFailurePolicy({ progressDeadlineSeconds: 120 })).toEqual({ progressDeadlineSeconds: 120, podStartDeadlineSeconds: 300, maxFailureRatio: 0, monitorSeconds: 5 });
  });

  it("keeps overrides", () => {
    expect(resolveFailurePolicy({ progressDeadlineSeconds: 600 }, { maxFailureRatio: 0.25, monitorSeconds: 30, podStartDeadlineSeconds: 60 })).toMatchObject({
      maxFailureRatio: 0.25,
      monitorSeconds: 30,
      podStartDeadlineSeconds: 60,
    });
  });
});
