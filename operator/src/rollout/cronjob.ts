/**
 * A CronJob's next step, as Kubernetes' cronjob controller (pkg/controller/cronjob, v2) decides it. Pure: the
 * schedule, the CronJob's runs (its Jobs) and the time in; which run to start, which to remove, when to look
 * again out. Schedules are read by croner through api/schedule.ts, the parser validation uses too (standard
 * five-field cron with Vixie cron's day-of-month OR day-of-week rule, the @hourly-style macros, IANA time
 * zones with their DST rules: a time that a spring-forward skips runs at the first minute after the gap, a
 * time that a fall-back repeats runs once).
 *
 * - The schedule times in (last schedule time, or the CronJob's creation, …, now] are the missed ones; only
 *   the most recent is started (at most one catch-up, as Kubernetes: after the operator was down it does not
 *   replay every missed run). With startingDeadlineSeconds, times older than now − deadline are not started
 *   at all (the window starts there). More than 100 missed times start nothing: a schedule that was missed
 *   that often asks for a look (TooManyMissedStarts; set startingDeadlineSeconds to bound the window).
 * - A run is named `<cronjob>-<scheduled time in minutes since the epoch>`, as Kubernetes names its Jobs, so a
 *   scheduled time is started once, also across operator restarts (the name is found again).
 * - suspend: nothing is started; concurrencyPolicy Forbid: not while a run is active (the time is tried again
 *   while it is within the deadline); Replace: the active runs are removed and the new one started; Allow:
 *   runs overlap.
 * - History: the newest successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed runs are kept,
 *   the older ones removed.
 *
 * All times are epoch milliseconds.
 */
import { parseSchedule } from "../api/schedule.js";

/** Kubernetes' limit on missed schedule times before nothing is started. */
const MAX_MISSED_SCHEDULES = 100;

/** A CronJob's spec, defaulted. */
export interface CronJobParams {
  schedule: string;
  timeZone?: string;
  concurrencyPolicy: "Allow" | "Forbid" | "Replace";
  startingDeadlineSeconds?: number;
  suspend: boolean;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
}

/** A run (a Job the CronJob started), as observed. */
export interface CronRun {
  name: string;
  scheduledAt: number;
  phase: "Running" | "Complete" | "Failed";
  /** When it ended (Complete or Failed). */
  finishedAt?: number;
}

/** What cronJobStep decides on. */
export interface CronJobInput {
  /** The CronJob's name: runs are named after it. */
  name: string;
  params: CronJobParams;
  runs: readonly CronRun[];
  /** The scheduled time of the last run started (recorded); undefined before the first. */
  lastScheduleTime?: number;
  /** When the CronJob was first seen (the window's start before any run). */
  createdAt: number;
  now: number;
}

/** What to do now. */
export interface CronJobStep {
  /** The run to start now. */
  start?: { name: string; scheduledAt: number };
  /** Runs to remove (Replace's active ones, runs past the history limits), sorted. */
  remove: string[];
  /** Why a due time was not started. */
  skipped?: { reason: "Suspended" | "ConcurrencyForbidden" | "TooManyMissedStarts"; message: string };
  /** The last schedule time after this step (the started run's, or as before). */
  lastScheduleTime?: number;
  /** The next schedule time after now: decide again then. */
  nextRunAt?: number;
}

/** The run name of a scheduled time: `<cronjob>-<minutes since the epoch>`. */
export function runName(cronJob: string, scheduledAt: number): string {
  return `${cronJob}-${Math.floor(scheduledAt / 60_000)}`;
}

/** The CronJob's next step (see the module comment). Throws for a schedule parseSchedule refuses (validation refused it first). */
export function cronJobStep(input: CronJobInput): CronJobStep {
  const { params, now } = input;
  const parsed = parseSchedule(params.schedule, params.timeZone);
  if ("error" in parsed) throw new Error(`schedule ${JSON.stringify(params.schedule)}: ${parsed.error}`);
  const cron = parsed.cron;
  const remove = new Set(historyOverflow(input.runs, params));
  const next = cron.nextRun(new Date(now))?.getTime();
  const base = { ...(input.lastScheduleTime !== undefined ? { lastScheduleTime: input.lastScheduleTime } : {}), ...(next !== undefined ? { nextRunAt: next } : {}) };
  const done = (extra: Partial<CronJobStep> = {}): CronJobStep => ({ ...base, ...extra, remove: [...remove].sort() });

  // The missed times in the window (earliest, now]: the most recent is the one to start.
  let earliest = input.lastScheduleTime ?? input.createdAt;
  if (params.startingDeadlineSeconds !== undefined) earliest = Math.max(earliest, now - params.startingDeadlineSeconds * 1000);
  let due: number | undefined;
  let missed = 0;
  for (let t = cron.nextRun(new Date(earliest)); t && t.getTime() <= now; t = cron.nextRun(t)) {
    due = t.getTime();
    if (++missed > MAX_MISSED_SCHEDULES) break;
  }
  if (due === undefined) return done();
  if (missed > MAX_MISSED_SCHEDULES) {
    return done({ skipped: { reason: "TooManyMissedStarts", message: `more than ${MAX_MISSED_SCHEDULES} schedule times were missed: nothing started; set or decrease startingDeadlineSeconds, or check the clock` } });
  }
  const name = runName(input.name, due);
  if (input.runs.some((r) => r.name === name)) return done(); // started already
  if (params.suspend) return done({ skipped: { reason: "Suspended", message: `the run due at ${new Date(due).toISOString()} was not started: the CronJob is suspended` } });
  const active = input.runs.filter((r) => r.phase === "Running");
  if (active.length > 0 && params.concurrencyPolicy === "Forbid") {
    return done({
      skipped: {
        reason: "ConcurrencyForbidden",
        message: `the run due at ${new Date(due).toISOString()} waits: ${active
          .map((r) => r.name)
          .sort()
          .join(", ")} still runs (concurrencyPolicy Forbid)`,
      },
    });
  }
  if (params.concurrencyPolicy === "Replace") for (const r of active) remove.add(r.name);
  return { ...base, start: { name, scheduledAt: due }, lastScheduleTime: due, remove: [...remove].sort() };
}

/** The finished runs beyond the history limits: the oldest go first. */
function historyOverflow(runs: readonly CronRun[], params: CronJobParams): string[] {
  const out: string[] = [];
  for (const [phase, limit] of [
    ["Complete", params.successfulJobsHistoryLimit],
    ["Failed", params.failedJobsHistoryLimit],
  ] as const) {
    const ended = runs.filter((r) => r.phase === phase).sort((a, b) => (b.finishedAt ?? b.scheduledAt) - (a.finishedAt ?? a.scheduledAt) || b.scheduledAt - a.scheduledAt);
    out.push(...ended.slice(limit).map((r) => r.name));
  }
  return out;
}
