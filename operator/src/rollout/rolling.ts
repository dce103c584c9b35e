/**
 * Kubernetes' rolling update, one step per sync, at the level of pods instead of ReplicaSets
 * (pkg/controller/deployment/rolling.go with the ReplicaSet controller's choice of victims folded in).
 *
 * Pod classes used throughout:
 * - active: neither terminating nor failed — what a ReplicaSet's .spec.replicas counts;
 * - running: not failed (active + terminating) — what really runs and holds ports and memory;
 * - available: active, ready, and ready for more than minReadySeconds (deploymentutil's IsPodAvailable).
 *
 * One step, in order:
 *  0. failed active pods are removed (they do not run; Kubernetes does not count them in a ReplicaSet);
 *  1. new revision above replicas → remove the surplus (not-ready first, then newest);
 *     new revision below replicas → create min(replicas + maxSurge − running, replicas − new) pods.
 *     Deviation, on purpose: Kubernetes counts only active pods here, so pods still terminating can push
 *     what runs above replicas + maxSurge. coxswain counts them (like Kubernetes' podReplacementPolicy
 *     TerminationComplete) so that never more than replicas + maxSurge pods run;
 *  2. if nothing was created: scale old revisions down (reconcileOldReplicaSets):
 *     maxScaledDown = active − (replicas − maxUnavailable) − new unavailable; first unavailable old pods,
 *     oldest revision first, at most maxScaledDown (cleanupUnhealthyReplicas); then old pods while more than
 *     replicas − maxUnavailable are available, oldest revision first (scaleDownOldReplicaSetsForRollingUpdate).
 *
 * Victims within one revision follow the ReplicaSet controller's ranking, simplified to what coxswain knows
 * about a pod: not ready before ready; among ready pods, unknown ready time, then the most recently ready
 * first; then the newest first; then by name (determinism). Because recently ready pods go first, the pods
 * that are ready but not yet available go before available ones, so removing k "unhealthy" pods of a
 * revision removes exactly its k unavailable pods.
 *
 * Plain scaling is the same code: with no old pods, step 1 scales the current revision up or down.
 * Failed pods of the wanted revision are removed and replaced in the same step: a failed pod does not run,
 * so the replacement never takes what runs above replicas + maxSurge; `remove` is applied before `create`.
 */
import { CoxError } from "../api/errors.js";
import type { RolloutCounts, RolloutInput, RolloutPod, RolloutStep } from "./types.js";

/** Short form of a revision hash for human-readable reasons. */
function short(revision: string): string {
  return revision.length > 10 ? `${revision.slice(0, 10)}…` : revision;
}

/** Removal order of the ReplicaSet controller (simplified, see the module comment): first = removed first. */
export function compareForRemoval(a: RolloutPod, b: RolloutPod): number {
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

function validate(input: RolloutInput): void {
  const { params } = input;
  for (const k of ["replicas", "maxSurge", "maxUnavailable", "minReadySeconds", "progressDeadlineSeconds"] as const) {
    const v = params[k];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new CoxError("InvalidArgument", `rollout params.${k} is ${v}; expected an integer ≥ 0 (use resolveRollingParams)`);
    }
  }
  const names = new Set<string>();
  for (const p of input.pods) {
    if (names.has(p.name)) throw new CoxError("InvalidArgument", `pod ${JSON.stringify(p.name)} appears twice; expected unique pod names`);
    names.add(p.name);
  }
}

/** Old revisions, oldest first: by position in revisionOrder; unlisted ones first, by their oldest pod, then hash. */
function orderOldRevisions(old: Map<string, RolloutPod[]>, revisionOrder: readonly string[] | undefined): string[] {
  const index = new Map<string, number>();
  revisionOrder?.forEach((r, i) => {
    if (!index.has(r)) index.set(r, i);
  });
  const oldest = (r: string) => old.get(r)!.reduce((m, p) => Math.min(m, p.createdAt), Infinity);
  return [...old.keys()].sort((a, b) => {
    const ia = index.get(a) ?? -1;
    const ib = index.get(b) ?? -1;
    if (ia !== ib) return ia - ib;
    const oa = oldest(a);
    const ob = oldest(b);
    if (oa !== ob) return oa - ob;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * The next step of a rolling update (or of plain scaling when the revision did not change), Kubernetes'
 * way; see the module comment for the exact rules and the two places coxswain decides differently
 * (terminating pods count against maxSurge; failed pods are replaced at once and do not count as progress).
 * Pure. Throws CoxError InvalidArgument on duplicate pod names or parameters that are not integers ≥ 0.
 */
export function nextStep(input: RolloutInput): RolloutStep {
  validate(input);
  const { params, revision, now, lastProgressAt } = input;
  const { replicas, maxSurge, maxUnavailable, minReadySeconds } = params;
  const minReadyMs = minReadySeconds * 1000;
  const deadlineMs = params.progressDeadlineSeconds * 1000;
  const available = (p: RolloutPod) => isAvailable(p, minReadySeconds, now);

  const active = input.pods.filter((p) => !p.terminating && !p.failed);
  const failed = input.pods.filter((p) => !p.terminating && p.failed);
  const running = input.pods.filter((p) => !p.failed);
  const newActive = active.filter((p) => p.revision === revision);
  const oldByRevision = new Map<string, RolloutPod[]>();
  for (const p of active) {
    if (p.revision === revision) continue;
    const list = oldByRevision.get(p.revision);
    if (list) list.push(p);
    else oldByRevision.set(p.revision, [p]);
  }
  const oldCount = active.length - newActive.length;
  const newAvailable = newActive.filter(available).length;
  const availableCount = active.filter(available).length;
  const counts: RolloutCounts = {
    replicas: active.length,
    updated: newActive.length,
    ready: active.filter((p) => p.ready).length,
    available: availableCount,
    unavailable: Math.max(0, replicas - availableCount),
  };

  // 0. Failed pods do not run: remove them now (by name, for a deterministic plan).
  const remove: string[] = failed.map((p) => p.name).sort();
  const failedNew = failed.filter((p) => p.revision === revision).length;
  let removedActive = 0;
  let create = 0;
  const reasons: string[] = [];
  if (failed.length > 0) reasons.push(`removing ${failed.length} failed pod(s)`);

  // 1. The new revision: surplus down, or up within the surge budget.
  if (newActive.length > replicas) {
    const surplus = newActive.length - replicas;
    for (const p of [...newActive].sort(compareForRemoval).slice(0, surplus)) remove.push(p.name);
    removedActive += surplus;
    reasons.push(`scaling down revision ${short(revision)} from ${newActive.length} to ${replicas}`);
  } else if (newActive.length < replicas) {
    const budget = replicas + maxSurge - running.length;
    create = Math.max(0, Math.min(budget, replicas - newActive.length));
    if (create > 0) reasons.push(`scaling up revision ${short(revision)} to ${newActive.length + create}`);
  }

  // 2. Old revisions down, only when step 1 created nothing (Kubernetes returns after a scale-up).
  if (create === 0 && newActive.length <= replicas && oldCount > 0) {
    const minAvailable = replicas - maxUnavailable;
    const newUnavailable = newActive.length - newAvailable;
    const maxScaledDown = active.length - minAvailable - newUnavailable;
    if (maxScaledDown > 0) {
      const order = orderOldRevisions(oldByRevision, input.revisionOrder);
      const removed = new Set<string>();
      let cleaned = 0;
      for (const rev of order) {
        if (cleaned >= maxScaledDown) break;
        const pods = oldByRevision.get(rev)!;
        const unhealthy = pods.length - pods.filter(available).length;
        if (unhealthy === 0) continue;
        const n = Math.min(maxScaledDown - cleaned, unhealthy);
        for (const p of [...pods].sort(compareForRemoval).slice(0, n)) removed.add(p.name);
        cleaned += n;
      }
      let scaled = 0;
      if (availableCount > minAvailable) {
        const target = availableCount - minAvailable;
        for (const rev of order) {
          if (scaled >= target) break;
          const rest = oldByRevision.get(rev)!.filter((p) => !removed.has(p.name));
          if (rest.length === 0) continue;
          const n = Math.min(rest.length, target - scaled);
          for (const p of rest.sort(compareForRemoval).slice(0, n)) removed.add(p.name);
          scaled += n;
        }
      }
      if (removed.size > 0) {
        for (const name of removed) remove.push(name);
        removedActive += removed.size;
        reasons.push(
          cleaned > 0
            ? `removing ${removed.size} old pod(s), ${cleaned} of them unavailable`
            : `removing ${removed.size} old pod(s)`,
        );
      }
    }
  }

  const complete =
    counts.updated === replicas && counts.replicas === replicas && counts.available === replicas && create === 0 && remove.length === 0;

  // Progress: pods created (replacing failed new pods does not count: a crash loop must not hold off the
  // deadline), active pods removed, or a pod that became available after lastProgressAt.
  let becameAvailable = false;
  for (const p of active) {
    if (p.readySince !== undefined && available(p) && p.readySince + minReadyMs > lastProgressAt) {
      becameAvailable = true;
      break;
    }
  }
  const progressed = create - Math.min(create, failedNew) > 0 || removedActive > 0 || becameAvailable;
  const deadlineExceeded = !complete && !progressed && now - lastProgressAt > deadlineMs;

  // Requeue: when the next ready pod matures into available, and when the deadline would pass.
  let requeueAfterMs: number | undefined;
  const soonest = (ms: number) => {
    if (ms > 0 && (requeueAfterMs === undefined || ms < requeueAfterMs)) requeueAfterMs = ms;
  };
  if (minReadyMs > 0) {
    for (const p of active) {
      if (p.ready && p.readySince !== undefined && !available(p)) soonest(p.readySince + minReadyMs - now + 1);
    }
  }
  if (!complete && !deadlineExceeded) soonest((progressed ? now : lastProgressAt) + deadlineMs - now + 1);

  let reason: string;
  if (complete) reason = `revision ${short(revision)} complete: ${replicas} available`;
  else if (reasons.length > 0) reason = reasons.join("; ");
  else if (newActive.length < replicas && running.length > active.length) {
    reason = `waiting for ${running.length - active.length} terminating pod(s) to stop before scaling up`;
  } else reason = `waiting for pods to become available (${counts.available}/${replicas} available, ${counts.updated} updated)`;

  return {
    create,
    remove,
    counts,
    complete,
    progressed,
    deadlineExceeded,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    reason,
  };
}
