/**
 * The model every strategy shares: revisions as ReplicaSets. Each revision has pods and a desired size (a
 * ReplicaSet's .spec.replicas); a strategy decides the sizes (Kubernetes' Deployment controller, Argo's
 * Rollout controller), then `planPods` makes the pods follow them (the ReplicaSet controller): surplus pods
 * removed in the ReplicaSet controller's order, missing pods created within the surge budget.
 *
 * Pod classes used throughout:
 * - active: neither terminating nor failed — what a ReplicaSet's .status.replicas counts;
 * - running: not failed (active + terminating) — what really runs and holds ports and memory;
 * - available: active, ready, and ready for more than minReadySeconds (deploymentutil's IsPodAvailable).
 *
 * Availability used by the strategies is "effective": min(available pods, desired size) per revision. The
 * pods beyond a revision's size are removed in the same step (not-ready ones first), so this is exactly what
 * stays available after the step; Kubernetes sees the same one sync later.
 *
 * Internal to rollout/: not exported from index.ts (except isAvailable and compareForRemoval).
 */
import { CoxError } from "../api/errors.js";
import type { PlannedStep, RevisionPlan, RevisionSizes, RolloutCounts, RolloutParams, RolloutPod } from "./types.js";

/** Short form of a revision hash for human-readable reasons. */
export function short(revision: string): string {
  return revision.length > 10 ? `${revision.slice(0, 10)}…` : revision;
}

/**
 * Removal order of the ReplicaSet controller (simplified to what coxswain knows about a pod): not ready before
 * ready; among ready pods, unknown ready time, then the most recently ready first; then the newest first; then
 * by name (determinism). Because recently ready pods go first, pods that are ready but not yet available go
 * before available ones, so removing k pods of a revision with k unavailable ones removes exactly those.
 * First = removed first.
 */
function compareForRemoval(a: RolloutPod, b: RolloutPod): number {
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  if (a.ready && b.ready && a.readySince !== b.readySince) {
    if (a.readySince === undefined) return -1;
    if (b.readySince === undefined) return 1;
    return b.readySince - a.readySince;
  }
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Whether a pod counts as available at `now`: active, ready, and (with minReadySeconds > 0) ready since a
 * known time more than minReadySeconds ago — Kubernetes' IsPodAvailable, strict comparison included.
 */
export function isAvailable(pod: RolloutPod, minReadySeconds: number, now: number): boolean {
  if (pod.terminating || pod.failed || !pod.ready) return false;
  if (minReadySeconds === 0) return true;
  return pod.readySince !== undefined && pod.readySince + minReadySeconds * 1000 < now;
}

/** One revision: its pods by class, its desired size and its age. */
export interface Rev {
  revision: string;
  /** Active pods (neither terminating nor failed). */
  active: RolloutPod[];
  /** Failed pods not being stopped yet (removed by every step). */
  failed: RolloutPod[];
  /** Terminating pods that still run. */
  terminating: number;
  /** Available active pods. */
  availablePods: number;
  /** Desired size (given, or derived from the active pods). */
  size: number;
  /** It has pods or an entry in the given sizes (Kubernetes: the ReplicaSet exists). */
  exists: boolean;
  /** Creation order: 0 = oldest. */
  age: number;
}

/** A snapshot of all revisions of one workload. */
export interface World {
  wanted: Rev;
  /** Every revision (wanted included), oldest first. */
  revs: Rev[];
  /** Sizes were given by the caller (not derived from pods). */
  explicit: boolean;
  given?: RevisionSizes;
  params: RolloutParams;
  now: number;
  /** Pods that run (active + terminating, failed excluded). */
  running: number;
  pods: readonly RolloutPod[];
}

/** Effective availability of a revision: available pods that stay after this step (see the module comment). */
export function effAvailable(r: Rev, size = r.size): number {
  return Math.min(r.availablePods, size);
}

function checkCount(what: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new CoxError("InvalidArgument", `${what} is ${String(v)}; expected an integer ≥ 0`);
  }
}

/** Validates what every strategy takes. Throws CoxError InvalidArgument. */
export function validateCommon(params: RolloutParams, pods: readonly RolloutPod[], sizes: RevisionSizes | undefined, now: number, lastProgressAt: number): void {
  for (const k of ["replicas", "maxSurge", "maxUnavailable", "minReadySeconds", "progressDeadlineSeconds"] as const) {
    const v = params[k];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new CoxError("InvalidArgument", `rollout params.${k} is ${v}; expected an integer ≥ 0 (use resolveRollingParams)`);
    }
  }
  if (!Number.isFinite(now) || !Number.isFinite(lastProgressAt)) {
    throw new CoxError("InvalidArgument", `now (${now}) and lastProgressAt (${lastProgressAt}) must be finite epoch milliseconds`);
  }
  const names = new Set<string>();
  for (const p of pods) {
    if (names.has(p.name)) throw new CoxError("InvalidArgument", `pod ${JSON.stringify(p.name)} appears twice; expected unique pod names`);
    names.add(p.name);
  }
  if (sizes) {
    checkCount("sizes.replicas", sizes.replicas);
    checkCount("sizes.maxReplicas", sizes.maxReplicas);
    for (const [rev, n] of Object.entries(sizes.byRevision)) checkCount(`sizes.byRevision[${JSON.stringify(rev)}]`, n);
  }
}

/**
 * Builds the snapshot: pods grouped by revision, sizes given or derived, creation order. Revisions in `known`
 * exist even without pods or sizes (the caller knows them: a canary's stable revision, the active one).
 */
export function buildWorld(
  params: RolloutParams,
  revision: string,
  pods: readonly RolloutPod[],
  now: number,
  revisionOrder: readonly string[] | undefined,
  sizes: RevisionSizes | undefined,
  known: readonly string[] = [],
): World {
  const byRev = new Map<string, Rev>();
  const get = (rev: string): Rev => {
    let r = byRev.get(rev);
    if (!r) {
      r = { revision: rev, active: [], failed: [], terminating: 0, availablePods: 0, size: 0, exists: false, age: 0 };
      byRev.set(rev, r);
    }
    return r;
  };
  get(revision);
  for (const rev of known) get(rev).exists = true;
  let running = 0;
  for (const p of pods) {
    const r = get(p.revision);
    r.exists = true;
    if (p.failed) {
      if (!p.terminating) r.failed.push(p);
      continue;
    }
    running += 1;
    if (p.terminating) r.terminating += 1;
    else {
      r.active.push(p);
      if (isAvailable(p, params.minReadySeconds, now)) r.availablePods += 1;
    }
  }
  if (sizes) {
    for (const [rev, n] of Object.entries(sizes.byRevision)) {
      const r = get(rev);
      r.exists = true;
      r.size = n;
    }
  } else {
    for (const r of byRev.values()) r.size = r.active.length;
  }

  // Creation order: unlisted old revisions first (by oldest pod, then hash), then listed ones in order, then the
  // wanted revision when it is not listed (it is the newest).
  const index = new Map<string, number>();
  revisionOrder?.forEach((rev, i) => {
    if (!index.has(rev)) index.set(rev, i);
  });
  const oldestPod = new Map<string, number>();
  for (const p of pods) oldestPod.set(p.revision, Math.min(oldestPod.get(p.revision) ?? Infinity, p.createdAt));
  const key = (r: Rev): [number, number, number] => {
    const i = index.get(r.revision);
    if (i !== undefined) return [1, i, 0];
    if (r.revision === revision) return [2, 0, 0];
    return [0, 0, oldestPod.get(r.revision) ?? Infinity];
  };
  const revs = [...byRev.values()].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0;
  });
  for (const [i, r] of revs.entries()) r.age = i;
  const w: World = { wanted: byRev.get(revision)!, revs, explicit: sizes !== undefined, params, now, running, pods };
  if (sizes) w.given = sizes;
  return w;
}

/** The old revisions (all but the wanted one), oldest first. */
export function oldRevs(w: World): Rev[] {
  return w.revs.filter((r) => r !== w.wanted);
}

/** Counts reported in status, as Deployment.status does. */
function countsOf(w: World): RolloutCounts {
  let replicas = 0;
  let ready = 0;
  let available = 0;
  for (const r of w.revs) {
    replicas += r.active.length;
    ready += r.active.filter((p) => p.ready).length;
    available += r.availablePods;
  }
  return { replicas, updated: w.wanted.active.length, ready, available, unavailable: Math.max(0, w.params.replicas - available) };
}

/** What planPods did. */
export interface PodPlan {
  plans: RevisionPlan[];
  remove: string[];
  created: number;
  /** Active pods removed. */
  removedActive: number;
  /** Creations held back by the surge budget or by Recreate's exclusivity. */
  heldBack: number;
}

/**
 * The ReplicaSet controller, for every revision at once: failed pods are removed; a revision with more active
 * pods than its size loses the surplus (compareForRemoval order); one with fewer gets new pods — the wanted
 * revision first, then larger and newer ones — as long as the active pods (with podReplacementPolicy
 * TerminationComplete, every pod that runs, terminating ones included) stay within `limit`. With `exclusive` (Recreate) no pod is created while pods of another revision still run.
 */
export function planPods(w: World, desired: ReadonlyMap<string, number>, opts: { limit: number; exclusive?: boolean }): PodPlan {
  const size = (r: Rev) => desired.get(r.revision) ?? 0;
  const failedNames: string[] = [];
  const removeBy = new Map<string, string[]>();
  let removedActive = 0;
  for (const r of w.revs) {
    const rm = r.failed.map((p) => p.name).sort();
    failedNames.push(...rm);
    const surplus = r.active.length - size(r);
    const victims =
      surplus > 0
        ? [...r.active]
            .sort(compareForRemoval)
            .slice(0, surplus)
            .map((p) => p.name)
        : [];
    removedActive += victims.length;
    removeBy.set(r.revision, [...rm, ...victims]);
  }
  failedNames.sort();

  const want = w.revs.filter((r) => size(r) > r.active.length);
  want.sort((a, b) => {
    if (a === w.wanted) return -1;
    if (b === w.wanted) return 1;
    if (size(a) !== size(b)) return size(b) - size(a);
    return b.age - a.age;
  });
  // What counts against the limit: every pod that runs (TerminationComplete), or only the active ones — a
  // terminating pod is being replaced already (TerminationStarted, Kubernetes' default).
  const counted = w.params.podReplacementPolicy === "TerminationComplete" ? w.running : w.revs.reduce((t, r) => t + r.active.length, 0);
  let budget = opts.limit === Infinity ? Infinity : Math.max(0, opts.limit - counted);
  const createBy = new Map<string, number>();
  let heldBack = 0;
  let created = 0;
  for (const r of want) {
    const need = size(r) - r.active.length;
    let n = Math.min(need, budget);
    if (opts.exclusive && w.revs.some((o) => o !== r && (o.active.length > 0 || o.terminating > 0))) n = 0;
    heldBack += need - n;
    budget -= n;
    createBy.set(r.revision, n);
    created += n;
  }

  const order = [w.wanted, ...w.revs.filter((r) => r !== w.wanted)];
  const plans: RevisionPlan[] = [];
  for (const r of order) {
    const d = size(r);
    const create = createBy.get(r.revision) ?? 0;
    const remove = removeBy.get(r.revision) ?? [];
    if (r !== w.wanted && d === 0 && create === 0 && remove.length === 0 && r.active.length === 0) continue;
    plans.push({ revision: r.revision, desired: d, create, remove });
  }
  const remove = [...failedNames];
  const failedSet = new Set(failedNames);
  for (const p of plans) for (const name of p.remove) if (!failedSet.has(name)) remove.push(name);
  return { plans, remove, created, removedActive, heldBack };
}

/** Whether two sizes say the same (no sizes at all differ from any). */
export function sameSizes(a: RevisionSizes | undefined, b: RevisionSizes): boolean {
  if (!a || a.replicas !== b.replicas || a.maxReplicas !== b.maxReplicas) return false;
  const ka = Object.keys(a.byRevision).filter((k) => a.byRevision[k] !== 0);
  const kb = Object.keys(b.byRevision).filter((k) => b.byRevision[k] !== 0);
  return ka.length === kb.length && kb.every((k) => a.byRevision[k] === b.byRevision[k]);
}

/** The sizes to hand back: non-zero ones plus the wanted revision (so that it keeps existing). */
function sizesOut(w: World, desired: ReadonlyMap<string, number>, maxSurge: number): RevisionSizes {
  const byRevision: Record<string, number> = {};
  for (const r of w.revs) {
    const n = desired.get(r.revision) ?? 0;
    if (n > 0 || r === w.wanted) byRevision[r.revision] = n;
  }
  return { replicas: w.params.replicas, maxReplicas: w.params.replicas + maxSurge, byRevision };
}

/** Arguments of finishStep beyond the world and the pod plan. */
export interface FinishArgs {
  lastProgressAt: number;
  /** The strategy's verdict, pods included (this step creates and removes nothing when it is complete). */
  complete: boolean;
  /** Progress besides pods (a canary step passed, a promotion). */
  extraProgress?: boolean;
  /** Paused, in a pause step or waiting for a promotion: the progress deadline does not run. */
  holdDeadline?: boolean;
  /** Further instants (epoch ms) at which time alone changes the decision. */
  wakeAt?: number[];
  reasons: string[];
  /** Reason when nothing happened and nothing else explains it. */
  idleReason?: string;
  desired: ReadonlyMap<string, number>;
  maxSurge: number;
}

/**
 * Everything a strategy's step reports besides its own fields: counts, progress, the deadline (not while
 * held), and when to look again (minReadySeconds maturing, the deadline, the strategy's timers).
 *
 * Progress is what was observed to move, never what is only planned (Kubernetes' DeploymentProgressing
 * compares observed counts): active pods removed, a pod became available since lastProgressAt, or the
 * strategy's own progress (a canary step passed, a promotion). Planned creations are not progress: a pod
 * that cannot be created, started or scheduled is planned again at every step, and counting that kept a
 * broken rollout "progressing" forever. Waiting for terminating pods to stop is progress: it is the
 * engines' work, bounded by the grace period, and never a sign that the new revision is broken.
 */
export function finishStep(w: World, pods: PodPlan, a: FinishArgs): PlannedStep {
  const { now } = w;
  const minReadyMs = w.params.minReadySeconds * 1000;
  const deadlineMs = w.params.progressDeadlineSeconds * 1000;
  let becameAvailable = false;
  for (const r of w.revs) {
    for (const p of r.active) {
      if (p.readySince !== undefined && isAvailable(p, w.params.minReadySeconds, now) && p.readySince + minReadyMs > a.lastProgressAt) {
        becameAvailable = true;
      }
    }
  }
  const complete = a.complete;
  const waitingForTermination = !complete && w.revs.some((r) => r.terminating > 0);
  const progressed = pods.removedActive > 0 || becameAvailable || a.extraProgress === true || waitingForTermination;
  const deadlineExceeded = !complete && !progressed && a.holdDeadline !== true && now - a.lastProgressAt > deadlineMs;

  let requeueAfterMs: number | undefined;
  const soonest = (ms: number) => {
    if (ms > 0 && (requeueAfterMs === undefined || ms < requeueAfterMs)) requeueAfterMs = ms;
  };
  if (minReadyMs > 0) {
    for (const r of w.revs) {
      for (const p of r.active) {
        if (p.ready && p.readySince !== undefined && !isAvailable(p, w.params.minReadySeconds, now)) soonest(p.readySince + minReadyMs - now + 1);
      }
    }
  }
  if (!complete && !deadlineExceeded && a.holdDeadline !== true) soonest((progressed ? now : a.lastProgressAt) + deadlineMs - now + 1);
  for (const t of a.wakeAt ?? []) soonest(Math.ceil(t - now));
  const sizes = sizesOut(w, a.desired, a.maxSurge);
  const wantedPlan = pods.plans.find((p) => p.revision === w.wanted.revision);

  const counts = countsOf(w);
  const failed = w.revs.reduce((n, r) => n + r.failed.length, 0);
  const reasons = [...(failed > 0 ? [`removing ${failed} failed pod(s)`] : []), ...a.reasons];
  if (a.reasons.length === 0 && pods.heldBack > 0 && w.params.podReplacementPolicy === "TerminationComplete" && w.running > counts.replicas) {
    reasons.push(`waiting for ${w.running - counts.replicas} terminating pod(s) to stop before creating pods`);
  } else if (a.reasons.length === 0 && a.idleReason) reasons.push(a.idleReason);
  else if (a.reasons.length === 0) {
    reasons.push(`waiting for pods to become available (${counts.available}/${w.params.replicas} available, ${counts.updated} updated)`);
  }
  const reason = reasons.join("; ");

  return {
    create: wantedPlan?.create ?? 0,
    remove: pods.remove,
    revisions: pods.plans,
    sizes,
    counts,
    complete,
    progressed,
    deadlineExceeded,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    reason,
  };
}

/** Kubernetes' integer.RoundToInt32: math.Round, half away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}
