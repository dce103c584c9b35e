/**
 * A Deployment's step, as Kubernetes' Deployment controller (pkg/controller/deployment: sync.go, rolling.go,
 * recreate.go) decides it over ReplicaSets, with the ReplicaSet controller folded in (core.ts planPods).
 *
 * One step per call, in Kubernetes' order (syncDeployment):
 *  - paused → only sync(): scale() as below, never a rollout step, no progress deadline;
 *  - a scaling event (the given sizes were set for other replicas) → scale(): the one active revision (or the
 *    newest when none is active) takes all replicas; a saturated new revision → old ones to 0; otherwise, for
 *    RollingUpdate, proportional scaling: replicas + maxSurge − Σ sizes shared out by getProportion
 *    (size × (replicas + maxSurge) / max-replicas, rounded), largest revision first (newer first on ties when
 *    growing, older first when shrinking), leftovers to the first, never below 0;
 *  - RollingUpdate (rolloutRolling): (1) the new revision above replicas → down to replicas; below →
 *    up by min(replicas + maxSurge − Σ sizes, replicas − size); a step that changed it ends here;
 *    (2) old revisions (reconcileOldReplicaSets): maxScaledDown = Σ sizes − (replicas − maxUnavailable) −
 *    new unavailable; first their unavailable pods, oldest revision first, at most maxScaledDown
 *    (cleanupUnhealthyReplicas); then, while more than replicas − maxUnavailable are available, oldest first
 *    (scaleDownOldReplicaSetsForRollingUpdate). On a rollover (the template changed mid-rollout) the
 *    intermediate revision's pods are not available yet, so they go first, as in Kubernetes.
 *  - Recreate (rolloutRecreate): old revisions to 0; while any old pod still runs (terminating included),
 *    wait; then the new revision to replicas.
 *
 * Where coxswain decides differently, on purpose:
 *  - podReplacementPolicy (Kubernetes' DeploymentPodReplacementPolicy, alpha there) is honoured:
 *    TerminationStarted (the default, Kubernetes' behaviour) does not count terminating pods against
 *    replicas + maxSurge; TerminationComplete does, so never more than replicas + maxSurge pods run;
 *  - failed pods do not run: they are removed at once and replaced in the same step (not counted as progress);
 *  - availability is the effective one (core.ts), so the decision sees in one step what Kubernetes sees a
 *    sync later; a new revision's unavailable count is never negative.
 *
 * Without the caller's sizes, they are derived from the active pods: no scaling event can be seen then, and
 * every rule above still holds (the rolling update itself copes with a change of replicas).
 */
import type { Rev, World } from "./core.js";
import { buildWorld, effAvailable, finishStep, oldRevs, planPods, roundHalfAway, short, validateCommon } from "./core.js";
import type { RolloutInput, RolloutStep } from "./types.js";

export { isAvailable } from "./core.js";

type Sizes = Map<string, number>;

/** Records size changes as human-readable reasons, in revision order. */
function describeChanges(w: World, before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, how = ""): string[] {
  const out: string[] = [];
  for (const r of [w.wanted, ...oldRevs(w)]) {
    const a = before.get(r.revision) ?? 0;
    const b = after.get(r.revision) ?? 0;
    if (a === b) continue;
    out.push(`scaling ${how}${b > a ? "up" : "down"} revision ${short(r.revision)} from ${a} to ${b}`);
  }
  return out;
}

/** deploymentutil.FindActiveOrLatest: the only revision with a size, or the newest when none has one. */
function findActiveOrLatest(w: World, sizes: Sizes): Rev | undefined {
  const existing = w.revs.filter((r) => r.exists);
  if (existing.length === 0) return undefined;
  const active = existing.filter((r) => (sizes.get(r.revision) ?? 0) > 0);
  if (active.length === 1) return active[0];
  if (active.length > 1) return undefined;
  if (w.wanted.exists) return w.wanted;
  return existing.filter((r) => r !== w.wanted).sort((a, b) => b.age - a.age)[0];
}

/**
 * deploymentutil.IsSaturated: the new revision exists, is sized for replicas (with the sizes set for these
 * replicas; derived sizes count as such) and all its replicas are available.
 */
function isSaturated(w: World, sizes: Sizes): boolean {
  const n = w.wanted;
  const size = sizes.get(n.revision) ?? 0;
  const annotated = w.given ? w.given.replicas : w.params.replicas;
  return n.exists && size === w.params.replicas && annotated === w.params.replicas && effAvailable(n, size) === w.params.replicas;
}

/** Kubernetes' scale() for paused Deployments and scaling events. */
function scale(w: World, sizes: Sizes, rolling: boolean): void {
  const { replicas, maxSurge } = w.params;
  const single = findActiveOrLatest(w, sizes);
  if (single) {
    if ((sizes.get(single.revision) ?? 0) !== replicas) sizes.set(single.revision, replicas);
    return;
  }
  if (isSaturated(w, sizes)) {
    for (const r of oldRevs(w)) sizes.set(r.revision, 0);
    return;
  }
  if (!rolling) return;
  const active = w.revs.filter((r) => (sizes.get(r.revision) ?? 0) > 0);
  const total = active.reduce((n, r) => n + (sizes.get(r.revision) ?? 0), 0);
  const allowedSize = replicas > 0 ? replicas + maxSurge : 0;
  const toAdd = allowedSize - total;
  if (toAdd === 0) return;
  // Largest first; ties: newer first when growing, older first when shrinking.
  active.sort((a, b) => {
    const d = (sizes.get(b.revision) ?? 0) - (sizes.get(a.revision) ?? 0);
    if (d !== 0) return d;
    return toAdd > 0 ? b.age - a.age : a.age - b.age;
  });
  // The max-replicas annotation, else the Deployment's status.replicas (active pods), as getReplicaSetFraction.
  const annotated = w.given ? w.given.maxReplicas : w.revs.reduce((n, r) => n + r.active.length, 0);
  let added = 0;
  const next = new Map<string, number>();
  for (const r of active) {
    const size = sizes.get(r.revision) ?? 0;
    let proportion = 0;
    if (size > 0 && toAdd !== added) {
      let fraction: number;
      if (replicas === 0) fraction = -size;
      else if (annotated > 0) fraction = roundHalfAway((size * (replicas + maxSurge)) / annotated) - size;
      else fraction = 0;
      const allowed = toAdd - added;
      proportion = toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
    }
    next.set(r.revision, size + proportion);
    added += proportion;
  }
  const first = active[0]!;
  next.set(first.revision, Math.max(0, next.get(first.revision)! + toAdd - added));
  for (const [rev, n] of next) sizes.set(rev, Math.max(0, n));
}

/** rolloutRolling over sizes: the new revision up (or down), else old revisions down. */
function rolling(w: World, sizes: Sizes): void {
  const { replicas, maxSurge, maxUnavailable } = w.params;
  const n = w.wanted;
  const size = (r: Rev) => sizes.get(r.revision) ?? 0;
  const sum = () => w.revs.reduce((t, r) => t + size(r), 0);

  // reconcileNewReplicaSet
  if (size(n) > replicas) {
    sizes.set(n.revision, replicas);
    return;
  }
  if (size(n) < replicas) {
    const maxTotal = replicas + maxSurge;
    const total = sum();
    if (total < maxTotal) {
      const up = Math.min(maxTotal - total, replicas - size(n));
      if (up > 0) {
        sizes.set(n.revision, size(n) + up);
        return;
      }
    }
  }

  // reconcileOldReplicaSets
  const olds = oldRevs(w);
  if (olds.every((r) => size(r) === 0)) return;
  const minAvailable = replicas - maxUnavailable;
  const newUnavailable = Math.max(0, size(n) - effAvailable(n, size(n)));
  const maxScaledDown = sum() - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return;
  let cleaned = 0;
  for (const r of olds) {
    if (cleaned >= maxScaledDown) break;
    const s = size(r);
    if (s === 0) continue;
    const unhealthy = s - effAvailable(r, s);
    if (unhealthy <= 0) continue;
    const k = Math.min(maxScaledDown - cleaned, unhealthy);
    sizes.set(r.revision, s - k);
    cleaned += k;
  }
  const available = w.revs.reduce((t, r) => t + effAvailable(r, size(r)), 0);
  if (available <= minAvailable) return;
  const target = available - minAvailable;
  let scaled = 0;
  for (const r of olds) {
    if (scaled >= target) break;
    const s = size(r);
    if (s === 0) continue;
    const k = Math.min(s, target - scaled);
    sizes.set(r.revision, s - k);
    scaled += k;
  }
}

/** rolloutRecreate over sizes. Returns the number of old pods still running when it has to wait for them. */
function recreate(w: World, sizes: Sizes): number {
  const olds = oldRevs(w);
  let scaledDown = false;
  for (const r of olds) {
    if ((sizes.get(r.revision) ?? 0) > 0) {
      sizes.set(r.revision, 0);
      scaledDown = true;
    }
  }
  if (scaledDown) return 0;
  const oldRunning = olds.reduce((t, r) => t + r.active.length + r.terminating, 0);
  if (oldRunning > 0) return oldRunning;
  if ((sizes.get(w.wanted.revision) ?? 0) !== w.params.replicas) sizes.set(w.wanted.revision, w.params.replicas);
  return 0;
}

/**
 * The next step of a Deployment — rolling update, Recreate, plain scaling, or a paused Deployment's scaling —
 * Kubernetes' way; see the module comment for the exact rules and where coxswain decides differently.
 * Pure. Throws CoxError InvalidArgument on duplicate pod names, parameters or sizes that are not integers ≥ 0.
 */
export function nextStep(input: RolloutInput): RolloutStep {
  const { params, now } = input;
  validateCommon(params, input.pods, input.sizes, now, input.lastProgressAt);
  const w = buildWorld(params, input.revision, input.pods, now, input.revisionOrder, input.sizes);
  const before = new Map(w.revs.map((r) => [r.revision, r.size]));
  const sizes: Sizes = new Map(before);
  const strategy = params.strategy ?? "RollingUpdate";
  const paused = params.paused === true;
  const reasons: string[] = [];
  let waitingFor = 0;

  const scalingEvent = w.given !== undefined && w.given.replicas !== params.replicas && w.revs.some((r) => (before.get(r.revision) ?? 0) > 0);
  if (paused || scalingEvent) {
    scale(w, sizes, strategy === "RollingUpdate");
    reasons.push(...describeChanges(w, before, sizes, scalingEvent ? "proportionally " : ""));
    if (paused) reasons.unshift("paused");
  } else if (strategy === "Recreate") {
    waitingFor = recreate(w, sizes);
    reasons.push(...describeChanges(w, before, sizes));
  } else {
    rolling(w, sizes);
    reasons.push(...describeChanges(w, before, sizes));
  }

  const limit = params.replicas + params.maxSurge;
  const pods = planPods(w, sizes, { limit, exclusive: strategy === "Recreate" });
  const { replicas } = params;
  const counts = {
    updated: w.wanted.active.length,
    replicas: w.revs.reduce((t, r) => t + r.active.length, 0),
    available: w.revs.reduce((t, r) => t + r.availablePods, 0),
  };
  const complete = counts.updated === replicas && counts.replicas === replicas && counts.available === replicas && pods.created === 0 && pods.remove.length === 0;
  if (complete) reasons.splice(0, reasons.length, `revision ${short(input.revision)} complete: ${replicas} available`);
  const step = finishStep(w, pods, {
    lastProgressAt: input.lastProgressAt,
    complete,
    holdDeadline: paused,
    reasons,
    ...(waitingFor > 0 ? { idleReason: `waiting for ${waitingFor} old pod(s) to stop before creating the new ones` } : {}),
    desired: sizes,
    maxSurge: params.maxSurge,
  });
  return { ...step, paused };
}
