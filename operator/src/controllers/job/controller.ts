/**
 * The Job controller: Job/<ns>/<name> → pods that run to completion (rollout/job.ts decides; this applies),
 * created through the shared PodPlacer, and the Job's status: jobs/<ns>/<name>.yaml (status/jobs.ts) and its
 * workload record, whose state gates the coordinated rollout (sync/gate.ts): a Job is done when Complete and
 * has failed when Failed, so sync waves and coxswain.io/depends-on make what needs it wait for it, and a Job
 * that the commit changed and that fails fails the commit (sync/branch-sync.ts counts changed workloads only).
 *
 * - A run is one pod template: its revision (controllers/workload/template.ts) labels the pods. A Job whose
 *   template changes in Git starts a new run (Kubernetes forbids the change; here it is how a Job is run
 *   again): the earlier run's pods are removed. Other spec fields (parallelism, backoffLimit, …) apply to
 *   the run in progress.
 * - Ended pods are kept on their node (they hold no resources: runtime/fleet.ts) until ttlSecondsAfterFinished
 *   after the Job ended, or until the Job leaves Git: their exits are the durable record of the run, so an
 *   operator restart reruns no pod that succeeded. The status file keeps the start time (for
 *   activeDeadlineSeconds) and that the run ended, also after ttlSecondsAfterFinished removed its pods.
 * - A failed pod's exit code and the end of its log go to the status file, with the values its environment
 *   took from Secrets cut out (runtime/env.ts redactEnv).
 * - A running pod on a draining node is evicted, as `kubectl drain` evicts it: only while the
 *   PodDisruptionBudgets over it allow (disruption/budgets.ts admitDrainMoves, with no await before the
 *   deletion; a held eviction is a DrainBlocked condition, a DisruptionBudget event and the node's drain-wait
 *   line). The evicted pod counts as failed, as Kubernetes counts a pod with the DisruptionTarget condition
 *   when the Job has no podFailurePolicy (toward backoffLimit, and the back-off before its replacement);
 *   the status file's `evicted` list keeps it, since the pod is gone. Its replacement is scheduled elsewhere
 *   (a draining node is cordoned). Ended pods stay where they are: they hold nothing, and are the run's record.
 */
import { setCondition, type Condition, type WorkloadEvent } from "../../api/conditions.js";
import { toCoxError, type CoxError } from "../../api/errors.js";
import { parseKey, type Job, type Secret } from "../../api/objects.js";
import { resolvePriority } from "../../graph/priority.js";
import { redactEnv } from "../../runtime/env.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import { LABELS } from "../../runtime/labels.js";
import type { LogTail } from "../../runtime/log-tail.js";
import { jobStep, type JobParams, type JobPod, type JobStep } from "../../rollout/job.js";
import { formatIndexes, jobPath, MAX_RECORDED_FAILURES, readJobRecord, renderJobRecord, type JobRecord, type RecordedJobFailure } from "../../status/jobs.js";
import type { WorkloadRecord } from "../../status/types.js";
import type { ReconcileResult } from "../../engine/queue.js";
import type { DesiredView, WorkloadReporter } from "../types.js";
import { admitDrainMoves } from "../disruption/budgets.js";
import type { DrainWaits } from "../disruption/drain-waits.js";
import { uniquePodName } from "../workload/names.js";
import type { PodPlacer } from "../workload/placer.js";
import { planTemplate, type TemplatePlan } from "../workload/template.js";

/** How much of a failed pod's log its Job's status file keeps. */
const JOB_LOG_TAIL: LogTail = Object.freeze({ lines: 20, bytes: 2048 });

/** Events kept per Job (as for workloads). */
const MAX_EVENTS = 20;

/** Options of the Job controller. */
export interface JobControllerOptions {
  desired: DesiredView;
  fleet: Pick<Fleet, "pods" | "deletePod" | "pendingCreates" | "podNames" | "runtimeOf" | "listNodes">;
  placer: Pick<PodPlacer, "place" | "forget">;
  reporter: WorkloadReporter;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** A status file's text as last written or read back. */
  statusFile(path: string): string | undefined;
  now?: () => number;
  /** Where an eviction held by a PodDisruptionBudget is told, per node (the summary shows it). */
  drainWaits?: DrainWaits;
}

/** What the controller remembers of a Job between reconciles (rebuilt from the status branch after a restart). */
interface Memory {
  conditions: Condition[];
  events: WorkloadEvent[];
  /** Failed pods already read (their log is read once). */
  failures: Map<string, RecordedJobFailure>;
}

/** Reconciles Job/<ns>/<name>. */
export class JobController {
  private readonly now: () => number;
  private readonly memory = new Map<string, Memory>();

  constructor(private readonly opts: JobControllerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** One reconcile of a Job. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { desired, fleet } = this.opts;
    if (!desired.graph() || desired.ready?.() === false) return;
    const { namespace = "default", name } = parseKey(key);
    const pods = fleet.pods(key);
    const entry = desired.entry(key);
    if (entry?.object.kind !== "Job") return this.removeJob(key, namespace, name, pods);
    const job = entry.object;
    const graph = entry.graph;
    const priority = resolvePriority(graph, job);
    const plan = planTemplate(job, (k) => graph.get(k)?.object, { value: priority.value, preemptionPolicy: priority.preemptionPolicy });
    const now = this.now();
    const path = jobPath(namespace, name);
    const previous = readJobRecord(this.opts.statusFile(path) ?? "");
    const mem = this.memoryOf(key, previous);
    const events: Omit<WorkloadEvent, "time">[] = [];

    // Pods of an earlier run (another template) go: a changed Job is a new run.
    for (const p of pods) {
      if (p.revision !== plan.revision && p.phase !== "Terminating") {
        fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
        events.push({ type: "Normal", reason: "SuccessfulDelete", message: `deleted pod ${p.name} of an earlier run (revision ${p.revision})` });
      }
    }
    const run = pods.filter((p) => p.revision === plan.revision);
    const sameRun = previous?.revision === plan.revision ? previous : undefined;
    if (!sameRun) mem.failures.clear();
    const params = jobParams(job);
    const startTime = sameRun ? Date.parse(sameRun.startTime) : run.length > 0 ? Math.min(...run.map((p) => p.createdAt)) : now;

    const evicted = [...(sameRun?.evicted ?? [])];
    const draining = new Set(
      fleet
        .listNodes()
        .filter((n) => n.config.drain)
        .map((n) => n.config.name),
    );
    let step: JobStep;
    if (sameRun && sameRun.phase !== "Running") {
      // The run ended: it is not decided again (its pods may be gone after ttlSecondsAfterFinished).
      step = ended(sameRun);
    } else {
      step = jobStep({
        params,
        pods: run.map(toJobPod),
        evicted: evicted.map((e) => ({ name: e.pod, ...(e.index !== undefined ? { index: e.index } : {}), at: Date.parse(e.at) })),
        draining: run.filter((p) => draining.has(p.node)).map((p) => p.name),
        startTime,
        now,
      });
    }
    let requeueAfterMs = step.nextCheckAt !== undefined ? Math.max(10, step.nextCheckAt - now) : undefined;
    for (const name of step.remove) {
      const p = run.find((x) => x.name === name);
      if (p && p.phase !== "Terminating") fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
    }
    // A drain's evictions: asked of the budgets, and deleted with no await in between.
    let drainWait = "";
    if (step.evict.length > 0 && !entry.paused) {
      const admitted = admitDrainMoves({
        graph: desired.graph(),
        fleetPods: fleet.pods(),
        pods: run,
        remove: step.evict,
        evictions: step.evict,
        ...(this.opts.reporter.previousRecord ? { records: (k: string) => this.opts.reporter.previousRecord!(k) } : {}),
      });
      for (const podName of admitted.allowed) {
        const p = run.find((x) => x.name === podName)!;
        fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
        const index = toJobPod(p).index;
        evicted.push({ pod: p.name, ...(index !== undefined ? { index } : {}), node: p.node, at: new Date(now).toISOString() });
        events.push({ type: "Warning", reason: "Evicted", message: `pod ${p.name} evicted from draining node ${p.node} (DisruptionTarget): it counts as failed toward backoffLimit ${params.backoffLimit}` });
      }
      if (admitted.allowed.length > 0) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, 100); // the next step counts them and replaces them
      this.opts.drainWaits?.set(key, admitted.blocked);
      drainWait = [...admitted.blocked.values()].join("; ");
      if (drainWait) events.push({ type: "Warning", reason: "DisruptionBudget", message: drainWait });
    } else this.opts.drainWaits?.set(key, new Map());
    const failures = await this.readFailures(key, mem, run, plan);

    let createErrors: CoxError[] = [];
    if (step.create.length > 0 && !entry.paused) {
      const taken = fleet.podNames();
      const toPlace = step.create.map((c) => {
        const prefix = c.index === undefined ? name : `${name}-${c.index}`;
        const podName = uniquePodName(prefix, (n) => taken.has(n)).name;
        taken.add(podName);
        const podPlan: TemplatePlan = c.index === undefined ? plan : { ...plan, completionIndex: c.index };
        return { name: podName, plan: podPlan };
      });
      const outcome = await this.opts.placer.place({
        owner: key,
        namespace,
        commit: entry.commit,
        pods: toPlace,
        secret: (k) => graph.get(k)?.object as Secret | undefined,
      });
      events.push(...outcome.events);
      createErrors = outcome.errors;
      if (outcome.requeueAfterMs !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, outcome.requeueAfterMs);
    }

    // ttlSecondsAfterFinished: the ended run's pods go, once; the record stays.
    const condition = step.condition;
    const endedAt = condition.type === "Running" ? undefined : condition.at;
    let podsRemovedAt = sameRun?.podsRemovedAt;
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (endedAt !== undefined && ttl !== undefined) {
      const due = endedAt + ttl * 1000;
      if (now >= due) {
        const left = fleet.pods(key).filter((p) => p.phase !== "Terminating");
        for (const p of left) fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
        if (podsRemovedAt === undefined) {
          podsRemovedAt = new Date(now).toISOString();
          events.push({ type: "Normal", reason: "TTLExpired", message: `removed the Job's ${left.length} pod(s): ttlSecondsAfterFinished ${ttl} passed` });
        }
      } else requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, due - now);
    }

    const record: JobRecord = {
      namespace,
      name,
      revision: plan.revision,
      commit: sameRun?.commit ?? entry.commit,
      phase: condition.type,
      ...(condition.type === "Failed" ? { reason: condition.reason } : {}),
      message: condition.type === "Failed" ? condition.message : condition.type === "Complete" ? `${step.succeeded}/${params.completions} completions` : runningMessage(step, params, createErrors),
      completions: params.completions,
      parallelism: params.parallelism,
      succeeded: step.succeeded,
      failed: Math.max(step.failed, sameRun?.failed ?? 0),
      active: step.active,
      ...(step.completedIndexes !== undefined ? { completedIndexes: formatIndexes(step.completedIndexes) } : {}),
      startTime: new Date(startTime).toISOString(),
      ...(endedAt !== undefined ? { completionTime: new Date(endedAt).toISOString() } : {}),
      ...(podsRemovedAt !== undefined ? { podsRemovedAt } : {}),
      failures: failures.length > 0 ? failures : (sameRun?.failures ?? []),
      ...(evicted.length > 0 ? { evicted } : {}),
    };
    if (sameRun && sameRun.phase !== "Running") {
      // Counts as they were when the run ended: its pods may be gone since.
      Object.assign(record, { succeeded: sameRun.succeeded, failed: sameRun.failed, active: 0, ...(sameRun.completedIndexes !== undefined ? { completedIndexes: sameRun.completedIndexes } : {}) });
    }
    if (condition.type !== "Running" && sameRun?.phase === "Running") {
      events.push(condition.type === "Complete" ? { type: "Normal", reason: "Completed", message: "Job completed" } : { type: "Warning", reason: condition.reason, message: condition.message });
    }
    this.opts.setStatusFile(path, renderJobRecord(record));
    this.report(key, job, plan, record, mem, events, now, entry.commit, drainWait);
    const retry = createErrors.find((e) => e.retry !== "stalled");
    if (retry) throw retry;
    return requeueAfterMs !== undefined && Number.isFinite(requeueAfterMs) ? { requeueAfterMs: Math.ceil(requeueAfterMs) } : undefined;
  }

  /** The Job left Git (or is held back by the gate): its pods go, then its records. A failed run's status file stays. */
  private async removeJob(key: string, namespace: string, name: string, pods: ObservedPod[]): Promise<void> {
    if (this.opts.desired.graph()?.has(key)) return; // desired, held back by the coordinated rollout
    this.opts.drainWaits?.set(key, new Map());
    for (const p of pods) if (p.phase !== "Terminating") this.opts.fleet.deletePod(p, podGraceSeconds(p));
    if (pods.length > 0 || this.opts.fleet.pendingCreates(key) > 0) return;
    const path = jobPath(namespace, name);
    const last = readJobRecord(this.opts.statusFile(path) ?? "");
    // The record of a failed run is what tells why (exit codes, logs) after the commit that failed was rolled back.
    if (last && last.phase !== "Failed") this.opts.setStatusFile(path, undefined);
    const known = this.memory.delete(key);
    this.opts.placer.forget(key);
    this.opts.reporter.removed(key);
    if (known) this.opts.reporter.log(key).info(`${key}: deleted`);
  }

  private memoryOf(key: string, previous: JobRecord | undefined): Memory {
    let mem = this.memory.get(key);
    if (!mem) {
      const rec = this.opts.reporter.previousRecord?.(key);
      mem = {
        conditions: [...(rec?.conditions ?? [])],
        events: this.opts.reporter.previousEvents(key),
        failures: new Map((previous?.failures ?? []).map((f) => [f.pod, f])),
      };
      this.memory.set(key, mem);
    }
    return mem;
  }

  /**
   * The failed pods of the run with their exit code and log tail (read once per pod), the latest
   * MAX_RECORDED_FAILURES, oldest first. With restartPolicy OnFailure a pod's containers fail and restart
   * in place: the latest non-zero exit of a running pod is read too.
   */
  private async readFailures(key: string, mem: Memory, run: readonly ObservedPod[], plan: TemplatePlan): Promise<RecordedJobFailure[]> {
    const secretEnv: Record<string, string> = {};
    for (const c of plan.containers) for (const e of c.env) if ("secret" in e && e.secret) secretEnv[e.name] = e.value;
    const secretNames = Object.keys(secretEnv).sort();
    for (const p of run) {
      const failed = p.containers.filter((c) => (c.state === "exited" || c.state === "dead") && c.exitCode !== undefined && c.exitCode !== 0).sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))[0];
      if (!failed) continue;
      if (mem.failures.has(p.name) && mem.failures.get(p.name)!.finishedAt === iso(failed.finishedAt)) continue;
      let log = "";
      try {
        log = (await this.opts.fleet.runtimeOf(p.node)?.logs?.(failed.id, JOB_LOG_TAIL)) ?? "";
      } catch (err) {
        log = `(the log could not be read: ${toCoxError(err).code})`;
      }
      const index = p.containers[0]?.labels[LABELS.completionIndex];
      mem.failures.set(p.name, {
        pod: p.name,
        ...(index !== undefined ? { index: Number(index) } : {}),
        container: failed.labels[LABELS.container] ?? failed.runtimeName,
        exitCode: failed.exitCode!,
        ...(failed.finishedAt !== undefined ? { finishedAt: iso(failed.finishedAt)! } : {}),
        log: redactEnv(log, secretEnv, secretNames),
      });
      this.opts.reporter.log(key).warn(`job pod ${p.name}: container ${failed.labels[LABELS.container] ?? failed.runtimeName} exited ${failed.exitCode}`);
    }
    return [...mem.failures.values()].sort((a, b) => ((a.finishedAt ?? "") < (b.finishedAt ?? "") ? -1 : (a.finishedAt ?? "") > (b.finishedAt ?? "") ? 1 : a.pod < b.pod ? -1 : 1)).slice(-MAX_RECORDED_FAILURES);
  }

  /** The Job's workload record (conditions Complete/Failed as Kubernetes sets them) and its state for the gate. */
  private report(key: string, job: Job, plan: TemplatePlan, r: JobRecord, mem: Memory, events: Omit<WorkloadEvent, "time">[], now: number, commit: string, drainWait: string): void {
    const at = new Date(now);
    let conditions = mem.conditions;
    if (r.phase === "Complete") conditions = setCondition(conditions, { type: "Complete", status: "True", reason: "Completed", message: r.message }, at);
    else if (r.phase === "Failed") conditions = setCondition(conditions, { type: "Failed", status: "True", reason: r.reason ?? "Failed", message: r.message }, at);
    else conditions = conditions.filter((c) => c.type !== "Complete" && c.type !== "Failed");
    // An eviction held by a PodDisruptionBudget: which budget (as for Deployments and StatefulSets).
    if (drainWait) conditions = setCondition(conditions, { type: "DrainBlocked", status: "True", reason: "DisruptionBudget", message: drainWait }, at);
    else conditions = conditions.filter((c) => c.type !== "DrainBlocked");
    mem.conditions = conditions;
    for (const e of events) {
      const last = mem.events[mem.events.length - 1];
      if (last && last.reason === e.reason && last.message === e.message) continue;
      mem.events.push({ time: at.toISOString(), ...e });
    }
    if (mem.events.length > MAX_EVENTS) mem.events.splice(0, mem.events.length - MAX_EVENTS);
    const pods = this.opts.fleet.pods(key).filter((p) => p.revision === plan.revision);
    const record: WorkloadRecord = {
      kind: "Job",
      namespace: r.namespace,
      name: r.name,
      revision: plan.revision,
      commit: r.commit,
      replicas: { desired: r.completions, current: r.active, updated: r.succeeded + r.active, ready: pods.filter((p) => p.ready).length, available: r.succeeded },
      pods: pods.map((p) => ({
        name: p.name,
        node: p.node,
        revision: p.revision,
        ready: p.ready,
        endpoints: [],
        ...(p.restartCount > 0 ? { restarts: p.restartCount } : {}),
        ...(p.phase === "Succeeded" || p.phase === "Failed" ? { state: p.phase } : !p.ready && p.reason ? { state: p.reason } : {}),
      })),
      conditions,
      events: [...mem.events],
      job: {
        phase: r.phase,
        completions: `${r.succeeded}/${r.completions}`,
        active: r.active,
        failed: r.failed,
        startTime: r.startTime,
        ...(r.completionTime !== undefined ? { completionTime: r.completionTime } : {}),
      },
    };
    const failureCode = r.phase === "Failed" ? (r.reason ?? "BackoffLimitExceeded") : undefined;
    this.opts.reporter.report(record, {
      key,
      revision: plan.revision,
      commit,
      complete: r.phase === "Complete",
      rolledOut: r.phase === "Complete",
      failed: r.phase === "Failed",
      ...(failureCode ? { failureCode } : {}),
      message: `${key} (${job.spec.completionMode ?? "NonIndexed"}) revision ${plan.revision}: ${r.phase}, ${r.succeeded}/${r.completions} succeeded, ${r.active} active, ${r.failed} failed${r.phase === "Running" ? "" : ` — ${r.message}`}`,
    });
  }
}

/** A Job's spec with Kubernetes' defaults. */
function jobParams(job: Job): JobParams {
  const s = job.spec;
  return {
    completions: s.completions ?? 1,
    parallelism: s.parallelism ?? 1,
    backoffLimit: s.backoffLimit ?? 6,
    ...(s.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: s.activeDeadlineSeconds } : {}),
    completionMode: s.completionMode ?? "NonIndexed",
    restartPolicy: s.template.spec.restartPolicy === "OnFailure" ? "OnFailure" : "Never",
  };
}

/** An observed pod as the decision sees it. */
function toJobPod(p: ObservedPod): JobPod {
  const index = p.containers[0]?.labels[LABELS.completionIndex];
  const finished = p.containers.map((c) => c.finishedAt ?? 0).reduce((a, b) => Math.max(a, b), 0);
  return {
    name: p.name,
    phase: p.phase,
    ...(index !== undefined && /^[0-9]+$/.test(index) ? { index: Number(index) } : {}),
    restartCount: p.restartCount,
    createdAt: p.createdAt,
    ...((p.phase === "Succeeded" || p.phase === "Failed") && finished > 0 ? { finishedAt: finished } : {}),
  };
}

/** The step of a run that ended as recorded: nothing to create, the active pods (if any came back) removed by the caller's ttl. */
function ended(r: JobRecord): JobStep {
  const at = Date.parse(r.completionTime ?? r.startTime);
  const condition: JobStep["condition"] =
    r.phase === "Complete" ? { type: "Complete", at } : { type: "Failed", reason: r.reason === "DeadlineExceeded" ? "DeadlineExceeded" : "BackoffLimitExceeded", at, message: r.message };
  return { condition, succeeded: r.succeeded, failed: r.failed, active: 0, create: [], remove: [], evict: [] };
}

/** One line while the run goes on. */
function runningMessage(step: JobStep, params: JobParams, errors: readonly CoxError[]): string {
  const parts = [`${step.succeeded}/${params.completions} completions, ${step.active} active`];
  if (step.backoffUntil !== undefined) parts.push(`next pod after the back-off, at ${new Date(step.backoffUntil).toISOString()}`);
  if (errors[0]) parts.push(`cannot create pods: ${errors[0].code}: ${errors[0].message}`);
  return parts.join("; ");
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
