/**
 * The workload controller's summarizer (controller.ts, its last step): counts, conditions, strategy state and
 * events of one reconcile → the workload's status record and the sync's verdict, through the reporter.
 */
import { setCondition, type Condition } from "../../api/conditions.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import type { RecordedPod, WorkloadRecord } from "../../status/types.js";
import type { RolloutTrafficState, ServiceRole } from "../../traffic/types.js";
import { stateKey } from "../traffic-board.js";
import { analysisRecord } from "./analysis.js";
import { appendEvents, recordedPods } from "./observed.js";
import type { Ctx } from "./context.js";
import type { WorkloadControllerOptions } from "./controller.js";

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** Derives counts, conditions and events, and reports them. */
export function summarize(opts: WorkloadControllerOptions, ctx: Ctx): void {
  const plan = ctx.plan!;
  const params = ctx.params!;
  const step = ctx.step;
  const mem = ctx.mem!;
  const now = new Date(ctx.now);
  const pods = opts.fleet.pods(ctx.key);
  const live = pods.filter((p) => p.phase !== "Terminating");
  const counts = step?.counts ?? { replicas: live.length, updated: 0, ready: 0, available: 0, unavailable: params.replicas };
  const minAvailable = params.replicas - params.maxUnavailable;
  const failure = ctx.health?.failure;
  const isStable = mem.stable?.revision === plan.revision;

  let conditions = setCondition(
    mem.conditions,
    counts.available >= minAvailable
      ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Workload has minimum availability." }
      : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Workload does not have minimum availability." },
    now,
  );
  let progressing: Omit<Condition, "lastTransitionTime">;
  if (ctx.paused || params.paused) {
    progressing = { type: "Progressing", status: "Unknown", reason: "DeploymentPaused", message: ctx.paused ? "paused: a rollback failed; push a new commit" : "spec.paused is true" };
  } else if (failure) {
    progressing = { type: "Progressing", status: "False", reason: failure.code, message: failure.message };
  } else if (step?.lost) {
    progressing = { type: "Progressing", status: "False", reason: "NodeLost", message: step.lost };
  } else if (step?.ended) {
    // Kubernetes' reasons for a pod that ended: PodCompleted (Succeeded), and a Failed pod's own.
    progressing = { type: "Progressing", status: step.ended.phase === "Succeeded" ? "True" : "False", reason: step.ended.phase === "Succeeded" ? "PodCompleted" : "PodFailed", message: step.ended.message };
  } else if (step?.complete) {
    progressing = { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `revision ${plan.revision} has successfully progressed.` };
  } else if (step?.waiting) {
    const reason = step.waiting === "promotion" ? "WaitingForPromotion" : step.waiting === "analysis" ? "Analyzing" : "Paused";
    progressing = { type: "Progressing", status: "True", reason, message: step.reason };
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
  // A drain held by a PodDisruptionBudget: which budget, in a condition and an event (kubectl drain's
  // "Cannot evict pod as it would violate the pod's disruption budget", with the figures).
  if (ctx.drainBlocked) {
    const message = [...ctx.drainBlocked.values()].join("; ");
    conditions = setCondition(conditions, { type: "DrainBlocked", status: "True", reason: "DisruptionBudget", message }, now);
    ctx.events.push({ type: "Warning", reason: "DisruptionBudget", message });
  } else if (conditions.some((c) => c.type === "DrainBlocked")) {
    conditions = conditions.filter((c) => c.type !== "DrainBlocked");
  }
  if (failure && !mem.conditions.some((c) => c.type === "Progressing" && c.reason === failure.code)) {
    ctx.events.push({ type: "Warning", reason: failure.code, message: failure.message });
  }
  mem.conditions = conditions;
  appendEvents(mem.events, ctx.events, now);
  const recorded: RecordedPod[] = recordedPods(live, (node) => opts.fleet.nodeConfig(node)?.address);
  const record: WorkloadRecord = {
    kind: ctx.kind,
    namespace: ctx.namespace,
    name: ctx.name,
    revision: plan.revision,
    commit: mem.commit,
    replicas: { desired: params.replicas, current: counts.replicas, updated: counts.updated, ready: counts.ready, available: counts.available },
    pods: recorded,
    conditions,
    events: [...mem.events],
    strategy: ctx.strategy!,
    ...(mem.stable ? { stable: mem.stable } : {}),
    revisions: mem.history.map((h) => ({ number: h.revision, revision: h.hash, commit: h.commit })),
    ...(ctx.paused || params.paused ? { paused: true } : {}),
    ...(mem.placed ? { placed: mem.placed } : {}),
    ...(ctx.kind === "Pod"
      ? {
          pod: {
            phase: podPhase(
              live.find((p) => p.revision === plan.revision),
              step,
            ),
            restartPolicy: plan.restartPolicy ?? "Always",
          },
        }
      : {}),
  };
  if (ctx.strategy === "Canary" && mem.canary) {
    record.canary = {
      revision: mem.canary.revision,
      step: mem.canary.stepIndex,
      steps: ctx.steps!.length,
      weight: mem.weight ?? 0,
      ...(mem.canary.pauseStartedAt !== undefined ? { pauseStartedAt: iso(mem.canary.pauseStartedAt)! } : {}),
      ...(mem.waiting ? { waiting: mem.waiting } : {}),
      ...(mem.canary.promoteBaseline !== undefined ? { promoteBaseline: mem.canary.promoteBaseline } : {}),
      ...(mem.analysis !== undefined ? { analysis: analysisRecord(mem.analysis) } : {}),
    };
  }
  if (mem.traffic !== undefined && (ctx.services?.length ?? 0) > 0) record.traffic = trafficRecord(opts, ctx.key, mem.traffic, ctx.services!);
  if (ctx.strategy === "BlueGreen" && mem.blueGreen) {
    const bg = mem.blueGreen;
    const st = bg.status;
    record.blueGreen = {
      ...(bg.active ? { active: bg.active } : {}),
      ...(st && st.revision !== bg.active ? { preview: st.revision } : {}),
      ...(bg.promotedAt !== undefined ? { promotedAt: iso(bg.promotedAt)! } : {}),
      ...(st?.pauseStartedAt !== undefined ? { pauseStartedAt: iso(st.pauseStartedAt)! } : {}),
      ...(st?.scaleDownAt ? { scaleDownAt: Object.fromEntries(Object.entries(st.scaleDownAt).map(([k, v]) => [k, iso(v)!])) } : {}),
      ...(mem.waiting ? { waiting: mem.waiting } : {}),
      ...(bg.promoteBaseline !== undefined ? { promoteBaseline: bg.promoteBaseline } : {}),
    };
  }
  // Done for the sync (gate and commit phase): stable (complete, then healthy for the monitor window), or
  // complete again for a revision that was already stable (scaling, drains).
  const complete = step?.complete === true && (isStable || mem.stable?.revision === plan.revision);
  const failed = failure !== undefined;
  const line = `${ctx.key} revision ${plan.revision}: ${counts.updated}/${params.replicas} updated, ${counts.ready} ready, ${counts.available} available${
    step?.lost
      ? ` — ${step.lost}`
      : step?.ended && !failed
        ? ` — ${step.ended.message}`
        : complete
          ? " — complete"
          : failed
            ? ` — ${failure!.code}: ${failure!.message}`
            : step?.complete
              ? " — complete, watching it stay healthy"
              : ctx.unschedulable
                ? ` — ${ctx.unschedulable}`
                : ctx.createErrors[0]
                  ? ` — cannot create pods: ${ctx.createErrors[0].code}: ${ctx.createErrors[0].message}`
                  : ctx.drainBlocked
                    ? ` — ${[...ctx.drainBlocked.values()].join("; ")}`
                    : step?.reason
                      ? ` — ${step.reason}`
                      : ""
  }`;
  if (line !== mem.lastLine) {
    mem.lastLine = line;
    opts.reporter.log(ctx.key)[failed ? "warn" : "info"](line);
  }
  opts.reporter.report(record, {
    key: ctx.key,
    revision: plan.revision,
    commit: mem.commit,
    complete,
    rolledOut: complete || (!failed && mem.rolledOut === plan.revision),
    failed,
    ...(failed ? { failureCode: failure!.code } : {}),
    message: failed ? `${ctx.key}: ${failure!.message}` : line,
  });
}

/** A Rollout's traffic for its status record: the state, whether every proxy runs it, what each Service serves. */
function trafficRecord(opts: WorkloadControllerOptions, key: string, t: RolloutTrafficState, services: readonly { service: string; role: ServiceRole }[]): NonNullable<WorkloadRecord["traffic"]> {
  const revisionOf = (role: ServiceRole): string | undefined => {
    if (t.strategy === "canary") return role === "canary" ? t.canary : role === "stable" ? t.stable : undefined;
    return role === "active" ? t.active : role === "preview" ? (t.preview ?? t.active) : undefined;
  };
  return {
    ...t,
    applied: stateKey(opts.traffic?.applied(key)) === stateKey(t),
    services: services.map((s) => {
      const revision = revisionOf(s.role);
      return { service: s.service, role: s.role, ...(revision !== undefined ? { revision } : {}) };
    }),
  };
}

/** A bare Pod's phase, as Kubernetes shows it: its pod's, or, with no pod, how it ended (Failed once its node was lost). */
function podPhase(pod: ObservedPod | undefined, step: Ctx["step"]): string {
  if (pod) return pod.phase;
  return step?.ended?.phase ?? (step?.lost !== undefined ? "Failed" : "Pending");
}
