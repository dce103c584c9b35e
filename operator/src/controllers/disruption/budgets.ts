/**
 * The PodDisruptionBudgets of the applied commit over the fleet's pods: the one place every controller
 * asks before a voluntary disruption (admitDrainMoves: a drain's move of a Deployment's, Rollout's,
 * ReplicaSet's, ReplicationController's or StatefulSet's pod, or a drain's eviction of a Job's running pod), and what the budgets' status files and
 * preemption read. The arithmetic is rollout/disruption.ts (pure);
 * this only gathers its inputs: budgets from the graph, pods (of every owner) from the fleet, and each
 * owner's scale: spec.replicas from the graph (an autoscaled owner's count from its status record), a
 * DaemonSet's desiredNumberScheduled from its status record.
 *
 * Call admitDrainMoves and delete the pods it allows without an await in between: the fleet marks a
 * deleted pod Terminating at once, so the next caller's count already misses it.
 */
import type { DesiredObject, PodDisruptionBudget } from "../../api/objects.js";
import { autoscalerOf, type DesiredGraph } from "../../graph/index.js";
import { admitDisruptions, budgetStates, describeBlocked, type Budget, type BudgetPod, type BudgetState, type DisruptionVerdict } from "../../rollout/disruption.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import type { WorkloadRecord } from "../../status/types.js";

/** Workloads' status records by key (WorkloadReporter.previousRecord): where a DaemonSet's desired pod count is. */
export type WorkloadRecords = (key: string) => WorkloadRecord | undefined;

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
 * The scale of an owner: spec.replicas of the object in the graph (Kubernetes' scale subresource) — for an
 * owner a HorizontalPodAutoscaler scales, the count it runs (the desired count of its status record), as
 * the autoscaler writes the scale subresource in Kubernetes —; for a
 * DaemonSet, which has none, the number of nodes that should run its pod (status.desiredNumberScheduled,
 * from the DaemonSet controller's record) — where Kubernetes' disruption controller finds no scale and
 * fails safe (see README). undefined for an owner gone from Git or a DaemonSet not recorded yet: its pods
 * are counted instead.
 */
function scaleIn(graph: DesiredGraph, records: WorkloadRecords | undefined): (owner: string) => number | undefined {
  return (owner) => {
    const obj: DesiredObject | undefined = graph.get(owner)?.object;
    if (obj?.kind === "DaemonSet") return records?.(owner)?.daemonSet?.desiredNumberScheduled;
    const scaled = obj !== undefined && autoscalerOf(graph, owner) !== undefined ? records?.(owner)?.replicas.desired : undefined;
    if (scaled !== undefined) return scaled;
    const spec = obj && "spec" in obj ? (obj.spec as { replicas?: unknown } | undefined) : undefined;
    return typeof spec?.replicas === "number" ? spec.replicas : undefined;
  };
}

/**
 * Every budget of the graph with its status over `pods` (all of the fleet's pods), sorted by name;
 * `records` gives DaemonSets' desired pod counts (without it, their pods are counted).
 */
export function disruptionStates(graph: DesiredGraph, pods: readonly ObservedPod[], records?: WorkloadRecords): BudgetState[] {
  const budgets = graph.ofKind("PodDisruptionBudget").map((m) => budgetOf(m.object as PodDisruptionBudget));
  return budgetStates(budgets, pods.map(budgetPodOf), scaleIn(graph, records));
}

/**
 * The eviction API for a batch: which of the pods `names` may be disrupted now (in that order), and which
 * budget holds each of the others. `pods` are all of the fleet's pods (budgets count across owners).
 */
function admitEvictions(graph: DesiredGraph, pods: readonly ObservedPod[], names: readonly string[], records: WorkloadRecords | undefined): DisruptionVerdict {
  const states = disruptionStates(graph, pods, records);
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

/** What admitDrainMoves reads. */
export interface DrainMoves {
  /** The applied graph (its budgets and owners); undefined: nothing is held. */
  graph: DesiredGraph | undefined;
  /** All of the fleet's pods (budgets count across owners). */
  fleetPods: readonly ObservedPod[];
  /** The owner's pods (where each removal is, for the message). */
  pods: readonly ObservedPod[];
  /** The pods the owner is about to delete now. */
  remove: readonly string[];
  /** Which of them are a drain's moves (voluntary evictions). */
  evictions: readonly string[];
  /** DaemonSets' desired pod counts (their status records). */
  records?: WorkloadRecords;
}

/**
 * A drain's moves are voluntary evictions (`kubectl drain` evicts through the eviction API): of `remove`,
 * those in `evictions` go only while every budget over them allows a disruption; the other removals (the
 * owner's own rolling update or scale-down) are not limited by budgets, as in Kubernetes. Call it right
 * before the deletions, with no await in between, so that two owners never spend the same disruption.
 */
export function admitDrainMoves(m: DrainMoves): DrainAdmission {
  const asked = m.remove.filter((n) => m.evictions.includes(n));
  const verdict = asked.length > 0 && m.graph ? admitEvictions(m.graph, m.fleetPods, asked, m.records) : undefined;
  const blocked = new Map<string, string>();
  for (const b of verdict?.blocked ?? []) {
    const node = m.pods.find((p) => p.name === b.pod)?.node ?? "?";
    if (!blocked.has(node)) blocked.set(node, `drain of node ${node} waits: ${describeBlocked(b)}`);
  }
  const held = new Set((verdict?.blocked ?? []).map((b) => b.pod));
  return { allowed: m.remove.filter((n) => !held.has(n)), blocked };
}
