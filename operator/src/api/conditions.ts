/**
 * Conditions and events, the shape in which controllers summarize a workload (as Kubernetes and Flux do).
 */

/** Kubernetes-style condition: a named yes/no/unknown fact with the reason that last changed it. */
export interface Condition {
  /** e.g. "Available", "Progressing", "Ready". */
  type: string;
  status: "True" | "False" | "Unknown";
  /** CamelCase reason, stable (often an error code), e.g. "NewReplicaSetAvailable". */
  reason: string;
  message: string;
  /** ISO-8601 time the status last changed (not when it was last computed, so unchanged status writes nothing). */
  lastTransitionTime: string;
}

/** A timestamped event in a workload's recent history. */
export interface WorkloadEvent {
  /** ISO-8601 time. */
  time: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/**
 * Returns conditions with `next` set: the transition time is kept when status is unchanged, so that
 * recomputing the same facts yields the same value (and no new status commit). Sorted by type.
 */
export function setCondition(conditions: readonly Condition[], next: Omit<Condition, "lastTransitionTime">, now: Date): Condition[] {
  const prev = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : now.toISOString();
  const out = conditions.filter((c) => c.type !== next.type);
  out.push({ ...next, lastTransitionTime });
  return out.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}
