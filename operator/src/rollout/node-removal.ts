/**
 * A Node removed from Git, pure: whether it leaves the fleet now or stays, draining, until the pods a drain
 * moves are off it. An operator of Nomad (a drained client) or Kamal (a removed host) expects a node taken out
 * of the configuration to be emptied gracefully, not cut off: so a removed node that answers is first drained
 * — cordoned, its pods moved by their workloads under their availability rules and the PodDisruptionBudgets,
 * exactly as `drain: true` moves them — and leaves only once none of those pods is left on it.
 *
 * What holds a leaving node: every pod a drain moves (a Deployment's, Rollout's, ReplicaSet's,
 * ReplicationController's, StatefulSet's or Job's) that has not ended, stopping ones included (their grace
 * period runs on the node). What does not: a DaemonSet's pod (a drain leaves it, as `kubectl drain
 * --ignore-daemonsets`), a pod that ended (Succeeded or Failed: it holds nothing, it is a record), and a bare
 * Pod — a drain leaves it where it is, as `kubectl drain` without `--force` does; rather than hold the node for
 * ever (kubectl refuses the drain), the node leaves and the Pod goes with it, as Kubernetes' pod garbage
 * collector deletes the pods of a deleted Node: it is then Failed (NodeLost), never recreated. Those pods are
 * stopped when the node leaves.
 *
 * A removed node that does not answer leaves at once: nothing can be moved from it (a move stops the pod on
 * the node). One that stops answering while it drains leaves once it is NotReady (past the grace period, so
 * that one missed listing does not cut a drain short); its pods are then replaced as a lost node's are.
 */

/** The owner kinds whose pods a drain moves off a node (and which therefore hold a leaving node). */
const DRAIN_MOVED_KINDS: readonly string[] = Object.freeze(["Deployment", "Job", "ReplicaSet", "ReplicationController", "Rollout", "StatefulSet"]);

/** The state of a node that is no longer in Git, as the fleet observes it. */
export interface RemovedNode {
  name: string;
  /** Already leaving (removed by an earlier decision and draining since); false: removed just now. */
  leaving: boolean;
  /** Its last listing succeeded, and it was listed at least once since it joined. */
  answers: boolean;
  /** NotReady (silent past the grace period) or evicted. */
  notReady: boolean;
}

/** A pod on the removed node, as the decision reads it. */
export interface RemovedNodePod {
  name: string;
  /** Owner key, "Kind/namespace/name". */
  owner: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Terminating";
}

/** What to do with a node removed from Git. */
export type RemovedNodeStep = { leave: true; reason: string } | { leave: false /** The pods that hold it, sorted. */; holding: string[] };

/** The status line of a leaving node (summary.yaml, `coxswain status`, the fleet's progress line). */
export const LEAVING_MESSAGE = "leaving (removed from Git)";

/** True when the pod keeps a leaving node in the fleet (see the module comment). */
function holdsLeavingNode(pod: RemovedNodePod): boolean {
  if (pod.phase === "Succeeded" || pod.phase === "Failed") return false;
  return DRAIN_MOVED_KINDS.includes(pod.owner.split("/")[0]!);
}

/** Whether a node removed from Git leaves the fleet now, given its state and the pods on it. */
export function removedNodeStep(node: RemovedNode, pods: readonly RemovedNodePod[]): RemovedNodeStep {
  if (!node.leaving && !node.answers) return { leave: true, reason: `node ${node.name} removed from Git does not answer: it leaves at once (nothing can be moved from it)` };
  if (node.notReady) return { leave: true, reason: `node ${node.name} removed from Git is NotReady: it leaves without its drain (its pods are replaced as a lost node's)` };
  const holding = pods
    .filter(holdsLeavingNode)
    .map((p) => p.name)
    .sort();
  if (holding.length === 0) return { leave: true, reason: `node ${node.name} removed from Git is drained: it leaves the fleet` };
  return { leave: false, holding };
}
