/**
 * What coxswain posts on a forge about a proposal (pure), and the reporter that hands it to the forge's
 * publisher (forge/publisher.ts, which makes the calls):
 * - while a head is planned: status `coxswain/plan` pending on it;
 * - once planned: status `coxswain/plan` success (valid, every new pod fits) or failure (the first error's
 *   file:line:col and code, or the pods that fit nowhere), and the plan as the one comment of the
 *   pull/merge request, marked by `<!-- coxswain-plan <name> -->` and edited on every new head;
 * - once the deploy commit that merged it finished rolling out: status `coxswain/rollout` on that commit,
 *   success when Succeeded, failure when RolledBack (or Failed, Invalid, Quarantined) with the reason.
 */
import type { ForgeStatus } from "../forge/client.js";
import type { CommentTarget } from "../forge/publisher.js";
import type { ProposalRef } from "../source/types.js";
import type { CommitRecord } from "../status/types.js";
import { short } from "./branch-sync.js";
import { placementCounts, planNote, type Plan } from "./plan.js";

/** The status name of a proposal head's plan. */
const PLAN_CONTEXT = "coxswain/plan";
/** The status name of a merged commit's rollout. */
const ROLLOUT_CONTEXT = "coxswain/rollout";

/** A status without its commit and name: what the decision says. */
export type StatusVerdict = Pick<ForgeStatus, "state" | "description">;

/** The hidden marker that finds a proposal's comment again. */
function commentMarker(name: string): string {
  return `<!-- coxswain-plan ${name} -->`;
}

/** The plan status of a head: failure with the first error, or with the pods that fit nowhere; else success. Pure. */
export function planStatus(plan: Plan): StatusVerdict {
  if (!plan.valid) {
    const errors = plan.diagnostics.filter((d) => d.severity === "error");
    const first = errors[0];
    const where = first ? `${first.file}:${first.line}:${first.col} ${first.code}${first.field ? ` ${first.field}` : ""}` : "no graph";
    return { state: "failure", description: `invalid: ${where}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ""}` };
  }
  const count = (a: string) => plan.changes.filter((c) => c.action === a).length;
  const sum = `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete`;
  const { pods, unfit } = placementCounts(plan);
  if (unfit > 0) {
    const where = plan.changes.filter((c) => c.placements?.some((p) => !p.fits)).map((c) => c.key);
    return { state: "failure", description: `${unfit} of ${pods} new pod(s) fit no node: ${where.join(", ")}` };
  }
  return { state: "success", description: `valid against ${plan.from ? short(plan.from) : "nothing"}: ${sum}${plan.nodes ? `; ${pods} new pod(s) fit` : ""}` };
}

/** The rollout status of a merged commit once its phase is final; undefined before, and for Superseded (no verdict). Pure. */
export function rolloutStatus(record: CommitRecord): StatusVerdict | undefined {
  switch (record.phase) {
    case "Pending":
    case "Progressing":
    case "Superseded":
      return undefined;
    case "Succeeded":
      return { state: "success", description: `Succeeded: ${record.message}` };
    case "RolledBack":
      return { state: "failure", description: record.rollback ? `rolled back to ${short(record.rollback.to)}: ${record.rollback.code} ${record.rollback.reason}` : `RolledBack: ${record.message}` };
    default: {
      const e = record.errors[0];
      return { state: "failure", description: `${record.phase}: ${e ? `${e.code} ${e.message}` : record.message}` };
    }
  }
}

/**
 * The comment of a proposal: the marker, the plan note's summary, its lines (each object and what changes,
 * at most as many as the note lists) in a text block, and where the whole plan is. Pure.
 */
export function planComment(plan: Plan, name: string, ref: ProposalRef, path: string, statusBranch: string): string {
  const [summary, ...items] = planNote(plan, path).split("\n");
  return [
    commentMarker(name),
    `**${summary!}** — head \`${short(ref.oid)}\``,
    "",
    ...(items.length ? ["```text", ...items, "```", ""] : []),
    `The whole plan: \`${path}\` on the \`${statusBranch}\` branch. This comment is edited on every new head.`,
  ].join("\n");
}

/** The comment's target: the request itself for a pull/merge request head, else the request of the branch. */
export function commentTarget(ref: ProposalRef): CommentTarget {
  return ref.kind === "pull" && ref.number !== undefined ? { request: ref.number } : { branch: ref.name };
}

/** What the proposal tracker tells about proposals (sync/proposals.ts); every call returns at once. */
export interface ProposalReporter {
  /** A head is about to be planned. */
  planning(name: string, ref: ProposalRef): void;
  /** A head was planned; `path` is its plan file. */
  planned(name: string, ref: ProposalRef, plan: Plan, path: string): void;
  /** The deploy commit that merged a proposal reached a final phase. */
  rolledOut(name: string, record: CommitRecord): void;
}

/** The effects a reporter asks for: the publisher's, or a test's recording. */
export interface ForgePosts {
  status(s: ForgeStatus): void;
  comment(target: CommentTarget, marker: string, body: string): void;
}

/** The reporter that posts to a forge (see the module comment). */
export function forgeReporter(posts: ForgePosts, statusBranch: string): ProposalReporter {
  return {
    planning: (_name, ref) => posts.status({ sha: ref.oid, context: PLAN_CONTEXT, state: "pending", description: "coxswain is planning this head" }),
    planned: (name, ref, plan, path) => {
      posts.status({ sha: ref.oid, context: PLAN_CONTEXT, ...planStatus(plan) });
      posts.comment(commentTarget(ref), commentMarker(name), planComment(plan, name, ref, path, statusBranch));
    },
    rolledOut: (_name, record) => {
      const verdict = rolloutStatus(record);
      if (verdict) posts.status({ sha: record.commit, context: ROLLOUT_CONTEXT, ...verdict });
    },
  };
}
