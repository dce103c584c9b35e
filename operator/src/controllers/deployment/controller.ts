/**
 * The Deployment controller. reconcile(key) re-reads the desired Deployment (from the applied graph) and
 * its observed pods (from the fleet), then runs an ordered list of small steps and one summarizer:
 *
 *   1. observe        desired object, template plan, observed pods
 *   2. removeOrphans  the Deployment is gone from Git → stop every pod, report removal
 *   3. repairPods     restart crashed containers in place with crash-loop backoff; drop broken pods
 *   4. rollout        the pure rolling-update decision → remove / create (scheduled) pods
 *   5. summarize      counts, conditions (Available, Progressing), events → status record
 *
 * Guarantees: level-based (a crash at any point is repaired by the next reconcile), never two pods
 * created for one decision (placements are reserved synchronously), nothing persisted except container
 * labels. In memory only: the progress clock, restart backoff and recent events — all of which may be
 * lost on restart without harm (the clock restarts, backoff starts over, events are read back from the
 * status branch).
 */
import { randomBytes } from "node:crypto";
import { setCondition, type Condition, type WorkloadEvent } from "../../api/conditions.js";
import { CoxError, toCoxError } from "../../api/errors.js";
import type { ConfigMap, Deployment } from "../../api/objects.js";
import { parseKey } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { nextStep, resolveRollingParams } from "../../rollout/index.js";
import type { RolloutParams, RolloutPod, RolloutStep } from "../../rollout/types.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { schedule } from "../../scheduler/index.js";
import type { PodRequest } from "../../scheduler/types.js";
import type { RecordedPod, WorkloadRecord } from "../../status/types.js";
import type { DesiredView, WorkloadReporter } from "../types.js";
import { planTemplate, podLaunches, type TemplatePlan } from "./template.js";

/** Options of the Deployment controller. */
export interface DeploymentControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  reporter: WorkloadReporter;
  /** Operator instance: the io.coxswain.owner label value. */
  instance: string;
  now?: () => number;
  /** Seed for the scheduler's tie-breaking (tests). */
  seed?: number;
  /** How long to wait before looking again at pods that cannot be scheduled. */
  unschedulableRetryMs?: number;
}

/** Crash-loop backoff of restarts, as the kubelet: 10 s doubling to 5 min, reset after 10 min running. */
const RESTART_BASE_MS = 10_000;
const RESTART_MAX_MS = 300_000;
const RESTART_RESET_MS = 600_000;
const MAX_EVENTS = 20;

interface Memory {
  revision: string;
  lastProgressAt: number;
  conditions: Condition[];
  events: WorkloadEvent[];
  lastLine?: string;
  commit: string;
}

interface RestartState {
  restarts: number;
  nextAt: number;
}

/** Everything one reconcile knows; the steps fill it in order. */
interface Ctx {
  key: string;
  now: number;
  namespace: string;
  name: string;
  deployment?: Deployment;
  /** The commit whose object this reconcile drives (the entry's, which may lag the target while held). */
  commit: string;
  paused: boolean;
  plan?: TemplatePlan;
  params?: RolloutParams;
  pods: ObservedPod[];
  step?: RolloutStep;
  requeueAfterMs?: number;
  unschedulable?: string;
  createErrors: CoxError[];
  events: Omit<WorkloadEvent, "time">[];
  done: boolean;
}

/** Reconciles Deployments into pods on the fleet. */
export class DeploymentController {
  private readonly memory = new Map<string, Memory>();
  /** Crash-loop state per Deployment key, then per pod name. */
  private readonly restarts = new Map<string, Map<string, RestartState>>();
  private readonly now: () => number;
  private readonly steps: ((ctx: Ctx) => Promise<void>)[];

  constructor(private readonly opts: DeploymentControllerOptions) {
    this.now = opts.now ?? Date.now;
    this.steps = [
      (c) => this.observe(c),
      (c) => this.removeOrphans(c),
      (c) => this.repairPods(c),
      (c) => this.rollout(c),
    ];
  }

  /** One reconcile of Deployment/<namespace>/<name>. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = parseKey(key);
    const ctx: Ctx = { key, now: this.now(), namespace: namespace ?? "default", name, commit: "", paused: false, pods: [], createErrors: [], events: [], done: false };
    for (const step of this.steps) {
      await step(ctx);
      if (ctx.done) break;
    }
    if (ctx.deployment) this.summarize(ctx);
    const firstError = ctx.createErrors[0];
    if (firstError) throw firstError;
    return ctx.requeueAfterMs !== undefined ? { requeueAfterMs: ctx.requeueAfterMs } : undefined;
  }

  private async observe(ctx: Ctx): Promise<void> {
    const graph = this.opts.desired.graph();
    if (!graph) {
      // Nothing applied yet (no valid commit): touch nothing.
      ctx.done = true;
      return;
    }
    const entry = this.opts.desired.entry(ctx.key);
    if (entry && entry.object.kind === "Deployment") {
      const from = entry.graph;
      ctx.deployment = entry.object;
      ctx.commit = entry.commit;
      ctx.paused = entry.paused;
      ctx.plan = planTemplate(entry.object, (k) => from.get(k)?.object as ConfigMap | undefined);
      ctx.params = resolveRollingParams(entry.object.spec);
    }
    ctx.pods = this.opts.fleet.pods(ctx.key);
  }

  private async removeOrphans(ctx: Ctx): Promise<void> {
    if (ctx.deployment) return;
    for (const p of ctx.pods) if (p.phase !== "Terminating") this.opts.fleet.deletePod(p, 30);
    if (ctx.pods.length === 0 && this.opts.fleet.pendingCreates(ctx.key) === 0) {
      const known = this.memory.delete(ctx.key);
      this.restarts.delete(ctx.key);
      this.opts.reporter.removed(ctx.key);
      if (known) this.opts.reporter.progress(`${ctx.key}: deleted`);
    }
    ctx.done = true;
  }

  /**
   * Restarts crashed containers of current-revision pods in place (kubelet's job on Kubernetes), with
   * crash-loop backoff; pods of other revisions are left to the rollout, which removes unhealthy old pods
   * first. A pod that lost a container (removed behind our back) is removed whole; the rollout replaces it.
   */
  private async repairPods(ctx: Ctx): Promise<void> {
    const plan = ctx.plan!;
    const expected = plan.containers.length;
    let restarts = this.restarts.get(ctx.key);
    if (!restarts) this.restarts.set(ctx.key, (restarts = new Map()));
    for (const pod of ctx.pods) {
      if (pod.phase === "Terminating" || pod.revision !== plan.revision) continue;
      if (pod.containers.length < expected) {
        ctx.events.push({ type: "Warning", reason: "PodBroken", message: `pod ${pod.name} lost a container; replacing it` });
        this.opts.fleet.deletePod(pod, plan.graceSeconds);
        continue;
      }
      if (pod.phase !== "Failed") {
        const r = restarts.get(pod.name);
        const running = pod.containers.every((c) => c.state === "running");
        const since = Math.min(...pod.containers.map((c) => c.startedAt ?? ctx.now));
        if (r && running && ctx.now - since > RESTART_RESET_MS) restarts.delete(pod.name);
        continue;
      }
      const r = restarts.get(pod.name) ?? { restarts: 0, nextAt: 0 };
      if (ctx.now < r.nextAt) {
        this.requeue(ctx, r.nextAt - ctx.now);
        continue;
      }
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** r.restarts);
      restarts.set(pod.name, { restarts: r.restarts + 1, nextAt: ctx.now + delay });
      ctx.events.push({
        type: "Warning",
        reason: r.restarts > 0 ? "BackOff" : "Restarted",
        message: `${pod.message ?? `pod ${pod.name} failed`}; restarting (restart ${r.restarts + 1}, next no sooner than ${Math.round(delay / 1000)}s)`,
      });
      for (const c of pod.containers) {
        if (c.state !== "exited" && c.state !== "dead") continue;
        try {
          await this.opts.fleet.restartContainer(pod, c.id);
        } catch (err) {
          ctx.createErrors.push(toCoxError(err));
        }
      }
    }
    for (const name of restarts.keys()) if (!ctx.pods.some((p) => p.name === name)) restarts.delete(name);
    ctx.pods = this.opts.fleet.pods(ctx.key);
  }

  /** Takes the next rolling-update step: removals in the background, creations scheduled and awaited. */
  private async rollout(ctx: Ctx): Promise<void> {
    const plan = ctx.plan!;
    const params = ctx.params!;
    const mem = this.memoryOf(ctx, plan.revision);
    if (ctx.paused) {
      // A rollback failed: nothing moves until a new commit (the pods as they are keep running).
      mem.lastProgressAt = ctx.now;
      return;
    }
    const pods: RolloutPod[] = ctx.pods.map((p) => ({
      name: p.name,
      revision: p.revision,
      createdAt: p.createdAt,
      terminating: p.phase === "Terminating",
      failed: p.phase === "Failed" && p.revision !== plan.revision,
      ready: p.ready,
      ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
    }));
    // Pods being created right now exist for the decision: never create them twice.
    for (let i = 0; i < this.opts.fleet.pendingCreates(ctx.key); i++) {
      pods.push({ name: `(creating-${i})`, revision: plan.revision, createdAt: ctx.now, terminating: false, failed: false, ready: false });
    }
    const step = nextStep({ params, revision: plan.revision, pods, now: ctx.now, lastProgressAt: mem.lastProgressAt });
    ctx.step = step;
    if (step.progressed) mem.lastProgressAt = ctx.now;
    if (step.requeueAfterMs !== undefined) this.requeue(ctx, step.requeueAfterMs);

    for (const name of step.remove) {
      const pod = ctx.pods.find((p) => p.name === name);
      if (pod) this.opts.fleet.deletePod(pod, plan.graceSeconds);
    }
    if (step.remove.length > 0) ctx.events.push({ type: "Normal", reason: "ScalingDown", message: `removing ${step.remove.length} pod(s): ${step.remove.join(", ")}` });
    const unknown = this.opts.fleet.unknownNodes();
    if (step.create > 0 && unknown.length > 0) {
      // Pods may run on a node that has not answered since the operator started: creating now could
      // duplicate them. Wait until it answers, or until the eviction timeout declares its pods lost.
      ctx.events.push({ type: "Normal", reason: "WaitingForNodes", message: `not creating pods until ${unknown.join(", ")} answer(s) or are evicted` });
      this.requeue(ctx, 1_000);
    } else if (step.create > 0) await this.createPods(ctx, plan, step.create);
    if (!step.complete && step.requeueAfterMs === undefined) this.requeue(ctx, Math.max(1000, params.progressDeadlineSeconds * 1000 - (ctx.now - mem.lastProgressAt)));
  }

  private async createPods(ctx: Ctx, plan: TemplatePlan, count: number): Promise<void> {
    const fleet = this.opts.fleet;
    const requests: PodRequest[] = [];
    for (let i = 0; i < count; i++) {
      requests.push({
        id: `${ctx.name}-${plan.revision}-${randomBytes(4).toString("hex").slice(0, 5)}`,
        owner: ctx.key,
        requests: plan.requests,
        requestsForScoring: plan.requestsForScoring,
        ports: plan.portCount,
      });
    }
    // schedule → reserve runs without an await in between: the next decision sees these placements.
    const result = schedule(fleet.schedulerSnapshot(), requests, this.opts.seed !== undefined ? { seed: this.opts.seed } : {});
    const creates: Promise<void>[] = [];
    const commit = ctx.commit;
    for (const placement of result.placements) {
      const node = fleet.nodeConfig(placement.node)!;
      const hostPorts = fleet.reserve({
        pod: placement.id,
        node: placement.node,
        owner: ctx.key,
        requests: plan.requests,
        requestsForScoring: plan.requestsForScoring,
        portCount: plan.portCount,
      });
      const launches = podLaunches(plan, { pod: placement.id, node, hostPorts, commit, instance: this.opts.instance });
      creates.push(
        fleet.createPod(placement.id, placement.node, launches).then(
          () => void ctx.events.push({ type: "Normal", reason: "Created", message: `created pod ${placement.id} on ${placement.node}` }),
          (err: unknown) => {
            const e = toCoxError(err);
            ctx.createErrors.push(e);
            ctx.events.push({ type: "Warning", reason: "FailedCreate", message: `pod ${placement.id} on ${placement.node}: ${e.code}: ${e.message}` });
          },
        ),
      );
    }
    if (result.unschedulable.length > 0) {
      const first = result.unschedulable[0]!;
      ctx.unschedulable = first.message;
      ctx.events.push({ type: "Warning", reason: "FailedScheduling", message: first.message });
      this.requeue(ctx, this.opts.unschedulableRetryMs ?? 5_000);
    }
    await Promise.all(creates);
  }

  /** Derives counts, conditions and events, and reports them. */
  private summarize(ctx: Ctx): void {
    const plan = ctx.plan!;
    const params = ctx.params!;
    const step = ctx.step;
    const mem = this.memoryOf(ctx, plan.revision);
    const now = new Date(ctx.now);
    const pods = this.opts.fleet.pods(ctx.key);
    const live = pods.filter((p) => p.phase !== "Terminating");
    const counts = step?.counts ?? { replicas: live.length, updated: 0, ready: 0, available: 0, unavailable: params.replicas };
    const minAvailable = params.replicas - params.maxUnavailable;

    let conditions = setCondition(
      mem.conditions,
      counts.available >= minAvailable
        ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." }
        : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." },
      now,
    );
    let progressing: Omit<Condition, "lastTransitionTime">;
    if (step?.complete) {
      progressing = { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `revision ${plan.revision} has successfully progressed.` };
    } else if (step?.deadlineExceeded) {
      progressing = { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: `revision ${plan.revision} has timed out progressing.` };
    } else {
      progressing = { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `revision ${plan.revision} is progressing.` };
    }
    conditions = setCondition(conditions, progressing, now);
    if (ctx.unschedulable || ctx.createErrors.length > 0) {
      conditions = setCondition(
        conditions,
        {
          type: "ReplicaFailure",
          status: "True",
          reason: ctx.unschedulable ? "FailedScheduling" : "FailedCreate",
          message: ctx.unschedulable ?? `${ctx.createErrors[0]!.code}: ${ctx.createErrors[0]!.message}`,
        },
        now,
      );
    } else if (conditions.some((c) => c.type === "ReplicaFailure")) {
      conditions = conditions.filter((c) => c.type !== "ReplicaFailure");
    }
    const becameFailed = step?.deadlineExceeded && !mem.conditions.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded");
    if (becameFailed) ctx.events.push({ type: "Warning", reason: "ProgressDeadlineExceeded", message: `revision ${plan.revision} made no progress for ${params.progressDeadlineSeconds}s` });
    mem.conditions = conditions;
    for (const e of ctx.events) {
      // The same event again (a condition that persists across reconciles) is not news: keep the first.
      const last = mem.events[mem.events.length - 1];
      if (last && last.reason === e.reason && last.message === e.message) continue;
      mem.events.push({ time: now.toISOString(), ...e });
    }
    if (mem.events.length > MAX_EVENTS) mem.events.splice(0, mem.events.length - MAX_EVENTS);

    const recordedPods: RecordedPod[] = live.map((p) => ({
      name: p.name,
      node: p.node,
      revision: p.revision,
      ready: p.ready,
      endpoints: p.ports
        .map((port) => `${port.name ?? String(port.containerPort)}=${this.opts.fleet.nodeConfig(p.node)?.address ?? "?"}:${port.hostPort}`)
        .sort(),
    }));
    const record: WorkloadRecord = {
      kind: "Deployment",
      namespace: ctx.namespace,
      name: ctx.name,
      revision: plan.revision,
      commit: mem.commit,
      replicas: { desired: params.replicas, current: counts.replicas, updated: counts.updated, ready: counts.ready, available: counts.available },
      pods: recordedPods,
      conditions,
      events: [...mem.events],
    };
    const complete = step?.complete === true;
    const failed = step?.deadlineExceeded === true;
    const line = `${ctx.key} revision ${plan.revision}: ${counts.updated}/${params.replicas} updated, ${counts.ready} ready, ${counts.available} available${
      complete ? " — complete" : failed ? " — progress deadline exceeded" : ctx.unschedulable ? ` — ${ctx.unschedulable}` : step?.reason ? ` — ${step.reason}` : ""
    }`;
    if (line !== mem.lastLine) {
      mem.lastLine = line;
      this.opts.reporter.progress(line);
    }
    this.opts.reporter.report(record, {
      key: ctx.key,
      revision: plan.revision,
      commit: mem.commit,
      complete,
      failed,
      ...(failed ? { failureCode: "ProgressDeadlineExceeded" } : {}),
      message: line,
    });
  }

  private memoryOf(ctx: Ctx, revision: string): Memory {
    let mem = this.memory.get(ctx.key);
    const commit = ctx.commit;
    if (!mem) {
      mem = { revision, lastProgressAt: ctx.now, conditions: [], events: this.opts.reporter.previousEvents(ctx.key), commit };
      this.memory.set(ctx.key, mem);
    } else if (mem.revision !== revision) {
      // A new rollout starts: the progress clock restarts.
      mem.revision = revision;
      mem.lastProgressAt = ctx.now;
      mem.commit = commit;
    }
    if (mem.commit !== commit && mem.revision === revision) mem.commit = commit;
    return mem;
  }

  private requeue(ctx: Ctx, ms: number): void {
    const v = Math.max(50, Math.ceil(ms));
    ctx.requeueAfterMs = ctx.requeueAfterMs === undefined ? v : Math.min(ctx.requeueAfterMs, v);
  }
}
