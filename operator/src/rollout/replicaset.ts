/**
 * A ReplicaSet's (and a ReplicationController's) step, as Kubernetes' ReplicaSet controller
 * (pkg/controller/replicaset: manageReplicas, getPodsToDelete) decides it. Pure.
 *
 * - It keeps spec.replicas active pods (neither terminating nor failed), of any revision: a changed template
 *   does not touch running pods; only the pods created from then on get it (Kubernetes does the same — a
 *   ReplicaSet has no rollout; that is what a Deployment adds).
 * - Too few: the missing pods are created from the current template, in one step (Kubernetes creates them in
 *   slow-start batches; coxswain's placer schedules a batch in one pass). Failed pods are removed and replaced.
 * - Too many: the surplus goes in the order of Kubernetes' ActivePodsWithRanks (controller_utils.go), with
 *   LogarithmicScaleDown (on by default since 1.22): 1. unscheduled before scheduled; 2. Pending before
 *   Running; 3. not ready before ready; 4. (the pod-deletion-cost annotation: not read, every pod costs 0);
 *   5. doubled-up first — a pod on a node with more of this set's pods; 6. both ready: the more recently ready
 *   first, ready times compared in whole powers of two of their age (a tie there goes to the identity
 *   tiebreak, as in Kubernetes); 7. more container restarts first; 8. the more recently created first, in
 *   powers of two of their age too; 9. by name (Kubernetes: by UID).
 * - Pods on a draining node (`evict`) are evicted, as `kubectl drain` does: removed now and replaced in the
 *   same step (the scheduler places the replacements off the cordoned node).
 * - Availability (minReadySeconds), progress and the progress deadline are the Deployment's (core.ts
 *   finishStep): a ReplicaSet has no progressDeadlineSeconds in Kubernetes; coxswain holds a new template's
 *   pods to the Deployment default so that a set whose pods never start fails its commit.
 */
import { buildWorld, finishStep, short, validateCommon, type PodPlan } from "./core.js";
import type { PlannedStep, RevisionPlan, RolloutParams, RolloutPod } from "./types.js";

/** A pod as the ReplicaSet decision sees it: the rollout view plus what the removal ranking reads. */
export interface ReplicaSetPod extends RolloutPod {
  /** The node it was placed on; undefined while unscheduled. */
  node?: string;
  /** Not running yet (pulling, initializing, starting: Kubernetes' Pending). */
  pending: boolean;
  /** Restarts of its containers (the highest of any container in Kubernetes; coxswain counts the pod's). */
  restartCount: number;
}

/** Everything one ReplicaSet step needs. */
export interface ReplicaSetInput {
  /** replicas, minReadySeconds and progressDeadlineSeconds are read; surge and unavailability are not (a ReplicaSet has none). */
  params: RolloutParams;
  /** The revision of the current template: the one new pods get. */
  revision: string;
  pods: readonly ReplicaSetPod[];
  now: number;
  lastProgressAt: number;
  /** Pods to evict (their node drains): removed and replaced now. */
  evict?: readonly string[];
}

/** Kubernetes' logarithmicRankDiff: the difference of floor(log2(age in ns)) of two instants (−1 for a future one). */
function logRank(t: number, now: number): number {
  const d = (now - t) * 1e6;
  return d > 0 ? Math.floor(Math.log2(d)) : -1;
}

/**
 * Removal order of Kubernetes' ReplicaSet controller (see the file comment); `perNode` counts this set's
 * active pods per node. Negative: `a` is removed first.
 */
export function compareForScaleDown(a: ReplicaSetPod, b: ReplicaSetPod, perNode: ReadonlyMap<string, number>, now: number): number {
  const byName = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  if ((a.node === undefined) !== (b.node === undefined)) return a.node === undefined ? -1 : 1;
  if (a.pending !== b.pending) return a.pending ? -1 : 1;
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  const rankA = a.node === undefined ? 0 : (perNode.get(a.node) ?? 0);
  const rankB = b.node === undefined ? 0 : (perNode.get(b.node) ?? 0);
  if (rankA !== rankB) return rankB - rankA;
  if (a.ready && b.ready && a.readySince !== b.readySince) {
    if (a.readySince === undefined) return -1;
    if (b.readySince === undefined) return 1;
    const diff = logRank(a.readySince, now) - logRank(b.readySince, now);
    return diff === 0 ? byName : diff;
  }
  if (a.restartCount !== b.restartCount) return b.restartCount - a.restartCount;
  if (a.createdAt !== b.createdAt) {
    const diff = logRank(a.createdAt, now) - logRank(b.createdAt, now);
    return diff === 0 ? byName : diff;
  }
  return byName;
}

/**
 * The next step of a ReplicaSet (see the file comment). Apply `remove` first, then create `create` pods of
 * `revision`. Throws CoxError InvalidArgument on malformed input (as every strategy does).
 */
export function replicaSetStep(input: ReplicaSetInput): PlannedStep {
  const params: RolloutParams = { ...input.params, maxSurge: 0, maxUnavailable: 0, podReplacementPolicy: "TerminationStarted" };
  validateCommon(params, input.pods, undefined, input.now, input.lastProgressAt);
  const evict = new Set(input.evict ?? []);
  const failed = input.pods
    .filter((p) => p.failed && !p.terminating)
    .map((p) => p.name)
    .sort();
  const evicted = input.pods
    .filter((p) => evict.has(p.name) && !p.failed && !p.terminating)
    .map((p) => p.name)
    .sort();
  const active = input.pods.filter((p) => !p.failed && !p.terminating && !evict.has(p.name));
  const surplus = active.length - params.replicas;
  const perNode = new Map<string, number>();
  for (const p of active) if (p.node !== undefined) perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
  const scaledDown =
    surplus > 0
      ? [...active]
          .sort((a, b) => compareForScaleDown(a, b, perNode, input.now))
          .slice(0, surplus)
          .map((p) => p.name)
      : [];
  const create = Math.max(0, -surplus);

  // The world of core.ts for counts, availability, progress and the deadline; sizes: what stays per revision.
  const w = buildWorld(params, input.revision, input.pods, input.now, undefined, undefined);
  const gone = new Set([...failed, ...evicted, ...scaledDown]);
  const desired = new Map<string, number>();
  for (const p of active) if (!gone.has(p.name)) desired.set(p.revision, (desired.get(p.revision) ?? 0) + 1);
  desired.set(input.revision, (desired.get(input.revision) ?? 0) + create);
  const plans: RevisionPlan[] = [];
  for (const r of [w.wanted, ...w.revs.filter((r) => r !== w.wanted)]) {
    const remove = input.pods.filter((p) => p.revision === r.revision && gone.has(p.name)).map((p) => p.name);
    const d = desired.get(r.revision) ?? 0;
    if (r !== w.wanted && d === 0 && remove.length === 0 && r.active.length === 0) continue;
    plans.push({ revision: r.revision, desired: d, create: r === w.wanted ? create : 0, remove });
  }
  const pods: PodPlan = { plans, remove: [...failed, ...evicted, ...scaledDown], created: create, removedActive: evicted.length + scaledDown.length, heldBack: 0 };
  const availableAll = w.revs.reduce((n, r) => n + r.availablePods, 0);
  const complete = create === 0 && pods.remove.length === 0 && active.length === params.replicas && availableAll === params.replicas;
  const reasons: string[] = [];
  if (evicted.length > 0) reasons.push(`evicting ${evicted.length} pod(s) from draining nodes`);
  if (scaledDown.length > 0) reasons.push(`scaling down from ${active.length} to ${params.replicas}`);
  if (create > 0) reasons.push(`creating ${create} pod(s) of revision ${short(input.revision)} (${active.length - evicted.length}/${params.replicas} exist)`);
  const older = active.filter((p) => p.revision !== input.revision && !gone.has(p.name)).length;
  const idle = older > 0 ? `${older} pod(s) keep an older template: a ReplicaSet gives a changed template to new pods only` : undefined;
  return finishStep(w, pods, { lastProgressAt: input.lastProgressAt, complete, reasons, ...(idle !== undefined ? { idleReason: idle } : {}), desired, maxSurge: 0 });
}
