/**
 * The health of one container as the kubelet sees it, as a pure state machine: events in (the container
 * started, exited, a probe result), a decision out (ready or not, and whether to stop, restart or wait).
 * No clocks, timers or I/O: the caller (the fleet and the controllers) observes containers, runs the
 * probes that are due (runProbe), feeds the results back and carries out the action.
 *
 * Kubernetes' rules (pod lifecycle, container probes, restartPolicy Always):
 * - A startup probe, when there is one, holds liveness and readiness until it succeeds once; failing
 *   failureThreshold times in a row (≈ failureThreshold × periodSeconds) gets the container restarted.
 * - Liveness starts passing; failureThreshold consecutive failures get the container restarted.
 * - Readiness starts failing; successThreshold consecutive successes make the container ready,
 *   failureThreshold consecutive failures make it not ready again. It only gates "ready", never restarts.
 *   With a startup probe and no readiness probe, the container is ready once the startup probe passed.
 * - Without any readiness or startup probe Kubernetes counts a running container ready; coxswain asks one
 *   thing more: two listings begun at least RUNNING_CONFIRM_MS apart must both have seen the run running
 *   (the "running" event). coxswain lists an engine within milliseconds of a start, where a kubelet
 *   relists only every second, so without this a program that exits at once would be ready, and count
 *   as available to a rolling update, for the moment between the listing that saw it start and the one
 *   that sees it exit. No probe has seen such a container alive; a probe result is the proof otherwise.
 * - Probe results are ignored before initialDelaySeconds after the container started, from an earlier
 *   run, while the container does not run, and once a restart is pending.
 * - A postStart hook (spec.postStart) holds each run as the kubelet does ("the container is not Running
 *   until the hook completes"): not ready, no probes run, until the hook's result arrives (a "postStart"
 *   event). A failed hook condemns the run like a failed liveness probe: the container is stopped and
 *   restarted with the back-off below (Kubernetes' FailedPostStartHook).
 * - Restart policy Always with the kubelet's back-off: the first restart of a crash loop is immediate;
 *   after restart k (k ≥ 1) the next one waits until 10 s · 2^(k−1), at most 5 min, have passed since
 *   restart k ("CrashLoopBackOff" while waiting). A run of 10 min or more ends the loop: the next restart
 *   is immediate again and the delays start over at 10 s.
 *
 * After an operator restart the state is rebuilt from the container alone (observeContainer on a fresh
 * state): restartCount comes from the runtime (durable), the last start and exit from the container. The
 * crash loop's length is not stored anywhere, so the rebuilt loop is taken to be restartCount restarts long
 * (the container's last run was short) — exact for a container that has been crash-looping since it was
 * created, conservative (a longer wait, never more than 5 min) for one whose earlier restarts were
 * followed by long healthy runs. Probe counters start afresh: a running container is probed again from
 * zero, as the kubelet does after its own restart.
 *
 * All times are epoch milliseconds.
 */
import { backoffDelay, type Backoff } from "../api/backoff.js";
import { CoxError } from "../api/errors.js";
import { PROBE_DEFAULTS, type ProbeParams } from "./probe.js";
import type { ContainerState, ObservedContainer } from "./types.js";

/** The three probes of a container. */
export type ProbeKind = "startup" | "liveness" | "readiness";

/** Every ProbeKind, in the order they gate each other. */
const PROBE_KINDS: readonly ProbeKind[] = ["startup", "liveness", "readiness"];

/** Probe parameters as in a Pod spec, with the timeout the caller gives runProbe. */
export interface HealthProbeParams extends ProbeParams {
  /** Seconds a single probe may take (default 1); not used by the state machine itself. */
  timeoutSeconds: number;
}

/** The probes a container declares; unset fields take Kubernetes' defaults. */
export interface HealthSpec {
  startup?: Partial<HealthProbeParams>;
  liveness?: Partial<HealthProbeParams>;
  readiness?: Partial<HealthProbeParams>;
  /** The container has a postStart hook: each run waits for its result (a "postStart" event). */
  postStart?: boolean;
}

/** HealthSpec with every default applied. */
export type ResolvedHealthSpec = { readonly [K in ProbeKind]?: Readonly<HealthProbeParams> } & { readonly postStart?: true };

/**
 * A run without readiness or startup probe is ready once listings begun this far apart (the caller's
 * clock) both saw it running: a container that exits within about its first second is never ready.
 */
export const RUNNING_CONFIRM_MS = 1_000;

/** The kubelet's restart back-off (pkg/kubelet: 10 s doubling to 5 min; reset after 10 min of running). */
export const RESTART_BACKOFF: Backoff & { readonly resetAfterMs: number } = Object.freeze({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 });

/** Something that happened to the container. */
export type HealthEvent =
  /** A run started at `at` (the container's startedAt); restartCount as the runtime reports it, when known. */
  | { type: "started"; at: number; restartCount?: number }
  /** The run ended at `at` (the container's finishedAt) with its exit code when known. */
  | { type: "exited"; at: number; exitCode?: number }
  /** A listing begun at `at` (the caller's clock) saw the current run running. */
  | { type: "running"; at: number }
  /** One probe result, at the time it was taken. `message` says what was seen (runProbe's message). */
  | { type: "probe"; probe: ProbeKind; at: number; ok: boolean; message?: string }
  /** The postStart hook of the current run finished at `at`; `message` says why it failed. */
  | { type: "postStart"; at: number; ok: boolean; message?: string };

/** Threshold counters of one probe during one run. */
export interface ProbeCounters {
  /** The probe's state after its thresholds: liveness starts true, startup and readiness false. */
  readonly passing: boolean;
  readonly successes: number;
  readonly failures: number;
  /** Time of the last result taken into account. */
  readonly lastAt?: number;
  readonly lastMessage?: string;
}

/** Why the current run must be stopped: a startup or liveness probe failed too often, or the postStart hook failed. */
export interface ProbeFailure {
  readonly probe: "startup" | "liveness" | "postStart";
  readonly at: number;
  readonly message: string;
}

/** How the last run ended. */
export interface Termination {
  readonly at: number;
  readonly exitCode?: number;
  /** As the kubelet's lastState.terminated.reason: "Completed" (exit 0) or "Error" (any other or unknown exit). */
  readonly reason: "Completed" | "Error";
  /** Set when the run was stopped because this probe (or the postStart hook) failed. */
  readonly stoppedBy?: ProbeFailure["probe"];
  readonly message: string;
}

/** The state of one container: plain, immutable data (copy it, log it, compare it). */
export interface HealthState {
  readonly spec: ResolvedHealthSpec;
  /** "unknown" until the first event or observation. */
  readonly phase: "unknown" | "created" | "running" | "exited";
  /** Start of the current (or last) run. */
  readonly startedAt?: number;
  /** End of the last run, while exited. */
  readonly finishedAt?: number;
  readonly exitCode?: number;
  /** Restarts in place so far (the runtime's count when it reports one). */
  readonly restartCount: number;
  /** Restarts in the current crash loop (0: the next restart is immediate). */
  readonly loopRestarts: number;
  /** When the latest restart of the loop happened. */
  readonly lastRestartAt?: number;
  /** Set while the current run waits for its postStart hook (cleared by its "postStart" event). */
  readonly postStartPending?: true;
  /** When the startup probe passed (the start itself when there is no startup probe); undefined while it has not. */
  readonly startupPassedAt?: number;
  readonly probes: { readonly [K in ProbeKind]?: ProbeCounters };
  /** When a listing first saw the current run running (the caller's clock); cleared by the next start. */
  readonly runningSeenAt?: number;
  /** Since when the container is ready; undefined while it is not. */
  readonly readySince?: number;
  /** Set when a probe failure condemned the current run (cleared by the next start). */
  readonly failure?: ProbeFailure;
  readonly lastTermination?: Termination;
}

/** What the caller does next about the container. */
export type HealthAction =
  /** Nothing: it runs (ready or not), or nothing is known yet. */
  | "none"
  /** Stop the running container now (graceful stop): a startup or liveness probe failed. Then report the exit. */
  | "stop"
  /** Start the container now (NodeRuntime.start). */
  | "restart"
  /** It exited and is in back-off: start it at `waitUntil`, not before. */
  | "wait";

/** The decision at one moment, with what status shows. */
export interface HealthStatus {
  phase: HealthState["phase"];
  ready: boolean;
  readySince?: number;
  /** The startup probe passed (always true for a running container without one). */
  started: boolean;
  action: HealthAction;
  /** With action "wait": when the back-off ends (status shows it as nextRestartAt). */
  waitUntil?: number;
  /**
   * One word, Kubernetes-style: "Running" (ready), "NotReady", "ContainerCreating" (postStart hook
   * running, as Kubernetes shows it), "Starting" (startup probe pending, or a
   * run without probes not yet seen running by a second listing RUNNING_CONFIRM_MS after the first),
   * "Unhealthy" (stop pending), "FailedPostStartHook" (stop pending after the hook failed), "Completed"/"Error" (exited, restarting now), "CrashLoopBackOff",
   * "ContainerCreating", "Unknown".
   */
  reason: string;
  /** What was seen, in a sentence; "" when running and ready. */
  message: string;
  restartCount: number;
  /** Probes to run now. */
  due: ProbeKind[];
  /** The current run waits for its postStart hook: run it (once per run). */
  postStartDue?: true;
  /** The earliest time a probe falls due later (when none is due now). */
  nextProbeAt?: number;
  /**
   * A run without probes waiting to be confirmed: a listing begun at or after this time (the caller's
   * clock) that still sees it running makes it ready. The caller lists the node then.
   */
  listAt?: number;
  /** When to evaluate again at the latest: the next probe, the confirming listing or the end of the back-off. */
  nextCheckAt?: number;
}

/** Resolves defaults and checks a HealthSpec. Throws InvalidArgument for impossible values (as Kubernetes' validation). */
export function resolveHealthSpec(spec: HealthSpec): ResolvedHealthSpec {
  const out: { [K in ProbeKind]?: Readonly<HealthProbeParams> } = {};
  for (const kind of PROBE_KINDS) {
    const given = spec[kind];
    if (given === undefined) continue;
    const p: HealthProbeParams = { ...PROBE_DEFAULTS, timeoutSeconds: 1 };
    for (const key of Object.keys(p) as (keyof HealthProbeParams)[]) {
      const value = given[key];
      if (value !== undefined) p[key] = value;
    }
    for (const key of ["periodSeconds", "successThreshold", "failureThreshold", "timeoutSeconds"] as const) {
      if (!(Number.isFinite(p[key]) && p[key] >= 1)) {
        throw new CoxError("InvalidArgument", `${kind} probe ${key} must be at least 1; got ${p[key]}`);
      }
    }
    if (!(Number.isFinite(p.initialDelaySeconds) && p.initialDelaySeconds >= 0)) {
      throw new CoxError("InvalidArgument", `${kind} probe initialDelaySeconds must be 0 or more; got ${p.initialDelaySeconds}`);
    }
    if (kind !== "readiness" && p.successThreshold !== 1) {
      throw new CoxError("InvalidArgument", `${kind} probe successThreshold must be 1 (as in Kubernetes); got ${p.successThreshold}`);
    }
    out[kind] = Object.freeze(p);
  }
  return Object.freeze(spec.postStart ? { ...out, postStart: true as const } : out);
}

/** A state that knows nothing about the container yet. Throws InvalidArgument for an impossible spec. */
export function newHealthState(spec: HealthSpec): HealthState {
  return { spec: resolveHealthSpec(spec), phase: "unknown", restartCount: 0, loopRestarts: 0, probes: {} };
}

function freshProbes(spec: ResolvedHealthSpec): HealthState["probes"] {
  const probes: { [K in ProbeKind]?: ProbeCounters } = {};
  if (spec.startup) probes.startup = { passing: false, successes: 0, failures: 0 };
  if (spec.liveness) probes.liveness = { passing: true, successes: 0, failures: 0 };
  if (spec.readiness) probes.readiness = { passing: false, successes: 0, failures: 0 };
  return probes;
}

/** Applies one event. Events that do not fit (stale, duplicate, out of order) leave the state as it is. */
export function applyHealthEvent(state: HealthState, event: HealthEvent): HealthState {
  switch (event.type) {
    case "started":
      return onStarted(state, event.at, event.restartCount);
    case "exited":
      return onExited(state, event.at, event.exitCode);
    case "probe":
      return onProbe(state, event.probe, event.at, event.ok, event.message);
    case "running":
      return onRunning(state, event.at);
    case "postStart":
      return onPostStart(state, event.at, event.ok, event.message);
  }
}

/** Applies events in order. */
export function applyHealthEvents(state: HealthState, events: readonly HealthEvent[]): HealthState {
  return events.reduce(applyHealthEvent, state);
}

function onStarted(state: HealthState, at: number, reported: number | undefined): HealthState {
  if (state.startedAt !== undefined && at <= state.startedAt) return state; // this run or an older one
  const { spec } = state;
  let restartCount = state.restartCount;
  let loopRestarts = state.loopRestarts;
  let lastRestartAt = state.lastRestartAt;
  if (state.phase === "unknown") {
    // First sight of the container (e.g. after an operator restart): rebuild the loop from its count.
    restartCount = reported ?? 0;
    loopRestarts = restartCount;
    lastRestartAt = restartCount > 0 ? at : undefined;
  } else if (state.startedAt !== undefined) {
    // A restart in place. A previous run of 10 min or more ended the crash loop.
    const ranFor = (state.finishedAt ?? at) - state.startedAt;
    if (ranFor >= RESTART_BACKOFF.resetAfterMs) loopRestarts = 0;
    restartCount = reported ?? state.restartCount + 1;
    loopRestarts += 1;
    lastRestartAt = at;
  } else {
    restartCount = reported ?? state.restartCount; // created, first start: not a restart
  }
  const next: HealthState = {
    spec,
    phase: "running",
    startedAt: at,
    restartCount,
    loopRestarts,
    probes: freshProbes(spec),
    ...(lastRestartAt !== undefined ? { lastRestartAt } : {}),
    ...(spec.startup ? {} : { startupPassedAt: at }),
    ...(spec.postStart ? { postStartPending: true as const } : {}),
    ...(state.lastTermination ? { lastTermination: state.lastTermination } : {}),
  };
  return next;
}

function onPostStart(state: HealthState, at: number, ok: boolean, message: string | undefined): HealthState {
  if (state.phase !== "running" || state.postStartPending === undefined || state.failure !== undefined) return state;
  const { postStartPending: _done, ...rest } = state;
  if (ok) return rest;
  const said = message === undefined || message === "" ? "" : `: ${message}`;
  return { ...rest, failure: { probe: "postStart", at, message: `PostStart hook failed${said}` } };
}

/** Whether readiness comes from listings alone (no probe ever sees the container alive). */
function confirmedByListings(spec: ResolvedHealthSpec): boolean {
  return spec.startup === undefined && spec.readiness === undefined;
}

function onRunning(state: HealthState, at: number): HealthState {
  if (state.phase !== "running" || state.failure !== undefined) return state;
  if (state.runningSeenAt === undefined) return { ...state, runningSeenAt: at };
  if (!confirmedByListings(state.spec) || state.readySince !== undefined || state.postStartPending) return state;
  if (at - state.runningSeenAt < RUNNING_CONFIRM_MS) return state;
  return { ...state, readySince: at };
}

function onExited(state: HealthState, at: number, exitCode: number | undefined): HealthState {
  if (state.phase === "exited" || state.phase === "unknown" || state.phase === "created") {
    if (state.phase !== "unknown") return state;
    // Never saw it run: remember the exit alone.
    return { ...state, phase: "exited", finishedAt: at, ...(exitCode !== undefined ? { exitCode } : {}), lastTermination: termination(undefined, at, exitCode) };
  }
  if (state.startedAt !== undefined && at < state.startedAt) return state;
  let loopRestarts = state.loopRestarts;
  let lastRestartAt = state.lastRestartAt;
  if (state.startedAt !== undefined && at - state.startedAt >= RESTART_BACKOFF.resetAfterMs) {
    loopRestarts = 0; // ran long enough without trouble: the loop is over
    lastRestartAt = undefined;
  }
  const next: { -readonly [K in keyof HealthState]: HealthState[K] } = {
    ...state,
    phase: "exited",
    finishedAt: at,
    loopRestarts,
    lastTermination: termination(state.failure, at, exitCode),
  };
  if (exitCode !== undefined) next.exitCode = exitCode;
  else delete next.exitCode;
  if (lastRestartAt === undefined) delete next.lastRestartAt;
  else next.lastRestartAt = lastRestartAt;
  delete next.readySince;
  delete next.runningSeenAt;
  delete next.postStartPending; // the run is over: its hook no longer matters
  return next;
}

function termination(failure: ProbeFailure | undefined, at: number, exitCode: number | undefined): Termination {
  const code = exitCode === undefined ? "with an unknown exit code" : `with code ${exitCode}`;
  return {
    at,
    ...(exitCode !== undefined ? { exitCode } : {}),
    reason: exitCode === 0 ? "Completed" : "Error",
    ...(failure ? { stoppedBy: failure.probe } : {}),
    message: failure ? `${failure.message}; stopped, exited ${code}` : `exited ${code}`,
  };
}

function onProbe(state: HealthState, kind: ProbeKind, at: number, ok: boolean, message: string | undefined): HealthState {
  const params = state.spec[kind];
  const counters = state.probes[kind];
  if (params === undefined || counters === undefined) return state;
  if (state.phase !== "running" || state.startedAt === undefined || state.failure !== undefined || state.postStartPending) return state;
  if (at < state.startedAt + params.initialDelaySeconds * 1000) return state;
  if (kind === "startup" ? state.startupPassedAt !== undefined : state.startupPassedAt === undefined) return state;
  if (counters.lastAt !== undefined && at < counters.lastAt) return state; // out of order

  const successes = ok ? counters.successes + 1 : 0;
  const failures = ok ? 0 : counters.failures + 1;
  let passing = counters.passing;
  if (ok && !passing && successes >= params.successThreshold) passing = true;
  else if (!ok && passing && failures >= params.failureThreshold) passing = false;
  const updated: ProbeCounters = { passing, successes, failures, lastAt: at, ...(message !== undefined ? { lastMessage: message } : {}) };
  const next: { -readonly [K in keyof HealthState]: HealthState[K] } = { ...state, probes: { ...state.probes, [kind]: updated } };
  const said = message === undefined || message === "" ? "" : `: ${message}`;

  if (kind === "startup") {
    if (passing) {
      next.startupPassedAt = at;
      if (!state.spec.readiness) next.readySince = at;
    } else if (failures >= params.failureThreshold) {
      next.failure = { probe: "startup", at, message: `Startup probe failed ${failures} time(s) in a row${said}` };
    }
  } else if (kind === "liveness") {
    if (!passing) {
      next.failure = { probe: "liveness", at, message: `Liveness probe failed ${failures} time(s) in a row${said}` };
      delete next.readySince;
    }
  } else if (passing !== counters.passing) {
    if (passing) next.readySince = at;
    else delete next.readySince;
  }
  if (next.failure !== undefined) delete next.readySince;
  return next;
}

/** The state of a run as the runtime reports it; ObservedContainer fits. */
export type ContainerFacts = Pick<ObservedContainer, "state" | "startedAt" | "finishedAt" | "exitCode" | "restartCount">;

const RUNNING_STATES: ReadonlySet<ContainerState> = new Set(["running", "paused", "restarting"]);
const EXITED_STATES: ReadonlySet<ContainerState> = new Set(["exited", "dead"]);

/**
 * Brings the state in line with what the runtime reports (level-based: call it with every listing): a
 * start time not seen before is a "started" event (with the runtime's restart count), an exit not seen
 * before an "exited" event. On a fresh state this is the rebuild after an operator restart (see the
 * module comment). Paused and restarting containers count as running; "removing" changes nothing.
 * A container reported exited or dead leaves the state exited (never running, never ready), whatever
 * order its recorded start and end are in; only a report of an older run than one already seen is
 * ignored, as stale. `listedAt`, when the facts come from a listing, is when that listing began (the
 * caller's clock): a running container then also gets the "running" event that confirms a run without
 * probes (see RUNNING_CONFIRM_MS). Facts from elsewhere (what a create call returned) never confirm.
 * A listing that tells nothing new returns `state` itself (the kubelet evaluates only what changed).
 */
export function observeContainer(state: HealthState, container: ContainerFacts, listedAt?: number): HealthState {
  let next = state;
  const running = RUNNING_STATES.has(container.state);
  const exited = EXITED_STATES.has(container.state);
  if (container.state === "created") {
    if (next.phase === "unknown") return { ...next, phase: "created", restartCount: container.restartCount };
    return next;
  }
  if ((running || exited) && container.startedAt !== undefined && container.startedAt !== next.startedAt) {
    next = applyHealthEvent(next, { type: "started", at: container.startedAt, restartCount: container.restartCount });
  }
  if (running && listedAt !== undefined && container.startedAt !== undefined && container.startedAt === next.startedAt) {
    next = applyHealthEvent(next, { type: "running", at: listedAt });
  }
  if (exited) {
    // The exit ends the run the runtime reports, even when its recorded end precedes its start: Docker
    // takes StartedAt from the daemon's clock once the start call returned and FinishedAt from containerd's
    // exit time, so a program that exits at once often shows FinishedAt a few ms *before* StartedAt (about
    // one start in five, measured here). Taken as it is, that exit looked older than the run and was
    // dropped, and the container stayed "running" and ready for good.
    const at = Math.max(container.finishedAt ?? container.startedAt ?? 0, container.startedAt ?? 0);
    if (next.phase !== "exited" || next.finishedAt !== at) {
      next = applyHealthEvent(next, { type: "exited", at, ...(container.exitCode !== undefined ? { exitCode: container.exitCode } : {}) });
    }
  }
  return next;
}

/**
 * Whether a listing can still change the state by seeing the container running (the "running" event that
 * confirms a run, see RUNNING_CONFIRM_MS). When it cannot, observeContainer with the facts last observed
 * returns the state itself whatever the listing's time: a caller may skip observing a container whose facts
 * did not change (the kubelet skips a node's listing that changed nothing). Conservative: true may be said
 * of a state that a listing would leave as it is (one whose postStart hook is pending).
 */
export function awaitsListing(state: HealthState): boolean {
  if (state.phase !== "running" || state.failure !== undefined) return false;
  return state.runningSeenAt === undefined || (confirmedByListings(state.spec) && state.readySince === undefined);
}

/** Back-off before the restart that follows `loopRestarts` restarts of a crash loop: 0, 10 s, 20 s, … 5 min. */
export function restartDelayMs(loopRestarts: number): number {
  return backoffDelay(RESTART_BACKOFF, loopRestarts);
}

/** A duration as Go prints it (kubelet messages): "10s", "1m20s", "5m0s". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** When each probe is due next in this run; undefined when it is not run now (gated, passed, no run). */
function probeDueAt(state: HealthState, kind: ProbeKind): number | undefined {
  const params = state.spec[kind];
  const counters = state.probes[kind];
  if (params === undefined || counters === undefined) return undefined;
  if (state.phase !== "running" || state.startedAt === undefined || state.failure !== undefined || state.postStartPending) return undefined;
  let first = state.startedAt + params.initialDelaySeconds * 1000;
  if (kind === "startup") {
    if (state.startupPassedAt !== undefined) return undefined;
  } else {
    if (state.startupPassedAt === undefined) return undefined;
    first = Math.max(first, state.startupPassedAt);
  }
  return counters.lastAt === undefined ? first : Math.max(first, counters.lastAt + params.periodSeconds * 1000);
}

/**
 * When a container must be evaluated again if nothing new is observed of it (no listing that changes it, no
 * probe or hook result): `now` — at every evaluation — while something waits on more than the clock (an
 * action or a postStart hook a busy pod or a silent node holds back, a probe in flight or without a
 * target, a confirming listing asked for), else the next time the decision can change with the clock alone
 * (HealthStatus.nextCheckAt: a probe falling due, the end of a back-off), else never. Evaluating every
 * container every 100 ms whatever it waited for kept an idle operator with 1,000 ready pods at 8 % of a
 * core (bench:idle).
 */
export function nextEvaluationAt(s: HealthStatus, now: number): number {
  if (s.action === "stop" || s.action === "restart" || s.postStartDue || s.due.length > 0) return now;
  if (s.listAt !== undefined && s.listAt <= now) return now;
  return s.nextCheckAt ?? Number.POSITIVE_INFINITY;
}

/** The decision at `now`: readiness, the action, what status shows, and which probes to run. */
export function healthStatus(state: HealthState, now: number): HealthStatus {
  const base = { phase: state.phase, restartCount: state.restartCount };
  switch (state.phase) {
    case "unknown":
      return { ...base, ready: false, started: false, action: "none", reason: "Unknown", message: "the container has not been observed yet", due: [] };
    case "created":
      return {
        ...base,
        ready: false,
        started: false,
        action: "restart",
        reason: "ContainerCreating",
        message: "the container was created but never started",
        due: [],
      };
    case "exited": {
      const delay = restartDelayMs(state.loopRestarts);
      const finished = state.finishedAt ?? now;
      const restartAt = Math.max(finished, state.lastRestartAt === undefined ? finished : state.lastRestartAt + delay);
      const ended = state.lastTermination?.message ?? "exited";
      if (now >= restartAt) {
        return {
          ...base,
          ready: false,
          started: false,
          action: "restart",
          reason: state.lastTermination?.reason ?? "Error",
          message: `${ended}; restarting`,
          due: [],
        };
      }
      return {
        ...base,
        ready: false,
        started: false,
        action: "wait",
        waitUntil: restartAt,
        reason: "CrashLoopBackOff",
        message: `back-off ${formatDuration(delay)} restarting failed container: ${ended}`,
        due: [],
        nextCheckAt: restartAt,
      };
    }
    case "running": {
      const started = state.startupPassedAt !== undefined;
      const ready = state.readySince !== undefined && state.failure === undefined;
      const due: ProbeKind[] = [];
      let nextProbeAt: number | undefined;
      for (const kind of PROBE_KINDS) {
        const at = probeDueAt(state, kind);
        if (at === undefined) continue;
        if (at <= now) due.push(kind);
        else nextProbeAt = nextProbeAt === undefined ? at : Math.min(nextProbeAt, at);
      }
      const timing = {
        due,
        ...(nextProbeAt !== undefined ? { nextProbeAt, nextCheckAt: nextProbeAt } : {}),
        ...(ready ? { readySince: state.readySince! } : {}),
      };
      if (state.failure) {
        const reason = state.failure.probe === "postStart" ? "FailedPostStartHook" : "Unhealthy";
        return { ...base, ready: false, started, action: "stop", reason, message: `${state.failure.message}; the container will be restarted`, due: [] };
      }
      if (state.postStartPending) {
        return { ...base, ready: false, started, action: "none", reason: "ContainerCreating", message: "running the postStart hook", due: [], postStartDue: true };
      }
      if (!started) {
        const last = state.probes.startup?.lastMessage;
        return {
          ...base,
          ready: false,
          started,
          action: "none",
          reason: "Starting",
          message: last === undefined ? "waiting for the startup probe to succeed" : `Startup probe failed: ${last}`,
          ...timing,
        };
      }
      if (ready) return { ...base, ready, started, action: "none", reason: "Running", message: "", ...timing };
      if (confirmedByListings(state.spec)) {
        const listAt = state.runningSeenAt === undefined ? undefined : state.runningSeenAt + RUNNING_CONFIRM_MS;
        return {
          ...base,
          ready,
          started,
          action: "none",
          reason: "Starting",
          message:
            listAt === undefined ? "started; no listing has seen it running yet" : `started; ready when a listing ${formatDuration(RUNNING_CONFIRM_MS)} after the first one that saw it running still sees it running`,
          ...timing,
          // The confirming listing or a liveness probe falling due, whichever comes first.
          ...(listAt !== undefined ? { listAt, nextCheckAt: nextProbeAt === undefined ? listAt : Math.min(listAt, nextProbeAt) } : {}),
        };
      }
      const last = state.probes.readiness?.lastMessage;
      const failing = state.probes.readiness?.failures ?? 0;
      return {
        ...base,
        ready,
        started,
        action: "none",
        reason: "NotReady",
        message: failing > 0 && last !== undefined ? `Readiness probe failed: ${last}` : "waiting for the readiness probe to succeed",
        ...timing,
      };
    }
  }
}
