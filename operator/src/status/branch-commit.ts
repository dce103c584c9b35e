/**
 * The one loop by which coxswain adds a commit to the deploy branch — auto-revert (revert.ts) and the API's
 * writes (sync/api-writes.ts) — so that both keep the same rules:
 *
 * - Author and committer "coxswain <coxswain@localhost>" (GitWriter.commitTree).
 * - On disk: the branch ref is fast-forwarded under git's lock protocol (a bare repository); a branch that
 *   is checked out in a work tree is never moved under the user's feet (CheckedOut, nothing written).
 * - For a remote: the commit is built in the mirror on a scratch ref and pushed, fast-forward only.
 * - When the branch moved meanwhile (a push raced us), the commit is built again on the new head by the
 *   caller's `build`, a few times, with a short growing pause in between.
 */
import { type CoxError, isCoxError, toCoxError } from "../api/errors.js";
import type { Repository } from "../source/types.js";

/** What `build` makes of the branch head: a commit to add on it, or a stop with the caller's answer. */
export type BranchCommitPlan<S> = { tree: string; message: string } | { stop: S };

/** Options of commitOnBranch. */
export interface BranchCommitOptions<S> {
  repo: Repository;
  /** The deploy branch (short name). */
  branch: string;
  /** Where the commit is built in a mirror before it is pushed (one per kind of writer). */
  scratchRef: string;
  /** The commit to add on `head` (called again on each new head). */
  build: (head: string) => Promise<BranchCommitPlan<S>>;
  /** Attempts when the branch keeps moving (default 5). */
  maxAttempts?: number;
}

/** How an attempt to add a commit ended. */
export type BranchCommitResult<S> =
  /** On the branch: on disk (Committed) or pushed to the remote (Pushed), with the head it was built on. */
  | { state: "Committed" | "Pushed"; commit: string; parent: string }
  /** `build` decided not to commit. */
  | { state: "Stopped"; stop: S }
  /** The branch is checked out in the work tree `at` (on disk): nothing was written. */
  | { state: "CheckedOut"; at: string }
  /** The branch does not exist. */
  | { state: "NoBranch" }
  /** Committed in the mirror, but the push failed for another reason than a moved branch. */
  | { state: "PushFailed"; commit: string; error: CoxError }
  /** The branch moved under every attempt. */
  | { state: "Raced"; attempts: number; error?: CoxError };

/** Adds one commit to the deploy branch (see the module comment). Git errors other than a moved branch are thrown. */
export async function commitOnBranch<S>(opts: BranchCommitOptions<S>): Promise<BranchCommitResult<S>> {
  const { repo, branch } = opts;
  const writer = repo.writer;
  const branchRef = `refs/heads/${branch}`;
  if (!repo.remote) {
    const at = await writer.checkedOutAt(branchRef);
    if (at !== undefined) return { state: "CheckedOut", at };
  }
  const attempts = opts.maxAttempts ?? 5;
  let lastRace: CoxError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (repo.remote) await repo.refresh();
    const head = await repo.head(branch);
    if (head === undefined) return { state: "NoBranch" };
    const plan = await opts.build(head);
    if ("stop" in plan) return { state: "Stopped", stop: plan.stop };
    try {
      if (!repo.remote) {
        const commit = await writer.commitTree({ ref: branchRef, tree: plan.tree, parents: [head], message: plan.message, expected: head });
        return { state: "Committed", commit, parent: head };
      }
      await writer.setRef(opts.scratchRef, head);
      const commit = await writer.commitTree({ ref: opts.scratchRef, tree: plan.tree, parents: [head], message: plan.message, expected: head });
      try {
        await writer.pushRef(opts.scratchRef, branchRef);
      } catch (err) {
        if (isCoxError(err, "GitPushRejected")) throw err;
        return { state: "PushFailed", commit, error: toCoxError(err, "GitFetchFailed") };
      }
      return { state: "Pushed", commit, parent: head };
    } catch (err) {
      if (!isCoxError(err, "GitPushRejected")) throw err;
      lastRace = err; // the branch moved under us: build again on the new head
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 50));
    }
  }
  return { state: "Raced", attempts, ...(lastRace ? { error: lastRace } : {}) };
}
