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
 *   4. decide         the strategy's pure step (rollout/), or a drain move, plus failure detection (decide.ts;
 *                     drain moves and the budgets asked before them in drain.ts)
 *   5. apply          removals in the background, creations scheduled (with preemption: placer.ts) and awaited
 *   6. summarize      counts, conditions, strategy state, events → status record and the sync's verdict (summary.ts)
 *
 * What a reconcile knows while its steps run (Ctx) and what the controller remembers between reconciles
 * (Memory) are in context.ts; the memory restored from the status record, in memory.ts.
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
import { isScaleTarget } from "../../manifest/autoscaler.js";
import { resolvePriority } from "../../graph/priority.js";
import { DEFAULT_PROGRESS_DEADLINE_SECONDS, resolveBlueGreenParams, resolveCanaryParams, resolveRollingParams } from "../../rollout/index.js";
import type { Fleet } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import { rolloutServiceRoles } from "../../traffic/rollouts.js";
import { toRolloutServices, toServiceSpec } from "../../traffic/spec.js";
import type { ServiceRole } from "../../traffic/types.js";
import type { DrainWaits } from "../disruption/drain-waits.js";
import { CanaryAnalyses, type RequestSubscription } from "./analysis.js";
import { decide, type DecideDeps } from "./decide.js";
import { admitRemovals } from "./drain.js";
import { memoryOf } from "./memory.js";
import { uniquePodName } from "./names.js";
import type { PodPlacer } from "./placer.js";
import { planTemplate, type TemplatePlan } from "./template.js";
import type { DesiredView, ReplicaCountPort, RolloutTrafficPort, WorkloadReporter } from "../types.js";
import { requeue, type Ctx, type Memory } from "./context.js";
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

/** What this controller drives (it is registered for these kinds in sync/operator.ts); DaemonSets, StatefulSets and Jobs have controllers of their own. */
type Driven = Extract<TemplateOwner, { kind: "Deployment" | "Pod" | "ReplicaSet" | "ReplicationController" | "Rollout" }>;

function isDriven(owner: TemplateOwner): owner is Driven {
  return owner.kind === "Deployment" || owner.kind === "Pod" || owner.kind === "ReplicaSet" || owner.kind === "ReplicationController" || owner.kind === "Rollout";
}

/** Reconciles Deployments, Rollouts, ReplicaSets, ReplicationControllers and bare Pods into pods on the fleet. */
export class WorkloadController {
  private readonly memory = new Map<string, Memory>();
  private readonly analyses: CanaryAnalyses;
  private readonly now: () => number;
  private readonly steps: ((ctx: Ctx) => Promise<void>)[];

  constructor(private readonly opts: WorkloadControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.analyses = new CanaryAnalyses(opts.requests);
    const deps: DecideDeps = { opts, analyses: this.analyses, startedAt: this.now() };
    this.steps = [(c) => this.observe(c), (c) => this.removeOrphans(c), (c) => this.repairPods(c), (c) => decide(deps, c), (c) => this.apply(c)];
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
    ctx.mem = memoryOf(this.opts, this.memory, ctx);
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

  /** Removals in the background, then creations per revision (old revisions' templates come from Git). */
  private async apply(ctx: Ctx): Promise<void> {
    const step = ctx.step!;
    const plan = ctx.plan!;
    if (ctx.paused && step.create === 0 && step.remove.length === 0) return;
    const remove = admitRemovals(this.opts, ctx, step.remove);
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
      if (!step.complete && !step.ended && step.requeueAfterMs === undefined) requeue(ctx, 1000);
      return;
    }
    const unknown = this.opts.fleet.unknownNodes();
    if (unknown.length > 0) {
      // Pods may run on a node that has not answered since the operator started: creating now could
      // duplicate them. Wait until it answers, or until the eviction timeout declares its pods lost.
      ctx.events.push({ type: "Normal", reason: "WaitingForNodes", message: `not creating pods until ${unknown.join(", ")} answer(s) or are evicted` });
      requeue(ctx, 1_000);
      return;
    }
    for (const c of creates) await this.createPods(ctx, c.plan, c.count, c.commit);
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
        requeue(ctx, 5_000);
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
    if (out.requeueAfterMs !== undefined) requeue(ctx, out.requeueAfterMs);
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
}

/** The Services of `graph` that carry the Rollout `key`'s traffic (traffic/rollouts.ts), by name, and their roles. */
function servicesOf(key: string, graph: DesiredGraph): { service: string; role: ServiceRole }[] {
  const rollouts = graph.ofKind("Rollout").map((m) => toRolloutServices(m.object as Rollout));
  const services = graph.ofKind("Service").map((m) => toServiceSpec(m.object as Service));
  return [...rolloutServiceRoles(rollouts, services)].filter(([, r]) => r.rollout === key).map(([s, r]) => ({ service: s.slice(s.indexOf("/") + 1), role: r.role }));
}
