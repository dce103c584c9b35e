/**
 * Drain moves of the workload controller (controller.ts): which of a workload's pods are on a draining node,
 * the step that moves them off it, and the PodDisruptionBudgets asked right before each removal.
 */
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { nextStep } from "../../rollout/index.js";
import type { RolloutInput, RolloutPod, RolloutStep } from "../../rollout/types.js";
import { admitDrainMoves } from "../disruption/budgets.js";
import type { Ctx } from "./context.js";
import type { WorkloadControllerOptions } from "./controller.js";

/** The names of `pods` on a draining node (its config has `drain: true`), but not those already stopping. */
export function drainingPods(fleet: Fleet, pods: readonly ObservedPod[]): string[] {
  const drainingNodes = new Set(
    fleet
      .listNodes()
      .filter((n) => n.config.drain)
      .map((n) => n.config.name),
  );
  return pods.filter((p) => drainingNodes.has(p.node) && p.phase !== "Terminating").map((p) => p.name);
}

/**
 * Drain: the pods on a draining node (ctx.draining) count as an older revision, so the rolling rules move
 * them — new pods first (within maxSurge, off the cordoned node), old ones removed while availability holds.
 */
export function drainStep(ctx: Ctx, common: Omit<RolloutInput, "pods" | "sizes">, pods: readonly RolloutPod[]): RolloutStep {
  const params = ctx.params!;
  const moved = pods.map((p) => (ctx.draining.includes(p.name) ? { ...p, revision: `${p.revision}~drain` } : p));
  const surge = ctx.strategy === "Recreate" || ctx.strategy === "BlueGreen" ? Math.max(1, params.maxSurge) : params.maxSurge;
  return nextStep({ ...common, params: { ...common.params, strategy: "RollingUpdate", maxSurge: surge, maxUnavailable: surge === 0 && params.maxUnavailable === 0 ? 1 : params.maxUnavailable }, pods: moved });
}

/**
 * A drain's removals are voluntary evictions: each pod on a draining node goes only while every
 * PodDisruptionBudget over it (pods of any owner) allows a disruption. Other removals — the workload's own
 * rolling update or scale-down — are not limited by budgets, as in Kubernetes. Runs right before the
 * deletions, with no await in between, so that two workloads never spend the same disruption.
 */
export function admitRemovals(opts: WorkloadControllerOptions, ctx: Ctx, remove: readonly string[]): string[] {
  const { allowed, blocked } = admitDrainMoves({
    graph: opts.desired.graph(),
    fleetPods: opts.fleet.pods(),
    pods: ctx.pods,
    remove,
    evictions: ctx.draining,
    ...(opts.reporter.previousRecord ? { records: (k: string) => opts.reporter.previousRecord!(k) } : {}),
  });
  if (blocked.size > 0) ctx.drainBlocked = blocked;
  opts.drainWaits?.set(ctx.key, blocked);
  return allowed;
}
