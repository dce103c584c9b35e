/**
 * The CronJob controller: CronJob/<ns>/<name> → runs started on its schedule (rollout/cronjob.ts decides; this
 * applies). A run is a Job named `<cronjob>-<scheduled minute>` made from the jobTemplate (cronJobAsJob) and run
 * by the Job controller like a Job from Git: this controller only says which runs exist (runEntry, which the
 * Job controller's desired view consults after Git's) and asks for them to be reconciled (enqueue). What a run
 * did is read back from its own status file (jobs/<ns>/<run>.yaml).
 *
 * - Its own timer: each reconcile returns requeueAfterMs to the next schedule time; a run that reports
 *   wakes it too (sync/operator.ts), so a run that ended frees Forbid's next time and fills the history.
 * - cronjobs/<ns>/<name>.yaml keeps lastScheduleTime, read back after a restart: times missed while the
 *   operator was down are caught up once (the most recent, within startingDeadlineSeconds), as Kubernetes does.
 * - A CronJob is not a workload of its commit's rollout: a failed run fails no commit. Removed runs (Replace,
 *   history limits, the CronJob gone) stop being desired, so the Job controller removes their pods; their
 *   status files go once the pods are gone.
 * - A run in progress follows the jobTemplate as it is in Git now: a changed template restarts it (as a
 *   changed Job does).
 */
import { silentLogger, workloadFields, type Logger } from "../../api/log.js";
import { cronJobAsJob, parseKey, type CronJob } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { cronJobStep, type CronJobParams, type CronRun } from "../../rollout/cronjob.js";
import type { Fleet } from "../../runtime/fleet.js";
import { cronJobPath, readCronJobRecord, renderCronJobRecord, type CronJobRecord, type RecordedCronRun } from "../../status/cronjobs.js";
import { jobPath, readJobRecord } from "../../status/jobs.js";
import type { DesiredEntry, DesiredView } from "../types.js";

/** How often removed runs are looked at until their pods are gone. */
const REMOVING_POLL_MS = 1000;

/** Options of the CronJob controller. */
export interface CronJobControllerOptions {
  desired: Pick<DesiredView, "graph" | "commit" | "ready">;
  fleet: Pick<Fleet, "pods" | "pendingCreates">;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** A status file's text as last written or read back. */
  statusFile(path: string): string | undefined;
  /** Asks for a reconcile of a key (a run's Job/<ns>/<run>). */
  enqueue(key: string): void;
  /** The clock schedules are read on (tests move it). */
  now?: () => number;
  log?: Logger;
}

/** Reconciles CronJob/<ns>/<name>. */
export class CronJobController {
  private readonly now: () => number;

  constructor(private readonly opts: CronJobControllerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * The run `key` (Job/<ns>/<cronjob>-<minute>) as the Job controller drives it: the CronJob's jobTemplate
   * under the run's name, with the graph and commit the CronJob comes from; undefined when no CronJob keeps
   * that run (it is removed then).
   */
  runEntry(key: string): DesiredEntry | undefined {
    const owner = this.ownerOf(key);
    const graph = this.opts.desired.graph();
    const commit = this.opts.desired.commit();
    if (!owner || !graph || commit === undefined) return undefined;
    const cj = graph.get(owner)?.object;
    if (cj?.kind !== "CronJob") return undefined;
    const { namespace = "default", name } = parseKey(key);
    const record = this.record(namespace, cj.metadata.name);
    if (!record?.runs.some((r) => r.name === name)) return undefined;
    return { object: cronJobAsJob(cj, name), graph, commit, paused: false };
  }

  /** The CronJob key a run's Job key would belong to (by its name); undefined for other keys. */
  ownerOf(key: string): string | undefined {
    if (!key.startsWith("Job/")) return undefined;
    const { namespace = "default", name } = parseKey(key);
    const m = /^(.+)-([0-9]+)$/.exec(name);
    return m ? `CronJob/${namespace}/${m[1]}` : undefined;
  }

  /** One reconcile of a CronJob. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const graph = this.opts.desired.graph();
    if (!graph || this.opts.desired.ready?.() === false) return;
    const log = (this.opts.log ?? silentLogger).child(workloadFields(key, this.opts.desired.commit()));
    const { namespace = "default", name } = parseKey(key);
    const path = cronJobPath(namespace, name);
    const before = this.opts.statusFile(path);
    const previous = readCronJobRecord(before ?? "");
    const obj = graph.get(key)?.object;
    const now = this.now();

    if (obj?.kind !== "CronJob") {
      // The CronJob left Git: every run goes, then the record.
      if (!previous) return;
      for (const r of previous.runs) this.opts.enqueue(`Job/${namespace}/${r.name}`);
      const removing = [...new Set([...previous.removing, ...previous.runs.map((r) => r.name)])].sort();
      const left = this.finishRemoving(namespace, removing);
      if (left.length === 0) {
        this.opts.setStatusFile(path, undefined);
        log.info(`${key}: deleted`);
        return;
      }
      this.write(path, before, { ...previous, runs: [], removing: left });
      return { requeueAfterMs: REMOVING_POLL_MS };
    }

    const cj = obj;
    const params = cronJobParams(cj);
    // Each run as its Job's status file says (a run just started has none yet: Running).
    const runs: RecordedCronRun[] = (previous?.runs ?? []).map((r) => {
      const job = readJobRecord(this.opts.statusFile(jobPath(namespace, r.name)) ?? "");
      if (!job || job.phase === "Running") return { name: r.name, scheduledAt: r.scheduledAt, phase: "Running" };
      return { name: r.name, scheduledAt: r.scheduledAt, phase: job.phase, ...(job.completionTime !== undefined ? { finishedAt: job.completionTime } : {}) };
    });
    const createdAt = previous?.createdAt ?? new Date(now).toISOString();
    const lastScheduleTime = previous?.lastScheduleTime !== undefined ? Date.parse(previous.lastScheduleTime) : undefined;
    const step = cronJobStep({
      name,
      params,
      runs: runs.map(toCronRun),
      ...(lastScheduleTime !== undefined ? { lastScheduleTime } : {}),
      createdAt: Date.parse(createdAt),
      now,
    });

    const removed = new Set(step.remove);
    const kept = runs.filter((r) => !removed.has(r.name));
    if (step.start) {
      kept.push({ name: step.start.name, scheduledAt: new Date(step.start.scheduledAt).toISOString(), phase: "Running" });
      log.info(`${key}: started run ${step.start.name} (scheduled ${new Date(step.start.scheduledAt).toISOString()})`);
    }
    if (step.skipped && step.skipped.reason !== previous?.skipped?.reason) log.info(`${key}: ${step.skipped.reason}: ${step.skipped.message}`);
    const removing = this.finishRemoving(namespace, [...new Set([...(previous?.removing ?? []), ...step.remove])].sort());
    const successes = kept.filter((r) => r.phase === "Complete" && r.finishedAt !== undefined).map((r) => r.finishedAt!);
    const lastSuccessfulTime = [previous?.lastSuccessfulTime, ...successes]
      .filter((t): t is string => t !== undefined)
      .sort()
      .pop();
    const record: CronJobRecord = {
      namespace,
      name,
      schedule: params.schedule,
      ...(params.timeZone !== undefined ? { timeZone: params.timeZone } : {}),
      suspend: params.suspend,
      createdAt,
      ...(step.lastScheduleTime !== undefined ? { lastScheduleTime: new Date(step.lastScheduleTime).toISOString() } : {}),
      ...(lastSuccessfulTime !== undefined ? { lastSuccessfulTime } : {}),
      ...(step.nextRunAt !== undefined ? { nextRunAt: new Date(step.nextRunAt).toISOString() } : {}),
      ...(step.skipped ? { skipped: step.skipped } : {}),
      runs: kept.sort((a, b) => (a.scheduledAt < b.scheduledAt ? -1 : a.scheduledAt > b.scheduledAt ? 1 : 0)),
      removing,
    };
    // The record first: the Job controller asks runEntry, which reads it.
    this.write(path, before, record);
    if (step.start) this.opts.enqueue(`Job/${namespace}/${step.start.name}`);
    for (const r of step.remove) this.opts.enqueue(`Job/${namespace}/${r}`);

    const waits = [step.nextRunAt !== undefined ? step.nextRunAt - now : Infinity, removing.length > 0 ? REMOVING_POLL_MS : Infinity];
    const after = Math.min(...waits);
    return Number.isFinite(after) ? { requeueAfterMs: Math.max(10, Math.ceil(after)) } : undefined;
  }

  /** The removed runs whose pods are not all gone yet; the status files of those whose are go. */
  private finishRemoving(namespace: string, names: readonly string[]): string[] {
    const left: string[] = [];
    for (const run of names) {
      const key = `Job/${namespace}/${run}`;
      if (this.opts.fleet.pods(key).length > 0 || this.opts.fleet.pendingCreates(key) > 0) {
        left.push(run);
        this.opts.enqueue(key);
      } else this.opts.setStatusFile(jobPath(namespace, run), undefined);
    }
    return left;
  }

  private record(namespace: string, name: string): CronJobRecord | undefined {
    return readCronJobRecord(this.opts.statusFile(cronJobPath(namespace, name)) ?? "");
  }

  private write(path: string, before: string | undefined, record: CronJobRecord): void {
    const text = renderCronJobRecord(record);
    if (text !== before) this.opts.setStatusFile(path, text);
  }
}

/** A CronJob's spec with Kubernetes' defaults. */
function cronJobParams(cj: CronJob): CronJobParams {
  const s = cj.spec;
  return {
    schedule: s.schedule,
    ...(s.timeZone !== undefined ? { timeZone: s.timeZone } : {}),
    concurrencyPolicy: s.concurrencyPolicy ?? "Allow",
    ...(s.startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds: s.startingDeadlineSeconds } : {}),
    suspend: s.suspend ?? false,
    successfulJobsHistoryLimit: s.successfulJobsHistoryLimit ?? 3,
    failedJobsHistoryLimit: s.failedJobsHistoryLimit ?? 1,
  };
}

function toCronRun(r: RecordedCronRun): CronRun {
  return { name: r.name, scheduledAt: Date.parse(r.scheduledAt), phase: r.phase, ...(r.finishedAt !== undefined ? { finishedAt: Date.parse(r.finishedAt) } : {}) };
}
