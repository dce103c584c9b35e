/**
 * The status file of a PodDisruptionBudget: disruptionbudgets/<namespace>/<name>.yaml on the status branch,
 * with Kubernetes' status fields (currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods, the
 * DisruptionAllowed condition) and the pods it counts. Rendering is pure and deterministic (no clock: the
 * file changes only when the figures do). `coxswain status` reads it back (readBudgetRecord).
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";

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

/** A budget's status file read back; undefined when it is absent or not one (status/schemas.ts). */
export function readBudgetRecord(text: string): BudgetRecord | undefined {
  const d = statusRecordOrUndefined("disruption budget", text) as unknown as (Omit<BudgetRecord, "status"> & { status: Partial<BudgetRecord["status"]> & Omit<BudgetRecord["status"], "conditions"> }) | undefined;
  if (!d) return undefined;
  const s = d.status;
  return {
    budget: d.budget,
    ...(d.minAvailable !== undefined ? { minAvailable: d.minAvailable } : {}),
    ...(d.maxUnavailable !== undefined ? { maxUnavailable: d.maxUnavailable } : {}),
    unhealthyPodEvictionPolicy: d.unhealthyPodEvictionPolicy ?? "IfHealthyBudget",
    status: { currentHealthy: s.currentHealthy, desiredHealthy: s.desiredHealthy, disruptionsAllowed: s.disruptionsAllowed, expectedPods: s.expectedPods, conditions: s.conditions ?? [] },
    pods: d.pods ?? [],
  };
}
