/**
 * Canary, blue/green, Recreate and sized rolling updates run to completion in a simulated world, with
 * fast-check varying parameters, delays, steps, promotions and losses of what the caller remembers. Every step
 * is checked against the strategy's guarantees.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { blueGreenStep, canaryStep, nextStep, resolveRollingParams } from "../../../operator/src/rollout/index.js";
import type { BlueGreenStatus, CanaryStatus, CanaryStepSpec, Promote, RevisionSizes, RolloutParams } from "../../../operator/src/rollout/types.js";
import { SimWorld } from "./sim.js";

const TICK = 500;
const START = 1_000_000;

function resolved(
  replicas: number,
  maxSurge: number | string,
  maxUnavailable: number | string,
  minReadySeconds: number,
  type: "RollingUpdate" | "Recreate" = "RollingUpdate",
  podReplacementPolicy?: RolloutParams["podReplacementPolicy"],
): RolloutParams {
  return resolveRollingParams({
    replicas,
    minReadySeconds,
    ...(podReplacementPolicy ? { podReplacementPolicy } : {}),
    selector: { matchLabels: { app: "web" } },
    strategy: type === "Recreate" ? { type } : { type, rollingUpdate: { maxSurge, maxUnavailable } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "web" }] } },
  });
}

const intOrPercent = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
);
const isZero = (v: number | string) => v === 0 || v === "0%";
const delays = fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 5 });

describe("canary simulation", () => {
  interface Scenario {
    replicas: number;
    /** Absent: TerminationStarted, Kubernetes' default. */
    podReplacementPolicy?: RolloutParams["podReplacementPolicy"];
    maxSurge: number | string;
    maxUnavailable: number | string;
    steps: CanaryStepSpec[];
    readyDelays: number[];
    stopDelays: number[];
    /** Steps at which the caller loses its status (and sizes). */
    losses: number[];
    /** How the user promotes when the rollout waits for it: step by step, or in full. */
    promoteFull: boolean;
    /** trafficRouting: {} — Argo's traffic-routed counts. */
    routed?: boolean;
    /** Services carry the split, and every proxy sends a new weight this many ticks after it was decided. */
    proxyLag?: number;
  }

  const step = fc.oneof(
    fc.integer({ min: 0, max: 100 }).map((w): CanaryStepSpec => ({ setWeight: w })),
    fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }).map((d): CanaryStepSpec => (d === undefined ? { pause: {} } : { pause: { durationSeconds: d } })),
  );
  const scenario = fc
    .record({
      replicas: fc.integer({ min: 1, max: 12 }),
      maxSurge: intOrPercent,
      maxUnavailable: intOrPercent,
      steps: fc.array(step, { maxLength: 7 }),
      readyDelays: delays,
      stopDelays: delays,
      losses: fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 4 }),
      promoteFull: fc.boolean(),
      routed: fc.boolean(),
      proxyLag: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
      podReplacementPolicy: fc.option(fc.constantFrom("TerminationStarted" as const, "TerminationComplete" as const), { nil: undefined }),
    })
    .map(({ podReplacementPolicy, ...s }): Scenario => {
      const withPolicy: Scenario = podReplacementPolicy ? { ...s, podReplacementPolicy } : s;
      return isZero(s.maxSurge) && isZero(s.maxUnavailable) ? { ...withPolicy, maxUnavailable: 1 } : withPolicy;
    });

  function run(s: Scenario) {
    const params = resolved(s.replicas, s.maxSurge, s.maxUnavailable, 0, "RollingUpdate", s.podReplacementPolicy);
    const world = new SimWorld(START, s.readyDelays, s.stopDelays);
    world.seed("s", s.replicas);
    let stable: string | undefined = "s";
    let status: CanaryStatus | undefined;
    let sizes: RevisionSizes | undefined;
    let promote: Promote | undefined;
    let lastProgressAt = world.now;
    const minAvailable = params.replicas - params.maxUnavailable;
    const limit = params.replicas + params.maxSurge;
    const pausedSince = new Map<number, number>();
    let reached = true;
    // The weight every proxy sends, and the one decided with the tick it was decided at.
    let applied: number | undefined;
    let told: { weight: number; at: number } | undefined;
    for (let i = 0; i < 3000; i++) {
      if (s.losses.includes(i)) {
        status = undefined;
        sizes = undefined;
      }
      if (s.proxyLag !== undefined && told !== undefined && i - told.at >= s.proxyLag) applied = told.weight;
      const availableBefore = world.available(0);
      const countedBefore = world.counted(params.podReplacementPolicy);
      const traffic = s.proxyLag === undefined ? {} : { traffic: applied === undefined ? {} : { appliedWeight: applied } };
      const r = canaryStep({ params, steps: s.steps, revision: "n", stable, pods: world.view(), now: world.now, lastProgressAt, status, sizes, promote, trafficRouting: s.routed === true, ...traffic });
      expect(r.deadlineExceeded).toBe(false);
      expect(r.trafficWeight >= 0 && r.trafficWeight <= 100).toBe(true);
      if (told?.weight !== r.trafficWeight) told = { weight: r.trafficWeight, at: i };
      if (r.progressed) lastProgressAt = world.now;
      // Pauses: an indefinite one is passed only when promoted past it; a timed one only after its duration
      // (promote "full" skips every remaining step, timed pauses included).
      const from = status?.stepIndex;
      if (r.waiting === "pause" && !pausedSince.has(r.status.stepIndex)) pausedSince.set(r.status.stepIndex, world.now);
      if (from !== undefined) {
        for (let k = from; k < Math.min(r.status.stepIndex, s.steps.length); k++) {
          const st = s.steps[k]!;
          // A setWeight step is passed only while every proxy sends its weight (when Services carry the split).
          if ("setWeight" in st && s.proxyLag !== undefined && promote !== "full") expect(applied).toBe(st.setWeight);
          if (!("pause" in st)) continue;
          if (st.pause.durationSeconds === undefined) {
            const ordinal = s.steps.slice(0, k).filter((x) => "pause" in x && x.pause.durationSeconds === undefined).length;
            expect(promote === "full" || (typeof promote === "number" && promote > ordinal)).toBe(true);
          } else if (st.pause.durationSeconds > 0 && promote !== "full") {
            expect(pausedSince.has(k)).toBe(true);
            expect(world.now - pausedSince.get(k)!).toBeGreaterThanOrEqual(st.pause.durationSeconds * 1000);
          }
        }
      }
      world.apply(r);
      const countedAfter = world.counted(params.podReplacementPolicy);
      if (s.routed === true) {
        // Traffic-routed counts keep the stable revision in full beside the canary, with no surge limit (Argo).
        expect(world.active("n") + world.active("s")).toBeLessThanOrEqual(2 * params.replicas);
      } else {
        if (r.revisions.some((p) => p.create > 0)) expect(countedAfter).toBeLessThanOrEqual(limit);
        expect(countedAfter).toBeLessThanOrEqual(Math.max(limit, countedBefore));
      }
      const availableAfter = world.available(0);
      if (reached) expect(availableAfter).toBeGreaterThanOrEqual(Math.min(availableBefore, minAvailable));
      reached = reached || availableAfter >= minAvailable;
      status = r.status;
      sizes = r.sizes;
      stable = r.stable;
      if (r.waiting === "promotion") promote = s.promoteFull ? "full" : r.promoteToPass;
      if (r.complete) return { complete: true, world, stable, steps: i };
      world.advance(TICK);
    }
    return { complete: false, world, stable, steps: 3000 };
  }

  it("rolls 10 replicas through 20% → pause 10s → 50% → promotion → full, within limits", () => {
    const o = run({
      replicas: 10,
      maxSurge: "25%",
      maxUnavailable: "25%",
      steps: [{ setWeight: 20 }, { pause: { durationSeconds: 10 } }, { setWeight: 50 }, { pause: {} }],
      readyDelays: [1500, 2500],
      stopDelays: [800],
      losses: [],
      promoteFull: false,
    });
    expect(o.complete).toBe(true);
    expect(o.stable).toBe("n");
    expect(o.world.active("n")).toBe(10);
    expect(o.world.active("s")).toBe(0);
  });

  it("rolls 10 replicas through 20% → 50% with trafficRouting and lagging proxies: the stable revision stays in full, every weight is sent before its step passes", () => {
    const o = run({
      replicas: 10,
      maxSurge: "25%",
      maxUnavailable: "25%",
      steps: [{ setWeight: 20 }, { pause: { durationSeconds: 10 } }, { setWeight: 50 }, { pause: {} }],
      readyDelays: [1500, 2500],
      stopDelays: [800],
      losses: [],
      promoteFull: false,
      routed: true,
      proxyLag: 3,
    });
    expect(o.complete).toBe(true);
    expect(o.stable).toBe("n");
    expect(o.world.active("n")).toBe(10);
    expect(o.world.active("s")).toBe(0);
  });

  it("keeps surge and availability limits, never skips a pause nor a weight the proxies do not send yet, and always finishes — basic or traffic-routed, also when its status is lost (properties)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const o = run(s);
        expect(o.complete).toBe(true);
        expect(o.stable).toBe("n");
        expect(o.world.active("n")).toBe(s.replicas);
        expect(o.world.active("s")).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe("blue/green simulation", () => {
  interface Scenario {
    replicas: number;
    autoPromotionEnabled: boolean;
    autoPromotionSeconds: number;
    scaleDownDelaySeconds: number;
    previewReplicaCount?: number;
    readyDelays: number[];
    stopDelays: number[];
    losses: number[];
    promoteAt: number;
  }
  const scenario = fc.record({
    replicas: fc.integer({ min: 1, max: 8 }),
    autoPromotionEnabled: fc.boolean(),
    autoPromotionSeconds: fc.integer({ min: 0, max: 10 }),
    scaleDownDelaySeconds: fc.integer({ min: 0, max: 20 }),
    previewReplicaCount: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    readyDelays: delays,
    stopDelays: delays,
    losses: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
    promoteAt: fc.integer({ min: 0, max: 60 }),
  });

  function run(s: Scenario) {
    const params = resolved(s.replicas, 1, 0, 0);
    const world = new SimWorld(START, s.readyDelays, s.stopDelays);
    world.seed("a", s.replicas);
    let active: string | undefined = "a";
    let status: BlueGreenStatus | undefined;
    let lastProgressAt = world.now;
    let switchedAt: number | undefined;
    const blueGreen = {
      autoPromotionEnabled: s.autoPromotionEnabled,
      autoPromotionSeconds: s.autoPromotionSeconds,
      scaleDownDelaySeconds: s.scaleDownDelaySeconds,
      ...(s.previewReplicaCount !== undefined ? { previewReplicaCount: Math.min(s.previewReplicaCount, s.replicas) } : {}),
    };
    for (let i = 0; i < 2000; i++) {
      if (s.losses.includes(i)) status = undefined;
      const promote = i >= s.promoteAt ? 1 : undefined;
      const r = blueGreenStep({ params, blueGreen, revision: "b", active, pods: world.view(), now: world.now, lastProgressAt, status, ...(promote !== undefined ? { promote } : {}) });
      expect(r.deadlineExceeded).toBe(false);
      if (r.progressed) lastProgressAt = world.now;
      if (r.active === "b" && active === "a") {
        // The switch happens only when the new set has every replica available, and never before promotion.
        expect(world.available(0, "b")).toBe(s.replicas);
        if (!s.autoPromotionEnabled) expect(promote).toBe(1);
        switchedAt = world.now;
      }
      const removedA = r.remove.filter((n) => n.startsWith("a-"));
      if (removedA.length > 0) {
        // The active set is never touched; the replaced one stays for the scale-down delay.
        expect(switchedAt).toBeDefined();
        expect(world.now - switchedAt!).toBeGreaterThanOrEqual(s.scaleDownDelaySeconds * 1000);
      }
      if (r.active === "a") expect(world.available(0, "a")).toBe(s.replicas);
      world.apply(r);
      active = r.active;
      status = r.status;
      if (r.complete && world.running("a") === 0) return { complete: true, world, active };
      world.advance(TICK);
    }
    return { complete: false, world, active };
  }

  it("switches to a full, available new set and keeps the old one for the scale-down delay (properties)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const o = run(s);
        expect(o.complete).toBe(true);
        expect(o.active).toBe("b");
        expect(o.world.active("b")).toBe(s.replicas);
      }),
      { numRuns: 200 },
    );
  });
});

describe("Deployment simulation: Recreate and kept sizes", () => {
  it("Recreate never runs old and new pods at once and always finishes (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), delays, delays, fc.integer({ min: 0, max: 3 }), (replicas, oldPods, readyDelays, stopDelays, minReadySeconds) => {
        const params = resolved(replicas, 0, 0, minReadySeconds, "Recreate");
        const world = new SimWorld(START, readyDelays, stopDelays);
        world.seed("a", oldPods);
        let lastProgressAt = world.now;
        for (let i = 0; i < 2000; i++) {
          const r = nextStep({ params, revision: "b", pods: world.view(), now: world.now, lastProgressAt });
          if (r.progressed) lastProgressAt = world.now;
          world.apply(r);
          expect(world.running("a") === 0 || world.running("b") === 0).toBe(true);
          expect(world.running()).toBeLessThanOrEqual(Math.max(replicas, oldPods));
          if (r.complete) {
            expect(world.active("b")).toBe(replicas);
            return;
          }
          world.advance(TICK);
        }
        throw new Error("Recreate did not finish");
      }),
      { numRuns: 300 },
    );
  });

  it("a rolling update that keeps its sizes between steps (and loses them now and then) keeps every limit and finishes (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        intOrPercent,
        intOrPercent,
        delays,
        delays,
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
        fc.option(fc.record({ at: fc.integer({ min: 0, max: 40 }), replicas: fc.integer({ min: 0, max: 12 }) }), { nil: undefined }),
        fc.option(fc.constantFrom("TerminationStarted" as const, "TerminationComplete" as const), { nil: undefined }),
        (replicas, surge, unavailable, readyDelays, stopDelays, losses, scaling, policy) => {
          const bothZero = isZero(surge) && isZero(unavailable);
          let params = resolved(replicas, surge, bothZero ? 1 : unavailable, 0, "RollingUpdate", policy);
          const world = new SimWorld(START, readyDelays, stopDelays);
          world.seed("a", replicas);
          let sizes: RevisionSizes | undefined;
          let lastProgressAt = world.now;
          let reached = true;
          for (let i = 0; i < 3000; i++) {
            if (losses.includes(i)) sizes = undefined;
            if (scaling && scaling.at === i) {
              params = resolved(scaling.replicas, surge, bothZero ? 1 : unavailable, 0, "RollingUpdate", policy);
              reached = false;
            }
            const minAvailable = params.replicas - params.maxUnavailable;
            const limit = params.replicas + params.maxSurge;
            const before = { available: world.available(0), counted: world.counted(params.podReplacementPolicy) };
            const r = nextStep({ params, revision: "b", pods: world.view(), now: world.now, lastProgressAt, ...(sizes ? { sizes } : {}) });
            expect(r.deadlineExceeded).toBe(false);
            if (r.progressed) lastProgressAt = world.now;
            world.apply(r);
            const scalingEvent = sizes !== undefined && sizes.replicas !== params.replicas;
            if (r.revisions.some((p) => p.create > 0)) expect(world.counted(params.podReplacementPolicy)).toBeLessThanOrEqual(limit);
            expect(world.counted(params.podReplacementPolicy)).toBeLessThanOrEqual(Math.max(limit, before.counted));
            // Kubernetes' proportional scaling on a scaling event does not look at availability; every other step does.
            if (reached && !scalingEvent) expect(world.available(0)).toBeGreaterThanOrEqual(Math.min(before.available, minAvailable));
            if (world.available(0) >= minAvailable) reached = true;
            sizes = r.sizes;
            if (r.complete && (!scaling || scaling.at <= i)) {
              expect(world.active("b")).toBe(params.replicas);
              expect(world.active("a")).toBe(0);
              return;
            }
            world.advance(TICK);
          }
          throw new Error("the rolling update did not finish");
        },
      ),
      { numRuns: 300 },
    );
  });
});
