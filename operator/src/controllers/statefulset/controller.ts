/**
 * The StatefulSet controller. reconcile(key) re-reads the set (DesiredView.entry) and its observed pods,
 * asks rollout/statefulset.ts for the step, applies it, and reports:
 *
 *   1. observe   the set, its template plan (the update revision), its pods by ordinal, what was remembered
 *   2. orphans   the set is gone from Git → stop every pod, report removal (the claims stay: Kubernetes' Retain)
 *   3. decide    statefulSetStep (ordinals to create, pods to delete) and failure detection (rollout/health.ts)
 *   4. apply     deletions in the background — a drain's move only while the PodDisruptionBudgets over it
 *                allow (disruption/budgets.ts admitDrainMoves); creations one batch through the shared
 *                PodPlacer, each pod named <set>-<ordinal> with the plan of its ordinal (its own claims,
 *                template.ts planOrdinal)
 *   5. report    counts, conditions, events → the status record and the sync's verdict (WorkloadReporter),
 *                so a failing revision is rolled back and its commit quarantined as for Deployments
 *
 * Pod names are the identity: a pod that still exists (also on a node that stopped answering, until the
 * fleet's eviction timeout declares it lost) holds its ordinal, so there is never a second pod of one
 * ordinal. A claim is bound to the node of its first pod (the scheduler's VolumeBinding), so the pod of an
 * ordinal always comes back where its data is.
 *
 * While a HorizontalPodAutoscaler targets the set, its count (ReplicaCountPort) replaces spec.replicas
 * everywhere here: the step creates and removes ordinals by the set's own rules (OrderedReady one at a time,
 * Parallel at once; the highest ordinal goes first), and the record's desired count is the autoscaler's.
 *
 * What must survive a restart is in the status record (revision history, stable and current revision);
 * the pods are adopted by name.
 */
import { setCondition, type Condition, type WorkloadEvent } from "../../api/conditions.js";
import type { CoxError } from "../../api/errors.js";
import { parseKey, type Secret, type StatefulSet } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { resolvePriority } from "../../graph/priority.js";
import { monitorSecondsOf } from "../../manifest/index.js";
import { statefulClaimNames } from "../../manifest/statefulset.js";
import { DEFAULT_PROGRESS_DEADLINE_SECONDS, pruneHistory, recordRevision, resolveFailurePolicy, rolloutHealth, statefulSetStep } from "../../rollout/index.js";
import type { StatefulSetStep } from "../../rollout/statefulset.js";
import type { RevisionRecord, RolloutFailure, RolloutHealth } from "../../rollout/types.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import type { RecordedPod, WorkloadRecord } from "../../status/types.js";
import { admitDrainMoves } from "../disruption/budgets.js";
import type { DrainWaits } from "../disruption/drain-waits.js";
import { healthPodsOf, notePodsSeen } from "../workload/observed.js";
import type { PodPlacer } from "../workload/placer.js";
import type { ReferenceLookup } from "../workload/env.js";
import type { PodPriority, TemplatePlan } from "../workload/template.js";
import type { DesiredEntry, DesiredView, ReplicaCountPort, WorkloadReporter } from "../types.js";
import { planOrdinal } from "./template.js";

/** Options of the StatefulSet controller. */
export interface StatefulSetControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  reporter: WorkloadReporter;
  /** Schedules and creates pods (shared by every controller that makes pods). */
  placer: PodPlacer;
  now?: () => number;
  /** Where a drain held by a PodDisruptionBudget is told, per node (the summary shows it). */
  drainWaits?: DrainWaits;
  /** The counts autoscalers set, which replace spec.replicas while one targets the set. */
  replicas?: ReplicaCountPort;
}

const MAX_EVENTS = 20;

/** What the controller remembers per set between reconciles (restored from the status record). */
interface Memory {
  revision: string;
  commit: string;
  lastProgressAt: number;
  conditions: Condition[];
  events: WorkloadEvent[];
  history: RevisionRecord[];
  /** The last revision that completed and stayed healthy (the rollback target). */
  stable?: { revision: string; commit: string };
  /** The revision every pod had when the set was last complete: what ordinals below the partition keep. */
  current?: string;
  rolledOut?: string;
  failure?: { revision: string; failure: RolloutFailure };
  /** When this process first saw each pod and its restart count then (adopted pods are judged from then). */
  seen: Map<string, { at: number; restarts: number }>;
  lastLine?: string;
}

/** Reconciles StatefulSet/<ns>/<name> into pods <name>-<ordinal>. */
export class StatefulSetController {
  private readonly memory = new Map<string, Memory>();
  private readonly now: () => number;
  /** Pods created before this are adopted, not created by this process. */
  private readonly startedAt: number;

  constructor(private readonly opts: StatefulSetControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** One reconcile of StatefulSet/<ns>/<name>. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { desired, fleet } = this.opts;
    if (!desired.graph() || desired.ready?.() === false) return;
    const { name } = parseKey(key);
    const now = this.now();
    const pods = fleet.pods(key);
    const entry = desired.entry(key);
    if (entry?.object.kind !== "StatefulSet") return this.orphans(key, pods);
    // An autoscaler's count replaces spec.replicas (controllers/autoscaler).
    const scaled = this.opts.replicas?.replicas(key);
    const set: StatefulSet = scaled === undefined ? entry.object : { ...entry.object, spec: { ...entry.object.spec, replicas: scaled } };
    const graph = entry.graph;
    const priority = resolvePriority(graph, set);
    const refs = (k: string) => graph.get(k)?.object;
    const plan = planOrdinal(set, refs, priority, 0);
    const mem = this.memoryOf(key, entry, plan.revision, now);
    const events: Omit<WorkloadEvent, "time">[] = [];
    let requeueAfterMs: number | undefined;
    const requeue = (ms: number) => {
      const v = Math.max(50, Math.ceil(ms));
      requeueAfterMs = requeueAfterMs === undefined ? v : Math.min(requeueAfterMs, v);
    };

    // A pod of the wanted revision that lost a container is removed whole; the step creates it again.
    for (const p of pods) {
      if (p.phase !== "Terminating" && p.revision === plan.revision && p.containers.length < plan.containers.length) {
        events.push({ type: "Warning", reason: "PodBroken", message: `pod ${p.name} lost a container; replacing it` });
        fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
      }
    }
    const live = fleet.pods(key);
    const strategy = set.spec.updateStrategy?.type ?? "RollingUpdate";
    const draining = new Set(
      fleet
        .listNodes()
        .filter((n) => n.config.drain)
        .map((n) => n.config.name),
    );
    const step = statefulSetStep({
      name,
      replicas: set.spec.replicas ?? 1,
      podManagementPolicy: set.spec.podManagementPolicy ?? "OrderedReady",
      updateStrategy: strategy,
      partition: set.spec.updateStrategy?.rollingUpdate?.partition ?? 0,
      updateRevision: plan.revision,
      ...(mem.current !== undefined ? { currentRevision: mem.current } : {}),
      minReadySeconds: set.spec.minReadySeconds ?? 0,
      now,
      draining: live.filter((p) => draining.has(p.node)).map((p) => p.name),
      pods: live.map((p) => ({
        name: p.name,
        revision: p.revision,
        terminating: p.phase === "Terminating",
        ready: p.ready && p.phase === "Running",
        ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
      })),
    });
    if (step.requeueAfterMs !== undefined) requeue(step.requeueAfterMs);
    const stopping = live.some((p) => p.phase === "Terminating");
    if (step.progressed || step.complete || stopping) mem.lastProgressAt = now;
    if (step.complete && live.every((p) => p.revision === plan.revision)) mem.current = plan.revision;

    const health = this.health(set, mem, plan, live, step, now);
    if (health.requeueAfterMs !== undefined) requeue(health.requeueAfterMs);

    // Apply: deletions in the background (the fleet stops them), creations awaited.
    const createErrors: CoxError[] = [];
    let unschedulable: string | undefined;
    let drainBlocked = new Map<string, string>();
    if (!entry.paused) {
      // The drain's move is a voluntary eviction: asked of the budgets and deleted with no await in between.
      const admitted = admitDrainMoves({
        graph: desired.graph(),
        fleetPods: fleet.pods(),
        pods: live,
        remove: step.delete,
        evictions: step.evict !== undefined ? [step.evict] : [],
        ...(this.opts.reporter.previousRecord ? { records: (k: string) => this.opts.reporter.previousRecord!(k) } : {}),
      });
      drainBlocked = admitted.blocked;
      for (const podName of admitted.allowed) {
        const p = live.find((x) => x.name === podName);
        if (p) fleet.deletePod(p, podGraceSeconds(p, plan.graceSeconds));
      }
      if (admitted.allowed.length > 0) events.push({ type: "Normal", reason: "SuccessfulDelete", message: `delete Pod ${admitted.allowed.join(", ")} in StatefulSet ${name}` });
      const out = await this.create(key, set, entry, step, mem, events, requeue, refs, priority);
      createErrors.push(...out.errors);
      unschedulable = out.unschedulable;
    }
    this.opts.drainWaits?.set(key, drainBlocked);
    if (!step.complete && requeueAfterMs === undefined) requeue(1_000);

    this.report(key, set, mem, plan, step, health, { events, createErrors, ...(unschedulable !== undefined ? { unschedulable } : {}), paused: entry.paused, drainBlocked }, now);
    const retry = createErrors.find((e) => e.retry !== "stalled");
    if (retry) throw retry;
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** The set is gone from Git: its pods go (its claims stay, as Kubernetes retains them). */
  private orphans(key: string, pods: readonly ObservedPod[]): void {
    if (this.opts.desired.graph()?.has(key)) return; // held back by the coordinated rollout
    this.opts.drainWaits?.set(key, new Map());
    for (const p of pods) if (p.phase !== "Terminating") this.opts.fleet.deletePod(p, podGraceSeconds(p));
    if (pods.length === 0 && this.opts.fleet.pendingCreates(key) === 0) {
      const known = this.memory.delete(key);
      this.opts.placer.forget(key);
      this.opts.reporter.removed(key);
      if (known) this.opts.reporter.log(key).info(`${key}: deleted`);
    }
  }

  /** Creates the step's ordinals through the placer, each with its revision's plan and its own claims. */
  private async create(
    key: string,
    set: StatefulSet,
    entry: DesiredEntry,
    step: StatefulSetStep,
    mem: Memory,
    events: Omit<WorkloadEvent, "time">[],
    requeue: (ms: number) => void,
    refs: ReferenceLookup,
    priority: PodPriority,
  ): Promise<{ errors: CoxError[]; unschedulable?: string }> {
    const fleet = this.opts.fleet;
    if (step.create.length === 0) return { errors: [] };
    if (fleet.pendingCreates(key) > 0) return { errors: [] }; // a creation is in flight: never make a pod twice
    const unknown = fleet.unknownNodes();
    if (unknown.length > 0) {
      // A node that has not answered since the start may hold a pod of these ordinals.
      events.push({ type: "Normal", reason: "WaitingForNodes", message: `not creating pods until ${unknown.join(", ")} answer(s) or are evicted` });
      requeue(1_000);
      return { errors: [] };
    }
    const taken = fleet.podNames();
    const pods: { name: string; plan: TemplatePlan; subdomain?: string }[] = [];
    let commit = entry.commit;
    for (const c of step.create) {
      // A name still held (a pod stopping, or on a node that is lost but not yet evicted) waits: one pod per ordinal.
      if (taken.has(c.name)) continue;
      let plan = planOrdinal(set, refs, priority, c.ordinal);
      if (c.revision !== plan.revision) {
        const old = await this.templateAt(key, mem, c.revision, c.ordinal);
        if (old) {
          plan = old.plan;
          commit = old.commit;
        } else events.push({ type: "Warning", reason: "RevisionUnavailable", message: `pod ${c.name}: the template of revision ${c.revision} is not in the history; creating it with revision ${plan.revision}` });
      }
      // The pod's own names under the set's headless Service (on bridge nodes: the placer decides).
      pods.push({ name: c.name, plan, ...(set.spec.serviceName ? { subdomain: set.spec.serviceName } : {}) });
    }
    if (pods.length === 0) return { errors: [] };
    const out = await this.opts.placer.place({ owner: key, namespace: set.metadata.namespace ?? "default", commit, pods, secret: (k) => entry.graph.get(k)?.object as Secret | undefined });
    events.push(...out.events);
    if (out.requeueAfterMs !== undefined) requeue(out.requeueAfterMs);
    return { errors: out.errors, ...(out.unschedulable !== undefined ? { unschedulable: out.unschedulable } : {}) };
  }

  /** The plan of an older revision for `ordinal`, rebuilt from the commit that last made it current. */
  private async templateAt(key: string, mem: Memory, revision: string, ordinal: number): Promise<{ plan: TemplatePlan; commit: string } | undefined> {
    const h = mem.history.find((r) => r.hash === revision);
    if (!h || !this.opts.desired.objectAt) return undefined;
    const at = await this.opts.desired.objectAt(h.commit, key);
    if (at?.object.kind !== "StatefulSet") return undefined;
    const graph = at.graph;
    const plan = planOrdinal(at.object, (k) => graph.get(k)?.object, resolvePriority(graph, at.object), ordinal);
    return plan.revision === revision ? { plan, commit: h.commit } : undefined;
  }

  /** Failure detection of the revision being rolled out, until it is stable (as for Deployments). */
  private health(set: StatefulSet, mem: Memory, plan: TemplatePlan, pods: readonly ObservedPod[], step: StatefulSetStep, now: number): RolloutHealth {
    const proving = mem.stable?.revision !== plan.revision;
    if (!proving && step.complete) return { stable: true, crashedPods: [] };
    const updated = proving ? pods.filter((p) => p.revision === plan.revision && p.phase !== "Terminating") : [];
    notePodsSeen(mem.seen, pods, this.startedAt, now);
    const monitor = monitorSecondsOf(set);
    let health = rolloutHealth({
      now,
      lastProgressAt: mem.lastProgressAt,
      replicas: set.spec.replicas ?? 1,
      complete: step.complete,
      policy: resolveFailurePolicy({ progressDeadlineSeconds: DEFAULT_PROGRESS_DEADLINE_SECONDS }, monitor === undefined ? {} : { monitorSeconds: monitor }),
      pods: healthPodsOf(updated, mem.seen),
    });
    // A revision that keeps failing keeps the failure it was first reported with.
    if (health.failure && mem.failure?.revision === plan.revision) health = { ...health, failure: mem.failure.failure };
    else if (health.failure) mem.failure = { revision: plan.revision, failure: health.failure };
    else delete mem.failure;
    if (proving && step.complete && !health.failure) mem.rolledOut = plan.revision;
    else delete mem.rolledOut;
    if (proving && health.stable) {
      mem.stable = { revision: plan.revision, commit: mem.commit };
      mem.history = pruneHistory(mem.history, set.spec.revisionHistoryLimit ?? 10, [...new Set(pods.map((p) => p.revision)), plan.revision, ...(mem.current !== undefined ? [mem.current] : [])]).kept;
      mem.events.push({ time: new Date(now).toISOString(), type: "Normal", reason: "Stable", message: `revision ${plan.revision} completed and stayed healthy` });
    }
    return health;
  }

  /** Conditions, events, the record and the sync's verdict. */
  private report(
    key: string,
    set: StatefulSet,
    mem: Memory,
    plan: TemplatePlan,
    step: StatefulSetStep,
    health: RolloutHealth,
    x: { events: Omit<WorkloadEvent, "time">[]; createErrors: CoxError[]; unschedulable?: string; paused: boolean; drainBlocked: ReadonlyMap<string, string> },
    nowMs: number,
  ): void {
    const now = new Date(nowMs);
    const replicas = set.spec.replicas ?? 1;
    const failure = health.failure;
    let conditions = setCondition(
      mem.conditions,
      step.counts.available >= replicas
        ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Workload has minimum availability." }
        : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Workload does not have minimum availability." },
      now,
    );
    conditions = setCondition(
      conditions,
      x.paused
        ? { type: "Progressing", status: "Unknown", reason: "DeploymentPaused", message: "paused: a rollback failed; push a new commit" }
        : failure
          ? { type: "Progressing", status: "False", reason: failure.code, message: failure.message }
          : step.complete
            ? { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `revision ${plan.revision} has successfully progressed.` }
            : { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `revision ${plan.revision} is progressing.` },
      now,
    );
    if (x.unschedulable || x.createErrors.length > 0) {
      const message = x.unschedulable ?? `${x.createErrors[0]!.code}: ${x.createErrors[0]!.message}`;
      conditions = setCondition(conditions, { type: "ReplicaFailure", status: "True", reason: x.unschedulable ? "FailedScheduling" : "FailedCreate", message }, now);
    } else conditions = conditions.filter((c) => c.type !== "ReplicaFailure");
    // A drain held by a PodDisruptionBudget: which budget, in a condition and an event (as for Deployments).
    const drainWait = [...x.drainBlocked.values()].join("; ");
    if (drainWait) {
      conditions = setCondition(conditions, { type: "DrainBlocked", status: "True", reason: "DisruptionBudget", message: drainWait }, now);
      x.events.push({ type: "Warning", reason: "DisruptionBudget", message: drainWait });
    } else conditions = conditions.filter((c) => c.type !== "DrainBlocked");
    if (failure && !mem.conditions.some((c) => c.type === "Progressing" && c.reason === failure.code)) x.events.push({ type: "Warning", reason: failure.code, message: failure.message });
    mem.conditions = conditions;
    for (const e of x.events) {
      const last = mem.events[mem.events.length - 1];
      if (last && last.reason === e.reason && last.message === e.message) continue;
      mem.events.push({ time: now.toISOString(), ...e });
    }
    if (mem.events.length > MAX_EVENTS) mem.events.splice(0, mem.events.length - MAX_EVENTS);

    const pods = this.opts.fleet.pods(key).filter((p) => p.phase !== "Terminating");
    const recorded: RecordedPod[] = pods.map((p) => ({
      name: p.name,
      node: p.node,
      revision: p.revision,
      ready: p.ready,
      endpoints: p.ports.map((port) => `${port.name ?? String(port.containerPort)}=${this.opts.fleet.nodeConfig(p.node)?.address ?? "?"}:${port.hostPort}`).sort(),
      ...(p.restartCount > 0 ? { restarts: p.restartCount } : {}),
      ...(!p.ready && p.reason ? { state: p.reason } : {}),
    }));
    const strategy = set.spec.updateStrategy?.type ?? "RollingUpdate";
    const record: WorkloadRecord = {
      kind: "StatefulSet",
      namespace: set.metadata.namespace ?? "default",
      name: set.metadata.name,
      revision: plan.revision,
      commit: mem.commit,
      replicas: { desired: replicas, current: step.counts.replicas, updated: step.counts.updated, ready: step.counts.ready, available: step.counts.available },
      pods: recorded,
      conditions,
      events: [...mem.events],
      strategy,
      ...(mem.stable ? { stable: mem.stable } : {}),
      revisions: mem.history.map((h) => ({ number: h.revision, revision: h.hash, commit: h.commit })),
      ...(x.paused ? { paused: true } : {}),
      statefulSet: {
        podManagementPolicy: set.spec.podManagementPolicy ?? "OrderedReady",
        ...(strategy === "RollingUpdate" ? { partition: set.spec.updateStrategy?.rollingUpdate?.partition ?? 0 } : {}),
        ...(mem.current !== undefined ? { currentRevision: mem.current } : {}),
        ...(set.spec.serviceName ? { serviceName: set.spec.serviceName } : {}),
        claims: Array.from({ length: replicas }, (_, o) => statefulClaimNames(set, o))
          .flat()
          .sort(),
      },
    };
    const complete = step.complete && mem.stable?.revision === plan.revision;
    const failed = failure !== undefined;
    const line = `${key} revision ${plan.revision}: ${step.counts.updated}/${replicas} updated, ${step.counts.ready} ready, ${step.counts.available} available${
      complete
        ? " — complete"
        : failed
          ? ` — ${failure.code}: ${failure.message}`
          : step.complete
            ? " — complete, watching it stay healthy"
            : x.unschedulable
              ? ` — ${x.unschedulable}`
              : x.createErrors[0]
                ? ` — cannot create pods: ${x.createErrors[0].code}: ${x.createErrors[0].message}`
                : drainWait
                  ? ` — ${drainWait}`
                  : step.reason
                    ? ` — ${step.reason}`
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
      rolledOut: complete || (!failed && mem.rolledOut === plan.revision),
      failed,
      ...(failed ? { failureCode: failure.code } : {}),
      message: failed ? `${key}: ${failure.message}` : line,
    });
  }

  /** The memory of a set: restored from its status record the first time, updated per revision. */
  private memoryOf(key: string, entry: DesiredEntry, revision: string, now: number): Memory {
    let mem = this.memory.get(key);
    if (!mem) {
      const rec = this.opts.reporter.previousRecord?.(key);
      mem = {
        revision: rec?.revision ?? revision,
        commit: rec?.commit ?? entry.commit,
        lastProgressAt: now,
        conditions: rec?.conditions ? [...rec.conditions] : [],
        events: rec?.events ? [...rec.events] : this.opts.reporter.previousEvents(key),
        history: (rec?.revisions ?? []).map((r) => ({ revision: r.number, hash: r.revision, commit: r.commit })),
        seen: new Map(),
        ...(rec?.stable ? { stable: { ...rec.stable } } : {}),
        ...(rec?.statefulSet?.currentRevision !== undefined ? { current: rec.statefulSet.currentRevision } : {}),
      };
      this.memory.set(key, mem);
    }
    if (mem.revision !== revision) {
      // A new rollout: the revision that completed and was healthy at its last look is the rollback target.
      if (mem.rolledOut === mem.revision && mem.stable?.revision !== mem.revision) mem.stable = { revision: mem.revision, commit: mem.commit };
      delete mem.rolledOut;
      mem.revision = revision;
      mem.lastProgressAt = now;
    }
    if (mem.history.at(-1)?.hash !== revision) mem.history = recordRevision(mem.history, revision, entry.commit);
    mem.commit = entry.commit;
    return mem;
  }
}
