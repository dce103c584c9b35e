/**
 * The workload controller: Deployments (RollingUpdate, Recreate), Rollouts (canary, blue/green),
 * ReplicaSets and ReplicationControllers (rollout/replicaset.ts: replicas kept, no rollout) and bare Pods
 * (rollout/pod.ts: its own name, scheduled once, replaced when its spec changes; a Pod is read through its
 * template view, api/objects.ts podView).
 * reconcile(key) re-reads the desired object (DesiredView.entry) and the observed pods (the fleet), then
 * runs an ordered list of small steps and one summarizer:
 *
 *   1. observe        desired object, template plan, strategy parameters, pods, what was remembered
 *   2. removeOrphans  the workload is gone from Git → stop every pod, report removal
 *   3. repairPods     a pod that lost a container (removed behind our back) is removed; the strategy replaces it
 *   4. decide         the strategy's pure step (rollout/), or a drain move, plus failure detection
 *   5. apply          removals in the background, creations scheduled (with preemption) and awaited
 *   6. summarize      counts, conditions, strategy state, events → status record and the sync's verdict (summary.ts)
 *
 * What a reconcile knows while its steps run (Ctx) and what the controller remembers between reconciles
 * (Memory) are in context.ts.
 *
 * Containers that crash are restarted in place by the fleet's kubelet; this controller only sees their
 * restart counts and crash loops (failure detection).
 *
 * A Rollout's traffic (its Services: which revision each serves, a canary's share of requests) is decided
 * here and told to the service controller through RolloutTrafficPort; what every node's proxy runs comes
 * back the same way, and a canary's setWeight step waits for it (rollout/canary.ts).
 *
 * Guarantees: level-based (a crash at any point is repaired by the next reconcile); placements are
 * reserved synchronously, so two decisions never place the same pod twice; what must survive a restart
 * (revision history, stable revision, canary/blue-green state) is written to the status branch and read
 * back from it; the rest (progress clock, desired sizes) is rebuilt safely from the pods.
 */
import type { Rollout, Secret, Service, TemplateOwner } from "../../api/objects.js";
import { parseKey, templateOwnerOf } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import type { DesiredGraph } from "../../graph/index.js";
import { monitorSecondsOf } from "../../manifest/index.js";
import { isScaleTarget } from "../../manifest/autoscaler.js";
import { resolvePriority } from "../../graph/priority.js";
import {
  blueGreenStep,
  canaryStep,
  describeWindow,
  nextStep,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  parsePromote,
  pruneHistory,
  recordRevision,
  resolveBlueGreenParams,
  resolveCanaryParams,
  resolveFailurePolicy,
  resolveRollingParams,
  rolloutHealth,
  sameSizes,
} from "../../rollout/index.js";
import type { CanaryInput, CanaryStatus, HealthPod, PlannedStep, Promote, RolloutHealth, RolloutPod, Waiting } from "../../rollout/types.js";
import type { PodStep } from "../../rollout/index.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import { LABELS } from "../../runtime/labels.js";
import { rolloutServiceRoles } from "../../traffic/rollouts.js";
import { toRolloutServices, toServiceSpec } from "../../traffic/spec.js";
import type { ServiceRole } from "../../traffic/types.js";
import { admitDrainMoves } from "../disruption/budgets.js";
import type { DrainWaits } from "../disruption/drain-waits.js";
import { analysisFromRecord, CanaryAnalyses, revisionGroups, type RequestSubscription } from "./analysis.js";
import { uniquePodName } from "./names.js";
import { notePodsSeen } from "./observed.js";
import type { PodPlacer } from "./placer.js";
import { decideReplicas } from "./replicas.js";
import { planTemplate, type TemplatePlan } from "./template.js";
import type { DesiredView, ReplicaCountPort, RolloutTrafficPort, WorkloadReporter } from "../types.js";
import type { Ctx, Memory } from "./context.js";
import { summarize } from "./summary.js";

/** Options of the workload controller. */
export interface WorkloadControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  reporter: WorkloadReporter;
  now?: () => number;
  /** Schedules and creates pods (shared by every controller that makes pods). */
  placer: PodPlacer;
  /** Where Rollouts' traffic is told to the service controller and read back; without it, no step waits for a proxy. */
  traffic?: RolloutTrafficPort;
  /** The counts autoscalers set, which replace spec.replicas while one targets the workload. */
  replicas?: ReplicaCountPort;
  /** The node proxies' request logs, which canary analysis steps measure (none: every analysis window has no request). */
  requests?: RequestSubscription;
  /** Where a drain held by a PodDisruptionBudget is told, per node (the summary shows it). */
  drainWaits?: DrainWaits;
}

const PROMOTE_ANNOTATION = "coxswain.io/promote";

/** What this controller drives (it is registered for these kinds in sync/operator.ts); DaemonSets, StatefulSets and Jobs have controllers of their own. */
type Driven = Extract<TemplateOwner, { kind: "Deployment" | "Pod" | "ReplicaSet" | "ReplicationController" | "Rollout" }>;

function isDriven(owner: TemplateOwner): owner is Driven {
  return owner.kind === "Deployment" || owner.kind === "Pod" || owner.kind === "ReplicaSet" || owner.kind === "ReplicationController" || owner.kind === "Rollout";
}

/** The workload's coxswain.io/monitor-seconds as a failure-policy override (none: the default). */
function monitorOverride(w: TemplateOwner): { monitorSeconds?: number } {
  const m = monitorSecondsOf(w);
  return m === undefined ? {} : { monitorSeconds: m };
}

function ms(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** Reconciles Deployments, Rollouts, ReplicaSets, ReplicationControllers and bare Pods into pods on the fleet. */
export class WorkloadController {
  private readonly memory = new Map<string, Memory>();
  private readonly analyses: CanaryAnalyses;
  private readonly now: () => number;
  private readonly steps: ((ctx: Ctx) => Promise<void>)[];
  /** When this controller started: pods created before were found running (adopted), not created by it. */
  private readonly startedAt: number;

  constructor(private readonly opts: WorkloadControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.analyses = new CanaryAnalyses(opts.requests);
    this.steps = [(c) => this.observe(c), (c) => this.removeOrphans(c), (c) => this.repairPods(c), (c) => this.decide(c), (c) => this.apply(c)];
  }

  /** One reconcile of a workload or a bare Pod, by key (Deployment/<ns>/<name>, Pod/<ns>/<name>, …). */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { kind, namespace, name } = parseKey(key);
    const ctx: Ctx = {
      key,
      kind: kind as TemplateOwner["kind"],
      now: this.now(),
      namespace: namespace ?? "default",
      name,
      commit: "",
      paused: false,
      pods: [],
      draining: [],
      createErrors: [],
      events: [],
      done: false,
    };
    for (const step of this.steps) {
      await step(ctx);
      if (ctx.done) break;
    }
    if (ctx.workload) summarize(this.opts, ctx);
    // A pod that could not be created for a passing reason is retried with the engine's backoff. One whose
    // error needs a fix (stalled) is not retried at once, but the workload is still looked at when its
    // deadline passes (requeueAfterMs): the rollout must fail and be rolled back. The error is in the
    // ReplicaFailure condition, the events and the progress line.
    const retry = ctx.createErrors.find((e) => e.retry !== "stalled");
    if (retry) throw retry;
    return ctx.requeueAfterMs !== undefined ? { requeueAfterMs: ctx.requeueAfterMs } : undefined;
  }

  // ------------------------------------------------------------------ steps

  private async observe(ctx: Ctx): Promise<void> {
    if (!this.opts.desired.graph() || this.opts.desired.ready?.() === false) {
      // Nothing applied yet (no valid commit), or the head not read since start: touch nothing.
      ctx.done = true;
      return;
    }
    ctx.pods = this.opts.fleet.pods(ctx.key);
    const entry = this.opts.desired.entry(ctx.key);
    const owner = entry ? templateOwnerOf(entry.object) : undefined;
    if (!entry || !owner || !isDriven(owner)) return;
    // An autoscaler's count replaces spec.replicas (controllers/autoscaler; of the kinds here, all but a bare Pod).
    const scaled = isScaleTarget(owner) ? this.opts.replicas?.replicas(ctx.key) : undefined;
    const w = scaled === undefined ? owner : ({ ...owner, spec: { ...owner.spec, replicas: scaled } } as typeof owner);
    const graph = entry.graph;
    ctx.workload = w;
    ctx.graph = graph;
    ctx.commit = entry.commit;
    ctx.paused = entry.paused;
    const priority = resolvePriority(graph, w);
    ctx.plan = planTemplate(w, (k) => graph.get(k)?.object, { value: priority.value, preemptionPolicy: priority.preemptionPolicy });
    if (w.kind === "Deployment") {
      ctx.params = resolveRollingParams(w.spec);
      ctx.strategy = ctx.params.strategy ?? "RollingUpdate";
    } else if (w.kind !== "Rollout") {
      // ReplicaSet, ReplicationController, Pod: no rollout; a new template's pods held to the Deployment's default deadline.
      const replicas = w.kind === "Pod" ? 1 : (w.spec.replicas ?? 1);
      const minReadySeconds = w.kind === "Pod" ? 0 : (w.spec.minReadySeconds ?? 0);
      ctx.params = { replicas, maxSurge: 0, maxUnavailable: 0, minReadySeconds, progressDeadlineSeconds: DEFAULT_PROGRESS_DEADLINE_SECONDS };
      ctx.strategy = w.kind === "Pod" ? "Pod" : "ReplicaSet";
    } else if (w.spec.strategy?.canary) {
      const r = resolveCanaryParams(w.spec);
      ctx.params = r.params;
      ctx.steps = r.steps;
      ctx.strategy = "Canary";
      ctx.trafficRouting = w.spec.strategy.canary.trafficRouting !== undefined;
    } else {
      const r = resolveBlueGreenParams(w.spec);
      ctx.params = r.params;
      ctx.blueGreen = r.blueGreen;
      ctx.strategy = "BlueGreen";
    }
    if (w.kind === "Rollout") ctx.services = servicesOf(ctx.key, graph);
    ctx.mem = this.memoryOf(ctx);
  }

  private async removeOrphans(ctx: Ctx): Promise<void> {
    if (ctx.workload) return;
    if (this.opts.desired.graph()?.has(ctx.key)) {
      // Desired, but held back by the coordinated rollout (not released yet): its pods are not orphans.
      ctx.done = true;
      return;
    }
    if (ctx.kind === "Rollout") this.opts.traffic?.want(ctx.key, undefined);
    this.opts.drainWaits?.set(ctx.key, new Map());
    for (const p of ctx.pods) if (p.phase !== "Terminating") this.opts.fleet.deletePod(p, podGraceSeconds(p));
    this.analyses.stop(ctx.key);
    if (ctx.pods.length === 0 && this.opts.fleet.pendingCreates(ctx.key) === 0) {
      const known = this.memory.delete(ctx.key);
      this.opts.placer.forget(ctx.key);
      this.opts.reporter.removed(ctx.key);
      if (known) this.opts.reporter.log(ctx.key).info(`${ctx.key}: deleted`);
    }
    ctx.done = true;
  }

  /** A pod of the wanted revision that lost a container is removed whole; the strategy replaces it. */
  private async repairPods(ctx: Ctx): Promise<void> {
    const plan = ctx.plan!;
    for (const pod of ctx.pods) {
      if (pod.phase === "Terminating" || pod.revision !== plan.revision) continue;
      if (pod.containers.length < plan.containers.length) {
        ctx.events.push({ type: "Warning", reason: "PodBroken", message: `pod ${pod.name} lost a container; replacing it` });
        this.opts.fleet.deletePod(pod, podGraceSeconds(pod, plan.graceSeconds));
      }
    }
    ctx.pods = this.opts.fleet.pods(ctx.key);
  }

  /** The strategy's next step (or a drain move), and failure detection for the revision rolling out. */
  private async decide(ctx: Ctx): Promise<void> {
    const plan = ctx.plan!;
    const params = ctx.params!;
    const mem = ctx.mem!;
    const drainingNodes = new Set(
      this.opts.fleet
        .listNodes()
        .filter((n) => n.config.drain)
        .map((n) => n.config.name),
    );
    ctx.draining = ctx.pods.filter((p) => drainingNodes.has(p.node) && p.phase !== "Terminating").map((p) => p.name);
    const pods: RolloutPod[] = ctx.pods.map((p) => ({
      name: p.name,
      revision: p.revision,
      createdAt: p.createdAt,
      terminating: p.phase === "Terminating",
      failed: false,
      ready: p.ready,
      ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
    }));
    // Pods being created right now exist for the decision: never create them twice.
    for (let i = 0; i < this.opts.fleet.pendingCreates(ctx.key); i++) {
      pods.push({ name: `(creating-${i})`, revision: plan.revision, createdAt: ctx.now, terminating: false, failed: false, ready: false });
    }
    const revisionOrder = mem.history.map((h) => h.hash);
    const common = { params: { ...params, paused: ctx.paused || params.paused === true }, revision: plan.revision, now: ctx.now, lastProgressAt: mem.lastProgressAt, revisionOrder };
    const promote = this.promote(ctx);
    let step: PlannedStep & { waiting?: Waiting } & Pick<PodStep, "lost" | "ended">;
    if (ctx.strategy === "ReplicaSet" || ctx.strategy === "Pod") {
      const d = decideReplicas({ strategy: ctx.strategy, plan, params, observed: ctx.pods, pods, draining: ctx.draining, now: ctx.now, mem, fleet: this.opts.fleet });
      ctx.events.push(...d.events);
      if (d.nodeName !== undefined) ctx.nodeName = d.nodeName;
      step = d.step;
    } else if (ctx.draining.length > 0) {
      // Drain: the pods on a draining node count as an older revision, so the rolling rules move them —
      // new pods first (within maxSurge, off the cordoned node), old ones removed while availability holds.
      const moved = pods.map((p) => (ctx.draining.includes(p.name) ? { ...p, revision: `${p.revision}~drain` } : p));
      const surge = ctx.strategy === "Recreate" || ctx.strategy === "BlueGreen" ? Math.max(1, params.maxSurge) : params.maxSurge;
      step = nextStep({ ...common, params: { ...common.params, strategy: "RollingUpdate", maxSurge: surge, maxUnavailable: surge === 0 && params.maxUnavailable === 0 ? 1 : params.maxUnavailable }, pods: moved });
      delete mem.sizes;
    } else if (ctx.strategy === "Canary") {
      // Services carry the split: a setWeight step waits until every proxy sends its weight for this revision.
      const split = this.opts.traffic !== undefined && ctx.services!.some((s) => s.role === "split");
      const applied = this.opts.traffic?.applied(ctx.key);
      const stableNow = mem.stable?.revision ?? plan.revision;
      const appliedWeight = applied?.strategy === "canary" && applied.canary === plan.revision && applied.stable === stableNow ? applied.weight : undefined;
      const analysis = this.measureAnalysis(ctx, mem.canary);
      const r = canaryStep({
        ...common,
        steps: ctx.steps!,
        ...(mem.stable ? { stable: mem.stable.revision } : {}),
        pods,
        ...(mem.sizes ? { sizes: mem.sizes } : {}),
        ...(mem.canary && mem.canary.revision === plan.revision ? { status: mem.canary } : {}),
        ...(promote !== undefined ? { promote } : {}),
        paused: common.params.paused,
        trafficRouting: ctx.trafficRouting === true,
        ...(split ? { traffic: appliedWeight === undefined ? {} : { appliedWeight } } : {}),
        ...(analysis !== undefined ? { analysis } : {}),
      });
      mem.traffic = { strategy: "canary", stable: r.stable ?? plan.revision, canary: plan.revision, weight: r.trafficWeight };
      mem.canary = { ...r.status, ...(mem.canary?.promoteBaseline !== undefined && mem.canary.revision === plan.revision ? { promoteBaseline: mem.canary.promoteBaseline } : {}) };
      // A step just entered may be an analysis: it collects from now on.
      this.measureAnalysis(ctx, r.status);
      mem.weight = r.weight;
      step = r;
    } else if (ctx.strategy === "BlueGreen") {
      const active = mem.blueGreen?.active ?? mem.stable?.revision;
      const r = blueGreenStep({
        ...common,
        blueGreen: ctx.blueGreen!,
        ...(active ? { active } : {}),
        pods,
        ...(mem.sizes ? { sizes: mem.sizes } : {}),
        ...(mem.blueGreen?.status && mem.blueGreen.status.revision === plan.revision ? { status: mem.blueGreen.status } : {}),
        ...(promote !== undefined ? { promote } : {}),
        paused: common.params.paused,
      });
      const bg = (mem.blueGreen ??= {});
      if (r.promoted) {
        bg.promotedAt = ctx.now;
        ctx.events.push({ type: "Normal", reason: "Promoted", message: `revision ${plan.revision} is active` });
      }
      if (r.active) bg.active = r.active;
      bg.status = r.status;
      // Before the first switch the wanted revision is the only one: the active Services serve it.
      mem.traffic = { strategy: "blueGreen", active: bg.active ?? plan.revision, ...(bg.active !== undefined && bg.active !== plan.revision ? { preview: plan.revision } : {}) };
      step = r;
    } else {
      step = nextStep({ ...common, pods, ...(mem.sizes ? { sizes: mem.sizes } : {}) });
    }
    if (ctx.strategy !== "Canary" || ctx.draining.length > 0) this.analyses.stop(ctx.key);
    ctx.step = step;
    if (mem.traffic !== undefined) this.opts.traffic?.want(ctx.key, mem.traffic);
    // Sizes that changed while no pod is created or removed (a revision scaled down whose pods were never
    // made): nothing in the fleet changes to bring the next step, so look again at once — as a ReplicaSet's
    // own update brings Kubernetes' Deployment controller back. Sizes converge, so this ends.
    if (ctx.draining.length === 0 && step.create === 0 && step.remove.length === 0 && !sameSizes(mem.sizes, step.sizes)) this.requeue(ctx, 1);
    if (ctx.draining.length === 0) mem.sizes = step.sizes;
    mem.waiting = step.waiting;
    // A complete workload is not late: if it stops being complete (a pod lost), the deadline counts from then.
    // Waiting for pods to stop is progress (the step says so while they stop); the reconcile that sees the
    // last of them gone is too, so the pods created after the wait get the whole deadline.
    const stopping = ctx.pods.some((p) => p.phase === "Terminating");
    if (step.progressed || step.complete || (mem.sawStopping && !stopping)) mem.lastProgressAt = ctx.now;
    mem.sawStopping = stopping;
    if (step.requeueAfterMs !== undefined) this.requeue(ctx, step.requeueAfterMs);

    // Failure detection runs until the revision is stable. A stable revision that is not complete (a
    // rollback to it, pods replaced after a node loss) is held to its progress deadline only: its pods were
    // proven before, and crashes of a proven revision are the kubelet's business.
    const proving = mem.stable?.revision !== plan.revision;
    if (proving || !step.complete) {
      const updated = proving ? ctx.pods.filter((p) => p.revision === plan.revision && p.phase !== "Terminating") : [];
      notePodsSeen(mem.seen, ctx.pods, this.startedAt, ctx.now);
      const seen = mem.seen;
      const healthPods: HealthPod[] = updated.map((p) => {
        const since = seen.get(p.name)!;
        return {
          name: p.name,
          createdAt: Math.max(p.createdAt, since.at),
          ready: p.ready,
          ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
          ...(p.firstReadyAt !== undefined ? { firstReadyAt: p.firstReadyAt } : {}),
          restartCount: Math.max(0, p.restartCount - since.restarts),
          crashLooping: p.crashLooping,
        };
      });
      ctx.health = step.ended
        ? endedHealth(step.ended, proving, updated, healthPods)
        : rolloutHealth({
            now: ctx.now,
            lastProgressAt: mem.lastProgressAt,
            replicas: params.replicas,
            complete: step.complete,
            paused: common.params.paused || step.waiting !== undefined,
            policy: resolveFailurePolicy(params, monitorOverride(ctx.workload!)),
            pods: healthPods,
          });
      if (ctx.health.requeueAfterMs !== undefined) this.requeue(ctx, ctx.health.requeueAfterMs);
      // A failed analysis of the revision fails its rollout like a deadline does: it is rolled back.
      const analysis = mem.analysis;
      if (!ctx.health.failure && proving && analysis?.revision === plan.revision && analysis.verdict.phase === "Failed") {
        const canaryPods = ctx.pods
          .filter((p) => p.revision === plan.revision && p.phase !== "Terminating")
          .map((p) => p.name)
          .sort();
        ctx.health = { ...ctx.health, failure: { code: "AnalysisFailed", message: analysis.verdict.message, pods: canaryPods } };
      }
      // While the revision keeps failing it keeps the failure it was first reported with: two deadlines that
      // pass a moment apart must not take turns in the log, the conditions and the commit record.
      const failure = ctx.health.failure;
      if (failure && mem.failure?.revision === plan.revision) ctx.health = { ...ctx.health, failure: mem.failure.failure };
      else if (failure) mem.failure = { revision: plan.revision, failure };
      else delete mem.failure;
      if (proving && step.complete && !ctx.health.failure) mem.rolledOut = plan.revision;
      else delete mem.rolledOut;
      if (proving && ctx.health.stable && !ctx.paused) {
        mem.stable = { revision: plan.revision, commit: ctx.commit };
        mem.history = pruneHistory(mem.history, params.revisionHistoryLimit ?? 10, [...new Set(ctx.pods.map((p) => p.revision)), plan.revision]).kept;
        ctx.events.push({ type: "Normal", reason: "Stable", message: `revision ${plan.revision} completed and stayed healthy` });
      }
    }
  }

  /** Removals in the background, then creations per revision (old revisions' templates come from Git). */
  private async apply(ctx: Ctx): Promise<void> {
    const step = ctx.step!;
    const plan = ctx.plan!;
    if (ctx.paused && step.create === 0 && step.remove.length === 0) return;
    const remove = this.admitDrainMoves(ctx, step.remove);
    for (const name of remove) {
      const pod = ctx.pods.find((p) => p.name === name);
      if (pod) this.opts.fleet.deletePod(pod, podGraceSeconds(pod, plan.graceSeconds));
    }
    if (remove.length > 0) {
      const why = ctx.strategy === "Pod" ? "replacing the Pod" : ctx.draining.some((d) => remove.includes(d)) ? "moving off a draining node" : "scaling down";
      ctx.events.push({ type: "Normal", reason: "ScalingDown", message: `${why}: removing ${remove.length} pod(s): ${remove.join(", ")}` });
    }
    const creates: { plan: TemplatePlan; count: number; commit: string }[] = [];
    for (const r of step.revisions) {
      if (r.create <= 0) continue;
      if (r.revision === plan.revision || r.revision === `${plan.revision}~drain`) creates.push({ plan, count: r.create, commit: ctx.commit });
      else {
        const old = await this.templateOf(ctx, r.revision);
        if (old) creates.push({ plan: old.plan, count: r.create, commit: old.commit });
        else ctx.events.push({ type: "Warning", reason: "RevisionUnavailable", message: `cannot scale revision ${r.revision}: its template is not in the history` });
      }
    }
    if (creates.length === 0) {
      // A bare Pod that ended waits for nothing: only a change (a new spec) is news.
      if (!step.complete && !step.ended && step.requeueAfterMs === undefined) this.requeue(ctx, 1000);
      return;
    }
    const unknown = this.opts.fleet.unknownNodes();
    if (unknown.length > 0) {
      // Pods may run on a node that has not answered since the operator started: creating now could
      // duplicate them. Wait until it answers, or until the eviction timeout declares its pods lost.
      ctx.events.push({ type: "Normal", reason: "WaitingForNodes", message: `not creating pods until ${unknown.join(", ")} answer(s) or are evicted` });
      this.requeue(ctx, 1_000);
      return;
    }
    for (const c of creates) await this.createPods(ctx, c.plan, c.count, c.commit);
  }

  /**
   * A drain's removals are voluntary evictions: each pod on a draining node goes only while every
   * PodDisruptionBudget over it (pods of any owner) allows a disruption. Other removals — the workload's own
   * rolling update or scale-down — are not limited by budgets, as in Kubernetes. Runs right before the
   * deletions, with no await in between, so that two workloads never spend the same disruption.
   */
  private admitDrainMoves(ctx: Ctx, remove: readonly string[]): string[] {
    const { allowed, blocked } = admitDrainMoves({
      graph: this.opts.desired.graph(),
      fleetPods: this.opts.fleet.pods(),
      pods: ctx.pods,
      remove,
      evictions: ctx.draining,
      ...(this.opts.reporter.previousRecord ? { records: (k: string) => this.opts.reporter.previousRecord!(k) } : {}),
    });
    if (blocked.size > 0) ctx.drainBlocked = blocked;
    this.opts.drainWaits?.set(ctx.key, blocked);
    return allowed;
  }

  // ------------------------------------------------------------------ effects

  private async createPods(ctx: Ctx, plan: TemplatePlan, count: number, commit: string): Promise<void> {
    // Names are checked against every name the fleet knows and the ones drawn here; place() reserves them
    // before its first await, so two pods never share a name.
    const taken = this.opts.fleet.podNames();
    const pods = [];
    if (ctx.kind === "Pod") {
      // A bare Pod's pod is named metadata.name: wait while the name is someone else's (pod names are fleet-wide).
      if (taken.has(ctx.name)) {
        const other = this.opts.fleet.pods().find((p) => p.name === ctx.name && p.owner !== ctx.key);
        ctx.events.push({ type: "Warning", reason: "FailedCreate", message: `pod name ${ctx.name} is in use${other ? ` by ${other.owner}` : ""}; pod names are unique across the fleet` });
        this.requeue(ctx, 5_000);
        return;
      }
      pods.push({ name: ctx.name, plan, ...(ctx.nodeName !== undefined ? { nodeName: ctx.nodeName } : {}) });
    }
    for (let i = 0; i < (ctx.kind === "Pod" ? 0 : count); i++) {
      const { name } = uniquePodName(`${ctx.name}-${plan.revision}`, (n) => taken.has(n));
      taken.add(name);
      pods.push({ name, plan });
    }
    const out = await this.opts.placer.place({ owner: ctx.key, namespace: ctx.namespace, commit, pods, secret: (k) => ctx.graph?.get(k)?.object as Secret | undefined });
    ctx.events.push(...out.events);
    ctx.createErrors.push(...out.errors);
    if (out.unschedulable !== undefined) ctx.unschedulable = out.unschedulable;
    if (out.requeueAfterMs !== undefined) this.requeue(ctx, out.requeueAfterMs);
  }

  /** The plan of an older revision, rebuilt from the commit that last made it current. */
  private async templateOf(ctx: Ctx, revision: string): Promise<{ plan: TemplatePlan; commit: string } | undefined> {
    const h = ctx.mem!.history.find((r) => r.hash === revision);
    if (!h || !this.opts.desired.objectAt) return undefined;
    const at = await this.opts.desired.objectAt(h.commit, ctx.key);
    if (!at || (at.object.kind !== "Deployment" && at.object.kind !== "Rollout")) return undefined;
    const graph = at.graph;
    const priority = resolvePriority(graph, at.object);
    const plan = planTemplate(at.object, (k) => graph.get(k)?.object, { value: priority.value, preemptionPolicy: priority.preemptionPolicy });
    return plan.revision === revision ? { plan, commit: h.commit } : undefined;
  }

  /**
   * Measures the analysis step the canary `status` is at, for the wanted revision (controllers/workload/
   * analysis.ts), says each window and the outcome in the log, and returns the verdict for canaryStep; at
   * any other step, stops measuring and returns nothing.
   */
  private measureAnalysis(ctx: Ctx, status: CanaryStatus | undefined): CanaryInput["analysis"] {
    const plan = ctx.plan!;
    const mem = ctx.mem!;
    const step = status !== undefined && status.revision === plan.revision ? ctx.steps?.[status.stepIndex] : undefined;
    if (step === undefined || !("analysis" in step) || status!.pauseStartedAt === undefined) {
      this.analyses.stop(ctx.key);
      return undefined;
    }
    const { stepIndex, pauseStartedAt } = status!;
    const groups = revisionGroups(ctx.pods, plan.revision, mem.stable?.revision, (node) => this.opts.fleet.nodeConfig(node)?.address);
    const before = mem.analysis;
    const { state, judged, wakeAt } = this.analyses.measure(ctx.key, { revision: plan.revision, step: stepIndex, spec: step.analysis, startedAt: pauseStartedAt! }, before, groups, ctx.now);
    const where = `${ctx.key} revision ${plan.revision} step ${stepIndex + 1}`;
    for (const [i, w] of judged.entries()) this.opts.reporter.log(ctx.key).info(`${where}: analysis ${describeWindow(w, state.windows.length - judged.length + i + 1)}`);
    if (state.verdict.phase !== "Running" && (before?.verdict.phase !== state.verdict.phase || before.startedAt !== state.startedAt)) {
      this.opts.reporter.log(ctx.key)[state.verdict.phase === "Successful" ? "info" : "warn"](`${where}: ${state.verdict.message}`);
      ctx.events.push({ type: state.verdict.phase === "Successful" ? "Normal" : "Warning", reason: `Analysis${state.verdict.phase}`, message: state.verdict.message });
    }
    mem.analysis = state;
    if (wakeAt !== undefined) this.requeue(ctx, wakeAt - ctx.now);
    return { stepIndex, phase: state.verdict.phase };
  }

  /** The promote annotation, counted only when it changed since the revision started (it is level-based). */
  private promote(ctx: Ctx): Promote | undefined {
    const w = ctx.workload as Rollout;
    if (w.kind !== "Rollout") return undefined;
    const value = w.metadata.annotations?.[PROMOTE_ANNOTATION];
    const mem = ctx.mem!;
    const holder = ctx.strategy === "Canary" ? mem.canary : mem.blueGreen;
    const baseline = holder?.promoteBaseline;
    if (value === undefined || value === baseline) return undefined;
    try {
      return parsePromote(value);
    } catch {
      return undefined;
    }
  }

  /** The memory of a workload: restored from its status record the first time, updated per revision. */
  private memoryOf(ctx: Ctx): Memory {
    const plan = ctx.plan!;
    let mem = this.memory.get(ctx.key);
    if (!mem) {
      const rec = this.opts.reporter.previousRecord?.(ctx.key);
      mem = {
        revision: rec?.revision ?? plan.revision,
        commit: rec?.commit ?? ctx.commit,
        lastProgressAt: ctx.now,
        conditions: rec?.conditions ? [...rec.conditions] : [],
        events: rec?.events ? [...rec.events] : this.opts.reporter.previousEvents(ctx.key),
        history: (rec?.revisions ?? []).map((r) => ({ revision: r.number, hash: r.revision, commit: r.commit })),
        seen: new Map(),
        ...(rec?.stable ? { stable: { ...rec.stable } } : {}),
        ...(rec?.placed ? { placed: { ...rec.placed } } : {}),
      };
      if (rec?.canary?.revision) {
        mem.canary = {
          revision: rec.canary.revision,
          stepIndex: rec.canary.step,
          ...(ms(rec.canary.pauseStartedAt) !== undefined ? { pauseStartedAt: ms(rec.canary.pauseStartedAt)! } : {}),
          ...(rec.canary.promoteBaseline !== undefined ? { promoteBaseline: rec.canary.promoteBaseline } : {}),
        };
        const analysis = analysisFromRecord(rec.canary.analysis);
        if (analysis !== undefined) mem.analysis = analysis;
      }
      if (rec?.blueGreen) {
        const bg = rec.blueGreen;
        mem.blueGreen = {
          ...(bg.active ? { active: bg.active } : {}),
          ...(bg.preview || bg.active
            ? {
                status: {
                  revision: bg.preview ?? bg.active!,
                  ...(ms(bg.pauseStartedAt) !== undefined ? { pauseStartedAt: ms(bg.pauseStartedAt)! } : {}),
                  ...(bg.scaleDownAt ? { scaleDownAt: Object.fromEntries(Object.entries(bg.scaleDownAt).map(([k, v]) => [k, ms(v) ?? 0])) } : {}),
                },
              }
            : {}),
          ...(ms(bg.promotedAt) !== undefined ? { promotedAt: ms(bg.promotedAt)! } : {}),
          ...(bg.promoteBaseline !== undefined ? { promoteBaseline: bg.promoteBaseline } : {}),
        };
      }
      this.memory.set(ctx.key, mem);
    }
    if (mem.revision !== plan.revision || mem.history.length === 0 || mem.history[mem.history.length - 1]?.hash !== plan.revision) {
      const isNew = mem.revision !== plan.revision;
      // A new rollout starts: the progress clock restarts, the revision (re-)enters the history as max+1,
      // and the promote annotation's current value becomes the baseline (only a change promotes).
      if (isNew) {
        // The revision being replaced completed and was healthy at its last look: its monitor window was
        // cut short, not failed, so it is what a rollback goes back to.
        if (mem.rolledOut === mem.revision && mem.stable?.revision !== mem.revision) {
          mem.stable = { revision: mem.revision, commit: mem.commit };
          mem.events.push({
            time: new Date(ctx.now).toISOString(),
            type: "Normal",
            reason: "Stable",
            message: `revision ${mem.revision} completed and its pods were ready when revision ${plan.revision} replaced it`,
          });
        }
        delete mem.rolledOut;
        mem.revision = plan.revision;
        mem.lastProgressAt = ctx.now;
        const promoteValue = ctx.workload!.metadata.annotations?.[PROMOTE_ANNOTATION];
        if (ctx.strategy === "Canary") mem.canary = { revision: plan.revision, stepIndex: 0, ...(promoteValue !== undefined ? { promoteBaseline: promoteValue } : {}) };
        if (ctx.strategy === "BlueGreen") {
          mem.blueGreen = { ...(mem.blueGreen?.active ? { active: mem.blueGreen.active } : {}), ...(promoteValue !== undefined ? { promoteBaseline: promoteValue } : {}) };
          if (mem.blueGreen.active === undefined && mem.stable) mem.blueGreen.active = mem.stable.revision;
        }
      }
      mem.history = recordRevision(mem.history, plan.revision, ctx.commit);
    }
    if (mem.commit !== ctx.commit) mem.commit = ctx.commit;
    return mem;
  }

  private requeue(ctx: Ctx, ms: number): void {
    const v = Math.max(50, Math.ceil(ms));
    ctx.requeueAfterMs = ctx.requeueAfterMs === undefined ? v : Math.min(ctx.requeueAfterMs, v);
  }
}

/**
 * The health of a bare Pod whose pod ended (restartPolicy OnFailure or Never), judged by how it ended rather
 * than by readiness and deadlines (it is done, not late): while its revision is proven, Succeeded makes it
 * stable and Failed fails it (PodFailed, which fails a commit that changed the Pod). An OnFailure pod that
 * restarted in place while proven fails as any pod's crash does (CrashLoopBackOff, failure policy
 * maxFailureRatio 0), also when it Succeeded since, so the verdict does not hang on whether a reconcile saw it
 * running in between. Once stable, a later failure is reported in its status only, as a crash of a proven
 * revision is.
 */
function endedHealth(ended: NonNullable<PodStep["ended"]>, proving: boolean, pods: readonly ObservedPod[], health: readonly HealthPod[]): RolloutHealth {
  if (!proving) return { stable: false, crashedPods: [] };
  const crashed = health
    .filter((p) => p.restartCount > 0)
    .map((p) => p.name)
    .sort();
  if (crashed.length > 0) {
    return { stable: false, crashedPods: crashed, failure: { code: "CrashLoopBackOff", message: `pod ${crashed.join(", ")} restarted in place while its revision was being proven (${ended.message})`, pods: crashed } };
  }
  if (ended.phase === "Succeeded") return { stable: true, crashedPods: [] };
  const names = pods.map((p) => p.name).sort();
  // The exit that failed it, from its containers (the kubelet's own message may speak of restarts).
  const exit = pods.flatMap((p) => p.containers).find((c) => (c.state === "exited" || c.state === "dead") && c.exitCode !== undefined && c.exitCode !== 0);
  const why = exit ? `container ${exit.labels[LABELS.container] ?? exit.runtimeName} exited with code ${exit.exitCode}` : undefined;
  return { stable: false, crashedPods: names, failure: { code: "PodFailed", message: why !== undefined ? `${ended.message} (${why})` : ended.message, pods: names } };
}

/** The Services of `graph` that carry the Rollout `key`'s traffic (traffic/rollouts.ts), by name, and their roles. */
function servicesOf(key: string, graph: DesiredGraph): { service: string; role: ServiceRole }[] {
  const rollouts = graph.ofKind("Rollout").map((m) => toRolloutServices(m.object as Rollout));
  const services = graph.ofKind("Service").map((m) => toServiceSpec(m.object as Service));
  return [...rolloutServiceRoles(rollouts, services)].filter(([, r]) => r.rollout === key).map(([s, r]) => ({ service: s.slice(s.indexOf("/") + 1), role: r.role }));
}
