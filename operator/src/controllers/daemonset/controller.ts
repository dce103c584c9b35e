/**
 * The DaemonSet controller: one pod of the set on every node that fits it, node by node through a rollout.
 * reconcile(key) re-reads the desired DaemonSet and the observed pods and nodes, asks the pure decision
 * (rollout/daemonset.ts) what to create and remove, removes in the background, creates through the shared
 * PodPlacer with each pod's nodeName set (the scheduler's NodeName filter: the pod fits that node or
 * nowhere, and the scheduler's reason — no room, a host port taken — is what is reported; it preempts only
 * when its priority says so), and reports counts, conditions and events through the WorkloadReporter.
 *
 * The fleet's node changes (a node joins, leaves, becomes ready) requeue every workload (sync's
 * enqueueAll), and so do commits that change Node objects (labels, taints): a node that stops matching
 * loses its pod on the next reconcile. A draining node keeps its pod (the daemon tolerations), as
 * `kubectl drain --ignore-daemonsets` leaves it: nothing here is an eviction, so no PodDisruptionBudget is
 * asked — the set's own removals and updates delete pods directly, as Kubernetes' DaemonSet controller does.
 *
 * Failure detection is the workload controller's (rollout/health.ts): crashes of the new revision's pods,
 * pods that never become ready, and no progress within Kubernetes' default progressDeadlineSeconds (600 s;
 * a DaemonSet has no such field) fail the revision, and the sync rolls the commit back. A revision is
 * stable once complete and healthy for the monitor window; what must survive a restart (stable revision,
 * history, events) is in the status record and read back from it.
 */
import { setCondition, type Condition, type WorkloadEvent } from "../../api/conditions.js";
import type { CoxError } from "../../api/errors.js";
import type { DaemonSet, Secret } from "../../api/objects.js";
import { parseKey } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { resolvePriority } from "../../graph/priority.js";
import { monitorSecondsOf } from "../../manifest/index.js";
import { daemonSetStep, DEFAULT_PROGRESS_DEADLINE_SECONDS, pruneHistory, recordRevision, resolveFailurePolicy, rolloutHealth, withDaemonTolerations } from "../../rollout/index.js";
import type { DaemonSetStep, DaemonStrategy, RevisionRecord, RolloutFailure } from "../../rollout/index.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import { withPlatformLabels } from "../../runtime/platform.js";
import type { WorkloadRecord } from "../../status/types.js";
import type { DesiredView, WorkloadReporter } from "../types.js";
import { uniquePodName } from "../workload/names.js";
import { appendEvents, healthPodsOf, notePodsSeen, recordedPods } from "../workload/observed.js";
import type { PodPlacer } from "../workload/placer.js";
import { planTemplate, type TemplatePlan } from "../workload/template.js";

/** Options of the DaemonSet controller. */
export interface DaemonSetControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  reporter: WorkloadReporter;
  /** Schedules and creates pods (shared by every controller that makes pods). */
  placer: PodPlacer;
  now?: () => number;
}

/** The template plan of a DaemonSet's pods: the template's, with the tolerations Kubernetes' DaemonSet controller adds (not part of the revision). */
export function daemonTemplate(plan: TemplatePlan): TemplatePlan {
  return { ...plan, scheduling: { ...plan.scheduling, tolerations: withDaemonTolerations(plan.scheduling.tolerations) } };
}

/** What the controller remembers per DaemonSet between reconciles (restored from the status record). */
interface Memory {
  revision: string;
  commit: string;
  lastProgressAt: number;
  /** Available pods of the wanted revision at the last reconcile (more is progress). */
  updatedAvailable: number;
  conditions: Condition[];
  events: WorkloadEvent[];
  history: RevisionRecord[];
  stable?: { revision: string; commit: string };
  /** The failure the revision was first reported with, while it keeps failing. */
  failure?: { revision: string; failure: RolloutFailure };
  /** When this process first saw each pod and its restart count then (adopted pods are judged from then). */
  seen: Map<string, { at: number; restarts: number }>;
  lastLine?: string;
}

/** Reconciles DaemonSets into one pod per fitting node. */
export class DaemonSetController {
  private readonly memory = new Map<string, Memory>();
  private readonly now: () => number;
  /** When this controller started: pods created before were found running (adopted). */
  private readonly startedAt: number;

  constructor(private readonly opts: DaemonSetControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** One reconcile of DaemonSet/<ns>/<name>. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { desired, fleet } = this.opts;
    // Nothing applied yet, or the head not read since start: touch nothing.
    if (!desired.graph() || desired.ready?.() === false) return;
    const now = this.now();
    const { namespace = "default", name } = parseKey(key);
    const entry = desired.entry(key);
    if (entry?.object.kind !== "DaemonSet") return this.removeOrphans(key);
    const ds = entry.object;
    const graph = entry.graph;
    const priority = resolvePriority(graph, ds);
    const plan = daemonTemplate(planTemplate(ds, (k) => graph.get(k)?.object, { value: priority.value, preemptionPolicy: priority.preemptionPolicy }));
    const mem = this.memoryOf(key, plan.revision, entry.commit, now);
    const events: Omit<WorkloadEvent, "time">[] = [];
    let requeueAfterMs: number | undefined;
    const requeue = (ms: number) => {
      const v = Math.max(50, Math.ceil(ms));
      requeueAfterMs = requeueAfterMs === undefined ? v : Math.min(requeueAfterMs, v);
    };

    // A pod of the wanted revision that lost a container is removed whole; the decision replaces it.
    for (const pod of fleet.pods(key)) {
      if (pod.phase !== "Terminating" && pod.revision === plan.revision && pod.containers.length < plan.containers.length) {
        events.push({ type: "Warning", reason: "PodBroken", message: `pod ${pod.name} lost a container; replacing it` });
        fleet.deletePod(pod, podGraceSeconds(pod, plan.graceSeconds));
      }
    }
    const pods = fleet.pods(key);
    const strategy: DaemonStrategy = ds.spec.updateStrategy?.type === "OnDelete" ? { type: "OnDelete" } : { type: "RollingUpdate", ...(ds.spec.updateStrategy?.rollingUpdate ?? {}) };
    const minReadySeconds = ds.spec.minReadySeconds ?? 0;
    const step = daemonSetStep({
      nodes: fleet.listNodes().map((n) => ({
        name: n.config.name,
        labels: n.info ? withPlatformLabels(n.config.labels, n.info.platform) : n.config.labels,
        ...(n.config.taints ? { taints: n.config.taints } : {}),
        ready: n.ready && !n.evicted && n.info !== undefined,
      })),
      pods: pods.map((p) => ({
        name: p.name,
        node: p.node,
        revision: p.revision,
        createdAt: p.createdAt,
        ready: p.ready,
        ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
        terminating: p.phase === "Terminating",
        failed: p.phase === "Failed",
      })),
      revision: plan.revision,
      scheduling: plan.scheduling,
      strategy,
      minReadySeconds,
      now,
    });
    if (step.requeueAfterMs !== undefined) requeue(step.requeueAfterMs);

    // Effects: removals in the background, creations awaited (not while a failed rollback keeps it paused).
    let unschedulable: string | undefined;
    const createErrors: CoxError[] = [];
    let created = 0;
    if (!entry.paused && fleet.pendingCreates(key) === 0) {
      for (const r of step.remove) {
        const pod = pods.find((p) => p.name === r.pod);
        if (pod) fleet.deletePod(pod, podGraceSeconds(pod, plan.graceSeconds));
      }
      for (const reason of [...new Set(step.remove.map((r) => r.reason))].sort()) {
        const names = step.remove.filter((r) => r.reason === reason).map((r) => r.pod);
        events.push({ type: "Normal", reason: reason === "Updated" ? "ReplacingPod" : "DeletingPod", message: `${removalWhy[reason]}: removing ${names.join(", ")}` });
      }
      if (step.create.length > 0) {
        const taken = fleet.podNames();
        const toPlace = step.create.map((node) => {
          const { name: podName } = uniquePodName(`${name}-${plan.revision}`, (n) => taken.has(n));
          taken.add(podName);
          return { name: podName, plan, nodeName: node };
        });
        const out = await this.opts.placer.place({ owner: key, namespace, commit: entry.commit, pods: toPlace, secret: (k) => graph.get(k)?.object as Secret | undefined });
        events.push(...out.events);
        createErrors.push(...out.errors);
        created = out.events.filter((e) => e.reason === "Created").length;
        unschedulable = out.unschedulable;
        if (out.requeueAfterMs !== undefined) requeue(out.requeueAfterMs);
        else if (out.errors.length > 0) requeue(1_000);
      }
    } else if (fleet.pendingCreates(key) > 0) requeue(500);

    // Progress: a pod removed or created, one more of the wanted revision available, or complete.
    if (step.remove.length > 0 || created > 0 || step.updatedAvailable > mem.updatedAvailable || step.complete) mem.lastProgressAt = now;
    mem.updatedAvailable = step.updatedAvailable;
    const failure = this.health(ds, plan, step, pods, mem, now, entry.paused, events, requeue);
    this.summarize({ key, namespace, name, ds, plan, step, mem, now, events, failure, unschedulable, createErrors, paused: entry.paused, commit: entry.commit });
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** The DaemonSet is gone from Git: its pods are stopped; once none is left, its record goes. */
  private removeOrphans(key: string): void {
    if (this.opts.desired.graph()?.has(key)) return; // held back by the coordinated rollout: not orphans
    const pods = this.opts.fleet.pods(key);
    for (const p of pods) if (p.phase !== "Terminating") this.opts.fleet.deletePod(p, podGraceSeconds(p));
    if (pods.length === 0 && this.opts.fleet.pendingCreates(key) === 0) {
      const known = this.memory.delete(key);
      this.opts.placer.forget(key);
      this.opts.reporter.removed(key);
      if (known) this.opts.reporter.log(key).info(`${key}: deleted`);
    }
  }

  /**
   * Failure detection of the revision while it is not stable (rollout/health.ts, as for Deployments), and
   * the revision becoming stable. A stable revision that is incomplete again (a node joined, a pod lost) is
   * held to the progress deadline only.
   */
  private health(
    ds: DaemonSet,
    plan: TemplatePlan,
    step: DaemonSetStep,
    pods: readonly ObservedPod[],
    mem: Memory,
    now: number,
    paused: boolean,
    events: Omit<WorkloadEvent, "time">[],
    requeue: (ms: number) => void,
  ): RolloutFailure | undefined {
    const proving = mem.stable?.revision !== plan.revision;
    if (!proving && step.complete) {
      delete mem.failure;
      return undefined;
    }
    notePodsSeen(mem.seen, pods, this.startedAt, now);
    const monitor = monitorSecondsOf(ds);
    const updated = proving ? pods.filter((p) => p.revision === plan.revision && p.phase !== "Terminating") : [];
    const health = rolloutHealth({
      now,
      lastProgressAt: mem.lastProgressAt,
      replicas: Math.max(1, step.counts.desiredNumberScheduled),
      complete: step.complete,
      paused,
      policy: resolveFailurePolicy({ progressDeadlineSeconds: DEFAULT_PROGRESS_DEADLINE_SECONDS }, monitor === undefined ? {} : { monitorSeconds: monitor }),
      pods: healthPodsOf(updated, mem.seen),
    });
    if (health.requeueAfterMs !== undefined) requeue(health.requeueAfterMs);
    let failure = health.failure;
    // While the revision keeps failing it keeps the failure it was first reported with.
    if (failure && mem.failure?.revision === plan.revision) failure = mem.failure.failure;
    else if (failure) mem.failure = { revision: plan.revision, failure };
    else delete mem.failure;
    if (proving && health.stable && !paused) {
      mem.stable = { revision: plan.revision, commit: mem.commit };
      mem.history = pruneHistory(mem.history, ds.spec.revisionHistoryLimit ?? 10, [...new Set(pods.map((p) => p.revision)), plan.revision]).kept;
      events.push({ type: "Normal", reason: "Stable", message: `revision ${plan.revision} completed and stayed healthy` });
    }
    return failure;
  }

  /** Counts, conditions and events → the status record and the sync's verdict. */
  private summarize(c: {
    key: string;
    namespace: string;
    name: string;
    ds: DaemonSet;
    plan: TemplatePlan;
    step: DaemonSetStep;
    mem: Memory;
    now: number;
    events: Omit<WorkloadEvent, "time">[];
    failure: RolloutFailure | undefined;
    unschedulable: string | undefined;
    createErrors: CoxError[];
    paused: boolean;
    commit: string;
  }): void {
    const { key, plan, step, mem, failure } = c;
    const counts = step.counts;
    const now = new Date(c.now);
    const stable = mem.stable?.revision === plan.revision;
    let conditions = setCondition(
      mem.conditions,
      counts.numberUnavailable <= step.maxUnavailable
        ? { type: "Available", status: "True", reason: "MinimumNodesAvailable", message: `${counts.numberAvailable} of ${counts.desiredNumberScheduled} node(s) have an available pod.` }
        : { type: "Available", status: "False", reason: "MinimumNodesUnavailable", message: `${counts.numberAvailable} of ${counts.desiredNumberScheduled} node(s) have an available pod.` },
      now,
    );
    const progressing: Omit<Condition, "lastTransitionTime"> = c.paused
      ? { type: "Progressing", status: "Unknown", reason: "DaemonSetPaused", message: "paused: a rollback failed; push a new commit" }
      : failure
        ? { type: "Progressing", status: "False", reason: failure.code, message: failure.message }
        : step.complete
          ? { type: "Progressing", status: "True", reason: "NewRevisionAvailable", message: `revision ${plan.revision} has successfully progressed.` }
          : { type: "Progressing", status: "True", reason: "RevisionUpdated", message: `revision ${plan.revision} is progressing.` };
    conditions = setCondition(conditions, progressing, now);
    if (failure && !mem.conditions.some((x) => x.type === "Progressing" && x.reason === failure.code)) c.events.push({ type: "Warning", reason: failure.code, message: failure.message });
    mem.conditions = conditions;
    appendEvents(mem.events, c.events, now);
    const live = this.opts.fleet.pods(key).filter((p) => p.phase !== "Terminating");
    const record: WorkloadRecord = {
      kind: "DaemonSet",
      namespace: c.namespace,
      name: c.name,
      revision: plan.revision,
      commit: mem.commit,
      replicas: { desired: counts.desiredNumberScheduled, current: counts.currentNumberScheduled, updated: counts.updatedNumberScheduled, ready: counts.numberReady, available: counts.numberAvailable },
      daemonSet: { ...counts, nodes: step.nodes },
      pods: recordedPods(live, (node) => this.opts.fleet.nodeConfig(node)?.address),
      conditions,
      events: [...mem.events],
      strategy: c.ds.spec.updateStrategy?.type ?? "RollingUpdate",
      ...(mem.stable ? { stable: mem.stable } : {}),
      revisions: mem.history.map((h) => ({ number: h.revision, revision: h.hash, commit: h.commit })),
      ...(c.paused ? { paused: true } : {}),
    };
    const complete = step.complete && stable;
    const failed = failure !== undefined;
    const problem = c.unschedulable ?? (c.createErrors[0] ? `cannot create pods: ${c.createErrors[0].code}: ${c.createErrors[0].message}` : undefined);
    const line = `${key} revision ${plan.revision}: ${counts.updatedNumberScheduled}/${counts.desiredNumberScheduled} node(s) updated, ${counts.numberReady} ready, ${counts.numberAvailable} available${
      complete
        ? " — complete"
        : failed
          ? ` — ${failure.code}: ${failure.message}`
          : step.complete
            ? " — complete, watching it stay healthy"
            : problem
              ? ` — ${problem}`
              : step.waiting.length > 0
                ? ` — waiting for node(s) ${step.waiting.join(", ")} to answer`
                : ""
    }`;
    if (line !== mem.lastLine) {
      mem.lastLine = line;
      this.opts.reporter.log(key)[failed ? "warn" : "info"](line);
    }
    this.opts.reporter.report(record, {
      key,
      revision: plan.revision,
      commit: mem.commit,
      complete,
      rolledOut: step.complete && !failed,
      failed,
      ...(failed ? { failureCode: failure.code } : {}),
      message: failed ? `${key}: ${failure.message}` : line,
    });
  }

  /** The memory of a DaemonSet: restored from its status record the first time, updated per revision. */
  private memoryOf(key: string, revision: string, commit: string, now: number): Memory {
    let mem = this.memory.get(key);
    if (!mem) {
      const rec = this.opts.reporter.previousRecord?.(key);
      mem = {
        revision: rec?.revision ?? revision,
        commit: rec?.commit ?? commit,
        lastProgressAt: now,
        updatedAvailable: 0,
        conditions: rec?.conditions ? [...rec.conditions] : [],
        events: rec?.events ? [...rec.events] : this.opts.reporter.previousEvents(key),
        history: (rec?.revisions ?? []).map((r) => ({ revision: r.number, hash: r.revision, commit: r.commit })),
        seen: new Map(),
        ...(rec?.stable ? { stable: { ...rec.stable } } : {}),
      };
      this.memory.set(key, mem);
    }
    if (mem.revision !== revision || mem.history[mem.history.length - 1]?.hash !== revision) {
      // A new rollout starts: the progress clock restarts and the revision (re-)enters the history.
      if (mem.revision !== revision) {
        mem.revision = revision;
        mem.lastProgressAt = now;
        mem.updatedAvailable = 0;
      }
      mem.history = recordRevision(mem.history, revision, commit);
    }
    mem.commit = commit;
    return mem;
  }
}

/** Why pods are removed, for events. */
const removalWhy: Readonly<Record<DaemonSetStep["remove"][number]["reason"], string>> = {
  Duplicate: "more than one pod on a node",
  Failed: "failed pod(s)",
  Misscheduled: "node(s) no longer fit the pod (nodeSelector, node affinity or a NoExecute taint)",
  NodeGone: "node(s) left the fleet",
  Updated: "rolling update",
};
