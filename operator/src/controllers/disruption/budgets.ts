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
import { admitDisruptions, budgetStates, describeBlocked, type Budget, type BudgetPod, type BudgetState, type DisruptionVerdict } from "../../rollout/disruption.js";
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
function admitEvictions(graph: DesiredGraph, pods: readonly ObservedPod[], names: readonly string[]): DisruptionVerdict {
  const states = disruptionStates(graph, pods);
  if (states.length === 0) return { allowed: [...names], blocked: [] };
  return admitDisruptions(states, pods.map(budgetPodOf), names);
}

/** What admitDrainMoves decided for one owner's removals. */
export interface DrainAdmission {
  /** The removals that may happen now (all but the held drain moves), in the order given. */
  allowed: string[];
  /** What holds the drain, per node: "drain of node a waits: PodDisruptionBudget …" (empty: nothing holds it). */
  blocked: Map<string, string>;
}

/**
 * A drain's moves are voluntary evictions (`kubectl drain` evicts through the eviction API): of `remove`
 * (the pods an owner is about to delete, `pods` being that owner's), those in `evictions` go only while
 * every budget over them allows a disruption; the other removals (the owner's own rolling update or
 * scale-down) are not limited by budgets, as in Kubernetes. `fleetPods` are all of the fleet's pods.
 * Call it right before the deletions, with no await in between, so that two owners never spend the same
 * disruption.
 */
export function admitDrainMoves(
  graph: DesiredGraph | undefined,
  fleetPods: readonly ObservedPod[],
  pods: readonly ObservedPod[],
  remove: readonly string[],
  evictions: readonly string[],
): DrainAdmission {
  const asked = remove.filter((n) => evictions.includes(n));
  const verdict = asked.length > 0 && graph ? admitEvictions(graph, fleetPods, asked) : undefined;
  const blocked = new Map<string, string>();
  for (const b of verdict?.blocked ?? []) {
    const node = pods.find((p) => p.name === b.pod)?.node ?? "?";
    if (!blocked.has(node)) blocked.set(node, `drain of node ${node} waits: ${describeBlocked(b)}`);
  }
  const held = new Set((verdict?.blocked ?? []).map((b) => b.pod));
  return { allowed: remove.filter((n) => !held.has(n)), blocked };
}
