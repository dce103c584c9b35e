/**
 * Auto-revert: after a failed commit has been rolled back, commit a revert of it to the deploy branch so
 * that Git again describes what runs — the only write coxswain ever makes to a deploy branch.
 *
 * - Opt-in: `coxswain run --auto-revert`, or `coxswain.io/auto-revert: "true"` on a workload the failed
 *   commit changed; "false" on a workload opts it out (autoRevertWanted).
 * - Per-file three-way revert, like `git revert`: for each path the failed commit F changed against its
 *   first parent P, the branch head H must still hold F's version (content and mode); the revert puts
 *   back P's version of exactly those paths and keeps every other entry of H byte for byte (trees are
 *   built from blob and tree oids, never from decoded text). When H is F itself, the revert tree is P's.
 *   A path changed since F is a conflict: nothing is forced; the record says Conflict and names the paths.
 * - Author and committer "coxswain <coxswain@localhost>"; message `Revert "<subject>"` with a body naming
 *   the failed commit, why it failed (its commit record's rollback) and "reverted automatically by coxswain".
 * - Committed and pushed by branch-commit.ts's commitOnBranch (the API's writes use it too): on disk a
 *   bare repository's branch is fast-forwarded, a branch checked out in a work tree is never moved (the
 *   outcome is Failed with a message saying to use a bare repository or a remote); a remote gets a
 *   fast-forward push; when the branch moved meanwhile the revert is rebuilt on the new head, a few times.
 * - The outcome is recorded on the failed commit's record (CommitRecord.revert: Committed, Pushed,
 *   Conflict or Failed, with the revert commit) and a status write is scheduled. The revert commit is then
 *   an ordinary new head for the sync loop: it applies the stable commit's manifests again.
 */
import { toCoxError } from "../api/errors.js";
import { silentLogger, type Logger } from "../api/log.js";
import type { DesiredObject } from "../api/objects.js";
import type { DesiredGraph } from "../graph/index.js";
import { autoRevertOf } from "../manifest/index.js";
import type { TreeEdit } from "../source/trees.js";
import type { GitWriter, Repository, TreeEntryChange, TreeItem } from "../source/types.js";
import { commitOnBranch } from "./branch-commit.js";
import type { StatusStore } from "./store.js";
import type { CommitRecord } from "./types.js";

/** What became of an auto-revert (CommitRecord.revert). */
export type RevertOutcome = NonNullable<CommitRecord["revert"]>;

/** The phrase every automatic revert commit carries (so people and tools can find them). */
export const REVERT_TRAILER = "reverted automatically by coxswain";

/** Where the revert of a remote branch is built in the mirror before it is pushed. */
function revertScratchRef(branch: string): string {
  return `refs/coxswain/revert/${branch}`;
}

/**
 * Whether the policy asks for a revert of a failed commit: per changed workload, its
 * coxswain.io/auto-revert annotation (on its object in the failed commit, else in the stable one) or,
 * without one, the --auto-revert flag; a revert is wanted when any changed workload wants one. Pure.
 */
export function autoRevertWanted(changed: readonly string[], failed: DesiredGraph | undefined, stable: DesiredGraph | undefined, flag: boolean): boolean {
  return changed.some((key) => {
    const obj: DesiredObject | undefined = failed?.get(key)?.object ?? stable?.get(key)?.object;
    return (obj ? autoRevertOf(obj) : undefined) ?? flag;
  });
}

/** What reverting F's changes means at the head, path by path. Pure. */
export type RevertDecision = { kind: "edits"; edits: TreeEdit[] } | { kind: "conflict"; paths: string[] } | { kind: "nothing"; message: string };

/**
 * The three-way decision: `changes` are F's changes against its parent (before = parent's entry, after =
 * F's), `atHead` each of those paths' entry at the branch head. Every path still as F left it → edits that
 * put the parent's entries back; any path that is neither F's nor the parent's version → conflict (sorted
 * paths); every path already back at the parent's version → nothing to do. Paths already back at the
 * parent's version while others are not are simply left as they are.
 */
export function decideRevert(changes: readonly TreeEntryChange[], atHead: ReadonlyMap<string, { oid: string; mode: string } | undefined>): RevertDecision {
  const same = (a?: { oid: string; mode: string }, b?: { oid: string; mode: string }): boolean => a?.oid === b?.oid && a?.mode === b?.mode;
  const edits: TreeEdit[] = [];
  const conflicts: string[] = [];
  for (const c of changes) {
    const head = atHead.get(c.path);
    if (same(head, c.after)) edits.push(c.before ? { path: c.path, entry: { ...c.before } } : { path: c.path });
    else if (!same(head, c.before)) conflicts.push(c.path);
  }
  if (conflicts.length > 0) return { kind: "conflict", paths: conflicts.sort() };
  if (edits.length === 0) return { kind: "nothing", message: "the branch no longer holds any of its changes (reverted already?)" };
  return { kind: "edits", edits };
}

/** The revert commit's message. Pure. */
export function revertMessage(failed: { commit: string; subject: string }, rollback?: CommitRecord["rollback"]): string {
  const why = rollback
    ? `Its rollout failed (${rollback.code}: ${rollback.reason.replace(/\s+/g, " ").trim()}); coxswain rolled back to\n${rollback.to} and quarantined it.`
    : "Its rollout failed; coxswain rolled it back and quarantined it.";
  return `Revert "${failed.subject}"\n\nThis reverts commit ${failed.commit}.\n\n${why}\nThis commit makes the branch describe what runs again.\n\n${REVERT_TRAILER}.\n`;
}

/** Options of an AutoReverter. */
export interface AutoReverterOptions {
  repo: Repository;
  /** The deploy branch (short name). */
  branch: string;
  store: StatusStore;
  scheduleStatusWrite: () => void;
  log?: Logger;
  /** Called with the revert commit once it is on the branch (the sync should look at the branch at once). */
  onReverted?: (commit: string) => void;
  /** Attempts when the branch keeps moving under the revert (default 5). */
  maxAttempts?: number;
}

/** Commits reverts of failed commits, one at a time, and records each outcome on the failed commit. */
export class AutoReverter {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: AutoReverterOptions) {
    this.log = opts.log ?? silentLogger;
  }

  /**
   * Reverts `failed` (serialized with earlier calls); resolves with the outcome, which is also recorded
   * on the failed commit's record. Never rejects: failures are outcomes.
   */
  revert(failed: string): Promise<RevertOutcome> {
    const run = this.queue.then(() => this.attempt(failed));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for reverts in flight. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async attempt(failed: string): Promise<RevertOutcome> {
    let outcome: RevertOutcome;
    let conflict = false;
    try {
      const r = await this.run(failed);
      outcome = r.outcome;
      conflict = r.conflict;
    } catch (err) {
      const e = toCoxError(err, "GitFetchFailed");
      outcome = { state: "Failed", message: `revert of ${failed.slice(0, 7)} failed: ${e.code}: ${e.message}` };
    }
    const rec = this.opts.store.getCommit(failed);
    if (rec) {
      const errors = conflict ? [...rec.errors.filter((e) => e.code !== "RevertConflict"), { code: "RevertConflict", message: outcome.message }] : rec.errors;
      this.opts.store.setCommit({ ...rec, revert: outcome, errors });
      this.opts.scheduleStatusWrite();
    }
    this.log[outcome.state === "Failed" ? "warn" : "info"](`auto-revert of ${failed.slice(0, 7)}: ${outcome.state}${outcome.commit ? ` ${outcome.commit.slice(0, 7)}` : ""} — ${outcome.message}`, {
      commit: failed.slice(0, 7),
    });
    if ((outcome.state === "Committed" || outcome.state === "Pushed") && outcome.commit) this.opts.onReverted?.(outcome.commit);
    return outcome;
  }

  private async run(failed: string): Promise<{ outcome: RevertOutcome; conflict: boolean }> {
    const { repo, branch } = this.opts;
    const writer = repo.writer;
    const info = await repo.reader.readCommit(failed);
    const subject = info.message.split("\n", 1)[0] ?? "";
    const parent = info.parents[0];
    if (parent === undefined) return { outcome: { state: "Failed", message: `${failed.slice(0, 7)} is a root commit: there is nothing before it to revert to` }, conflict: false };
    const message = revertMessage({ commit: failed, subject }, this.opts.store.getCommit(failed)?.rollback);
    const changes = await writer.diffTreeEntries(parent, failed);
    type Stop = { outcome: RevertOutcome; conflict: boolean };
    const stop = (outcome: RevertOutcome, conflict = false): { stop: Stop } => ({ stop: { outcome, conflict } });
    const result = await commitOnBranch<Stop>({
      repo,
      branch,
      scratchRef: revertScratchRef(branch),
      ...(this.opts.maxAttempts !== undefined ? { maxAttempts: this.opts.maxAttempts } : {}),
      build: async (head) => {
        if (!(await repo.reader.isAncestor(failed, head).catch(() => false))) {
          return stop({ state: "Failed", message: `${failed.slice(0, 7)} is no longer on ${branch} (history was rewritten to ${head.slice(0, 7)}); nothing to revert` });
        }
        let tree: string;
        if (head === failed) tree = await writer.treeOf(parent);
        else {
          const decision = decideRevert(changes, await entriesAt(writer, head, changes));
          if (decision.kind === "conflict") {
            const shown = decision.paths.slice(0, 5).join(", ") + (decision.paths.length > 5 ? `, … (${decision.paths.length} paths)` : "");
            return stop(
              {
                state: "Conflict",
                message: `not reverted: ${branch} moved on to ${head.slice(0, 7)} and changed ${shown} since ${failed.slice(0, 7)}; a revert would conflict, so nothing was forced — revert it by hand`,
              },
              true,
            );
          }
          if (decision.kind === "nothing") return stop({ state: "Failed", message: `not reverted: ${branch} at ${head.slice(0, 7)}: ${decision.message}` });
          tree = await writer.editTree(head, decision.edits);
        }
        if (tree === (await writer.treeOf(head))) return stop({ state: "Failed", message: `not reverted: ${branch} at ${head.slice(0, 7)} already has the content the revert would make` });
        return { tree, message };
      },
    });
    switch (result.state) {
      case "Stopped":
        return result.stop;
      case "Committed":
        return { outcome: { state: "Committed", commit: result.commit, message: `committed ${result.commit.slice(0, 7)} on ${branch}: Revert "${subject}"` }, conflict: false };
      case "Pushed":
        return { outcome: { state: "Pushed", commit: result.commit, message: `pushed ${result.commit.slice(0, 7)} to ${branch} at ${repo.location}: Revert "${subject}"` }, conflict: false };
      case "CheckedOut":
        return {
          outcome: {
            state: "Failed",
            message: `${branch} is checked out in the work tree ${result.at}; coxswain does not move a checked-out branch under your feet — revert it yourself (git revert ${failed.slice(0, 7)}), or follow a bare repository or a remote for auto-revert`,
          },
          conflict: false,
        };
      case "NoBranch":
        return { outcome: { state: "Failed", message: `branch ${branch} does not exist any more` }, conflict: false };
      case "PushFailed":
        return {
          outcome: { state: "Failed", commit: result.commit, message: `committed ${result.commit.slice(0, 7)} in the mirror but the push to ${repo.location} failed: ${result.error.code}: ${result.error.message}` },
          conflict: false,
        };
      case "Raced":
        return { outcome: { state: "Failed", message: `not reverted: ${branch} kept moving during ${result.attempts} attempts (${result.error?.message ?? "moved"})` }, conflict: false };
    }
  }
}

/** The entry of each changed path at `head` (trees count as absent): what decideRevert compares against. */
export async function entriesAt(writer: GitWriter, head: string, changes: readonly TreeEntryChange[]): Promise<Map<string, { oid: string; mode: string } | undefined>> {
  const atHead = new Map<string, { oid: string; mode: string } | undefined>();
  for (const c of changes) {
    const e: TreeItem | undefined = await writer.entryAt(head, c.path);
    atHead.set(c.path, e && e.type !== "tree" ? { oid: e.oid, mode: e.mode } : undefined);
  }
  return atHead;
}
