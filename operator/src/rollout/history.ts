/**
 * Revision history, as Kubernetes numbers ReplicaSets (deployment.kubernetes.io/revision) and cleans them up
 * (cleanupDeployment). The caller keeps the history in Git: one record per revision with its pod-template
 * hash and the commit that last made it current, so that an old revision's template can be rebuilt.
 *
 * - A new template gets max + 1 (1 for the first).
 * - A known template is re-used: its number moves to max + 1 (getNewReplicaSet: max of the OTHER revisions
 *   + 1, never lowered), which is what makes a `git revert` a rollback to a known revision.
 * - revisionHistoryLimit keeps that many old revisions (the current one is not counted); the oldest go first,
 *   and a revision that still has pods is never dropped — it is skipped, not replaced by a newer one, as
 *   Kubernetes skips ReplicaSets that still have replicas. Kubernetes orders by ReplicaSet creation time;
 *   coxswain by revision number, its own creation order.
 */
import { CoxError } from "../api/errors.js";
import type { PrunedHistory, RevisionRecord } from "./types.js";

function validate(history: readonly RevisionRecord[]): void {
  const numbers = new Set<number>();
  const hashes = new Set<string>();
  for (const r of history) {
    if (!Number.isSafeInteger(r.revision) || r.revision < 1) {
      throw new CoxError("InvalidArgument", `revision history: revision ${String(r.revision)} of ${JSON.stringify(r.hash)} is invalid; expected an integer ≥ 1`);
    }
    if (numbers.has(r.revision)) throw new CoxError("InvalidArgument", `revision history: revision ${r.revision} appears twice; expected unique numbers`);
    if (hashes.has(r.hash)) throw new CoxError("InvalidArgument", `revision history: hash ${JSON.stringify(r.hash)} appears twice; expected one record per template`);
    numbers.add(r.revision);
    hashes.add(r.hash);
  }
}

const byNumber = (a: RevisionRecord, b: RevisionRecord) => a.revision - b.revision;

/**
 * The revision number `hash` gets when it becomes current: max of the other revisions + 1, or its own number
 * when that is already higher (it is current). Pure. Throws CoxError InvalidArgument on a malformed history
 * (numbers not integers ≥ 1, duplicate numbers or hashes).
 */
export function nextRevisionNumber(history: readonly RevisionRecord[], hash: string): number {
  validate(history);
  let maxOther = 0;
  let own: number | undefined;
  for (const r of history) {
    if (r.hash === hash) own = r.revision;
    else maxOther = Math.max(maxOther, r.revision);
  }
  return Math.max(own ?? 0, maxOther + 1);
}

/**
 * The history after `hash` became current at `commit`: a new record, or the known one moved to
 * nextRevisionNumber with this commit (its commit is kept when its number does not change). Sorted by revision
 * number. Pure; the input is not modified. Throws like nextRevisionNumber.
 */
export function recordRevision(history: readonly RevisionRecord[], hash: string, commit: string): RevisionRecord[] {
  const number = nextRevisionNumber(history, hash);
  const out: RevisionRecord[] = [];
  let found = false;
  for (const r of history) {
    if (r.hash !== hash) out.push({ ...r });
    else {
      found = true;
      out.push(r.revision === number ? { ...r } : { revision: number, hash, commit });
    }
  }
  if (!found) out.push({ revision: number, hash, commit });
  return out.sort(byNumber);
}

/**
 * Applies revisionHistoryLimit: the current revision (highest number) is always kept, and of the old ones the
 * `limit` newest; of the surplus (oldest first) every revision in `revisionsWithPods` is kept. Callers add the
 * last stable revision to `revisionsWithPods` when its template must survive (it is the rollback target).
 * Kubernetes cleans up only when a rollout is complete (or the Deployment is paused); so should the caller.
 * Pure. Throws CoxError InvalidArgument on a malformed history or a limit that is not an integer ≥ 0.
 */
export function pruneHistory(history: readonly RevisionRecord[], limit: number, revisionsWithPods: Iterable<string>): PrunedHistory {
  validate(history);
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new CoxError("InvalidArgument", `revisionHistoryLimit is ${String(limit)}; expected an integer ≥ 0`);
  }
  const keep = new Set(revisionsWithPods);
  const sorted = [...history].sort(byNumber).map((r) => ({ ...r }));
  const old = sorted.slice(0, -1);
  const diff = old.length - limit;
  const pruned: RevisionRecord[] = [];
  for (let i = 0; i < diff; i++) {
    const r = old[i]!;
    if (!keep.has(r.hash)) pruned.push(r);
  }
  const gone = new Set(pruned.map((r) => r.hash));
  return { kept: sorted.filter((r) => !gone.has(r.hash)), pruned };
}
