/**
 * The status file of a Job: jobs/<namespace>/<name>.yaml on the status branch. Its run (the template's
 * revision and the commit that started it), where it stands (Running, Complete, Failed with Kubernetes'
 * reason), its counts and times, and what each failed pod said: its exit code and the end of its log, with
 * the values of the Secrets its environment holds cut out.
 *
 * Rendering is pure and deterministic (no clock: times are the run's own). The file is read back after a
 * restart (readJobRecord): a run that ended is not run again, its start time keeps the deadline, and its
 * ttlSecondsAfterFinished removal is remembered.
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";

/** jobs/<namespace>/<name>.yaml. */
export function jobPath(namespace: string, name: string): string {
  return `jobs/${namespace}/${name}.yaml`;
}

/** A failed pod as recorded. */
export interface RecordedJobFailure {
  pod: string;
  /** Completion index (Indexed Jobs). */
  index?: number;
  /** The container that failed and its exit code (absent when the engine did not say). */
  container: string;
  exitCode?: number;
  /** ISO-8601 time of its exit. */
  finishedAt?: string;
  /** The last lines of its output (runtime/log-tail.ts bounds them), Secret values cut out. */
  log: string;
}

/** A pod of the run that a drain evicted: a failed pod (DisruptionTarget) that left no exit behind. */
export interface RecordedJobEviction {
  pod: string;
  /** Completion index (Indexed Jobs). */
  index?: number;
  /** The draining node it was evicted from. */
  node: string;
  /** ISO-8601 time of the eviction. */
  at: string;
}

/** What the status file of one Job says. */
export interface JobRecord {
  namespace: string;
  name: string;
  /** The run: the pod template's revision, and the commit that started it. */
  revision: string;
  commit: string;
  phase: "Running" | "Complete" | "Failed";
  /** With Failed: BackoffLimitExceeded or DeadlineExceeded. */
  reason?: string;
  message: string;
  completions: number;
  parallelism: number;
  succeeded: number;
  failed: number;
  active: number;
  /** Indexed Jobs: the indexes that succeeded, as Kubernetes writes them ("0-2,5"). */
  completedIndexes?: string;
  /** ISO-8601: when the run started, when it ended. */
  startTime: string;
  completionTime?: string;
  /** ISO-8601: when ttlSecondsAfterFinished removed its pods. */
  podsRemovedAt?: string;
  /** The latest failed pods, at most MAX_RECORDED_FAILURES, oldest first. */
  failures: RecordedJobFailure[];
  /**
   * Every pod of the run a drain evicted, oldest first: each counts as failed (toward backoffLimit), and this
   * is where that is kept, since the pod itself is gone. Absent when none was.
   */
  evicted?: RecordedJobEviction[];
}

/** How many failed pods a Job's status file keeps (the latest). */
export const MAX_RECORDED_FAILURES = 5;

/** The YAML text of a Job's status file (long lines kept whole). */
export function renderJobRecord(r: JobRecord): string {
  return stringify(
    {
      namespace: r.namespace,
      name: r.name,
      revision: r.revision,
      commit: r.commit,
      phase: r.phase,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      message: r.message,
      completions: r.completions,
      parallelism: r.parallelism,
      succeeded: r.succeeded,
      failed: r.failed,
      active: r.active,
      ...(r.completedIndexes !== undefined ? { completedIndexes: r.completedIndexes } : {}),
      startTime: r.startTime,
      ...(r.completionTime !== undefined ? { completionTime: r.completionTime } : {}),
      ...(r.podsRemovedAt !== undefined ? { podsRemovedAt: r.podsRemovedAt } : {}),
      failures: r.failures.map((f) => ({
        pod: f.pod,
        ...(f.index !== undefined ? { index: f.index } : {}),
        container: f.container,
        ...(f.exitCode !== undefined ? { exitCode: f.exitCode } : {}),
        ...(f.finishedAt !== undefined ? { finishedAt: f.finishedAt } : {}),
        log: f.log,
      })),
      ...(r.evicted !== undefined && r.evicted.length > 0 ? { evicted: r.evicted.map((e) => ({ pod: e.pod, ...(e.index !== undefined ? { index: e.index } : {}), node: e.node, at: e.at })) } : {}),
    },
    { lineWidth: 0 },
  );
}

/** A Job's status file as written; undefined when it is absent or not one (status/schemas.ts). */
export function readJobRecord(text: string): JobRecord | undefined {
  const d = statusRecordOrUndefined("job", text) as unknown as JobRecord | undefined;
  if (!d) return undefined;
  const opt = (k: "reason" | "completedIndexes" | "completionTime" | "podsRemovedAt") => (d[k] !== undefined ? { [k]: d[k] } : {});
  return {
    namespace: d.namespace,
    name: d.name,
    revision: d.revision,
    commit: d.commit,
    phase: d.phase,
    ...opt("reason"),
    message: d.message,
    completions: d.completions,
    parallelism: d.parallelism,
    succeeded: d.succeeded,
    failed: d.failed,
    active: d.active,
    ...opt("completedIndexes"),
    startTime: d.startTime,
    ...opt("completionTime"),
    ...opt("podsRemovedAt"),
    failures: d.failures.map((f) => ({
      pod: f.pod,
      ...(f.index !== undefined ? { index: f.index } : {}),
      container: f.container,
      ...(f.exitCode !== undefined ? { exitCode: f.exitCode } : {}),
      ...(f.finishedAt !== undefined ? { finishedAt: f.finishedAt } : {}),
      log: f.log,
    })),
    ...(d.evicted !== undefined && d.evicted.length > 0 ? { evicted: d.evicted.map((e) => ({ pod: e.pod, ...(e.index !== undefined ? { index: e.index } : {}), node: e.node, at: e.at })) } : {}),
  };
}

/** Indexes as Kubernetes writes completedIndexes: ascending, runs joined ("0-2,5"). */
export function formatIndexes(indexes: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indexes.length) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j]! + 1) j++;
    parts.push(j > i ? `${indexes[i]}-${indexes[j]}` : String(indexes[i]));
    i = j + 1;
  }
  return parts.join(",");
}
