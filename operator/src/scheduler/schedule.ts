/**
 * The scheduling pass, as kube-scheduler's scheduleOne for each pod in the order given: a pod with a nominated
 * node tries it first; otherwise filter nodes from the round-robin start until enough feasible ones are found
 * (percentageOfNodesToScore), score them (weighted sum of normalized plugin scores), pick the highest (ties
 * broken by a seeded PRNG), and "assume" the pod there so the next pod sees it. A pod that fits nowhere is
 * explained as Kubernetes does, and preemption may nominate it to a node, choosing victims.
 *
 * Pure: the inputs are copied, never written. Nodes are considered in name order, so the result does not
 * depend on the order of the nodes array; pods are placed in array order (the caller's queue order).
 */
import { CoxError } from "../api/errors.js";
import { explainUnschedulable } from "./explain.js";
import type { Cycle } from "./cycle.js";
import { compileProfile, Engine } from "./framework.js";
import { DEFAULT_PROFILE } from "./plugins.js";
import { compilePod } from "./podinfo.js";
import { preempt } from "./preemption.js";
import type { NodeSnapshot, Placement, PodRequest, ScheduleOptions, ScheduleResult, Unschedulable } from "./types.js";

export { DEFAULT_SEED } from "./framework.js";

function checkUniquePods(pods: readonly PodRequest[]): void {
  const seen = new Set<string>();
  for (const p of pods) {
    if (seen.has(p.id)) throw new CoxError("InvalidArgument", `pod id ${JSON.stringify(p.id)} appears twice; expected unique pod ids`);
    seen.add(p.id);
  }
}

/** Sorted-key reason histogram of every node's status, and the plugins that gave them. */
function histogram(engine: Engine): { reasons: Record<string, number>; plugins: string[] } {
  const counts = new Map<string, number>();
  const plugins = new Set<string>();
  const sets = engine.reasons.list;
  const statuses = engine.statuses;
  for (let i = 0; i < engine.cl.n; i++) {
    const s = sets[statuses[i]!]!;
    if (s.reasons.length > 0) plugins.add(s.plugin);
    for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const reasons: Record<string, number> = {};
  for (const k of [...counts.keys()].sort()) reasons[k] = counts.get(k)!;
  return { reasons, plugins: [...plugins].sort() };
}

/** Scores `m` feasible nodes and returns [index into feasible of the chosen node, its total]. */
function choose(engine: Engine, cy: Cycle, feasible: Int32Array, m: number): [number, number] {
  const totals = engine.score(cy, feasible, m);
  const k = engine.select(totals, m);
  return [k, totals[k]! + engine.scoreConstant];
}

/**
 * Places pods on nodes, one after the other; each placement counts for the pods after it.
 * Returns placements (in pod order), the pods that fit nowhere with Kubernetes' explanation (and, with
 * preemption, the node they are nominated to and the victims to delete there), and where the next pass should
 * start filtering. Same snapshot, same options (seed, startIndex) → same result. Throws CoxError
 * InvalidArgument on duplicate node names or pod ids, an invalid percentageOfNodesToScore, or when a custom
 * score plugin yields a value outside 0..100.
 */
export function schedule(nodes: readonly NodeSnapshot[], pods: readonly PodRequest[], opts: ScheduleOptions = {}): ScheduleResult {
  checkUniquePods(pods);
  const engine = new Engine(nodes, compileProfile(opts.profile ?? DEFAULT_PROFILE), opts);
  const cl = engine.cl;
  const n = cl.n;
  const limit = engine.numFeasibleNodesToFind();
  const withPreemption = opts.preemption ?? true;
  const placements: Placement[] = [];
  const unschedulable: Unschedulable[] = [];

  for (const req of pods) {
    const p = compilePod(req);
    if (n === 0) {
      unschedulable.push({ id: p.id, message: explainUnschedulable(0, {}), reasons: {}, plugins: [] });
      continue;
    }
    const cy = engine.cycle(p);

    // evaluateNominatedNode: a pod that preempted tries its nominated node first.
    const nominated = req.nominatedNodeName === undefined ? undefined : cl.index.get(req.nominatedNodeName);
    if (nominated !== undefined && engine.filter(cy, nominated) === 0) {
      const one = Int32Array.of(nominated);
      const [, score] = choose(engine, cy, one, 1);
      engine.assume(p, nominated);
      placements.push({ id: p.id, node: cl.names[nominated]!, score });
      continue;
    }

    const m = engine.findFeasible(cy, limit);
    if (m > 0) {
      const [k, score] = choose(engine, cy, engine.feasible, m);
      const i = engine.feasible[k]!;
      engine.assume(p, i);
      placements.push({ id: p.id, node: cl.names[i]!, score });
      continue;
    }

    // Unschedulable: every node was evaluated, so engine.statuses holds each node's reasons.
    const { reasons, plugins } = histogram(engine);
    const u: Unschedulable = { id: p.id, message: "", reasons, plugins };
    let postFilter: string | undefined;
    if (withPreemption) {
      const attempt = preempt(engine, cy, engine.statuses);
      if (attempt.preemption !== undefined) {
        u.preemption = attempt.preemption;
        // The victims start terminating and the pod is counted on its nominated node for the rest of the pass
        // (as Kubernetes counts nominated pods), so later pods neither take its place nor pick the same victims.
        for (const e of attempt.victimEntries ?? []) cl.setTerminating(e);
        engine.assume(p, cl.index.get(attempt.preemption.node)!);
      } else postFilter = attempt.message;
    }
    u.message = explainUnschedulable(n, reasons, postFilter);
    unschedulable.push(u);
  }
  return { placements, unschedulable, nextStartIndex: engine.nextStart };
}

/** One node's outcome for a pod in evaluatePod. */
export interface NodeEvaluation {
  node: string;
  /** The first failing filter's reasons; empty when the pod fits. */
  reasons: string[];
  /** The plugin that rejected the node. */
  plugin?: string;
  /** Normalized 0..100 score per score plugin (feasible nodes only). */
  scores?: Record<string, number>;
  /** Weighted total (feasible nodes only). */
  total?: number;
}

/** Every node's verdict for one pod (no sampling, no placement). */
export interface PodEvaluation {
  id: string;
  /** Per node, sorted by name. */
  nodes: NodeEvaluation[];
  /** The feasible nodes with the highest total, sorted (the scheduler picks one of them at random). */
  best: string[];
  /** Kubernetes' FitError text when no node fits (without the preemption part). */
  message?: string;
}

/**
 * Filters and scores every node for one pod without placing it (for `coxswain plan`, explanations and tests):
 * each node's reasons or per-plugin scores and total. The snapshot is taken as is; no sampling applies.
 */
export function evaluatePod(nodes: readonly NodeSnapshot[], pod: PodRequest, opts: ScheduleOptions = {}): PodEvaluation {
  const engine = new Engine(nodes, compileProfile(opts.profile ?? DEFAULT_PROFILE), opts);
  const cl = engine.cl;
  const cy = engine.cycle(compilePod(pod));
  const out: NodeEvaluation[] = cl.names.map((node) => ({ node, reasons: [] }));
  const feasible: number[] = [];
  for (let i = 0; i < cl.n; i++) {
    const r = engine.filter(cy, i);
    engine.statuses[i] = r;
    if (r === 0) feasible.push(i);
    else {
      const s = engine.reasons.list[r]!;
      out[i]!.reasons = [...s.reasons];
      out[i]!.plugin = s.plugin;
    }
  }
  const result: PodEvaluation = { id: pod.id, nodes: out, best: [] };
  if (feasible.length === 0) {
    result.message = explainUnschedulable(cl.n, histogram(engine).reasons);
    return result;
  }
  const f = Int32Array.from(feasible);
  const record = new Map<string, Float64Array>();
  const scored = engine.score(cy, f, f.length, record);
  const totals = scored.map((t) => t + engine.scoreConstant);
  let max = -Infinity;
  for (let k = 0; k < f.length; k++) {
    const e = out[f[k]!]!;
    e.scores = {};
    for (const [name, values] of record) e.scores[name] = values[k]!;
    e.total = totals[k]!;
    if (e.total > max) max = e.total;
  }
  result.best = feasible.filter((_, k) => totals[k] === max).map((i) => cl.names[i]!);
  return result;
}
