/**
 * The step of the kinds that do not roll out, for the workload controller: ReplicaSets and
 * ReplicationControllers (rollout/replicaset.ts: pods of a draining node evicted and replaced) and bare Pods
 * (rollout/pod.ts: never moved off their node; a bare Pod stays on a draining node, as `kubectl drain` leaves
 * it without --force; one with restartPolicy OnFailure or Never that ended is terminal, and where it was
 * placed remembers how it ended). It says in events what Kubernetes users expect to hear: that a ReplicaSet's
 * running pods keep their template, that a Pod is replaced, that a Pod's node was lost, that a Pod completed
 * or failed.
 */
import type { WorkloadEvent } from "../../api/conditions.js";
import { podStep, replicaSetStep } from "../../rollout/index.js";
import type { PlannedStep, PodEnd, PodNodeState, PodStep, RolloutParams, RolloutPod } from "../../rollout/index.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import type { TemplatePlan } from "./template.js";

/** What the controller remembers for these kinds (part of its per-workload memory; updated in place). */
export interface ReplicasMemory {
  lastProgressAt: number;
  /** A bare Pod: where its pod of which revision was placed (it is never placed again), and how it ended. */
  placed?: { revision: string; node: string; ended?: PodEnd };
  /** A ReplicaSet: the revision whose "running pods keep their template" event was given. */
  templateNoted?: string;
}

/** Everything one decision needs. */
export interface ReplicasInput {
  strategy: "ReplicaSet" | "Pod";
  plan: TemplatePlan;
  params: RolloutParams;
  /** The workload's pods as observed. */
  observed: readonly ObservedPod[];
  /** The same pods as the rollout decisions see them, plus the ones being created. */
  pods: readonly RolloutPod[];
  /** Pods on draining nodes. */
  draining: readonly string[];
  now: number;
  mem: ReplicasMemory;
  fleet: Pick<Fleet, "listNodes">;
}

/** The step, the events to record, and (a bare Pod) the node its pod must be created on. */
export interface ReplicasDecision {
  step: PlannedStep & Pick<PodStep, "lost" | "ended">;
  events: Omit<WorkloadEvent, "time">[];
  nodeName?: string;
}

/** Decides a ReplicaSet's, ReplicationController's or bare Pod's step (see the file comment). */
export function decideReplicas(input: ReplicasInput): ReplicasDecision {
  const { plan, mem } = input;
  const observed = new Map(input.observed.map((p) => [p.name, p]));
  // Pods being created are unscheduled and pending for the ranking (they are never chosen: they are not
  // observed yet, and a surplus has more observed pods than that).
  const pods = input.pods.map((p) => {
    const o = observed.get(p.name);
    return { ...p, ...(o ? { node: o.node } : {}), pending: o ? o.phase === "Pending" : true, restartCount: o?.restartCount ?? 0 };
  });
  const common = { params: input.params, revision: plan.revision, pods, now: input.now, lastProgressAt: mem.lastProgressAt };
  const events: Omit<WorkloadEvent, "time">[] = [];
  if (input.strategy === "ReplicaSet") {
    const older = input.observed.filter((p) => p.phase !== "Terminating" && p.revision !== plan.revision);
    if (older.length > 0 && mem.templateNoted !== plan.revision) {
      mem.templateNoted = plan.revision;
      const revisions = [...new Set(older.map((p) => p.revision))].sort().join(", ");
      events.push({
        type: "Normal",
        reason: "TemplateChanged",
        message: `template changed to revision ${plan.revision}: the ${older.length} running pod(s) keep revision ${revisions}; only pods created from now on get the new template (a ReplicaSet does not roll out, as in Kubernetes — a Deployment does)`,
      });
    }
    return { step: replicaSetStep({ ...common, evict: input.draining }), events };
  }
  const current = input.observed.find((p) => p.phase !== "Terminating" && p.revision === plan.revision);
  if (current) {
    const ended = endOf(current);
    mem.placed = { revision: plan.revision, node: current.node, ...(ended !== undefined ? { ended } : {}) };
  }
  const bare = pods.map((p) => {
    const ended = observed.has(p.name) ? endOf(observed.get(p.name)!) : undefined;
    return ended !== undefined ? { ...p, ended } : p;
  });
  const step = podStep({ ...common, pods: bare, ...(mem.placed ? { placed: mem.placed } : {}), nodeState: (n) => nodeState(input.fleet, n) });
  if (step.replacing !== undefined) events.push({ type: "Normal", reason: "Replacing", message: step.replacing });
  if (step.lost !== undefined) events.push({ type: "Warning", reason: "NodeLost", message: step.lost });
  if (step.ended !== undefined) events.push({ type: step.ended.phase === "Succeeded" ? "Normal" : "Warning", reason: step.ended.phase === "Succeeded" ? "Completed" : "PodFailed", message: step.ended.message });
  return { step, events, ...(step.nodeName !== undefined ? { nodeName: step.nodeName } : {}) };
}

/** How a pod ended (restartPolicy OnFailure or Never: the fleet's terminal phases); undefined while it has not. */
function endOf(p: ObservedPod): PodEnd | undefined {
  return p.phase === "Succeeded" || p.phase === "Failed" ? p.phase : undefined;
}

/** The state of a node for a bare Pod: Lost once evicted or gone from the fleet. */
function nodeState(fleet: Pick<Fleet, "listNodes">, name: string): PodNodeState {
  const n = fleet.listNodes().find((x) => x.config.name === name);
  if (!n || n.evicted) return "Lost";
  return n.ready && n.condition === "Ready" ? "Ready" : "NotReady";
}
