/**
 * Runs nextStep to completion against a small simulated world: created pods become ready after a delay,
 * removed pods terminate after a delay, some pods fail. Every step is checked against the rollout's
 * guarantees; fast-check varies replicas, surge, unavailable, initial pods, delays, failures, template
 * changes (including back to an old revision) and replica changes mid-rollout.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAvailable, nextStep, resolveRollingParams } from "../../../operator/src/rollout/index.js";
import type { RolloutParams, RolloutPod, RolloutStep } from "../../../operator/src/rollout/types.js";

const TICK = 500;

interface SimPod extends RolloutPod {
  /** When it becomes ready (undefined = never). */
  readyAt?: number;
  /** When it fails (undefined = never). */
  failAt?: number;
  /** When a terminating pod is gone. */
  goneAt?: number;
}

interface Behaviour {
  /** Ready delay of the k-th created pod (cyclic); undefined entries = never ready. */
  readyDelays: (number | undefined)[];
  /** Termination delay of the k-th removed pod (cyclic). */
  stopDelays: number[];
  /** Failure delay of the k-th created pod; only the first entries exist, so failures are finite. */
  failDelays: (number | undefined)[];
}

interface Event {
  atStep: number;
  kind: "template" | "rollback" | "replicas";
  replicas?: number;
}

interface Scenario {
  replicas: number;
  /** Absent: Kubernetes' default, TerminationStarted. */
  podReplacementPolicy?: "TerminationStarted" | "TerminationComplete";
  maxSurge: number | string;
  maxUnavailable: number | string;
  minReadySeconds: number;
  progressDeadlineSeconds?: number;
  initial: SimPod[];
  behaviour: Behaviour;
  events: Event[];
}

interface Outcome {
  steps: number;
  complete: boolean;
  deadlineExceeded: boolean;
  /** The most pods that ran at once (terminating ones included). */
  maxRunning: number;
  /** The most active pods (neither terminating nor failed) at once. */
  maxActive: number;
  minAvailableSeen: number;
  history: RolloutStep[];
  final: SimPod[];
  params: RolloutParams;
  revision: string;
}

function view(p: SimPod): RolloutPod {
  const v: RolloutPod = { name: p.name, revision: p.revision, createdAt: p.createdAt, terminating: p.terminating, failed: p.failed, ready: p.ready };
  if (p.readySince !== undefined) v.readySince = p.readySince;
  return v;
}

function spec(replicas: number, s: Scenario) {
  return {
    replicas,
    minReadySeconds: s.minReadySeconds,
    progressDeadlineSeconds: s.progressDeadlineSeconds ?? 600,
    ...(s.podReplacementPolicy ? { podReplacementPolicy: s.podReplacementPolicy } : {}),
    selector: { matchLabels: { app: "web" } },
    strategy: { type: "RollingUpdate" as const, rollingUpdate: { maxSurge: s.maxSurge, maxUnavailable: s.maxUnavailable } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "web" }] as [{ name: string; image: string }] } },
  };
}

/**
 * Runs the scenario until complete (or maxSteps), checking after every step:
 * - a step that creates never takes what counts (the active pods; with TerminationComplete every pod that
 *   runs, terminating ones included) above replicas + maxSurge, and no step raises what counts when it is
 *   already above that;
 * - removals never take available pods below min(available before, replicas − maxUnavailable);
 * - without failures: once replicas − maxUnavailable pods were available, that many stay available;
 * - only known, not yet terminating pods are removed, each once.
 */
function run(s: Scenario, maxSteps = 4000): Outcome {
  let now = 1_000_000;
  let params = resolveRollingParams(spec(s.replicas, s));
  const revisions = ["r0", "r1", "r2"];
  let revision = "r2";
  let pods: SimPod[] = s.initial.map((p) => ({ ...p }));
  let lastProgressAt = now;
  let created = 0;
  let stopped = 0;
  let reached = false;
  const failureFree = s.behaviour.failDelays.every((d) => d === undefined) && s.initial.every((p) => p.failAt === undefined && !p.failed);
  const history: RolloutStep[] = [];
  let maxRunning = 0;
  let maxActive = 0;
  let minAvailableSeen = Infinity;
  let deadlineExceeded = false;

  for (let i = 0; i < maxSteps; i++) {
    // Mid-rollout changes.
    for (const e of s.events.filter((x) => x.atStep === i)) {
      if (e.kind === "template") {
        revision = `r${revisions.length}`;
        revisions.push(revision);
      } else if (e.kind === "rollback") {
        // Back to the oldest revision: it moves to the end of the history, as Kubernetes renumbers it.
        const back = revisions.shift()!;
        revisions.push(back);
        revision = back;
      } else {
        const before = params.replicas - params.maxUnavailable;
        params = resolveRollingParams(spec(e.replicas!, s));
        if (params.replicas - params.maxUnavailable > before) reached = false;
      }
      lastProgressAt = now;
    }

    // Time passes: pods become ready, fail, finish terminating.
    pods = pods.filter((p) => !(p.terminating && p.goneAt !== undefined && p.goneAt <= now));
    for (const p of pods) {
      if (!p.failed && p.failAt !== undefined && p.failAt <= now) {
        p.failed = true;
        p.ready = false;
        delete p.readySince;
      }
      if (!p.terminating && !p.failed && !p.ready && p.readyAt !== undefined && p.readyAt <= now) {
        p.ready = true;
        p.readySince = p.readyAt;
      }
    }

    const minAvailable = params.replicas - params.maxUnavailable;
    const limit = params.replicas + params.maxSurge;
    const availableNow = pods.filter((p) => isAvailable(p, params.minReadySeconds, now)).length;
    if (failureFree && reached) expect(availableNow).toBeGreaterThanOrEqual(minAvailable);

    const step = nextStep({ params, revision, pods: pods.map(view), now, lastProgressAt, revisionOrder: revisions });
    history.push(step);
    if (step.deadlineExceeded) deadlineExceeded = true;
    if (step.progressed) lastProgressAt = now;

    // Apply: remove first, then create.
    const counts = (p: SimPod): boolean => !p.failed && (s.podReplacementPolicy === "TerminationComplete" || !p.terminating);
    const countedBefore = pods.filter(counts).length;
    const names = new Set<string>();
    for (const name of step.remove) {
      expect(names.has(name)).toBe(false);
      names.add(name);
      const p = pods.find((x) => x.name === name);
      expect(p).toBeDefined();
      expect(p!.terminating).toBe(false);
      p!.terminating = true;
      p!.ready = false;
      delete p!.readySince;
      p!.goneAt = now + (s.behaviour.stopDelays[stopped++ % s.behaviour.stopDelays.length] ?? 0);
    }
    for (let k = 0; k < step.create; k++) {
      const readyDelay = s.behaviour.readyDelays[created % s.behaviour.readyDelays.length];
      const failDelay = s.behaviour.failDelays[created];
      const p: SimPod = { name: `${revision}-${created}`, revision, createdAt: now, terminating: false, failed: false, ready: false };
      if (readyDelay !== undefined) p.readyAt = now + readyDelay;
      if (failDelay !== undefined) p.failAt = now + failDelay;
      created += 1;
      pods.push(p);
    }
    const runningAfter = pods.filter((p) => !p.failed).length;
    const countedAfter = pods.filter(counts).length;
    if (step.create > 0) expect(countedAfter).toBeLessThanOrEqual(limit);
    expect(countedAfter).toBeLessThanOrEqual(Math.max(limit, countedBefore));
    const availableAfter = pods.filter((p) => isAvailable(p, params.minReadySeconds, now)).length;
    expect(availableAfter).toBeGreaterThanOrEqual(Math.min(availableNow, minAvailable));
    if (availableAfter >= minAvailable) reached = true;
    maxRunning = Math.max(maxRunning, runningAfter);
    maxActive = Math.max(maxActive, pods.filter((p) => !p.failed && !p.terminating).length);
    if (reached) minAvailableSeen = Math.min(minAvailableSeen, availableAfter);

    if (step.complete && s.events.every((e) => e.atStep <= i)) {
      return { steps: i + 1, complete: true, deadlineExceeded, maxRunning, maxActive, minAvailableSeen, history, final: pods, params, revision };
    }
    now += TICK;
  }
  return { steps: maxSteps, complete: false, deadlineExceeded, maxRunning, maxActive, minAvailableSeen, history, final: pods, params, revision };
}

function initialPods(rev: string, n: number, o: Partial<SimPod> = {}): SimPod[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${rev}-init-${i}`,
    revision: rev,
    createdAt: 1000 + i,
    terminating: false,
    failed: false,
    ready: true,
    readySince: 2000 + i,
    ...o,
  }));
}

function expectSettled(o: Outcome): void {
  expect(o.complete).toBe(true);
  const active = o.final.filter((p) => !p.terminating && !p.failed);
  expect(active.every((p) => p.revision === o.revision)).toBe(true);
  expect(active).toHaveLength(o.params.replicas);
}

describe("rolling update simulation", () => {
  it("rolls 10 replicas at 25%/25% to the new revision within 13 running and 8 available pods when terminating pods count (TerminationComplete)", () => {
    const o = run({
      replicas: 10,
      podReplacementPolicy: "TerminationComplete",
      maxSurge: "25%",
      maxUnavailable: "25%",
      minReadySeconds: 0,
      initial: initialPods("r0", 10),
      behaviour: { readyDelays: [2000, 3500, 1000], stopDelays: [1500], failDelays: [] },
      events: [],
    });
    expectSettled(o);
    expect(o.history[0]!.create).toBe(3);
    expect(o.maxRunning).toBe(13);
    expect(o.minAvailableSeen).toBe(8);
    expect(o.deadlineExceeded).toBe(false);
  });

  it("by default (TerminationStarted) replaces a pod as soon as it terminates: within 13 active pods, never below 8 available, and sooner when pods are slow to stop", () => {
    const scenario = (podReplacementPolicy?: "TerminationComplete"): Scenario => ({
      replicas: 10,
      ...(podReplacementPolicy ? { podReplacementPolicy } : {}),
      maxSurge: "25%",
      maxUnavailable: "25%",
      minReadySeconds: 0,
      initial: initialPods("r0", 10),
      // Pods that take 30 s to stop, as an app ignoring SIGTERM does until the grace period ends.
      behaviour: { readyDelays: [2000, 3500, 1000], stopDelays: [30_000], failDelays: [] },
      events: [],
    });
    const started = run(scenario());
    const complete = run(scenario("TerminationComplete"));
    expectSettled(started);
    expectSettled(complete);
    expect(started.maxActive).toBe(13);
    expect(started.maxRunning).toBeGreaterThan(13);
    expect(started.minAvailableSeen).toBe(8);
    expect(complete.maxRunning).toBe(13);
    expect(started.steps * 3).toBeLessThan(complete.steps);
  });

  it("rolls 3 replicas at 25%/25% one pod at a time, never below 3 available", () => {
    for (const podReplacementPolicy of [undefined, "TerminationComplete" as const]) {
      const o = run({
        replicas: 3,
        ...(podReplacementPolicy ? { podReplacementPolicy } : {}),
        maxSurge: "25%",
        maxUnavailable: "25%",
        minReadySeconds: 2,
        initial: initialPods("r0", 3),
        behaviour: { readyDelays: [1000], stopDelays: [1000], failDelays: [] },
        events: [],
      });
      expectSettled(o);
      expect(o.maxActive).toBe(4);
      if (podReplacementPolicy) expect(o.maxRunning).toBe(4);
      expect(o.minAvailableSeen).toBe(3);
      expect(Math.max(...o.history.map((h) => h.create))).toBe(1);
    }
  });

  it("replaces pods that fail and still completes", () => {
    const o = run({
      replicas: 4,
      maxSurge: 1,
      maxUnavailable: 1,
      minReadySeconds: 0,
      initial: initialPods("r0", 4),
      behaviour: { readyDelays: [1000], stopDelays: [500], failDelays: [3000, undefined, 500, 4000] },
      events: [],
    });
    expectSettled(o);
  });

  it("never completes and reports the deadline when new pods never become ready, keeping the old ones serving", () => {
    const o = run(
      {
        replicas: 4,
        maxSurge: 1,
        maxUnavailable: 1,
        minReadySeconds: 0,
        progressDeadlineSeconds: 30,
        initial: initialPods("r0", 4),
        behaviour: { readyDelays: [undefined], stopDelays: [500], failDelays: [] },
        events: [],
      },
      400,
    );
    expect(o.complete).toBe(false);
    expect(o.deadlineExceeded).toBe(true);
    const oldAvailable = o.final.filter((p) => p.revision === "r0" && !p.terminating && p.ready).length;
    expect(oldAvailable).toBe(3);
  });

  const percent = fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`);
  const intOrPercent = fc.oneof(fc.integer({ min: 0, max: 4 }), percent);
  const podState = fc.record({
    revision: fc.constantFrom("r0", "r1", "r2"),
    ready: fc.boolean(),
    terminating: fc.boolean(),
    readyIn: fc.option(fc.integer({ min: 0, max: 8000 }), { nil: undefined }),
    gone: fc.integer({ min: 0, max: 4000 }),
  });
  const scenario = fc
    .record({
      replicas: fc.integer({ min: 0, max: 12 }),
      podReplacementPolicy: fc.constantFrom(undefined, "TerminationStarted" as const, "TerminationComplete" as const),
      maxSurge: intOrPercent,
      maxUnavailable: intOrPercent,
      minReadySeconds: fc.integer({ min: 0, max: 3 }),
      initial: fc.array(podState, { maxLength: 16 }),
      readyDelays: fc.array(fc.integer({ min: 0, max: 8000 }), { minLength: 1, maxLength: 6 }),
      stopDelays: fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 1, maxLength: 4 }),
      failDelays: fc.array(fc.option(fc.integer({ min: 0, max: 6000 }), { nil: undefined, freq: 2 }), { maxLength: 8 }),
      events: fc.array(
        fc.record({
          atStep: fc.integer({ min: 0, max: 60 }),
          kind: fc.constantFrom("template" as const, "rollback" as const, "replicas" as const),
          replicas: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 3 },
      ),
    })
    .map((r): Scenario => {
      const bothZero = (r.maxSurge === 0 || r.maxSurge === "0%") && (r.maxUnavailable === 0 || r.maxUnavailable === "0%");
      return {
        replicas: r.replicas,
        ...(r.podReplacementPolicy ? { podReplacementPolicy: r.podReplacementPolicy } : {}),
        maxSurge: r.maxSurge,
        maxUnavailable: bothZero ? 1 : r.maxUnavailable,
        minReadySeconds: r.minReadySeconds,
        initial: r.initial.map((p, i) => {
          const pod: SimPod = { name: `init-${i}`, revision: p.revision, createdAt: 1000 + i, terminating: p.terminating, failed: false, ready: p.ready && !p.terminating };
          if (pod.ready) pod.readySince = 2000 + i;
          // Every initial pod eventually becomes ready (or is gone), so the rollout can finish.
          else if (!p.terminating) pod.readyAt = 1_000_000 + (p.readyIn ?? 0);
          if (p.terminating) pod.goneAt = 1_000_000 + p.gone;
          return pod;
        }),
        behaviour: { readyDelays: r.readyDelays, stopDelays: r.stopDelays, failDelays: r.failDelays },
        events: r.events,
      };
    });

  it("keeps the surge and availability limits at every step and always finishes (properties)", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const o = run(s);
        expectSettled(o);
        expect(o.deadlineExceeded).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
