/**
 * The decide step of the workload controller (controller.ts): the strategy's pure step (rollout/) — a
 * ReplicaSet's or bare Pod's, a drain's move (drain.ts), a canary's with its analysis, a blue/green's, a
 * rolling update's — and failure detection for the revision rolling out.
 */
import type { Rollout, TemplateOwner } from "../../api/objects.js";
import { monitorSecondsOf } from "../../manifest/index.js";
import { blueGreenStep, canaryStep, describeWindow, nextStep, parsePromote, pruneHistory, resolveFailurePolicy, rolloutHealth, sameSizes } from "../../rollout/index.js";
import type { CanaryInput, CanaryStatus, HealthPod, PlannedStep, Promote, RolloutHealth, RolloutPod, Waiting } from "../../rollout/types.js";
import type { PodStep } from "../../rollout/index.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import { LABELS } from "../../runtime/labels.js";
import { type CanaryAnalyses, revisionGroups } from "./analysis.js";
import { requeue, type Ctx } from "./context.js";
import type { WorkloadControllerOptions } from "./controller.js";
import { drainingPods, drainStep } from "./drain.js";
import { PROMOTE_ANNOTATION } from "./memory.js";
import { healthPodsOf, notePodsSeen } from "./observed.js";
import { decideReplicas } from "./replicas.js";

/** What the decide step takes of the controller: its options, its canary analyses, and when it started. */
export interface DecideDeps {
  opts: WorkloadControllerOptions;
  analyses: CanaryAnalyses;
  /** When the controller started: pods created before were found running (adopted), not created by it. */
  startedAt: number;
}

/** The workload's coxswain.io/monitor-seconds as a failure-policy override (none: the default). */
function monitorOverride(w: TemplateOwner): { monitorSeconds?: number } {
  const m = monitorSecondsOf(w);
  return m === undefined ? {} : { monitorSeconds: m };
}

/** The strategy's next step (or a drain move), and failure detection for the revision rolling out. */
export async function decide(deps: DecideDeps, ctx: Ctx): Promise<void> {
  const plan = ctx.plan!;
  const params = ctx.params!;
  const mem = ctx.mem!;
  ctx.draining = drainingPods(deps.opts.fleet, ctx.pods);
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
  for (let i = 0; i < deps.opts.fleet.pendingCreates(ctx.key); i++) {
    pods.push({ name: `(creating-${i})`, revision: plan.revision, createdAt: ctx.now, terminating: false, failed: false, ready: false });
  }
  const revisionOrder = mem.history.map((h) => h.hash);
  const common = { params: { ...params, paused: ctx.paused || params.paused === true }, revision: plan.revision, now: ctx.now, lastProgressAt: mem.lastProgressAt, revisionOrder };
  const promote = promoteOf(ctx);
  let step: PlannedStep & { waiting?: Waiting } & Pick<PodStep, "lost" | "ended">;
  if (ctx.strategy === "ReplicaSet" || ctx.strategy === "Pod") {
    const d = decideReplicas({ strategy: ctx.strategy, plan, params, observed: ctx.pods, pods, draining: ctx.draining, now: ctx.now, mem, fleet: deps.opts.fleet });
    ctx.events.push(...d.events);
    if (d.nodeName !== undefined) ctx.nodeName = d.nodeName;
    step = d.step;
  } else if (ctx.draining.length > 0) {
    step = drainStep(ctx, common, pods);
    delete mem.sizes;
  } else if (ctx.strategy === "Canary") {
    // Services carry the split: a setWeight step waits until every proxy sends its weight for this revision.
    const split = deps.opts.traffic !== undefined && ctx.services!.some((s) => s.role === "split");
    const applied = deps.opts.traffic?.applied(ctx.key);
    const stableNow = mem.stable?.revision ?? plan.revision;
    const appliedWeight = applied?.strategy === "canary" && applied.canary === plan.revision && applied.stable === stableNow ? applied.weight : undefined;
    const analysis = measureAnalysis(deps, ctx, mem.canary);
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
    measureAnalysis(deps, ctx, r.status);
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
  if (ctx.strategy !== "Canary" || ctx.draining.length > 0) deps.analyses.stop(ctx.key);
  ctx.step = step;
  if (mem.traffic !== undefined) deps.opts.traffic?.want(ctx.key, mem.traffic);
  // Sizes that changed while no pod is created or removed (a revision scaled down whose pods were never
  // made): nothing in the fleet changes to bring the next step, so look again at once — as a ReplicaSet's
  // own update brings Kubernetes' Deployment controller back. Sizes converge, so this ends.
  if (ctx.draining.length === 0 && step.create === 0 && step.remove.length === 0 && !sameSizes(mem.sizes, step.sizes)) requeue(ctx, 1);
  if (ctx.draining.length === 0) mem.sizes = step.sizes;
  mem.waiting = step.waiting;
  // A complete workload is not late: if it stops being complete (a pod lost), the deadline counts from then.
  // Waiting for pods to stop is progress (the step says so while they stop); the reconcile that sees the
  // last of them gone is too, so the pods created after the wait get the whole deadline.
  const stopping = ctx.pods.some((p) => p.phase === "Terminating");
  if (step.progressed || step.complete || (mem.sawStopping && !stopping)) mem.lastProgressAt = ctx.now;
  mem.sawStopping = stopping;
  if (step.requeueAfterMs !== undefined) requeue(ctx, step.requeueAfterMs);

  // Failure detection runs until the revision is stable. A stable revision that is not complete (a
  // rollback to it, pods replaced after a node loss) is held to its progress deadline only: its pods were
  // proven before, and crashes of a proven revision are the kubelet's business.
  const proving = mem.stable?.revision !== plan.revision;
  if (proving || !step.complete) {
    const updated = proving ? ctx.pods.filter((p) => p.revision === plan.revision && p.phase !== "Terminating") : [];
    notePodsSeen(mem.seen, ctx.pods, deps.startedAt, ctx.now);
    const seen = mem.seen;
    const healthPods: HealthPod[] = healthPodsOf(updated, seen);
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
    if (ctx.health.requeueAfterMs !== undefined) requeue(ctx, ctx.health.requeueAfterMs);
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

/**
 * Measures the analysis step the canary `status` is at, for the wanted revision (controllers/workload/
 * analysis.ts), says each window and the outcome in the log, and returns the verdict for canaryStep; at
 * any other step, stops measuring and returns nothing.
 */
function measureAnalysis(deps: DecideDeps, ctx: Ctx, status: CanaryStatus | undefined): CanaryInput["analysis"] {
  const plan = ctx.plan!;
  const mem = ctx.mem!;
  const step = status !== undefined && status.revision === plan.revision ? ctx.steps?.[status.stepIndex] : undefined;
  if (step === undefined || !("analysis" in step) || status!.pauseStartedAt === undefined) {
    deps.analyses.stop(ctx.key);
    return undefined;
  }
  const { stepIndex, pauseStartedAt } = status!;
  const groups = revisionGroups(ctx.pods, plan.revision, mem.stable?.revision, (node) => deps.opts.fleet.nodeConfig(node)?.address);
  const before = mem.analysis;
  const { state, judged, wakeAt } = deps.analyses.measure(ctx.key, { revision: plan.revision, step: stepIndex, spec: step.analysis, startedAt: pauseStartedAt! }, before, groups, ctx.now);
  const where = `${ctx.key} revision ${plan.revision} step ${stepIndex + 1}`;
  for (const [i, w] of judged.entries()) deps.opts.reporter.log(ctx.key).info(`${where}: analysis ${describeWindow(w, state.windows.length - judged.length + i + 1)}`);
  if (state.verdict.phase !== "Running" && (before?.verdict.phase !== state.verdict.phase || before.startedAt !== state.startedAt)) {
    deps.opts.reporter.log(ctx.key)[state.verdict.phase === "Successful" ? "info" : "warn"](`${where}: ${state.verdict.message}`);
    ctx.events.push({ type: state.verdict.phase === "Successful" ? "Normal" : "Warning", reason: `Analysis${state.verdict.phase}`, message: state.verdict.message });
  }
  mem.analysis = state;
  if (wakeAt !== undefined) requeue(ctx, wakeAt - ctx.now);
  return { stepIndex, phase: state.verdict.phase };
}

/** The promote annotation, counted only when it changed since the revision started (it is level-based). */
function promoteOf(ctx: Ctx): Promote | undefined {
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
