/**
 * A Job's next step, as Kubernetes' job controller (pkg/controller/job) decides it. Pure: the Job's parameters,
 * its pods of the current run and the time in; which pods to create or remove, and the Job's condition out.
 *
 * - Complete when `completions` pods succeeded (Indexed: every index 0…completions−1 has a succeeded pod);
 *   the pods still active then are removed.
 * - Failed, reason BackoffLimitExceeded, when more than `backoffLimit` pods failed — or, with restartPolicy
 *   OnFailure (containers restart in place, pods do not fail), when the active pods' restarts reach it
 *   (more than 0 when it is 0) —; reason DeadlineExceeded when the run has been active
 *   `activeDeadlineSeconds`. Every active pod is removed; the ended ones are kept (their exit and log).
 * - Otherwise at most `parallelism` pods are active, and no more than the completions still missing
 *   (Indexed: one pod per index that has neither succeeded nor an active pod, lowest first). After a pod
 *   failure, new pods wait the back-off: 10 s doubling with each failure, at most 6 min, from the latest
 *   failure. Excess active pods (parallelism lowered) are removed, the newest first.
 * - Drains: the active pods on a draining node are to be evicted (`evict`: `kubectl drain` evicts every pod
 *   of a node through the eviction API; the caller asks the PodDisruptionBudgets). An evicted pod ends Failed
 *   with the DisruptionTarget condition and, as Kubernetes counts it without a podFailurePolicy, it is a
 *   failed pod from its eviction on: it counts toward backoffLimit and the back-off, and its replacement is
 *   created elsewhere once the back-off allows (Indexed: for its index).
 *
 * All times are epoch milliseconds.
 */

import { backoffDelay, type Backoff } from "../api/backoff.js";

/** Kubernetes' pod-failure back-off of a Job: 10 s doubling per failure, at most 6 min. */
export const JOB_BACKOFF: Backoff = Object.freeze({ initialMs: 10_000, maxMs: 360_000 });

/** A Job's spec, defaulted (manifest/job.ts applies Kubernetes' defaults). */
export interface JobParams {
  completions: number;
  parallelism: number;
  backoffLimit: number;
  activeDeadlineSeconds?: number;
  completionMode: "NonIndexed" | "Indexed";
  restartPolicy: "OnFailure" | "Never";
}

/** A pod of the Job's current run, as observed. */
export interface JobPod {
  name: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Terminating";
  /** Completion index (Indexed Jobs). */
  index?: number;
  /** Restarts of its containers in place (restartPolicy OnFailure). */
  restartCount: number;
  createdAt: number;
  /** When it ended (Succeeded or Failed): its containers' latest exit. */
  finishedAt?: number;
}

/** A pod of the run that a drain evicted (it may be gone): Failed, with the DisruptionTarget condition, since `at`. */
export interface EvictedJobPod {
  name: string;
  index?: number;
  /** Epoch ms of the eviction. */
  at: number;
}

/** What jobStep decides on. */
export interface JobInput {
  params: JobParams;
  pods: readonly JobPod[];
  /** Pods of the run evicted earlier: failed pods, whatever is observed of them now. */
  evicted?: readonly EvictedJobPod[];
  /** Names of the run's pods that are on a draining node. */
  draining?: readonly string[];
  /** When the run started (its first pod was created; recorded). */
  startTime: number;
  now: number;
}

/** The Job's condition, with Kubernetes' reasons. */
export type JobCondition = { type: "Running" } | { type: "Complete"; at: number } | { type: "Failed"; reason: "BackoffLimitExceeded" | "DeadlineExceeded"; at: number; message: string };

/** What to do now. */
export interface JobStep {
  condition: JobCondition;
  /** Pods that succeeded (Indexed: distinct indexes that succeeded), at most completions. */
  succeeded: number;
  /** Pods that failed. */
  failed: number;
  /** Pods pending or running. */
  active: number;
  /** Indexed: the indexes that succeeded, ascending. */
  completedIndexes?: number[];
  /** Pods to create now: one entry per pod, with its index for an Indexed Job. */
  create: { index?: number }[];
  /** Active pods to remove now, sorted. */
  remove: string[];
  /** Active pods on a draining node to evict now (not in `remove`), sorted: voluntary evictions, asked of the budgets. */
  evict: string[];
  /** When the back-off ends, while it holds pods back. */
  backoffUntil?: number;
  /** Decide again at the latest then (back-off end, deadline). */
  nextCheckAt?: number;
}

/** The back-off before the next pod after `failures` pod failures: 0, 10 s, 20 s, … 6 min. */
export function jobBackoffMs(failures: number): number {
  return backoffDelay(JOB_BACKOFF, failures);
}

const isActive = (p: JobPod): boolean => p.phase === "Pending" || p.phase === "Running";

/** The Job's next step (see the module comment). */
export function jobStep(input: JobInput): JobStep {
  const { params, now } = input;
  // An evicted pod is Failed from its eviction on (DisruptionTarget), whatever is observed of it now.
  const evicted = new Set((input.evicted ?? []).map((e) => e.name));
  const pods: JobPod[] = [
    ...input.pods.filter((p) => !evicted.has(p.name)),
    ...(input.evicted ?? []).map((e): JobPod => ({ name: e.name, phase: "Failed", ...(e.index !== undefined ? { index: e.index } : {}), restartCount: 0, createdAt: e.at, finishedAt: e.at })),
  ];
  const active = pods.filter(isActive);
  const failedPods = pods.filter((p) => p.phase === "Failed");
  const succeededPods = pods.filter((p) => p.phase === "Succeeded");
  const indexed = params.completionMode === "Indexed";
  const doneIndexes = indexed ? [...new Set(succeededPods.map((p) => p.index).filter((i): i is number => i !== undefined && i >= 0 && i < params.completions))].sort((a, b) => a - b) : [];
  const succeeded = Math.min(params.completions, indexed ? doneIndexes.length : succeededPods.length);
  const counts = { succeeded, failed: failedPods.length, active: active.length, ...(indexed ? { completedIndexes: doneIndexes } : {}) };
  const removeActive = active.map((p) => p.name).sort();
  const lastEnd = (ps: readonly JobPod[]) => ps.reduce((t, p) => Math.max(t, p.finishedAt ?? p.createdAt), 0);

  if (succeeded >= params.completions) {
    return { condition: { type: "Complete", at: Math.max(lastEnd(succeededPods), input.startTime) }, ...counts, create: [], remove: removeActive, evict: [] };
  }
  const restarts = params.restartPolicy === "OnFailure" ? active.reduce((n, p) => n + p.restartCount, 0) : 0;
  const overLimit = failedPods.length > params.backoffLimit || (params.restartPolicy === "OnFailure" && (params.backoffLimit === 0 ? restarts > 0 : restarts >= params.backoffLimit));
  if (overLimit) {
    const message =
      restarts > 0 && failedPods.length <= params.backoffLimit
        ? `the pods' containers restarted ${restarts} time(s), reaching backoffLimit ${params.backoffLimit}`
        : `${failedPods.length} pod(s) failed, more than backoffLimit ${params.backoffLimit}`;
    return {
      condition: { type: "Failed", reason: "BackoffLimitExceeded", at: failedPods.length > 0 ? lastEnd(failedPods) : now, message: `Job has reached the specified backoff limit: ${message}` },
      ...counts,
      create: [],
      remove: removeActive,
      evict: [],
    };
  }
  const deadline = params.activeDeadlineSeconds === undefined ? undefined : input.startTime + params.activeDeadlineSeconds * 1000;
  if (deadline !== undefined && now >= deadline) {
    return {
      condition: { type: "Failed", reason: "DeadlineExceeded", at: deadline, message: `Job was active longer than specified deadline: activeDeadlineSeconds ${params.activeDeadlineSeconds}` },
      ...counts,
      create: [],
      remove: removeActive,
      evict: [],
    };
  }

  // Which pods should be active: at most parallelism, and no more than the completions still missing.
  const create: { index?: number }[] = [];
  const remove: string[] = [];
  let room: number;
  let wanted: number[] = [];
  if (indexed) {
    const busy = new Set([...doneIndexes, ...pods.filter((p) => isActive(p) || p.phase === "Terminating").map((p) => p.index)]);
    for (let i = 0; i < params.completions; i++) if (!busy.has(i)) wanted.push(i);
    room = Math.max(0, params.parallelism - active.length);
  } else {
    const want = Math.min(params.parallelism, params.completions - succeeded);
    room = Math.max(0, want - active.length);
    wanted = Array.from({ length: room }, () => -1);
  }
  const excess = active.length - params.parallelism;
  if (excess > 0) {
    const newestFirst = [...active].sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
    remove.push(
      ...newestFirst
        .slice(0, excess)
        .map((p) => p.name)
        .sort(),
    );
  }
  const backoffUntil = failedPods.length > 0 ? lastEnd(failedPods) + jobBackoffMs(failedPods.length) : undefined;
  const holding = backoffUntil !== undefined && now < backoffUntil;
  if (!holding) for (const i of wanted.slice(0, room)) create.push(i >= 0 ? { index: i } : {});
  const next = [holding && wanted.length > 0 && room > 0 ? backoffUntil : undefined, deadline].filter((t): t is number => t !== undefined);
  const draining = new Set(input.draining ?? []);
  const evict = active
    .filter((p) => draining.has(p.name) && !remove.includes(p.name))
    .map((p) => p.name)
    .sort();
  return {
    condition: { type: "Running" },
    ...counts,
    create,
    remove,
    evict,
    ...(holding && wanted.length > 0 && room > 0 ? { backoffUntil: backoffUntil! } : {}),
    ...(next.length > 0 ? { nextCheckAt: Math.min(...next) } : {}),
  };
}
