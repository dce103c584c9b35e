/**
 * The PodDisruptionBudgets of the applied commit over the fleet's pods: the one place every controller
 * asks before a voluntary disruption (a drain's move; a DaemonSet's or StatefulSet's update that evicts),
 * and what the budgets' status files and preemption read. The arithmetic is rollout/disruption.ts (pure);
 * this only gathers its inputs: budgets from the graph, pods (of every owner) from the fleet, and each
 * owner's scale from the graph.
 *
 * Call admitEvictions and delete the pods it allows without an await in between: the fleet marks a
 * deleted pod Terminating at once, so the next caller's count already misses it.
 */
import type { DesiredObject, PodDisruptionBudget } from "../../api/objects.js";
import type { DesiredGraph } from "../../graph/index.js";
import { admitDisruptions, budgetStates, type Budget, type BudgetPod, type BudgetState, type DisruptionVerdict } from "../../rollout/disruption.js";
import type { ObservedPod } from "../../runtime/fleet.js";

/** A budget object as the pure module reads it. */
function budgetOf(pdb: PodDisruptionBudget): Budget {
  const namespace = pdb.metadata.namespace ?? "default";
  const s = pdb.spec;
  return {
    name: `${namespace}/${pdb.metadata.name}`,
    namespace,
    ...(s.selector !== undefined ? { selector: s.selector } : {}),
    ...(s.minAvailable !== undefined ? { minAvailable: s.minAvailable } : {}),
    ...(s.maxUnavailable !== undefined ? { maxUnavailable: s.maxUnavailable } : {}),
    ...(s.unhealthyPodEvictionPolicy !== undefined ? { unhealthyPodEvictionPolicy: s.unhealthyPodEvictionPolicy } : {}),
  };
}

/** An observed pod as budgets see it. */
function budgetPodOf(p: ObservedPod): BudgetPod {
  return { name: p.name, namespace: p.namespace, labels: p.labels, owner: p.owner, phase: p.phase, ready: p.ready };
}

/**
 * The scale of an owner (Kubernetes' scale subresource): spec.replicas of the object in the graph; undefined
 * for a kind without one (a DaemonSet) or an owner gone from Git — its pods are counted instead.
 */
function scaleIn(graph: DesiredGraph): (owner: string) => number | undefined {
  return (owner) => {
    const obj: DesiredObject | undefined = graph.get(owner)?.object;
    const spec = obj && "spec" in obj ? (obj.spec as { replicas?: unknown } | undefined) : undefined;
    return typeof spec?.replicas === "number" ? spec.replicas : undefined;
  };
}

/** Every budget of the graph with its status over `pods` (all of the fleet's pods), sorted by name. */
export function disruptionStates(graph: DesiredGraph, pods: readonly ObservedPod[]): BudgetState[] {
  const budgets = graph.ofKind("PodDisruptionBudget").map((m) => budgetOf(m.object as PodDisruptionBudget));
  return budgetStates(budgets, pods.map(budgetPodOf), scaleIn(graph));
}

/**
 * The eviction API for a batch: which of the pods `names` may be disrupted now (in that order), and which
 * budget holds each of the others. `pods` are all of the fleet's pods (budgets count across owners).
 */
export function admitEvictions(graph: DesiredGraph, pods: readonly ObservedPod[], names: readonly string[]): DisruptionVerdict {
  const states = disruptionStates(graph, pods);
  if (states.length === 0) return { allowed: [...names], blocked: [] };
  return admitDisruptions(states, pods.map(budgetPodOf), names);
}
