/**
 * The PodDisruptionBudget controller: every budget of the applied commit → its status file
 * (disruptionbudgets/<ns>/<name>.yaml: Kubernetes' currentHealthy, desiredHealthy, disruptionsAllowed,
 * expectedPods), recomputed from the fleet's pods whenever pods change or a commit is applied. One key,
 * BUDGETS_KEY, looks at every budget: a budget counts pods of any owner. It decides nothing: drains and
 * preemption ask the budgets themselves (budgets.ts) at the moment they disrupt.
 */
import type { PodDisruptionBudget } from "../../api/objects.js";
import type { Fleet } from "../../runtime/fleet.js";
import { budgetPath, renderBudgetRecord, type BudgetRecord } from "../../status/disruption-budgets.js";
import type { BudgetState } from "../../rollout/disruption.js";
import type { DesiredView } from "../types.js";
import { disruptionStates, type WorkloadRecords } from "./budgets.js";

/** The key that makes the controller write every budget's status. */
export const BUDGETS_KEY = "PodDisruptionBudget/*";

/** Options of the PodDisruptionBudget controller. */
export interface DisruptionBudgetControllerOptions {
  desired: DesiredView;
  fleet: Pick<Fleet, "pods">;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** Paths of the status files under a prefix (read back after a restart too). */
  statusFiles(prefix: string): string[];
  /** Workloads' status records: DaemonSets' desired pod counts (without it, their pods are counted). */
  records?: WorkloadRecords;
}

/** Reconciles BUDGETS_KEY. */
export class DisruptionBudgetController {
  private readonly written = new Map<string, string>();

  constructor(private readonly opts: DisruptionBudgetControllerOptions) {}

  /** Writes the status file of every budget; removes those of budgets gone from Git. */
  async reconcile(_key: string): Promise<void> {
    const graph = this.opts.desired.graph();
    if (!graph || this.opts.desired.ready?.() === false) return;
    const paths = new Set<string>();
    for (const state of disruptionStates(graph, this.opts.fleet.pods(), this.opts.records)) {
      const pdb = graph.get(`PodDisruptionBudget/${state.budget.name}`)?.object as PodDisruptionBudget | undefined;
      if (!pdb) continue;
      const path = budgetPath(state.budget.name);
      paths.add(path);
      this.write(path, renderBudgetRecord(budgetRecord(pdb, state)));
    }
    for (const path of this.opts.statusFiles("disruptionbudgets/")) if (!paths.has(path)) this.write(path, undefined);
  }

  private write(path: string, content: string | undefined): void {
    if (content !== undefined && this.written.get(path) === content) return;
    if (content === undefined) this.written.delete(path);
    else this.written.set(path, content);
    this.opts.setStatusFile(path, content);
  }
}

/** A budget's status record, with Kubernetes' DisruptionAllowed condition. */
function budgetRecord(pdb: PodDisruptionBudget, s: BudgetState): BudgetRecord {
  const allowed = s.disruptionsAllowed > 0;
  return {
    budget: s.budget.name,
    ...(pdb.spec.minAvailable !== undefined ? { minAvailable: pdb.spec.minAvailable } : {}),
    ...(pdb.spec.maxUnavailable !== undefined ? { maxUnavailable: pdb.spec.maxUnavailable } : {}),
    unhealthyPodEvictionPolicy: pdb.spec.unhealthyPodEvictionPolicy ?? "IfHealthyBudget",
    status: {
      currentHealthy: s.currentHealthy,
      desiredHealthy: s.desiredHealthy,
      disruptionsAllowed: s.disruptionsAllowed,
      expectedPods: s.expectedPods,
      conditions: [
        allowed
          ? { type: "DisruptionAllowed", status: "True", reason: "SufficientPods", message: `${s.disruptionsAllowed} disruption(s) allowed: ${s.currentHealthy} healthy, ${s.desiredHealthy} desired` }
          : { type: "DisruptionAllowed", status: "False", reason: "InsufficientPods", message: `no disruption allowed: ${s.currentHealthy} healthy, ${s.desiredHealthy} desired, ${s.expectedPods} expected` },
      ],
    },
    pods: s.pods,
  };
}
