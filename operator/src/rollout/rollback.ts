/**
 * The rollback decision, pure. Where coxswain goes beyond Kubernetes (like Nomad's auto_revert and Swarm's
 * failure_action rollback): a failed rollout goes back to the last STABLE revision — the last one whose rollout
 * completed healthy (see health.ts: complete, then every pod ready for the monitor window) — never to an
 * unproven one; a rollback that itself fails is never rolled back (Swarm: "never roll back a rollback"): it
 * pauses and reports.
 */
import { CoxError } from "../api/errors.js";
import { short } from "./core.js";
import type { RollbackDecision, RollbackInput } from "./types.js";

/**
 * What to do about a failed rollout (the branch sync acts on it for whole commits; `failed` and `stable` are
 * commits there):
 * - the failing rollout was a rollback → pause, RollbackFailed;
 * - no stable one, or the failing one is the stable one (nothing better to go back to) → report, RolloutFailed;
 * - otherwise → roll back to the stable one.
 * Pure. Throws CoxError InvalidArgument when `failed` is empty.
 */
export function decideRollback(input: RollbackInput): RollbackDecision {
  const { failed, stable, failure } = input;
  if (failed.length === 0) throw new CoxError("InvalidArgument", "failed revision is empty; expected the hash of the revision whose rollout failed");
  const why = failure ? ` (${failure.code}: ${failure.message})` : "";
  if (input.failedIsRollback) {
    return {
      action: "pause",
      code: "RollbackFailed",
      reason: `the rollback to ${short(failed)} failed${why}; a rollback is never rolled back: paused until a new commit`,
    };
  }
  if (stable === undefined || stable.length === 0) {
    return { action: "report", code: "RolloutFailed", reason: `${short(failed)} failed${why}; nothing succeeded before it, so there is nothing proven to roll back to` };
  }
  if (stable === failed) {
    return { action: "report", code: "RolloutFailed", reason: `${short(failed)} failed${why}; it is the stable one itself, so there is nothing proven to roll back to` };
  }
  return { action: "rollback", to: stable, reason: `${short(failed)} failed${why}; rolling back to the last stable ${short(stable)}` };
}
