import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import type { DeploymentSpec } from "../../../operator/src/api/generated/deployment.js";
import { resolveRollingParams } from "../../../operator/src/rollout/index.js";

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
