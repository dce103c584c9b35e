/**
 * How a followed ref moved, and whether a proposal was merged: questions asked of the commit graph only,
 * through GitReader. In a mirror the objects of a rewritten (force-pushed) history stay readable — fetch
 * never deletes objects and the mirror's repack keeps unreachable ones — so the old head can still be
 * compared with the new one.
 */
import type { GitReader } from "./types.js";

/**
 * How a branch moved from `oldHead` to `newHead`:
 * - "same": the same commit;
 * - "fast-forward": oldHead is an ancestor of newHead (new commits on top, nothing lost);
 * - "rewritten": anything else — a force-push, a reset, a rebase: commits that were on the branch are
 *   not any more. Also when oldHead is no longer readable (nothing can show it is still contained).
 * Read errors of newHead propagate (it must exist: it was just read from the ref).
 */
export async function classifyMove(reader: GitReader, oldHead: string, newHead: string): Promise<"same" | "fast-forward" | "rewritten"> {
  if (oldHead === newHead) return "same";
  await reader.readCommit(newHead);
  try {
    await reader.readCommit(oldHead);
  } catch {
    return "rewritten";
  }
  return (await reader.isAncestor(oldHead, newHead)) ? "fast-forward" : "rewritten";
}

/**
 * True when `commit` is reachable from `branchHead` (the deploy branch's tip): a proposal whose head is
 * contained in the deploy branch was merged (merge commit or fast-forward). A squash or rebase merge
 * makes new commits, so it is not detected here: the proposal branch being deleted (it disappears from
 * listRefs) is the other signal. False when either commit cannot be read.
 */
export async function isMergedInto(reader: GitReader, commit: string, branchHead: string): Promise<boolean> {
  if (commit === branchHead) return true;
  try {
    return await reader.isAncestor(commit, branchHead);
  } catch {
    return false;
  }
}
