/**
 * A bare Pod's step. Pure. A Pod is not a controller in Kubernetes: it is scheduled once, binds to its node
 * and is never moved. coxswain keeps that:
 *
 * - No pod yet, never placed at this revision: create it (the scheduler chooses the node once).
 * - Placed before at this revision and its pod is gone: while its node is Ready, the pod's containers were
 *   removed behind coxswain's back — it is created again on that node only (the kubelet would restart them in
 *   place); while the node is NotReady, wait; once the node is lost (evicted, or no longer in the fleet) the pod
 *   is Failed with reason NodeLost and is not recreated anywhere (Kubernetes' pod garbage collector deletes
 *   such a pod and nothing brings it back). Its status says so. A new spec, or removing the Pod from Git and
 *   adding it again, runs it again.
 * - Its spec changed (a new revision): Kubernetes forbids most updates of a Pod; coxswain deletes the pod and,
 *   once it has stopped, creates it again under the same name with the new spec — also a pod that ended.
 * - restartPolicy OnFailure or Never: the pod may end (the fleet's phase). Succeeded (every container exited
 *   0) is complete; Failed (Never, a container exited non-zero) is not. Either way it is terminal, as in
 *   Kubernetes: the pod is kept on its node (its exit and log) and never created again at this revision — not
 *   even when its containers are removed afterwards (`placed.ended` remembers it). A new spec runs it again.
 *   OnFailure restarts a failed container in place, with back-off and no limit (Kubernetes has no backoff
 *   limit for a bare Pod), so such a pod only ends Succeeded.
 */
import { replicaSetStep, type ReplicaSetPod } from "./replicaset.js";
import type { PlannedStep, RolloutParams } from "./types.js";

/** The state of the node a Pod was placed on, as the fleet sees it. */
export type PodNodeState = "Ready" | "NotReady" | "Lost";

/** How a pod with restartPolicy OnFailure or Never ended (Kubernetes' terminal pod phases). */
export type PodEnd = "Succeeded" | "Failed";

/** A bare Pod's pod as its step sees it: the ReplicaSet view, plus how it ended, once it has. */
export interface BarePod extends ReplicaSetPod {
  ended?: PodEnd;
}

/** Everything one step of a bare Pod needs. */
export interface PodStepInput {
  /** minReadySeconds and progressDeadlineSeconds are read; replicas is 1. */
  params: RolloutParams;
  /** The revision of the Pod's spec now. */
  revision: string;
  /** Its pods (at most one per revision; two while it is being replaced). */
  pods: readonly BarePod[];
  now: number;
  lastProgressAt: number;
  /**
   * Where its pod of which revision was placed, and how that pod ended (remembered across restarts);
   * undefined: never placed.
   */
  placed?: { revision: string; node: string; ended?: PodEnd };
  /** The state of a node (of `placed.node`). */
  nodeState: (node: string) => PodNodeState;
}

/** A Pod's step: the ReplicaSet step's fields, plus where to create it and why it is not created. */
export interface PodStep extends PlannedStep {
  /** Create it on this node only (it was placed there before). */
  nodeName?: string;
  /** Its node was lost: the pod is Failed and not recreated (the message says so). */
  lost?: string;
  /** Its spec changed: its old pod is being replaced (the message says so). */
  replacing?: string;
  /** Its pod of this revision ended: how, and the message that says so; it is not created again. */
  ended?: { phase: PodEnd; message: string };
}

/** The next step of a bare Pod (see the file comment). */
export function podStep(input: PodStepInput): PodStep {
  const params = { ...input.params, replicas: 1 };
  const active = input.pods.filter((p) => !p.terminating && !p.failed);
  const stale = active.filter((p) => p.revision !== input.revision);
  const current = active.filter((p) => p.revision === input.revision);
  const base = { params, revision: input.revision, now: input.now, lastProgressAt: input.lastProgressAt };
  if (stale.length > 0 || (current.length === 0 && input.pods.some((p) => p.terminating))) {
    // Replace: the old pod goes first (the new one takes its name), nothing is created meanwhile.
    const step = replicaSetStep({ ...base, pods: input.pods, evict: stale.map((p) => p.name) });
    const names = stale.map((p) => p.name).join(", ");
    return {
      ...step,
      create: 0,
      revisions: step.revisions.map((r) => ({ ...r, create: 0 })),
      complete: false,
      reason: stale.length > 0 ? `spec changed: deleting pod ${names} to create it again with the new spec (a Pod's spec cannot be updated in place)` : "waiting for the old pod to stop before creating it again",
      ...(stale.length > 0 ? { replacing: `spec changed: pod ${names} is deleted and created again with revision ${input.revision} (Kubernetes forbids most Pod updates; coxswain replaces the pod)` } : {}),
    };
  }
  const step = replicaSetStep({ ...base, pods: input.pods });
  const ended = current.find((p) => p.ended !== undefined)?.ended ?? (current.length === 0 && input.placed?.revision === input.revision ? input.placed.ended : undefined);
  if (ended !== undefined) {
    // Terminal: nothing is created or removed, and no deadline runs (the pod is done, not late).
    const name = current[0]?.name;
    const what = name !== undefined ? `pod ${name}` : "its pod (its containers were removed since)";
    const message =
      ended === "Succeeded"
        ? `${what} Succeeded: every container exited 0; a Pod that ended is not run again — change its spec to run it again`
        : `${what} Failed: a container exited non-zero and restartPolicy Never keeps it down; a Pod that ended is not run again — change its spec to run it again`;
    const out: PodStep = {
      ...step,
      create: 0,
      remove: [],
      revisions: step.revisions.map((r) => ({ ...r, create: 0, remove: [] })),
      complete: ended === "Succeeded",
      progressed: false,
      deadlineExceeded: false,
      reason: message,
      ended: { phase: ended, message },
    };
    delete out.requeueAfterMs;
    return out;
  }
  if (current.length > 0 || step.create === 0 || input.placed?.revision !== input.revision) return step;
  const node = input.placed.node;
  const state = input.nodeState(node);
  if (state === "Ready") return { ...step, nodeName: node, reason: `its containers are gone: creating pod again on its node ${node} (a Pod is never rescheduled)` };
  const hold = { ...step, create: 0, revisions: step.revisions.map((r) => ({ ...r, create: 0 })), requeueAfterMs: Math.min(step.requeueAfterMs ?? 5000, 5000), deadlineExceeded: false };
  if (state === "NotReady") return { ...hold, complete: false, reason: `waiting for node ${node}, NotReady: a Pod is never rescheduled` };
  const lost = `node ${node} was lost: the pod is Failed (NodeLost) and is not recreated — a Pod is scheduled once and never rescheduled, as in Kubernetes; change its spec, or remove it from Git and add it again, to run it again`;
  return { ...hold, complete: true, progressed: false, reason: lost, lost };
}
