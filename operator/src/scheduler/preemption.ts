/**
 * Preemption as Kubernetes' DefaultPreemption PostFilter does it, for a pod that fits nowhere:
 *
 * 1. Eligibility: a pod with preemptionPolicy Never never preempts; a pod nominated to a node where
 *    lower-priority pods are still terminating waits for them instead of preempting again.
 * 2. Candidates: only nodes rejected for a reason removing pods can fix (Unschedulable, e.g. Insufficient cpu,
 *    ports, spread skew, anti-affinity), visited from a seeded random offset, until max(10% of them, 100)
 *    candidates are found.
 * 3. Victims on a node (SelectVictimsOnNode): remove every pod of strictly lower priority; if the pod still does
 *    not fit, the node is no candidate; else re-add them while the pod still fits — first the ones whose
 *    removal would violate a PodDisruptionBudget (filterPodsWithPDBViolation: each matching budget's
 *    disruptionsAllowed is counted down pod by pod, most important first; below 0 it is violated), then the
 *    others, each group most important first (higher priority, then earlier start). The ones that cannot
 *    come back are the victims; those of the first group are the node's PDB violations.
 * 4. The node (pickOneNodeForPreemption): fewest PDB violations, then the lowest highest-victim priority,
 *    the smallest sum of victim priorities, the fewest victims, the latest start among the highest-priority
 *    victims, then the first found.
 *
 * Budgets are respected best effort, as in Kubernetes: a node whose victims keep every budget wins over one
 * whose victims do not, but when every way to make room violates a budget, preemption still happens.
 *
 * Pure: the what-if removals are undone before returning.
 */
import type { Cycle } from "./cycle.js";
import { compileProfile, Engine } from "./framework.js";
import { isPlaced, type PodEntry } from "./cluster.js";
import { explainPreemption } from "./explain.js";
import { DEFAULT_PROFILE } from "./plugins.js";
import { compilePod } from "./podinfo.js";
import { PREEMPTION_NO_VICTIMS, PREEMPTION_NOT_HELPFUL, PREEMPTION_POLICY_NEVER, PREEMPTION_TERMINATING_VICTIMS } from "./reasons.js";
import type { NodeSnapshot, PodRequest, Preemption, ScheduleOptions } from "./types.js";

/** DefaultPreemptionArgs defaults. */
const MIN_CANDIDATE_NODES_PERCENTAGE = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE = 100;

/** The outcome of a preemption attempt: a nomination with victims, or the PostFilter message saying why not. */
export interface PreemptionAttempt {
  preemption?: Preemption;
  /** Set when no preemption happens: "preemption: …" as Kubernetes appends it to the FitError. */
  message?: string;
  /** The victims' entries in the working state (for the caller to mark terminating). */
  victimEntries?: PodEntry[];
}

interface Candidate {
  node: number;
  victims: PodEntry[];
  /** Victims whose removal violates a PodDisruptionBudget. */
  violations: number;
}

/** util.MoreImportantPod: higher priority first, then the earlier start. */
function moreImportantFirst(a: PodEntry, b: PodEntry): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : 0;
}

/**
 * filterPodsWithPDBViolation: splits pods (most important first) into those whose removal would take a
 * matching budget's disruptionsAllowed below 0 and the others, keeping their order. A pod without labels
 * matches no budget; kube-scheduler's empty selector matches nothing.
 */
function splitByBudgets(engine: Engine, pods: readonly PodEntry[]): { violating: PodEntry[]; rest: PodEntry[] } {
  const left = engine.budgets.map((b) => b.disruptionsAllowed);
  const violating: PodEntry[] = [];
  const rest: PodEntry[] = [];
  for (const p of pods) {
    let violated = false;
    if (Object.keys(p.labels).length > 0) {
      engine.budgets.forEach((b, k) => {
        if (b.namespace !== p.namespace || b.selector.kind !== "match" || !b.selector.matches(p.labels)) return;
        left[k]!--;
        if (left[k]! < 0) violated = true;
      });
    }
    (violated ? violating : rest).push(p);
  }
  return { violating, rest };
}

/**
 * SelectVictimsOnNode. Returns the victims (most important first) with how many of them violate a budget, or
 * the reason id the node gives (no lower-priority pods, or the pod does not fit even without them). Leaves
 * the working state as it found it. Pods placed earlier in the same pass are never victims (the caller
 * orders its pods by priority).
 */
function selectVictimsOnNode(engine: Engine, cy: Cycle, i: number): { victims: PodEntry[]; violations: number } | number {
  const cl = engine.cl;
  const pods = cl.pods[i]!;
  const priority = cy.p.priority;
  const potential = pods.filter((e) => e.priority < priority && !isPlaced(e));
  if (potential.length === 0) return engine.reasons.id("DefaultPreemption", [PREEMPTION_NO_VICTIMS], false);
  const order = pods.slice();
  for (const e of potential) cl.removePod(e);
  const restore = (back: readonly PodEntry[]): void => {
    for (const e of back) cl.addPod(e, i);
    pods.length = 0;
    pods.push(...order);
  };
  const status = engine.filter(cy, i);
  if (status !== 0) {
    restore(potential);
    return status;
  }
  potential.sort(moreImportantFirst);
  const { violating, rest } = splitByBudgets(engine, potential);
  const victims: PodEntry[] = [];
  let violations = 0;
  const reprieve = (e: PodEntry): boolean => {
    cl.addPod(e, i);
    if (engine.filter(cy, i) === 0) return true;
    cl.removePod(e);
    victims.push(e);
    return false;
  };
  for (const e of violating) if (!reprieve(e)) violations++;
  for (const e of rest) reprieve(e);
  if (violating.length > 0 && rest.length > 0) victims.sort(moreImportantFirst);
  restore(victims);
  return { victims, violations };
}

/** The earliest start among the highest-priority victims (GetEarliestPodStartTime). */
function earliestStartOfTop(victims: readonly PodEntry[]): number {
  const top = victims[0]!.priority;
  let earliest = Infinity;
  for (const v of victims) if (v.priority === top && v.startTime < earliest) earliest = v.startTime;
  return earliest;
}

/** pickOneNodeForPreemption's criteria, in order; each keeps the candidates with the best value. */
const CRITERIA: readonly ((c: Candidate) => number)[] = [
  // 1. fewest PodDisruptionBudget violations.
  (c) => -c.violations,
  // 2. lowest highest-victim priority (victims are sorted most important first).
  (c) => -c.victims[0]!.priority,
  // 3. smallest sum of victim priorities (each shifted by 2^31 so that negative priorities still add up).
  (c) => -c.victims.reduce((s, v) => s + v.priority + 2 ** 31, 0),
  // 4. fewest victims.
  (c) => -c.victims.length,
  // 5. latest start time among the highest-priority victims.
  (c) => earliestStartOfTop(c.victims),
];

function pickOne(candidates: readonly Candidate[]): Candidate {
  let all = candidates;
  for (const f of CRITERIA) {
    let best = -Infinity;
    let selected: Candidate[] = [];
    for (const c of all) {
      const s = f(c);
      if (s > best) {
        best = s;
        selected = [c];
      } else if (s === best) selected.push(c);
    }
    if (selected.length === 1) return selected[0]!;
    all = selected;
  }
  return all[0]!;
}

/**
 * DefaultPreemption.PostFilter for a pod the filters rejected everywhere; `statuses` holds each node's
 * reason id from that pass (every node was evaluated). Decides only; the caller applies the outcome.
 */
export function preempt(engine: Engine, cy: Cycle, statuses: Int32Array): PreemptionAttempt {
  const cl = engine.cl;
  const p = cy.p;
  const sets = engine.reasons.list;
  if (p.preemptNever) return { message: explainPreemption(PREEMPTION_POLICY_NEVER) };
  const nominated = p.req.nominatedNodeName === undefined ? undefined : cl.index.get(p.req.nominatedNodeName);
  if (nominated !== undefined && sets[statuses[nominated]!]!.resolvable) {
    // The pod already preempted there: wait while its victims terminate rather than preempt more pods.
    for (const e of cl.pods[nominated]!) {
      if (e.priority < p.priority && e.terminating) return { message: explainPreemption(PREEMPTION_TERMINATING_VICTIMS) };
    }
  }
  const potential: number[] = [];
  for (let i = 0; i < cl.n; i++) {
    const s = statuses[i]!;
    if (s !== 0 && sets[s]!.resolvable) potential.push(i);
  }
  const outcomes = new Map<number, number>();
  const candidates: Candidate[] = [];
  if (potential.length > 0) {
    const len = potential.length;
    const offset = Math.floor(engine.random() * len);
    let wanted = Math.trunc((len * MIN_CANDIDATE_NODES_PERCENTAGE) / 100);
    if (wanted < MIN_CANDIDATE_NODES_ABSOLUTE) wanted = MIN_CANDIDATE_NODES_ABSOLUTE;
    if (wanted > len) wanted = len;
    for (let k = 0; k < len; k++) {
      const i = potential[(offset + k) % len]!;
      const r = selectVictimsOnNode(engine, cy, i);
      if (typeof r === "number") outcomes.set(i, r);
      else {
        candidates.push({ node: i, victims: r.victims, violations: r.violations });
        if (candidates.length >= wanted) break;
      }
    }
  }
  if (candidates.length === 0) {
    // FitError over the dry run: nodes it did not try count as "Preemption is not helpful for scheduling".
    const reasons: Record<string, number> = {};
    for (const s of outcomes.values()) for (const r of sets[s]!.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
    const absent = cl.n - outcomes.size;
    if (absent > 0) reasons[PREEMPTION_NOT_HELPFUL] = (reasons[PREEMPTION_NOT_HELPFUL] ?? 0) + absent;
    return { message: explainPreemption({ totalNodes: cl.n, reasons }) };
  }
  const best = pickOne(candidates);
  const node = cl.names[best.node]!;
  return {
    preemption: {
      node,
      victims: best.victims.map((e) => ({ name: e.name, namespace: e.namespace, node, priority: e.priority })),
    },
    victimEntries: best.victims,
  };
}

/**
 * Which pods to preempt so that `pod` fits, chosen as Kubernetes' DefaultPreemption does (see the module
 * comment), on a snapshot: the node it would be nominated to and the victims there, most important first; or
 * undefined when the pod already fits somewhere, may not preempt, or no removal of lower-priority pods helps.
 * Pure; same snapshot and seed, same answer.
 */
export function selectVictims(pod: PodRequest, nodes: readonly NodeSnapshot[], opts: ScheduleOptions = {}): Preemption | undefined {
  const engine = new Engine(nodes, compileProfile(opts.profile ?? DEFAULT_PROFILE), opts);
  const cy = engine.cycle(compilePod(pod));
  if (engine.findFeasible(cy, engine.cl.n, false) > 0) return undefined;
  return preempt(engine, cy, engine.statuses).preemption;
}
