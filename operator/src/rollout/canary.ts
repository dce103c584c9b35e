/**
 * Canary rollouts with Argo Rollouts' semantics. The weight is a share of requests wherever Services carry
 * the Rollout's traffic (coxswain's proxy weights them, traffic/weights.ts), and a share of replicas too:
 * without trafficRouting Argo's basic counts, with `trafficRouting: {}` (coxswain's proxy as the router)
 * Argo's traffic-routed ones. From argo-rollouts rollout/canary.go and utils/replicaset/canary.go:
 *
 * - Steps: setWeight N (N% of replicas on the new revision) and pause (a duration, or until promoted). The
 *   weight in effect is the last setWeight at or before the current step (0 if none, 100 after the last).
 * - Replica counts (CalculateReplicaCountsForBasicCanary): the closest counts to the weight
 *   (approximateWeightedCanaryStableReplicaCounts: ceil or floor of replicas·N/100, total replicas or, with
 *   surge, replicas + 1; never 0 for either side when 0 < N < 100), then within replicas + maxSurge (stable
 *   scaled up before the new revision) and replicas − maxUnavailable available (the side that shrinks gives
 *   way, adjustReplicaWithinLimits). Other revisions are scaled down first, before new or stable
 *   (cleanupUnhealthyReplicas, then by availability, newest first).
 * - One side changes per step, in Argo's order: the stable revision, else the new one, else the others
 *   (reconcileCanaryReplicaSets returns after the first that scaled).
 * - A setWeight step is done when the new revision has exactly its count, all available, the stable one has
 *   its count created and the others have nothing available (AtDesiredReplicaCountsForCanary).
 * - A pause with a duration ends after it (requeueAfterMs says when); a pause without one waits for the
 *   promote annotation: "full" skips every remaining step, N passes the first N gates (indefinite pauses
 *   and analysis steps, counted in order).
 * - An analysis step (coxswain's; analysis.ts decides it from the caller's measurements, input.analysis):
 *   it waits while measuring (the progress deadline does not run), goes on when it passed, holds when it
 *   failed (the caller fails the rollout, which rolls back), and when it is inconclusive waits for promotion
 *   as an indefinite pause does. A promotion passes an analysis only once it is inconclusive: it is measured
 *   anyway, and a failed one is never passed ("full" alone skips it, with every other remaining step).
 * - Traffic-routed counts (CalculateReplicaCountsForTrafficRoutedCanary, no dynamicStableScale): the stable
 *   revision keeps all replicas, the new one gets ceil(replicas × weight / 100), outside maxSurge.
 * - With Services carrying the split (CanaryInput.traffic), a setWeight step is also done only once every
 *   node's proxy sends its weight (Argo waits for its traffic router the same way); the share the Services
 *   are told (trafficWeight) moves to the step's weight once its counts are reached, as Argo holds the
 *   previous weight until then.
 * - After the last step the weight is 100: the rest rolls out within maxSurge/maxUnavailable, and when every
 *   replica of the new revision is available it becomes the stable one (promoteStable).
 * - No stable revision (the first rollout), or the wanted revision IS the stable one (a rollback after an
 *   abort, "SkipSteps"): no steps, the wanted revision goes to full weight at once.
 *
 * The step index is the caller's to keep (status branch); when it is lost (or belongs to another revision)
 * it is derived from the pods: the latest setWeight step whose count exceeds every earlier step's count — new
 * pods beyond a step's count can only exist once that step was reached, so every pause before it was passed.
 * A pause is never skipped on a guess: at worst it is entered again and its timer restarts.
 *
 * Where coxswain differs from Argo: promotion is a Git change (the annotation, level-based, so it must be
 * removed or changed for the next rollout); the first rollout becomes stable only once all its replicas are
 * available (Argo promotes at once; the counts are the same); spec.paused holds the sizes as they are.
 */
import { CoxError } from "../api/errors.js";
import type { Rev, World } from "./core.js";
import { windowsDue } from "./analysis.js";
import { buildWorld, effAvailable, finishStep, planPods, short, validateCommon } from "./core.js";
import type { CanaryInput, CanaryResult, CanaryStepSpec, Waiting } from "./types.js";

type Sizes = Map<string, number>;

/**
 * Argo's approximateWeightedCanaryStableReplicaCounts: the canary and stable counts closest to `weight`%,
 * over replicas (or replicas + 1 when maxSurge allows); ties between floor and ceiling take the larger canary.
 */
export function canaryWeightCounts(replicas: number, weight: number, maxSurge: number): { canary: number; stable: number } {
  if (replicas === 0) return { canary: 0, stable: 0 };
  const ceil = Math.ceil((replicas * weight) / 100);
  const floor = Math.floor((replicas * weight) / 100);
  const tied = (total: number) => {
    const x = (total * weight) / 100;
    return x - Math.floor(x) === 0.5;
  };
  const zeroAllowed = weight === 100 || weight === 0 || (replicas === 1 && maxSurge === 0);
  const options: [canary: number, total: number][] = [];
  if (ceil < replicas || zeroAllowed) options.push([ceil, replicas]);
  if (!tied(replicas) && (floor !== 0 || zeroAllowed)) options.push([floor, replicas]);
  if (maxSurge > 0) {
    options.push([ceil, replicas + 1]);
    if (!tied(replicas + 1) && (floor !== 0 || zeroAllowed)) options.push([floor, replicas + 1]);
  }
  if (options.length === 0) return { canary: 0, stable: replicas };
  const delta = ([c, t]: [number, number]) => Math.abs((c * 100) / t - weight);
  let best = options[0]!;
  for (const o of options.slice(1)) if (delta(o) < delta(best)) best = o;
  return { canary: best[0], stable: best[1] - best[0] };
}

/**
 * Argo's CalculateReplicaCountsForTrafficRoutedCanary without dynamicStableScale: the stable revision keeps
 * all replicas, the canary gets ceil(replicas × weight / 100) (trafficWeightToReplicas).
 */
export function routedCanaryCounts(replicas: number, weight: number): { canary: number; stable: number } {
  return { canary: Math.ceil((replicas * weight) / 100), stable: replicas };
}

/** A ReplicaSet as CalculateReplicaCountsForBasicCanary sees it. */
interface RS {
  size: number;
  available: number;
}

/** GetReplicasForScaleDown. */
function forScaleDown(rs: RS | undefined, ignoreAvailability: boolean): number {
  if (!rs) return 0;
  if (rs.size < rs.available) return rs.size;
  return ignoreAvailability ? rs.size : rs.available;
}

/** adjustReplicaWithinLimits: returns [drain, adjust]. */
function adjustWithinLimits(drain: RS | undefined, adjust: RS | undefined, drainCount: number, adjustCount: number, maxAllowed: number, minAvailable: number): [number, number] {
  let over = Math.max(0, adjustCount + drainCount - maxAllowed);
  let totalAvailable = 0;
  if (drain) totalAvailable += Math.min(drain.available, drainCount);
  if (adjust) {
    adjustCount -= over;
    totalAvailable += Math.min(adjust.available, adjustCount);
    const extra = Math.max(0, adjust.available - adjustCount);
    const more = Math.max(0, minAvailable - totalAvailable);
    adjustCount += Math.min(extra, more);
    over = Math.max(0, adjustCount + drainCount - maxAllowed);
    drainCount -= over;
  }
  return [drainCount, adjustCount];
}

/**
 * Argo's CalculateReplicaCountsForBasicCanary: the sizes the new and stable revisions should have now, given
 * the weight, the limits and the current sizes (`othersSize`: Σ sizes of every other revision).
 */
export function basicCanaryCounts(a: { replicas: number; weight: number; maxSurge: number; maxUnavailable: number; newRS: RS; stableRS?: RS; othersSize: number }): { newCount: number; stableCount: number } {
  const { replicas, maxSurge, newRS, stableRS } = a;
  let { canary: desiredNew, stable: desiredStable } = canaryWeightCounts(replicas, a.weight, maxSurge);
  let newCount = newRS.size;
  let stableCount = 0;
  if (stableRS) stableCount = stableRS.size;
  else {
    desiredNew = replicas;
    desiredStable = 0;
  }
  const maxAllowed = replicas + maxSurge;
  let scaleUp = maxAllowed - (a.othersSize + newRS.size + (stableRS ? stableRS.size : 0));
  if (stableRS && stableRS.size < desiredStable && scaleUp > 0) {
    if (stableRS.size + scaleUp < desiredStable) {
      stableCount = stableRS.size + scaleUp;
      scaleUp = 0;
    } else {
      stableCount = desiredStable;
      scaleUp -= desiredStable - stableRS.size;
    }
  }
  if (newRS.size < desiredNew && scaleUp > 0) newCount = Math.min(newRS.size + scaleUp, desiredNew);
  if (a.othersSize > 0) return { newCount, stableCount };

  const minAvailable = replicas - a.maxUnavailable;
  const isIncreasing = desiredNew >= newRS.size;
  const toScaleDown = forScaleDown(newRS, !isIncreasing) + forScaleDown(stableRS, isIncreasing);
  if (toScaleDown <= minAvailable) return { newCount, stableCount };
  const scaleDownCount = toScaleDown - minAvailable;
  if (!isIncreasing) {
    if (newRS.size > desiredNew) newCount = Math.max(desiredNew, newRS.size - scaleDownCount);
    [newCount, stableCount] = adjustWithinLimits(newRS, stableRS, newCount, stableCount, maxAllowed, minAvailable);
  } else if (stableRS) {
    if (stableRS.size > desiredStable) stableCount = Math.max(desiredStable, stableRS.size - scaleDownCount);
    [stableCount, newCount] = adjustWithinLimits(stableRS, newRS, stableCount, newCount, maxAllowed, minAvailable);
  }
  return { newCount, stableCount };
}

/** The weight in effect at `index` (GetCurrentSetWeight). */
export function canaryWeightAt(steps: readonly CanaryStepSpec[], index: number): number {
  if (index >= steps.length) return 100;
  for (let i = index; i >= 0; i--) {
    const s = steps[i]!;
    if ("setWeight" in s) return s.setWeight;
  }
  return 0;
}

/**
 * The step index a canary must be at, derived from the number of new pods (see the module comment): the latest
 * setWeight step (or the end, as a step of weight 100) whose count (basic, or traffic-routed when `routed`)
 * exceeds every earlier step's count; 0 if none.
 */
export function deriveCanaryStepIndex(steps: readonly CanaryStepSpec[], replicas: number, maxSurge: number, newPods: number, routed = false): number {
  let maxBefore = 0;
  let index = 0;
  const consider = (i: number, weight: number) => {
    const count = routed ? routedCanaryCounts(replicas, weight).canary : canaryWeightCounts(replicas, weight, maxSurge).canary;
    if (newPods > maxBefore) index = i;
    maxBefore = Math.max(maxBefore, count);
  };
  steps.forEach((s, i) => {
    if ("setWeight" in s) consider(i, s.setWeight);
  });
  if (newPods > maxBefore) index = steps.length;
  return index;
}

/** A step only a promotion may pass: a pause without duration, or an analysis (when it is inconclusive). */
export function isGate(s: CanaryStepSpec): boolean {
  return "analysis" in s || ("pause" in s && s.pause.durationSeconds === undefined);
}

function validateSteps(input: CanaryInput): void {
  input.steps.forEach((s, i) => {
    if ("setWeight" in s) {
      if (!Number.isSafeInteger(s.setWeight) || s.setWeight < 0 || s.setWeight > 100) {
        throw new CoxError("InvalidArgument", `canary step ${i}: setWeight ${s.setWeight}; expected an integer from 0 to 100`);
      }
    } else if ("analysis" in s) {
      windowsDue(s.analysis, 0, 0, 0); // validates the spec
    } else if (!("pause" in s) || (s.pause.durationSeconds !== undefined && (!Number.isSafeInteger(s.pause.durationSeconds) || s.pause.durationSeconds < 0))) {
      throw new CoxError("InvalidArgument", `canary step ${i}: expected { setWeight }, { pause: { durationSeconds? } } with whole seconds ≥ 0, or { analysis }`);
    }
  });
  if (input.status && (!Number.isSafeInteger(input.status.stepIndex) || input.status.stepIndex < 0)) {
    throw new CoxError("InvalidArgument", `canary status stepIndex ${input.status.stepIndex}; expected an integer ≥ 0`);
  }
  if (typeof input.promote === "number" && (!Number.isSafeInteger(input.promote) || input.promote < 0)) {
    throw new CoxError("InvalidArgument", `promote ${input.promote}; expected "full" or an integer ≥ 0`);
  }
}

/** The canary world: wanted, stable (when it exists and differs) and the others; traffic-routed counts or basic ones. */
interface Sides {
  wanted: Rev;
  stable?: Rev;
  others: Rev[];
  routed: boolean;
}

function countsFor(w: World, sides: Sides, sizes: Sizes, weight: number) {
  const size = (r: Rev) => sizes.get(r.revision) ?? 0;
  const { replicas, maxSurge, maxUnavailable } = w.params;
  if (sides.routed && sides.stable) {
    const { canary, stable } = routedCanaryCounts(replicas, weight);
    return { newCount: canary, stableCount: stable };
  }
  const rs = (r: Rev): RS => ({ size: size(r), available: effAvailable(r, size(r)) });
  return basicCanaryCounts({
    replicas,
    weight,
    maxSurge,
    maxUnavailable,
    newRS: rs(sides.wanted),
    ...(sides.stable ? { stableRS: rs(sides.stable) } : {}),
    othersSize: sides.others.reduce((t, r) => t + size(r), 0),
  });
}

/** One ReplicaSet's worth of scaling, in Argo's order (stable, new, others). Returns true when a size changed. */
function scaleCanary(w: World, sides: Sides, sizes: Sizes, weight: number): boolean {
  const size = (r: Rev) => sizes.get(r.revision) ?? 0;
  const { newCount, stableCount } = countsFor(w, sides, sizes, weight);
  if (sides.stable && size(sides.stable) !== stableCount) {
    sizes.set(sides.stable.revision, stableCount);
    return true;
  }
  if (size(sides.wanted) !== newCount) {
    sizes.set(sides.wanted.revision, newCount);
    return true;
  }
  // scaleDownOldReplicaSetsForCanary: unhealthy replicas first (oldest first), then by availability (newest first).
  if (sides.others.every((r) => size(r) === 0)) return false;
  let changed = false;
  for (const r of sides.others) {
    const s = size(r);
    const a = effAvailable(r, s);
    if (s > 0 && a < s) {
      sizes.set(r.revision, a);
      changed = true;
    }
  }
  const available = w.revs.reduce((t, r) => t + effAvailable(r, size(r)), 0);
  let maxScaleDown = available - (w.params.replicas - w.params.maxUnavailable);
  for (const r of [...sides.others].reverse()) {
    if (maxScaleDown <= 0) break;
    const s = size(r);
    if (s === 0) continue;
    const desired = s > maxScaleDown ? s - maxScaleDown : 0;
    sizes.set(r.revision, desired);
    maxScaleDown -= s - desired;
    changed = true;
  }
  return changed;
}

/** AtDesiredReplicaCountsForCanary (basic canary). */
function atDesired(w: World, sides: Sides, sizes: Sizes, weight: number): boolean {
  const size = (r: Rev) => sizes.get(r.revision) ?? 0;
  const { newCount, stableCount } = countsFor(w, sides, sizes, weight);
  const n = sides.wanted;
  if (!(size(n) === newCount && effAvailable(n, size(n)) === newCount)) return false;
  if (sides.stable && !(size(sides.stable) === stableCount && sides.stable.active.length === stableCount)) return false;
  return sides.others.every((r) => effAvailable(r, size(r)) === 0);
}

/**
 * The share of requests for the wanted revision while a canary is in progress (CanaryResult.trafficWeight):
 * the weight at `index` once its counts are reached; before, the wanted revision's share of the ready pods
 * of it and the stable revision, kept between the weight before `index` and the weight at it.
 */
function sharedWeight(w: World, sides: Sides, sizes: Sizes, steps: readonly CanaryStepSpec[], index: number): number {
  const weight = canaryWeightAt(steps, index);
  if (atDesired(w, sides, sizes, weight)) return weight;
  const before = index > 0 ? canaryWeightAt(steps, index - 1) : 0;
  const ready = (r: Rev | undefined) => r?.active.filter((p) => p.ready).length ?? 0;
  const c = ready(sides.wanted);
  const s = ready(sides.stable);
  const share = c + s === 0 ? before : Math.round((100 * c) / (c + s));
  return Math.min(Math.max(share, Math.min(before, weight)), Math.max(before, weight));
}

function describeStep(steps: readonly CanaryStepSpec[], index: number): string {
  if (index >= steps.length) return `all ${steps.length} step(s) done`;
  const s = steps[index]!;
  const what =
    "setWeight" in s
      ? `setWeight ${s.setWeight}`
      : "analysis" in s
        ? `analysis, ${s.analysis.count} × ${s.analysis.intervalSeconds}s`
        : s.pause.durationSeconds === undefined
          ? "pause until promoted"
          : `pause ${s.pause.durationSeconds}s`;
  return `step ${index + 1}/${steps.length} (${what})`;
}

/**
 * The next step of a canary rollout (see the module comment for Argo's rules and coxswain's differences).
 * Pure. Throws CoxError InvalidArgument on malformed parameters, steps, status, promote value or pods.
 */
export function canaryStep(input: CanaryInput): CanaryResult {
  const { params, now, steps } = input;
  validateCommon(params, input.pods, input.sizes, now, input.lastProgressAt);
  validateSteps(input);
  // The stable revision exists even when it has no pod left (Argo never deletes the stable ReplicaSet).
  const hasStable = input.stable !== undefined && input.stable !== input.revision;
  const w = buildWorld(params, input.revision, input.pods, now, input.revisionOrder, input.sizes, hasStable ? [input.stable!] : []);
  const sizes: Sizes = new Map(w.revs.map((r) => [r.revision, r.size]));
  const before = new Map(sizes);
  const stableRev = hasStable ? w.revs.find((r) => r.revision === input.stable) : undefined;
  const routed = input.trafficRouting === true;
  const sides: Sides = { wanted: w.wanted, ...(stableRev ? { stable: stableRev } : {}), others: w.revs.filter((r) => r !== w.wanted && r !== stableRev), routed };
  const n = steps.length;
  const reasons: string[] = [];
  const wake: number[] = [];

  let index: number;
  let pauseStartedAt: number | undefined;
  if (!stableRev) index = n;
  else if (input.status && input.status.revision === input.revision) {
    index = Math.min(input.status.stepIndex, n);
    pauseStartedAt = input.status.pauseStartedAt;
  } else {
    const newPods = Math.max(w.wanted.active.length, w.explicit ? w.wanted.size : 0);
    index = deriveCanaryStepIndex(steps, params.replicas, params.maxSurge, newPods, routed);
  }
  const startIndex = index;
  if (input.promote === "full" && index < n) {
    index = n;
    pauseStartedAt = undefined;
    reasons.push("promoted in full: remaining steps skipped");
  }

  let waiting: Waiting | undefined;
  let promoteToPass: number | undefined;
  let stable = input.stable;
  let promoted = false;
  if (input.paused) {
    waiting = "paused";
    reasons.push(`paused at ${describeStep(steps, index)}`);
  } else {
    for (let guard = 0; guard <= n + 1; guard++) {
      const weight = stableRev ? canaryWeightAt(steps, index) : 100;
      if (scaleCanary(w, sides, sizes, weight)) break;
      if (index >= n) break;
      const step = steps[index]!;
      if ("setWeight" in step) {
        if (!atDesired(w, sides, sizes, weight)) break;
        if (input.traffic !== undefined && input.traffic.appliedWeight !== weight) {
          reasons.push(`${describeStep(steps, index)}: waiting for every node's proxy to send ${weight}% of requests to revision ${short(input.revision)}`);
          break;
        }
        index += 1;
        pauseStartedAt = undefined;
        continue;
      }
      if ("analysis" in step) {
        const phase = input.analysis?.stepIndex === index ? input.analysis.phase : "Running";
        if (phase === "Successful") {
          index += 1;
          pauseStartedAt = undefined;
          continue;
        }
        pauseStartedAt ??= now;
        if (phase === "Failed") {
          reasons.push(`${describeStep(steps, index)}: failed`);
          break;
        }
        if (phase === "Running") {
          waiting = "analysis";
          reasons.push(`${describeStep(steps, index)}: measuring`);
          break;
        }
      }
      const duration = "pause" in step ? step.pause.durationSeconds : undefined;
      if (duration === undefined) {
        // An indefinite pause, or an inconclusive analysis: a gate only a promotion passes.
        const ordinal = steps.slice(0, index).filter(isGate).length;
        if (typeof input.promote === "number" && input.promote > ordinal) {
          index += 1;
          pauseStartedAt = undefined;
          continue;
        }
        pauseStartedAt ??= now;
        waiting = "promotion";
        promoteToPass = ordinal + 1;
        reasons.push(`${describeStep(steps, index)}: waiting for promotion (coxswain.io/promote: "${ordinal + 1}" or "full")`);
        break;
      }
      pauseStartedAt ??= now;
      const until = pauseStartedAt + duration * 1000;
      if (now >= until) {
        index += 1;
        pauseStartedAt = undefined;
        continue;
      }
      waiting = "pause";
      wake.push(until);
      reasons.push(`${describeStep(steps, index)}: ${Math.ceil((until - now) / 1000)}s left`);
      break;
    }
    // promoteStable: every step done and every replica of the wanted revision available.
    const size = (r: Rev) => sizes.get(r.revision) ?? 0;
    if (stable !== input.revision && index >= n && size(w.wanted) === params.replicas && effAvailable(w.wanted, size(w.wanted)) === params.replicas) {
      stable = input.revision;
      promoted = true;
      reasons.push(`revision ${short(input.revision)} promoted to stable`);
      // The former stable revision is now one of the others: start scaling it down in this step.
      const after: Sides = { wanted: w.wanted, others: w.revs.filter((r) => r !== w.wanted), routed };
      scaleCanary(w, after, sizes, 100);
    }
  }

  for (const r of [w.wanted, ...w.revs.filter((x) => x !== w.wanted)]) {
    const a = before.get(r.revision) ?? 0;
    const b = sizes.get(r.revision) ?? 0;
    if (a !== b) reasons.push(`scaling ${b > a ? "up" : "down"} revision ${short(r.revision)} from ${a} to ${b}`);
  }
  // Traffic-routed counts run the stable revision in full beside the canary: Argo puts no maxSurge on them.
  const limit = routed && stableRev ? Infinity : params.replicas + params.maxSurge;
  const pods = planPods(w, sizes, { limit });
  const { replicas } = params;
  const active = w.revs.reduce((t, r) => t + r.active.length, 0);
  const availableAll = w.revs.reduce((t, r) => t + r.availablePods, 0);
  const complete = stable === input.revision && w.wanted.active.length === replicas && active === replicas && availableAll === replicas && pods.created === 0 && pods.remove.length === 0;
  const weight = stable === input.revision || !stableRev ? 100 : canaryWeightAt(steps, index);
  const trafficWeight = stable === input.revision || !stableRev ? 100 : sharedWeight(w, sides, sizes, steps, index);
  if (complete) reasons.splice(0, reasons.length, `revision ${short(input.revision)} complete: ${replicas} available`);
  else if (reasons.length === 0 && stableRev) reasons.push(`${describeStep(steps, index)}: waiting for pods (weight ${weight})`);
  const step = finishStep(w, pods, {
    lastProgressAt: input.lastProgressAt,
    complete,
    extraProgress: index !== startIndex || promoted,
    holdDeadline: waiting !== undefined,
    wakeAt: wake,
    reasons,
    desired: sizes,
    maxSurge: params.maxSurge,
  });
  return {
    ...step,
    status: { revision: input.revision, stepIndex: index, ...(pauseStartedAt !== undefined ? { pauseStartedAt } : {}) },
    weight,
    trafficWeight,
    ...(stable !== undefined ? { stable } : {}),
    promoted,
    ...(waiting ? { waiting } : {}),
    ...(promoteToPass !== undefined ? { promoteToPass } : {}),
  };
}
