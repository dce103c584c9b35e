/**
 * PodDisruptionBudgets across the commit (buildGraph runs this): the workloads each budget guards — those
 * in its namespace whose pod template labels its selector matches — become its dependents (an edge budget →
 * workload: a drain in the same commit finds the budget in place), and a budget that guards no workload is a
 * warning (MissingReference): Kubernetes accepts it, and the workload may be on its way in a later commit,
 * but it protects nothing now. A budget without a selector selects no pod (policy/v1); one with {} selects
 * every pod of its namespace.
 */
import { DEFAULT_NAMESPACE, isWorkload, keyOf, type PodDisruptionBudget, type ResourceKey, type Workload } from "../api/objects.js";
import { formatFieldPath, type PathSegment } from "../manifest/paths.js";
import { selectorMatches } from "../manifest/selector.js";
import type { Diagnostic, ManifestObject } from "../manifest/types.js";

/** A budget → workload edge and the field of the budget that makes it. */
interface BudgetEdge {
  from: ResourceKey;
  to: ResourceKey;
  path: readonly PathSegment[];
}

/** The workloads (keys, sorted) a budget guards among `workloads`. */
export function guardedWorkloads(pdb: PodDisruptionBudget, workloads: readonly Workload[]): ResourceKey[] {
  const selector = pdb.spec.selector;
  if (selector === undefined) return [];
  const namespace = pdb.metadata.namespace ?? DEFAULT_NAMESPACE;
  return workloads
    .filter((w) => (w.metadata.namespace ?? DEFAULT_NAMESPACE) === namespace && selectorMatches(selector, w.spec.template.metadata.labels))
    .map(keyOf)
    .sort();
}

/** The edges and warnings of the budgets among `objects`, in key order. Pure. */
export function disruptionBudgetGraph(objects: readonly ManifestObject[]): { edges: BudgetEdge[]; diagnostics: Diagnostic[] } {
  const workloads = objects.map((m) => m.object).filter(isWorkload);
  const edges: BudgetEdge[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const m of objects) {
    const pdb = m.object;
    if (pdb.kind !== "PodDisruptionBudget") continue;
    const path = ["spec", "selector"];
    const guarded = guardedWorkloads(pdb, workloads);
    for (const w of guarded) edges.push({ from: keyOf(pdb), to: w, path });
    if (guarded.length > 0) continue;
    const namespace = pdb.metadata.namespace ?? DEFAULT_NAMESPACE;
    const message =
      pdb.spec.selector === undefined
        ? "selects no pods: a PodDisruptionBudget without a selector selects none (policy/v1), so it guards nothing; expected a selector of the pods to keep available"
        : `selects no pods: no workload in namespace "${namespace}" has a pod template with labels this selector matches, so the budget guards nothing`;
    diagnostics.push({ ...m.locate(pdb.spec.selector === undefined ? ["spec"] : path), code: "MissingReference", severity: "warning", field: formatFieldPath(pdb.spec.selector === undefined ? ["spec"] : path), message });
  }
  return { edges, diagnostics };
}
