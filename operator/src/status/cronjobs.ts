/**
 * The status file of a CronJob: cronjobs/<namespace>/<name>.yaml on the status branch. When the CronJob was
 * first seen (the schedule's window starts there before any run), the last scheduled time started and the
 * last run that succeeded, the next time, why a due time was skipped, and its runs (Jobs named
 * `<cronjob>-<scheduled minute>`, each with its own jobs/<namespace>/<run>.yaml): the active ones and the kept
 * history. Runs past the history limits are listed under `removing` until their pods are gone.
 *
 * Read back after a restart (readCronJobRecord): lastScheduleTime is what makes the catch-up decision right
 * (at most one missed time started, none already started), and the runs are found again by name.
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";

/** cronjobs/<namespace>/<name>.yaml. */
export function cronJobPath(namespace: string, name: string): string {
  return `cronjobs/${namespace}/${name}.yaml`;
}

/** One run as recorded. */
export interface RecordedCronRun {
  name: string;
  /** ISO-8601: the schedule time it was started for. */
  scheduledAt: string;
  phase: "Running" | "Complete" | "Failed";
  /** ISO-8601: when it ended. */
  finishedAt?: string;
}

/** What the status file of one CronJob says. */
export interface CronJobRecord {
  namespace: string;
  name: string;
  schedule: string;
  timeZone?: string;
  suspend: boolean;
  /** ISO-8601: when coxswain first saw the CronJob. */
  createdAt: string;
  /** ISO-8601: the schedule time of the last run started, when it was last successful, the next time. */
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
  nextRunAt?: string;
  /** Why the last due time was not started (Suspended, ConcurrencyForbidden, TooManyMissedStarts). */
  skipped?: { reason: string; message: string };
  /** The runs kept (active and history), oldest first. */
  runs: RecordedCronRun[];
  /** Runs removed (Replace, history limits) whose pods may still be going, sorted. */
  removing: string[];
}

/** The YAML text of a CronJob's status file. */
export function renderCronJobRecord(r: CronJobRecord): string {
  return stringify(
    {
      namespace: r.namespace,
      name: r.name,
      schedule: r.schedule,
      ...(r.timeZone !== undefined ? { timeZone: r.timeZone } : {}),
      suspend: r.suspend,
      createdAt: r.createdAt,
      ...(r.lastScheduleTime !== undefined ? { lastScheduleTime: r.lastScheduleTime } : {}),
      ...(r.lastSuccessfulTime !== undefined ? { lastSuccessfulTime: r.lastSuccessfulTime } : {}),
      ...(r.nextRunAt !== undefined ? { nextRunAt: r.nextRunAt } : {}),
      ...(r.skipped !== undefined ? { skipped: { reason: r.skipped.reason, message: r.skipped.message } } : {}),
      active: r.runs.filter((x) => x.phase === "Running").map((x) => x.name),
      runs: r.runs.map((x) => ({ name: x.name, scheduledAt: x.scheduledAt, phase: x.phase, ...(x.finishedAt !== undefined ? { finishedAt: x.finishedAt } : {}) })),
      removing: r.removing,
    },
    { lineWidth: 0 },
  );
}

/** A CronJob's status file as written; undefined when it is absent or not one (status/schemas.ts). */
export function readCronJobRecord(text: string): CronJobRecord | undefined {
  const d = statusRecordOrUndefined("cronjob", text) as unknown as CronJobRecord | undefined;
  if (!d) return undefined;
  const opt = (k: "timeZone" | "lastScheduleTime" | "lastSuccessfulTime" | "nextRunAt") => (d[k] !== undefined ? { [k]: d[k] } : {});
  return {
    namespace: d.namespace,
    name: d.name,
    schedule: d.schedule,
    ...opt("timeZone"),
    suspend: d.suspend,
    createdAt: d.createdAt,
    ...opt("lastScheduleTime"),
    ...opt("lastSuccessfulTime"),
    ...opt("nextRunAt"),
    ...(d.skipped !== undefined ? { skipped: { reason: d.skipped.reason, message: d.skipped.message } } : {}),
    runs: d.runs.map((x) => ({ name: x.name, scheduledAt: x.scheduledAt, phase: x.phase, ...(x.finishedAt !== undefined ? { finishedAt: x.finishedAt } : {}) })),
    removing: [...d.removing].sort(),
  };
}
