/**
 * The container health state machine (runtime/health.ts): the kubelet's probe and restart rules as
 * table tests of event sequences, plus properties over random sequences.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import {
  applyHealthEvent,
  applyHealthEvents,
  awaitsListing,
  formatDuration,
  healthStatus,
  newHealthState,
  nextEvaluationAt,
  observeContainer,
  resolveHealthSpec,
  restartDelayMs,
  RESTART_BACKOFF,
  RUNNING_CONFIRM_MS,
  type ContainerFacts,
  type HealthEvent,
  type HealthSpec,
  type HealthStatus,
  type ProbeKind,
} from "../../../operator/src/runtime/health.js";

const S = 1000;
const MIN = 60 * S;

const started = (at: number, restartCount?: number): HealthEvent => ({ type: "started", at, ...(restartCount !== undefined ? { restartCount } : {}) });
const exited = (at: number, exitCode = 1): HealthEvent => ({ type: "exited", at, exitCode });
/** A listing begun at `at` saw the run running. */
const running = (at: number): HealthEvent => ({ type: "running", at });
/** The two listings that make a run without probes ready: at `at` and RUNNING_CONFIRM_MS later. */
const confirmed = (at: number): HealthEvent[] => [running(at), running(at + RUNNING_CONFIRM_MS)];
const probe = (kind: ProbeKind, at: number, ok: boolean, message = ok ? "HTTP 200" : "HTTP 500"): HealthEvent => ({ type: "probe", probe: kind, at, ok, message });
/** n results of one probe, one per period starting at `from`. */
const probes = (kind: ProbeKind, from: number, periodMs: number, results: boolean[]): HealthEvent[] => results.map((ok, i) => probe(kind, from + i * periodMs, ok));

function statusAfter(spec: HealthSpec, events: HealthEvent[], now: number): HealthStatus {
  return healthStatus(applyHealthEvents(newHealthState(spec), events), now);
}

describe("readiness", () => {
  it.each([
    {
      name: "a container without probes is not ready at its start, before any listing saw it running",
      spec: {},
      events: [started(1000)],
      now: 1000,
      expected: { ready: false, reason: "Starting", action: "none", listAt: undefined },
    },
    {
      name: "a container without probes seen running by one listing asks for another one 1 s later",
      spec: {},
      events: [started(1000), running(1010)],
      now: 1500,
      expected: { ready: false, reason: "Starting", action: "none", listAt: 2010, nextCheckAt: 2010 },
    },
    {
      name: "a container without probes is not ready by a second listing begun less than 1 s after the first",
      spec: {},
      events: [started(1000), running(1010), running(2009)],
      now: 2100,
      expected: { ready: false, reason: "Starting", listAt: 2010 },
    },
    {
      name: "a container without probes is ready once a listing begun 1 s after the first still sees it running",
      spec: {},
      events: [started(1000), running(1010), running(2010)],
      now: 2010,
      expected: { ready: true, readySince: 2010, reason: "Running", action: "none", listAt: undefined },
    },
    {
      name: "a restart needs two listings of its own (the previous run's do not count)",
      spec: {},
      events: [started(0), ...confirmed(0), exited(5 * S), started(6 * S), running(6 * S)],
      now: 6 * S,
      expected: { ready: false, reason: "Starting", listAt: 7 * S },
    },
    {
      name: "a container with a startup probe and no readiness probe is ready when the startup probe passes, without a second listing",
      spec: { startup: { periodSeconds: 1 } },
      events: [started(0), probe("startup", 0, true)],
      now: 0,
      expected: { ready: true, readySince: 0, reason: "Running", listAt: undefined },
    },
    {
      name: "listings do not make a container with a readiness probe ready",
      spec: { readiness: {} },
      events: [started(0), ...confirmed(0)],
      now: 5 * S,
      expected: { ready: false, reason: "NotReady", listAt: undefined },
    },
    {
      name: "a container with a readiness probe is not ready before its first success",
      spec: { readiness: {} },
      events: [started(0)],
      now: 5 * S,
      expected: { ready: false, reason: "NotReady", action: "none", due: ["readiness"] },
    },
    {
      name: "a readiness probe makes it ready at the successThreshold-th consecutive success",
      spec: { readiness: { successThreshold: 2, periodSeconds: 1 } },
      events: [started(0), ...probes("readiness", 0, S, [true, false, true, true])],
      now: 3 * S,
      expected: { ready: true, readySince: 3 * S, reason: "Running" },
    },
    {
      name: "readiness stays until failureThreshold consecutive failures",
      spec: { readiness: { failureThreshold: 3, periodSeconds: 1 } },
      events: [started(0), ...probes("readiness", 0, S, [true, false, false])],
      now: 3 * S,
      expected: { ready: true, readySince: 0 },
    },
    {
      name: "failureThreshold consecutive readiness failures make it not ready, with the probe's message, and never restart it",
      spec: { readiness: { failureThreshold: 3, periodSeconds: 1 } },
      events: [started(0), ...probes("readiness", 0, S, [true, false, false, false, false, false])],
      now: 6 * S,
      expected: { ready: false, reason: "NotReady", action: "none", message: "Readiness probe failed: HTTP 500" },
    },
    {
      name: "results before initialDelaySeconds are ignored",
      spec: { readiness: { initialDelaySeconds: 5 } },
      events: [started(0), probe("readiness", 4 * S, true)],
      now: 4.5 * S,
      expected: { ready: false, due: [], nextProbeAt: 5 * S, nextCheckAt: 5 * S },
    },
    {
      name: "a readiness result from before the current run started is ignored",
      spec: { readiness: {} },
      events: [started(0), exited(10 * S), started(20 * S), probe("readiness", 15 * S, true)],
      now: 21 * S,
      expected: { ready: false, reason: "NotReady" },
    },
  ])("$name", ({ spec, events, now, expected }) => {
    // toMatchObject cannot say "absent": listAt: undefined is checked on its own.
    const { listAt, ...rest } = expected as Record<string, unknown>;
    const status = statusAfter(spec, events, now);
    expect(status).toMatchObject(rest);
    if ("listAt" in expected) expect(status.listAt).toBe(listAt);
  });
});

describe("startup and liveness probes", () => {
  it.each([
    {
      name: "a startup probe holds liveness and readiness: only startup is due, their results are ignored",
      spec: { startup: { periodSeconds: 1 }, liveness: {}, readiness: {} },
      events: [started(0), probe("readiness", 100, true), probe("liveness", 100, false), probe("liveness", 200, false), probe("liveness", 300, false)],
      now: 500,
      expected: { ready: false, started: false, reason: "Starting", action: "none", due: ["startup"] },
    },
    {
      name: "a failing startup probe below its threshold keeps the container starting, showing the last failure",
      spec: { startup: { periodSeconds: 1, failureThreshold: 3 } },
      events: [started(0), ...probes("startup", 0, S, [false, false])],
      now: 1.5 * S,
      expected: { started: false, reason: "Starting", action: "none", message: "Startup probe failed: HTTP 500", nextProbeAt: 2 * S },
    },
    {
      name: "startup failing failureThreshold times in a row (≈ threshold × period) asks to stop the container",
      spec: { startup: { periodSeconds: 2, failureThreshold: 3 }, readiness: {} },
      events: [started(0), ...probes("startup", 0, 2 * S, [false, false, false])],
      now: 4 * S,
      expected: { ready: false, action: "stop", reason: "Unhealthy", message: "Startup probe failed 3 time(s) in a row: HTTP 500; the container will be restarted" },
    },
    {
      name: "startup success makes a container without a readiness probe ready and releases liveness",
      spec: { startup: { periodSeconds: 1 }, liveness: { periodSeconds: 10 } },
      events: [started(0), probe("startup", 0, false), probe("startup", S, true)],
      now: S,
      expected: { ready: true, readySince: S, started: true, reason: "Running", due: ["liveness"] },
    },
    {
      name: "startup success does not make a container with a readiness probe ready: readiness must pass",
      spec: { startup: {}, readiness: {} },
      events: [started(0), probe("startup", S, true)],
      now: S,
      expected: { ready: false, started: true, reason: "NotReady", due: ["readiness"] },
    },
    {
      name: "liveness failures below the threshold, broken by a success, do not restart",
      spec: { liveness: { periodSeconds: 1, failureThreshold: 3 } },
      events: [started(0), ...confirmed(0), ...probes("liveness", 0, S, [false, false, true, false, false])],
      now: 5 * S,
      expected: { action: "none", ready: true, reason: "Running" },
    },
    {
      name: "liveness failing failureThreshold times in a row asks to stop the container and takes it out of ready",
      spec: { liveness: { periodSeconds: 1, failureThreshold: 3 } },
      events: [started(0), ...probes("liveness", 0, S, [true, false, false, false])],
      now: 4 * S,
      expected: { action: "stop", ready: false, reason: "Unhealthy", due: [], message: "Liveness probe failed 3 time(s) in a row: HTTP 500; the container will be restarted" },
    },
    {
      name: "probe results after the stop was decided change nothing",
      spec: { liveness: { periodSeconds: 1, failureThreshold: 1 } },
      events: [started(0), probe("liveness", S, false), probe("liveness", 2 * S, true)],
      now: 3 * S,
      expected: { action: "stop", reason: "Unhealthy" },
    },
    {
      name: "liveness and readiness run side by side after startup, each on its own period",
      spec: { liveness: { periodSeconds: 10 }, readiness: { periodSeconds: 3 } },
      events: [started(0), probe("liveness", 0, true), probe("readiness", 0, true), probe("readiness", 3 * S, true)],
      now: 5 * S,
      expected: { due: [], nextProbeAt: 6 * S, ready: true },
    },
  ])("$name", ({ spec, events, now, expected }) => {
    expect(statusAfter(spec, events, now)).toMatchObject(expected);
  });

  it("reports the exit of a container stopped for a failed liveness probe with the reason", () => {
    const spec = { liveness: { periodSeconds: 1, failureThreshold: 1 } };
    const status = statusAfter(spec, [started(0), probe("liveness", S, false, 'exec ["cat","/healthz"] exited with exit code 1'), exited(2 * S, 137)], 2 * S);
    expect(status).toMatchObject({ action: "restart", reason: "Error" });
    expect(status.message).toBe('Liveness probe failed 1 time(s) in a row: exec ["cat","/healthz"] exited with exit code 1; stopped, exited with code 137; restarting');
  });
});

describe("restarts with the kubelet's back-off", () => {
  it.each([
    { restarts: 0, delay: 0 },
    { restarts: 1, delay: 10 * S },
    { restarts: 2, delay: 20 * S },
    { restarts: 3, delay: 40 * S },
    { restarts: 4, delay: 80 * S },
    { restarts: 5, delay: 160 * S },
    { restarts: 6, delay: 300 * S },
    { restarts: 50, delay: 300 * S },
  ])("after $restarts restart(s) of a crash loop the next waits $delay ms", ({ restarts, delay }) => {
    expect(restartDelayMs(restarts)).toBe(delay);
  });

  it("restarts a crash loop at once, then 10 s, 20 s, 40 s after the previous restart, showing CrashLoopBackOff while waiting", () => {
    // Each run crashes 1 s after it starts; the caller restarts exactly when allowed.
    let state = applyHealthEvents(newHealthState({}), [started(0)]);
    const restartTimes: number[] = [];
    let t = 0;
    for (let i = 0; i < 5; i++) {
      state = applyHealthEvents(state, [exited(t + S)]);
      const crashed = healthStatus(state, t + S);
      if (i === 0) expect(crashed.action).toBe("restart");
      else {
        expect(crashed).toMatchObject({
          action: "wait",
          reason: "CrashLoopBackOff",
          restartCount: i,
          message: `back-off ${formatDuration(restartDelayMs(i))} restarting failed container: exited with code 1`,
        });
        expect(healthStatus(state, crashed.waitUntil! - 1).action).toBe("wait");
        expect(healthStatus(state, crashed.waitUntil!)).toMatchObject({ action: "restart", reason: "Error" });
      }
      t = crashed.action === "restart" ? t + S : crashed.waitUntil!;
      restartTimes.push(t);
      state = applyHealthEvents(state, [started(t)]);
    }
    const gaps = restartTimes.slice(1).map((x, i) => x - restartTimes[i]!);
    expect(gaps).toEqual([10 * S, 20 * S, 40 * S, 80 * S]);
    expect(healthStatus(state, t).restartCount).toBe(5);
  });

  it("restarts at once a container that crashed after its back-off window had passed", () => {
    // Restart 2 at 100 s: the next back-off is 20 s; a crash at 150 s is past it.
    const status = statusAfter({}, [started(0), exited(S), started(S), exited(2 * S), started(100 * S), exited(150 * S)], 150 * S);
    expect(status).toMatchObject({ action: "restart", restartCount: 2 });
  });

  it("ends the crash loop after 10 minutes of running: the next restart is at once and the delays start over at 10 s", () => {
    const loop = [started(0), exited(S), started(S), exited(2 * S), started(12 * S), exited(13 * S), started(32 * S)];
    const longRun = 32 * S + RESTART_BACKOFF.resetAfterMs;
    const afterLongRun = statusAfter({}, [...loop, exited(longRun)], longRun);
    expect(afterLongRun).toMatchObject({ action: "restart", restartCount: 3 });
    const nextCrash = statusAfter({}, [...loop, exited(longRun), started(longRun), exited(longRun + S)], longRun + S);
    expect(nextCrash).toMatchObject({ action: "wait", waitUntil: longRun + 10 * S, restartCount: 4 });
  });

  it("a run just short of 10 minutes keeps the loop going", () => {
    const loop = [started(0), exited(S), started(S)];
    const crash = S + RESTART_BACKOFF.resetAfterMs - 1;
    expect(statusAfter({}, [...loop, exited(crash), started(crash), exited(crash + S)], crash + S)).toMatchObject({
      action: "wait",
      waitUntil: crash + 20 * S,
    });
  });

  it("restarts a container that exited 0 too (restartPolicy Always), reason Completed", () => {
    expect(statusAfter({}, [started(0), exited(S, 0)], S)).toMatchObject({ action: "restart", reason: "Completed", message: "exited with code 0; restarting" });
  });

  it("takes the runtime's restart count when it reports one", () => {
    expect(statusAfter({}, [started(0, 7), exited(S), started(2 * S, 8)], 2 * S).restartCount).toBe(8);
  });

  it("asks to start a container that was created but never started, without counting a restart", () => {
    const created = observeContainer(newHealthState({}), { state: "created", restartCount: 0 });
    expect(healthStatus(created, 0)).toMatchObject({ action: "restart", reason: "ContainerCreating", restartCount: 0 });
    expect(healthStatus(applyHealthEvents(created, [started(5), ...confirmed(5)]), 5 + RUNNING_CONFIRM_MS)).toMatchObject({ ready: true, restartCount: 0 });
  });

  it("knows nothing before the first observation", () => {
    expect(healthStatus(newHealthState({ readiness: {} }), 0)).toMatchObject({ action: "none", reason: "Unknown", ready: false });
  });
});

describe("observing containers and rebuilding after an operator restart", () => {
  const crashLoop = (count: number): ContainerFacts => ({ state: "exited", startedAt: 100 * S, finishedAt: 101 * S, exitCode: 2, restartCount: count });

  it.each([
    { name: "a container that never restarted is restarted at once", facts: crashLoop(0), now: 102 * S, expected: { action: "restart", restartCount: 0 } },
    { name: "a container restarted 3 times waits 40 s from its last start", facts: crashLoop(3), now: 102 * S, expected: { action: "wait", waitUntil: 140 * S, restartCount: 3, reason: "CrashLoopBackOff" } },
    { name: "a container restarted 9 times waits 5 min from its last start", facts: crashLoop(9), now: 102 * S, expected: { action: "wait", waitUntil: 400 * S } },
    {
      name: "a container whose last run lasted 10 min is restarted at once whatever its count",
      facts: { state: "exited" as const, startedAt: 0, finishedAt: 10 * MIN, exitCode: 1, restartCount: 9 },
      now: 10 * MIN,
      expected: { action: "restart", restartCount: 9 },
    },
    {
      name: "a running container with a readiness probe is probed again from zero",
      facts: { state: "running" as const, startedAt: 50 * S, restartCount: 2 },
      now: 60 * S,
      expected: { action: "none", ready: false, reason: "NotReady", due: ["readiness"], restartCount: 2 },
    },
  ])("$name", ({ facts, now, expected }) => {
    const state = observeContainer(newHealthState({ readiness: {} }), facts);
    expect(healthStatus(state, now)).toMatchObject(expected);
  });

  it("turns listings into events: a new start time is a start, an exit is an exit, the same listing again changes nothing", () => {
    const spec = {};
    let state = observeContainer(newHealthState(spec), { state: "running", startedAt: 0, restartCount: 0 }, 0);
    expect(healthStatus(state, 0)).toMatchObject({ phase: "running", ready: false, listAt: S });
    state = observeContainer(state, { state: "running", startedAt: 0, restartCount: 0 }, S);
    expect(healthStatus(state, S)).toMatchObject({ phase: "running", ready: true });
    const crashed: ContainerFacts = { state: "exited", startedAt: 0, finishedAt: 5 * S, exitCode: 3, restartCount: 0 };
    const running = state;
    expect(observeContainer(running, { state: "running", startedAt: 0, restartCount: 0 })).toBe(running); // the same object: nothing to evaluate
    state = observeContainer(state, crashed);
    expect(observeContainer(state, crashed)).toBe(state);
    expect(healthStatus(state, 5 * S)).toMatchObject({ phase: "exited", action: "restart" });
    state = observeContainer(state, { state: "running", startedAt: 5 * S, restartCount: 1 });
    expect(healthStatus(state, 5 * S)).toMatchObject({ phase: "running", restartCount: 1 });
    state = observeContainer(state, { state: "exited", startedAt: 5 * S, finishedAt: 6 * S, exitCode: 3, restartCount: 1 });
    expect(healthStatus(state, 6 * S)).toMatchObject({ action: "wait", waitUntil: 15 * S });
  });

  it("takes an exit recorded a few ms before the start it ends as the end of that run (Docker stamps the start with the daemon's clock, the exit with containerd's)", () => {
    const early: ContainerFacts = { state: "exited", startedAt: 1000, finishedAt: 997, exitCode: 1, restartCount: 0 };
    let state = observeContainer(newHealthState({}), { state: "running", startedAt: 1000, restartCount: 0 });
    state = observeContainer(state, early);
    expect(healthStatus(state, 1001)).toMatchObject({ phase: "exited", ready: false, action: "restart", reason: "Error" });
    expect(observeContainer(state, early)).toEqual(state);
    expect(healthStatus(observeContainer(newHealthState({}), early), 1001)).toMatchObject({ phase: "exited", ready: false, action: "restart" });
    state = observeContainer(state, { state: "exited", startedAt: 1100, finishedAt: 1098, exitCode: 1, restartCount: 1 });
    expect(healthStatus(state, 1200)).toMatchObject({ phase: "exited", ready: false, action: "wait", reason: "CrashLoopBackOff", restartCount: 1 });
  });

  it("ignores a listing of an older run than the one already seen", () => {
    let state = observeContainer(newHealthState({}), { state: "running", startedAt: 5 * S, restartCount: 1 });
    state = observeContainer(state, { state: "exited", startedAt: 0, finishedAt: 4 * S, exitCode: 1, restartCount: 0 });
    expect(state.startedAt).toBe(5 * S);
    expect(healthStatus(state, 6 * S)).toMatchObject({ phase: "running", restartCount: 1 });
  });
});

describe("postStart hooks", () => {
  const hook = (at: number, ok: boolean, message?: string): HealthEvent => ({ type: "postStart", at, ok, ...(message !== undefined ? { message } : {}) });

  it("holds a run not ready, with no probe due, until the hook finished; then probes decide", () => {
    const spec: HealthSpec = { postStart: true, readiness: { periodSeconds: 1 } };
    const waiting = statusAfter(spec, [started(0)], 5 * S);
    expect(waiting).toMatchObject({ ready: false, reason: "ContainerCreating", postStartDue: true, due: [], action: "none" });
    // A probe result that arrives while the hook runs is not taken.
    expect(statusAfter(spec, [started(0), probe("readiness", 1 * S, true)], 2 * S).ready).toBe(false);
    const after = statusAfter(spec, [started(0), hook(3 * S, true)], 3 * S);
    expect(after).toMatchObject({ ready: false, reason: "NotReady", due: ["readiness"] });
    expect(after.postStartDue).toBeUndefined();
    expect(statusAfter(spec, [started(0), hook(3 * S, true), probe("readiness", 3 * S, true)], 3 * S).ready).toBe(true);
  });

  it("without probes, a run is ready only once the hook finished and listings confirmed it", () => {
    const spec: HealthSpec = { postStart: true };
    expect(statusAfter(spec, [started(0), ...confirmed(100)], 5 * S).ready).toBe(false);
    expect(statusAfter(spec, [started(0), ...confirmed(100), hook(2 * S, true), running(3 * S)], 3 * S).ready).toBe(true);
  });

  it("a failed hook stops the run (FailedPostStartHook); the restart follows the back-off and the next run waits for its hook again", () => {
    const spec: HealthSpec = { postStart: true };
    const failing = statusAfter(spec, [started(0), hook(1 * S, false, "exec exited with code 2")], 1 * S);
    expect(failing).toMatchObject({ ready: false, action: "stop", reason: "FailedPostStartHook" });
    expect(failing.message).toContain("exec exited with code 2");
    const events = [started(0), hook(1 * S, false), exited(2 * S, 143), started(2 * S + 100), hook(3 * S, false), exited(4 * S, 143)];
    const state = applyHealthEvents(newHealthState(spec), events);
    expect(state.lastTermination).toMatchObject({ stoppedBy: "postStart", exitCode: 143 });
    expect(healthStatus(state, 5 * S)).toMatchObject({ action: "wait", reason: "CrashLoopBackOff", restartCount: 1 });
    expect(healthStatus(state, 2 * S + 100 + RESTART_BACKOFF.initialMs)).toMatchObject({ action: "restart" });
    expect(healthStatus(applyHealthEvents(state, [started(13 * S)]), 13 * S)).toMatchObject({ postStartDue: true, restartCount: 2 });
  });

  it("ignores a hook result when no hook is pending or the run is over", () => {
    const spec: HealthSpec = { postStart: true };
    const done = applyHealthEvents(newHealthState(spec), [started(0), hook(1 * S, true)]);
    expect(applyHealthEvents(done, [hook(2 * S, false)])).toBe(done);
    const gone = applyHealthEvents(newHealthState(spec), [started(0), exited(1 * S)]);
    expect(applyHealthEvents(gone, [hook(2 * S, false)])).toBe(gone);
    const plain = applyHealthEvents(newHealthState({}), [started(0)]);
    expect(applyHealthEvents(plain, [hook(1 * S, false)])).toBe(plain);
  });
});

describe("resolveHealthSpec", () => {
  it("applies Kubernetes' defaults", () => {
    expect(resolveHealthSpec({ liveness: {} }).liveness).toEqual({
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it.each([
    { name: "a period of 0", spec: { readiness: { periodSeconds: 0 } } },
    { name: "a failure threshold of 0", spec: { readiness: { failureThreshold: 0 } } },
    { name: "a negative initial delay", spec: { startup: { initialDelaySeconds: -1 } } },
    { name: "a timeout of 0", spec: { liveness: { timeoutSeconds: 0 } } },
    { name: "a liveness success threshold above 1", spec: { liveness: { successThreshold: 2 } } },
    { name: "a startup success threshold above 1", spec: { startup: { successThreshold: 3 } } },
  ])("rejects $name with InvalidArgument", ({ spec }) => {
    let caught: unknown;
    try {
      newHealthState(spec);
    } catch (err) {
      caught = err;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it("formats durations as the kubelet prints them", () => {
    expect([10 * S, 80 * S, 300 * S].map(formatDuration)).toEqual(["10s", "1m20s", "5m0s"]);
  });
});

describe("properties over random event sequences", () => {
  const specArb: fc.Arbitrary<HealthSpec> = fc.record(
    {
      startup: fc.record({ periodSeconds: fc.integer({ min: 1, max: 5 }), failureThreshold: fc.integer({ min: 1, max: 4 }) }),
      liveness: fc.record({ periodSeconds: fc.integer({ min: 1, max: 5 }), failureThreshold: fc.integer({ min: 1, max: 4 }), initialDelaySeconds: fc.integer({ min: 0, max: 3 }) }),
      readiness: fc.record({ periodSeconds: fc.integer({ min: 1, max: 5 }), successThreshold: fc.integer({ min: 1, max: 3 }), failureThreshold: fc.integer({ min: 1, max: 4 }) }),
      postStart: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  type Step = { kind: "start" | "exit" | "postStart" | ProbeKind; dt: number; ok: boolean };
  const stepArb: fc.Arbitrary<Step> = fc.record({
    kind: fc.constantFrom("start", "exit", "postStart", "startup", "liveness", "readiness"),
    dt: fc.integer({ min: 0, max: 400 * S }),
    ok: fc.boolean(),
  });
  function toEvents(steps: Step[]): { events: HealthEvent[]; end: number } {
    let t = 0;
    const events: HealthEvent[] = [started(0)];
    for (const s of steps) {
      t += s.dt;
      if (s.kind === "start") events.push(started(t));
      else if (s.kind === "exit") events.push(exited(t, s.ok ? 0 : 1));
      else if (s.kind === "postStart") events.push({ type: "postStart", at: t, ok: s.ok });
      else events.push(probe(s.kind, t, s.ok));
    }
    return { events, end: t };
  }

  it("ready only while running with startup passed, no postStart hook pending and no stop pending; stop only while running; wait only while exited, never longer than 5 min after the last restart", () => {
    fc.assert(
      fc.property(specArb, fc.array(stepArb, { maxLength: 40 }), fc.integer({ min: 0, max: 600 * S }), (spec, steps, extra) => {
        const { events, end } = toEvents(steps);
        const state = applyHealthEvents(newHealthState(spec), events);
        const status = healthStatus(state, end + extra);
        if (status.ready) {
          expect(status.phase).toBe("running");
          expect(status.started).toBe(true);
          expect(status.action).toBe("none");
        }
        if (status.action === "stop") expect(status.phase).toBe("running");
        if (status.action === "wait") {
          expect(status.phase).toBe("exited");
          expect(status.reason).toBe("CrashLoopBackOff");
          expect(status.waitUntil! - (state.lastRestartAt ?? 0)).toBeLessThanOrEqual(RESTART_BACKOFF.maxMs);
          expect(status.waitUntil!).toBeGreaterThan(end + extra);
        }
        for (const kind of status.due) expect(state.spec[kind]).toBeDefined();
        if (spec.startup && !status.started) expect(status.due.every((k) => k === "startup")).toBe(true);
        if (state.postStartPending) {
          expect(status).toMatchObject({ ready: false, due: [], postStartDue: true });
          expect(spec.postStart).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("what a pod's health shows (ready, since when, reason, message, restarts) does not change with the clock alone before nextCheckAt", () => {
    const shown = (s: HealthStatus) => ({ phase: s.phase, ready: s.ready, readySince: s.readySince, reason: s.reason, message: s.message, restartCount: s.restartCount });
    fc.assert(
      fc.property(specArb, fc.array(stepArb, { maxLength: 40 }), fc.integer({ min: 0, max: 600 * S }), fc.double({ min: 0, max: 1, noNaN: true }), (spec, steps, extra, where) => {
        const { events, end } = toEvents(steps);
        const state = applyHealthEvents(newHealthState(spec), events);
        const now = end + extra;
        const status = healthStatus(state, now);
        const until = status.nextCheckAt ?? now + 60 * MIN;
        for (const t of [now + 1, Math.floor(now + where * (until - now)), until - 1]) {
          if (t <= now || t >= until) continue;
          expect(shown(healthStatus(state, t))).toEqual(shown(status));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a state that awaits no listing is left as it is by listings of the facts last observed, whenever they began", () => {
    type Seen = { kind: "run" | "exit" | "list" | "postStart" | ProbeKind; dt: number; ok: boolean };
    const seenArb: fc.Arbitrary<Seen> = fc.record({
      kind: fc.constantFrom("run", "exit", "list", "list", "postStart", "startup", "liveness", "readiness"),
      dt: fc.integer({ min: 0, max: 3 * S }),
      ok: fc.boolean(),
    });
    fc.assert(
      fc.property(specArb, fc.array(seenArb, { maxLength: 30 }), fc.integer({ min: 0, max: 60 * S }), (spec, steps, later) => {
        let t = 0;
        let restarts = 0;
        let facts: ContainerFacts = { state: "running", startedAt: 0, restartCount: 0 };
        let state = observeContainer(newHealthState(spec), facts, 0);
        for (const step of steps) {
          t += step.dt;
          if (step.kind === "run" && facts.state !== "running") facts = { state: "running", startedAt: t, restartCount: ++restarts };
          else if (step.kind === "exit" && facts.state === "running") facts = { ...facts, state: "exited", finishedAt: t, exitCode: step.ok ? 0 : 1 };
          if (step.kind === "run" || step.kind === "exit" || step.kind === "list") state = observeContainer(state, facts, t);
          else if (step.kind === "postStart") state = applyHealthEvent(state, { type: "postStart", at: t, ok: step.ok });
          else state = applyHealthEvent(state, probe(step.kind, t, step.ok));
        }
        if (!awaitsListing(state)) for (const at of [t, t + later]) expect(observeContainer(state, facts, at)).toBe(state);
      }),
      { numRuns: 1000 },
    );
  });

  it("a run waiting for its confirming listing is evaluated again when its liveness probe falls due (the property's counterexample, seed 1944692003)", () => {
    const spec = { liveness: { periodSeconds: 1, failureThreshold: 1, initialDelaySeconds: 0 } } as HealthSpec;
    const state = applyHealthEvents(newHealthState(spec), [started(0), probe("liveness", 0, true)]);
    const status = healthStatus(state, 0);
    expect(status).toMatchObject({ reason: "Starting", due: [] });
    expect(nextEvaluationAt(status, 0)).toBe(1000);
    expect(healthStatus(state, 1000).due).toEqual(["liveness"]);
  });

  it("nothing in the decision changes with the clock alone before nextEvaluationAt, which is now whenever an action, a hook or a probe is pending", () => {
    const decision = (s: HealthStatus) => ({ ready: s.ready, reason: s.reason, action: s.action, restartCount: s.restartCount, due: s.due, postStartDue: s.postStartDue });
    fc.assert(
      fc.property(specArb, fc.array(stepArb, { maxLength: 40 }), fc.integer({ min: 0, max: 600 * S }), fc.double({ min: 0, max: 1, noNaN: true }), (spec, steps, extra, where) => {
        const { events, end } = toEvents(steps);
        const state = applyHealthEvents(newHealthState(spec), events);
        const now = end + extra;
        const status = healthStatus(state, now);
        const at = nextEvaluationAt(status, now);
        expect(at).toBeGreaterThanOrEqual(now);
        if (status.action === "stop" || status.action === "restart" || status.postStartDue || status.due.length > 0) expect(at).toBe(now);
        if (at === now) return;
        // Any time before `at` (an hour on for "never"): the same decision as at `now`.
        const until = Number.isFinite(at) ? at : now + 60 * MIN;
        for (const t of [now + 1, Math.floor(now + where * (until - now)), until - 1]) {
          if (t <= now || t >= until) continue;
          expect(decision(healthStatus(state, t))).toEqual(decision(status));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a container listed exited or dead is exited and not ready, whatever its start and end times say", () => {
    const runArb = fc.record({
      gap: fc.integer({ min: 1, max: 60 * S }),
      // Docker can record the end up to a few ms before the start of a run that ended at once.
      ran: fc.integer({ min: -50, max: 30 * S }),
      seenRunning: fc.integer({ min: 0, max: 2 }),
      dead: fc.boolean(),
    });
    fc.assert(
      fc.property(specArb, fc.array(runArb, { minLength: 1, maxLength: 10 }), (spec, runs) => {
        let state = newHealthState(spec);
        let t = 0;
        for (const [i, r] of runs.entries()) {
          const start = t + r.gap;
          for (let k = 0; k < r.seenRunning; k++) state = observeContainer(state, { state: "running", startedAt: start, restartCount: i });
          state = observeContainer(state, { state: r.dead ? "dead" : "exited", startedAt: start, finishedAt: start + r.ran, exitCode: 1, restartCount: i });
          t = Math.max(start, start + r.ran);
          expect(healthStatus(state, t)).toMatchObject({ phase: "exited", ready: false });
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a run without readiness or startup probe is ready exactly when two listings at least RUNNING_CONFIRM_MS apart saw it running and it has not exited", () => {
    const lifeArb = fc.record({ kind: fc.constantFrom("start", "exit", "seen"), dt: fc.integer({ min: 0, max: 3 * S }) });
    fc.assert(
      fc.property(fc.array(lifeArb, { maxLength: 30 }), (steps) => {
        let t = 0;
        const events: HealthEvent[] = [started(0)];
        for (const s of steps) {
          t += s.dt;
          events.push(s.kind === "start" ? started(t) : s.kind === "exit" ? exited(t) : running(t));
        }
        const status = healthStatus(applyHealthEvents(newHealthState({}), events), t);
        // Restated: the events after the last start that began a new run.
        let from = 0;
        let lastStart = -1;
        events.forEach((e, i) => {
          if (e.type === "started" && e.at > lastStart) [lastStart, from] = [e.at, i];
        });
        const after = events.slice(from + 1);
        const seen = after.filter((e) => e.type === "running").map((e) => e.at);
        const expected = !after.some((e) => e.type === "exited") && seen.some((at) => at - seen[0]! >= RUNNING_CONFIRM_MS);
        expect(status.ready).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("counts every restart: restartCount equals the starts after the first", () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const { events } = toEvents(steps);
        const state = applyHealthEvents(newHealthState({}), events);
        let runs = 0;
        let last = -1;
        for (const e of events) {
          if (e.type === "started" && e.at > last) {
            runs++;
            last = e.at;
          }
        }
        expect(state.restartCount).toBe(runs - 1);
      }),
      { numRuns: 300 },
    );
  });

  it("rebuilding from the container in a crash loop decides as the live state does", () => {
    // Runs of 0.5–60 s (never 10 min): the loop length equals the restart count, which the runtime keeps.
    fc.assert(
      fc.property(
        fc.array(fc.record({ run: fc.integer({ min: 500, max: 60 * S }), late: fc.integer({ min: 0, max: 30 * S }) }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 400 * S }),
        (runs, lookAfter) => {
          let live = newHealthState({});
          let t = 0;
          live = applyHealthEvents(live, [started(t)]);
          let facts: ContainerFacts = { state: "running", startedAt: t, restartCount: 0 };
          for (const [i, r] of runs.entries()) {
            const end = t + r.run;
            live = applyHealthEvents(live, [exited(end)]);
            facts = { state: "exited", startedAt: t, finishedAt: end, exitCode: 1, restartCount: i };
            const s = healthStatus(live, end);
            t = (s.action === "restart" ? end : s.waitUntil!) + r.late;
            if (i < runs.length - 1) live = applyHealthEvents(live, [started(t)]);
          }
          const now = facts.finishedAt! + lookAfter;
          const rebuilt = observeContainer(newHealthState({}), facts);
          const a = healthStatus(live, now);
          const b = healthStatus(rebuilt, now);
          expect({ action: b.action, waitUntil: b.waitUntil, restartCount: b.restartCount }).toEqual({
            action: a.action,
            waitUntil: a.waitUntil,
            restartCount: a.restartCount,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
