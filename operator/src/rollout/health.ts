/**
 * Failure detection and stability of a rollout, pure. coxswain goes beyond Kubernetes (which only reports
 * ProgressDeadlineExceeded) the way Nomad's auto_revert and Swarm's update failure_action do.
 *
 * A rollout fails, checked in this order (the first that applies is reported):
 *  1. CrashLoopBackOff — crashed updated pods / replicas > maxFailureRatio (Swarm's max_failure_ratio, default 0:
 *     one crash is a failure). An updated pod counts as crashed when it restarted at least once, is in crash-loop
 *     back-off, or failed. Swarm counts a task only when it fails before or within `monitor` after it started;
 *     coxswain cannot tell after an operator restart when a restart happened, so every crash of an updated pod
 *     counts until the revision is stable (afterwards this check is not run).
 *  2. PodStartDeadlineExceeded — an updated pod that was never ready, more than min(podStartDeadlineSeconds,
 *     progressDeadlineSeconds) after it was created (Nomad's healthy_deadline, default 300 s). A pod that is
 *     ready now, or whose firstReadyAt is known, has started; readiness lost later is the progress deadline's
 *     business, not this one's.
 *  3. ProgressDeadlineExceeded — not complete and no progress for more than progressDeadlineSeconds (as the
 *     Deployment step reports it); not while paused (spec.paused, a canary pause, waiting for a promotion).
 *
 * Stable — what a rollback may go back to — means: the step says complete (Kubernetes' DeploymentComplete:
 * every replica updated and available), no failure, and every updated pod has been ready for at least
 * monitorSeconds (Swarm's monitor after the last task; Nomad's deployment marked healthy after
 * min_healthy_time). The caller records the revision as stable then, and stops calling this for it.
 * All deadlines are strict: a pod created exactly the deadline ago has not failed yet.
 */
import { CoxError } from "../api/errors.js";
import type { HealthInput, RolloutFailure, RolloutHealth } from "./types.js";

function validate(input: HealthInput): void {
  const { policy } = input;
  for (const [k, v] of Object.entries(policy)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new CoxError("InvalidArgument", `failure policy ${k} is ${String(v)}; expected a number ≥ 0`);
  }
  if (!Number.isSafeInteger(input.replicas) || input.replicas < 0) throw new CoxError("InvalidArgument", `replicas is ${input.replicas}; expected an integer ≥ 0`);
  const names = new Set<string>();
  for (const p of input.pods) {
    if (names.has(p.name)) throw new CoxError("InvalidArgument", `pod ${JSON.stringify(p.name)} appears twice; expected unique pod names`);
    names.add(p.name);
  }
}

function list(names: string[]): string {
  return names.length <= 5 ? names.join(", ") : `${names.slice(0, 5).join(", ")} and ${names.length - 5} more`;
}

/**
 * Whether the rollout failed (see the module comment for the rules and their order), whether the revision is
 * stable, which updated pods crashed, and when time alone changes the verdict. Pure. Throws CoxError
 * InvalidArgument on a malformed policy, replicas or duplicate pod names.
 */
export function rolloutHealth(input: HealthInput): RolloutHealth {
  validate(input);
  const { now, policy, pods } = input;
  const startMs = Math.min(policy.podStartDeadlineSeconds, policy.progressDeadlineSeconds) * 1000;
  const deadlineMs = policy.progressDeadlineSeconds * 1000;
  const monitorMs = policy.monitorSeconds * 1000;

  const crashedPods = pods
    .filter((p) => p.restartCount > 0 || p.crashLooping || p.failed === true)
    .map((p) => p.name)
    .sort();
  let failure: RolloutFailure | undefined;
  const denominator = Math.max(1, input.replicas);
  if (crashedPods.length > 0 && crashedPods.length / denominator > policy.maxFailureRatio) {
    failure = {
      code: "CrashLoopBackOff",
      message:
        `${crashedPods.length} of ${input.replicas} updated pod(s) crashed (${list(crashedPods)}); ` + `expected at most ${Math.floor(policy.maxFailureRatio * denominator)} (maxFailureRatio ${policy.maxFailureRatio})`,
      pods: crashedPods,
    };
  }
  const started = (p: HealthInput["pods"][number]) => p.ready || p.firstReadyAt !== undefined;
  if (!failure) {
    const late = pods.filter((p) => !started(p) && now - p.createdAt > startMs);
    if (late.length > 0) {
      const names = late.map((p) => p.name).sort();
      // No clock in the message: it is printed and recorded when it changes, and must not change every second.
      failure = {
        code: "PodStartDeadlineExceeded",
        message: `${names.length} updated pod(s) never became ready (${list(names)}); expected ready within ${startMs / 1000}s of creation`,
        pods: names,
      };
    }
  }
  if (!failure && !input.complete && input.paused !== true && now - input.lastProgressAt > deadlineMs) {
    failure = {
      code: "ProgressDeadlineExceeded",
      message: `no progress within progressDeadlineSeconds (${policy.progressDeadlineSeconds}s): no pod became available and none was removed`,
      pods: [],
    };
  }

  const stable = input.complete && !failure && pods.every((p) => p.ready && p.readySince !== undefined && p.readySince + monitorMs <= now);

  let requeueAfterMs: number | undefined;
  const soonest = (ms: number) => {
    if (ms > 0 && (requeueAfterMs === undefined || ms < requeueAfterMs)) requeueAfterMs = ms;
  };
  if (!failure) {
    for (const p of pods) if (!started(p)) soonest(p.createdAt + startMs - now + 1);
    if (!input.complete && input.paused !== true) soonest(input.lastProgressAt + deadlineMs - now + 1);
    if (input.complete && !stable && pods.every((p) => p.ready && p.readySince !== undefined)) {
      soonest(Math.max(...pods.map((p) => p.readySince! + monitorMs)) - now);
    }
  }
  return { ...(failure ? { failure } : {}), stable, crashedPods, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}

/** The failure of a rollout, or undefined while it is healthy: rolloutHealth(input).failure. Pure. */
export function detectFailure(input: HealthInput): RolloutFailure | undefined {
  return rolloutHealth(input).failure;
}
