/** Builders for rollout tests: readable pods and inputs around a fixed "now". */
import type { PlannedStep, RevisionSizes, RolloutInput, RolloutParams, RolloutPod } from "../../../operator/src/rollout/types.js";

/** The "now" of table tests. */
export const T = 10_000_000;

/** Rollout parameters; minReadySeconds 0 and progressDeadlineSeconds 600 unless given. */
export function params(replicas: number, maxSurge: number, maxUnavailable: number, o: Partial<RolloutParams> = {}): RolloutParams {
  return { replicas, maxSurge, maxUnavailable, minReadySeconds: 0, progressDeadlineSeconds: 600, ...o };
}

/**
 * n available pods "<rev>-<i>" (i from `from`): created and ready long ago, in index order, so that a higher
 * index is newer and more recently ready.
 */
export function available(rev: string, n: number, from = 0): RolloutPod[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { name: `${rev}-${i}`, revision: rev, createdAt: T - 200_000 + i * 1000, terminating: false, failed: false, ready: true, readySince: T - 100_000 + i * 1000 };
  });
}

/** n pods "<rev>-<i>" that were just created and are not ready yet (higher index newer). */
export function starting(rev: string, n: number, from = 0): RolloutPod[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { name: `${rev}-${i}`, revision: rev, createdAt: T - 5000 + i, terminating: false, failed: false, ready: false };
  });
}

/** Copies pods with some fields changed. */
export function as(pods: RolloutPod[], change: Partial<RolloutPod>): RolloutPod[] {
  return pods.map((p) => {
    const q: RolloutPod = { ...p, ...change };
    if (!q.ready) delete q.readySince;
    return q;
  });
}

/** An input at now = T with lastProgressAt = T unless given. */
export function input(p: RolloutParams, revision: string, pods: RolloutPod[], o: Partial<RolloutInput> = {}): RolloutInput {
  return { params: p, revision, pods, now: T, lastProgressAt: T, ...o };
}

/** Sizes as the previous step returned them: set for `replicas` (+ maxSurge) with the given per-revision sizes. */
export function sizes(replicas: number, maxSurge: number, byRevision: Record<string, number>): RevisionSizes {
  return { replicas, maxReplicas: replicas + maxSurge, byRevision };
}

/** Names of the pods a step removes, per revision (only revisions with removals). */
export function removalsByRevision(step: PlannedStep): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of step.revisions) if (r.remove.length > 0) out[r.revision] = r.remove;
  return out;
}

/** Desired size per revision after a step. */
export function desiredByRevision(step: PlannedStep): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of step.revisions) out[r.revision] = r.desired;
  return out;
}

/** Creations per revision (only revisions with creations). */
export function createsByRevision(step: PlannedStep): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of step.revisions) if (r.create > 0) out[r.revision] = r.create;
  return out;
}
