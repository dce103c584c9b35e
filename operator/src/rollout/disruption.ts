/**
 * PodDisruptionBudgets (policy/v1), pure: a budget's status as Kubernetes' disruption controller computes it
 * (pkg/controller/disruption), and the eviction API's answer to "may these pods be disrupted now"
 * (pkg/registry/core/pod/storage/eviction.go), for every voluntary disruption coxswain makes: a drain's
 * moves (of every kind a drain moves; a DaemonSet's and a bare Pod's pods stay, as `kubectl drain` leaves
 * them). A workload's own update or scale-down deletes pods directly and is not asked, as in Kubernetes.
 *
 * Status (per budget, over the pods its selector matches in its namespace, of every owner):
 *  - expectedPods: minAvailable as a number → the matched pods; minAvailable as a percentage, or
 *    maxUnavailable → the sum of the scale (replicas) of the owners of the matched pods (scaleOf: the
 *    caller's lookup; controllers/disruption/budgets.ts gives a DaemonSet its desiredNumberScheduled);
 *  - desiredHealthy: minAvailable (a percentage of expectedPods, rounded up), or expectedPods −
 *    maxUnavailable (a percentage of expectedPods, rounded up), never below 0;
 *  - currentHealthy: matched pods that are ready and not terminating;
 *  - disruptionsAllowed: currentHealthy − desiredHealthy, 0 when negative or when expectedPods is 0.
 * A selector of {} matches every pod of the namespace; no selector matches none (policy/v1).
 *
 * Eviction (admit): a pod that is not running yet (Pending), failed or already terminating is not guarded.
 * A running pod that is not ready is let go under AlwaysAllow, and under IfHealthyBudget (the default) when
 * currentHealthy ≥ desiredHealthy > 0 — without using up a disruption. Any other pod needs
 * disruptionsAllowed > 0 in every budget that matches it, and uses one up in each. Kubernetes refuses to
 * evict a pod that two budgets match; coxswain asks all of them instead (a drain would otherwise never end).
 */
import type { LabelSelector } from "../api/generated/index.js";
import { selectorMatches } from "../manifest/selector.js";

/** What a budget says (its spec), named by "namespace/name". */
export interface Budget {
  /** "namespace/name". */
  name: string;
  namespace: string;
  /** Absent: matches no pod. {}: every pod of the namespace. */
  selector?: LabelSelector;
  /** A number, or a percentage string such as "50%". At most one of minAvailable and maxUnavailable. */
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  unhealthyPodEvictionPolicy?: "IfHealthyBudget" | "AlwaysAllow";
}

/** A pod as a budget sees it. */
export interface BudgetPod {
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Owner key ("Deployment/ns/name"): whose scale counts for percentages and maxUnavailable. */
  owner: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" | "Terminating";
  ready: boolean;
}

/** A budget's status, with Kubernetes' field names. */
export interface BudgetStatus {
  currentHealthy: number;
  desiredHealthy: number;
  disruptionsAllowed: number;
  expectedPods: number;
}

/** A status and the pods it was computed from. */
export interface BudgetState extends BudgetStatus {
  budget: Budget;
  /** The names of the pods the selector matches, sorted. */
  pods: string[];
}

/** Why a pod may not be disrupted now: the budget that holds it and that budget's status. */
export interface BlockedDisruption {
  pod: string;
  budget: string;
  status: BudgetStatus;
}

/** What admit() decided for a batch of pods. */
export interface DisruptionVerdict {
  /** The pods that may go now, in the order asked. */
  allowed: string[];
  /** The others, each with the first budget (by name) that holds it. */
  blocked: BlockedDisruption[];
}

/** intstr.GetScaledValueFromIntOrPercent with roundUp: a number as is, "p%" of total rounded up. */
export function scaledValue(value: number | string, total: number): number {
  if (typeof value === "number") return value;
  const p = Number(value.slice(0, -1));
  return Math.ceil((p * total) / 100);
}

/** Whether a budget selects a pod: same namespace, and its selector (absent: none; {}: all) matches the labels. */
function budgetSelects(budget: Budget, pod: Pick<BudgetPod, "namespace" | "labels">): boolean {
  return budget.selector !== undefined && pod.namespace === budget.namespace && selectorMatches(budget.selector, pod.labels);
}

/**
 * The status of one budget over the observed pods; `scaleOf(owner)` is the replicas an owner wants (its
 * scale subresource). An owner it does not know (gone from Git) counts with the pods it still has.
 */
export function budgetStatus(budget: Budget, pods: readonly BudgetPod[], scaleOf: (owner: string) => number | undefined): BudgetState {
  const matched = pods.filter((p) => budgetSelects(budget, p));
  let expectedPods: number;
  let desiredHealthy: number;
  const byScale = (): number => {
    const owners = new Map<string, number>();
    for (const p of matched) owners.set(p.owner, (owners.get(p.owner) ?? 0) + 1);
    let sum = 0;
    for (const [owner, n] of owners) sum += scaleOf(owner) ?? n;
    return sum;
  };
  if (budget.maxUnavailable !== undefined) {
    expectedPods = byScale();
    desiredHealthy = Math.max(0, expectedPods - scaledValue(budget.maxUnavailable, expectedPods));
  } else if (typeof budget.minAvailable === "string") {
    expectedPods = byScale();
    desiredHealthy = scaledValue(budget.minAvailable, expectedPods);
  } else {
    expectedPods = matched.length;
    desiredHealthy = budget.minAvailable ?? 0;
  }
  const currentHealthy = matched.filter(isHealthy).length;
  const disruptionsAllowed = expectedPods <= 0 ? 0 : Math.max(0, currentHealthy - desiredHealthy);
  return { budget, pods: matched.map((p) => p.name).sort(), currentHealthy, desiredHealthy, disruptionsAllowed, expectedPods };
}

/** The status of every budget, sorted by name. */
export function budgetStates(budgets: readonly Budget[], pods: readonly BudgetPod[], scaleOf: (owner: string) => number | undefined): BudgetState[] {
  return [...budgets].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((b) => budgetStatus(b, pods, scaleOf));
}

function isHealthy(p: BudgetPod): boolean {
  return p.ready && p.phase !== "Terminating";
}

/**
 * The eviction API over a batch: which of `names` (pods of `pods`) may be disrupted now, one after another
 * in the order given, each allowed ready pod using up one disruption of every budget that matches it.
 * Pods not found in `pods` are allowed (there is nothing left to guard).
 */
export function admitDisruptions(states: readonly BudgetState[], pods: readonly BudgetPod[], names: readonly string[]): DisruptionVerdict {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const left = new Map(states.map((s) => [s.budget.name, s.disruptionsAllowed]));
  const out: DisruptionVerdict = { allowed: [], blocked: [] };
  for (const name of names) {
    const pod = byName.get(name);
    if (pod === undefined || pod.phase !== "Running") {
      out.allowed.push(name);
      continue;
    }
    const guards = states.filter((s) => budgetSelects(s.budget, pod));
    let holder: BudgetState | undefined;
    const spend: string[] = [];
    for (const s of guards) {
      if (!pod.ready) {
        if (s.budget.unhealthyPodEvictionPolicy === "AlwaysAllow") continue;
        if (s.currentHealthy >= s.desiredHealthy && s.desiredHealthy > 0) continue;
      }
      if ((left.get(s.budget.name) ?? 0) > 0) spend.push(s.budget.name);
      else {
        holder = s;
        break;
      }
    }
    if (holder) {
      const { currentHealthy, desiredHealthy, expectedPods } = holder;
      out.blocked.push({ pod: name, budget: holder.budget.name, status: { currentHealthy, desiredHealthy, disruptionsAllowed: left.get(holder.budget.name) ?? 0, expectedPods } });
      continue;
    }
    for (const b of spend) left.set(b, left.get(b)! - 1);
    out.allowed.push(name);
  }
  return out;
}

/** "PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)": a blocked disruption for people. */
export function describeBlocked(b: BlockedDisruption): string {
  const n = b.status.disruptionsAllowed;
  return `PodDisruptionBudget ${b.budget} allows ${n} disruption${n === 1 ? "" : "s"} (${b.status.currentHealthy} healthy, ${b.status.desiredHealthy} desired)`;
}
