/**
 * The status file of a PodDisruptionBudget: disruptionbudgets/<namespace>/<name>.yaml on the status branch,
 * with Kubernetes' status fields (currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods, the
 * DisruptionAllowed condition) and the pods it counts. Rendering is pure and deterministic (no clock: the
 * file changes only when the figures do). `coxswain status` reads it back (readBudgetRecord).
 */
import { parse, stringify } from "yaml";

/** disruptionbudgets/<namespace>/<name>.yaml. */
export function budgetPath(budget: string): string {
  return `disruptionbudgets/${budget}.yaml`;
}

/** What the status file of one budget says. */
export interface BudgetRecord {
  /** "namespace/name". */
  budget: string;
  /** The spec's minAvailable or maxUnavailable, as written. */
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  unhealthyPodEvictionPolicy: "IfHealthyBudget" | "AlwaysAllow";
  status: {
    currentHealthy: number;
    desiredHealthy: number;
    disruptionsAllowed: number;
    expectedPods: number;
    /** Kubernetes' DisruptionAllowed: True (SufficientPods) while a disruption is allowed, else False (InsufficientPods). */
    conditions: { type: "DisruptionAllowed"; status: "True" | "False"; reason: "SufficientPods" | "InsufficientPods"; message: string }[];
  };
  /** The pods its selector matches, sorted. */
  pods: string[];
}

/** The YAML text of a budget's status file. */
export function renderBudgetRecord(r: BudgetRecord): string {
  return stringify({
    budget: r.budget,
    ...(r.minAvailable !== undefined ? { minAvailable: r.minAvailable } : {}),
    ...(r.maxUnavailable !== undefined ? { maxUnavailable: r.maxUnavailable } : {}),
    unhealthyPodEvictionPolicy: r.unhealthyPodEvictionPolicy,
    status: {
      currentHealthy: r.status.currentHealthy,
      desiredHealthy: r.status.desiredHealthy,
      disruptionsAllowed: r.status.disruptionsAllowed,
      expectedPods: r.status.expectedPods,
      conditions: r.status.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    },
    pods: [...r.pods],
  });
}

/** A budget's status file read back; undefined when it is not one. */
export function readBudgetRecord(text: string): BudgetRecord | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== "object") return undefined;
  const d = doc as Partial<BudgetRecord>;
  const s = d.status;
  if (typeof d.budget !== "string" || !s || typeof s.currentHealthy !== "number" || typeof s.desiredHealthy !== "number" || typeof s.disruptionsAllowed !== "number" || typeof s.expectedPods !== "number") return undefined;
  return {
    budget: d.budget,
    ...(d.minAvailable !== undefined ? { minAvailable: d.minAvailable } : {}),
    ...(d.maxUnavailable !== undefined ? { maxUnavailable: d.maxUnavailable } : {}),
    unhealthyPodEvictionPolicy: d.unhealthyPodEvictionPolicy === "AlwaysAllow" ? "AlwaysAllow" : "IfHealthyBudget",
    status: { currentHealthy: s.currentHealthy, desiredHealthy: s.desiredHealthy, disruptionsAllowed: s.disruptionsAllowed, expectedPods: s.expectedPods, conditions: Array.isArray(s.conditions) ? s.conditions : [] },
    pods: Array.isArray(d.pods) ? d.pods.map(String) : [],
  };
}
