/**
 * NodeResourcesFit (the filter: pods, cpu, memory and extended resources against what is left; the score with
 * its strategies LeastAllocated, MostAllocated and RequestedToCapacityRatio) and NodeResourcesBalancedAllocation.
 */
import { NodeMemo } from "./cluster.js";
import type { Cycle } from "./cycle.js";
import type { Engine } from "./framework.js";
import { MAX_NODE_SCORE } from "./normalize.js";
import type { PodInfo } from "./podinfo.js";
import { insufficientReason } from "./reasons.js";

/** Resource weights of the NodeResourcesFit and BalancedAllocation scores (Kubernetes' default: cpu 1, memory 1). */
export interface ResourceWeights {
  cpu: number;
  memory: number;
}

/** One point of RequestedToCapacityRatio's shape: utilization 0..100 → score 0..10. */
export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

/**
 * NodeResourcesFit's scoring strategy (KubeSchedulerConfiguration NodeResourcesFitArgs.scoringStrategy):
 * LeastAllocated (default, spreads), MostAllocated (bin-packs) or RequestedToCapacityRatio (a broken-linear
 * function of utilization).
 */
export type ScoringStrategy = { type: "LeastAllocated" | "MostAllocated"; resources?: ResourceWeights } | { type: "RequestedToCapacityRatio"; shape: readonly UtilizationShapePoint[]; resources?: ResourceWeights };

/** The resource weights when a strategy names none (cpu 1, memory 1). */
export const DEFAULT_RESOURCES: ResourceWeights = { cpu: 1, memory: 1 };

/** The strategy when the profile names none. */
export const LEAST_ALLOCATED: ScoringStrategy = { type: "LeastAllocated" };

/**
 * NodeResourcesFit.Filter (fitsRequest): the pod count, then each resource the pod requests (> 0) against
 * allocatable − requested, extended resources last (by name; a node offers none it does not declare);
 * every shortfall is reported.
 */
export function fitStatus(engine: Engine, p: PodInfo, i: number): number {
  const cl = engine.cl;
  let bits = 0;
  if (cl.podCount[i]! + 1 > cl.allocPods[i]!) bits = 1;
  if (p.cpu > 0 && p.cpu > cl.allocCpu[i]! - cl.reqCpu[i]!) bits |= 2;
  if (p.mem > 0 && p.mem > cl.allocMem[i]! - cl.reqMem[i]!) bits |= 4;
  if (p.ext.length === 0) return bits === 0 ? 0 : engine.fitReasons[bits]!;
  return fitStatusExtended(engine, p, i, bits);
}

/** fitStatus for a pod requesting extended resources (rare: out of the scan's hot path). */
function fitStatusExtended(engine: Engine, p: PodInfo, i: number, bits: number): number {
  const cl = engine.cl;
  let short: string[] | undefined;
  for (const [name, q] of p.ext) {
    if (q > (cl.allocExt[i]?.[name] ?? 0) - (cl.reqExt[i]![name] ?? 0)) (short ??= []).push(name);
  }
  if (short === undefined) return bits === 0 ? 0 : engine.fitReasons[bits]!;
  const list = bits === 0 ? [] : engine.reasons.list[engine.fitReasons[bits]!]!.reasons;
  return engine.reasons.id("NodeResourcesFit", [...list, ...short.map(insufficientReason)], true);
}

/**
 * NodeResourcesFit score with the profile's strategy, on scoring requests (100m / 200Mi defaults) incl. the pod:
 * out[k], also added times `w` to totals[k].
 */
export function fitScore(engine: Engine, cy: Cycle, strategy: ScoringStrategy, f: Int32Array, m: number, out: Float64Array, totals: Float64Array, w: number): number | undefined {
  const cl = engine.cl;
  const p = cy.p;
  const wc = strategy.resources?.cpu ?? 1;
  const wm = strategy.resources?.memory ?? 1;
  const allocCpu = cl.allocCpu;
  const allocMem = cl.allocMem;
  const reqCpu = cl.scoreCpu;
  const reqMem = cl.scoreMem;
  // A node's score depends on its own resources and the pod's scoring requests only: memoized per strategy.
  const memo = memoOf(engine.fitMemos, strategy, cl.n);
  memo.use(cl, p.scoreCpu, p.scoreMem);
  const values = memo.values;
  const at = memo.at;
  const from = memo.validFrom;
  const changedAt = cl.changedAt;
  const now = cl.tick;
  if (strategy.type === "RequestedToCapacityRatio") {
    const fn = brokenLinear(strategy.shape);
    for (let k = 0; k < m; k++) {
      const i = f[k]!;
      const t = at[i]!;
      let v: number;
      if (t >= from && t >= changedAt[i]!) v = values[i]!;
      else {
        v = ratioScore(fn, reqCpu[i]! + p.scoreCpu, allocCpu[i]!, wc, reqMem[i]! + p.scoreMem, allocMem[i]!, wm);
        values[i] = v;
        at[i] = now;
      }
      out[k] = v;
      totals[k]! += v * w;
    }
    return undefined;
  }
  const most = strategy.type === "MostAllocated";
  for (let k = 0; k < m; k++) {
    const i = f[k]!;
    const t = at[i]!;
    if (t >= from && t >= changedAt[i]!) {
      const v = values[i]!;
      out[k] = v;
      totals[k]! += v * w;
      continue;
    }
    let sum = 0;
    let weights = 0;
    const cc = allocCpu[i]!;
    if (cc > 0 && wc > 0) {
      const r = reqCpu[i]! + p.scoreCpu;
      sum += (most ? mostRequested(r, cc) : leastRequested(r, cc)) * wc;
      weights += wc;
    }
    const mc = allocMem[i]!;
    if (mc > 0 && wm > 0) {
      const r = reqMem[i]! + p.scoreMem;
      sum += (most ? mostRequested(r, mc) : leastRequested(r, mc)) * wm;
      weights += wm;
    }
    const v = weights === 0 ? 0 : Math.trunc(sum / weights);
    values[i] = v;
    at[i] = now;
    out[k] = v;
    totals[k]! += v * w;
  }
  return undefined;
}

/** The memo of `config` (a strategy, resource weights) in `memos`, made on first use. */
function memoOf(memos: Map<object, NodeMemo>, config: object, n: number): NodeMemo {
  let memo = memos.get(config);
  if (memo === undefined) memos.set(config, (memo = new NodeMemo(n)));
  return memo;
}

/**
 * NodeResourcesBalancedAllocation: fractions f = min(1, requested/allocatable) on real requests incl. the pod;
 * score = (1 − std(f))·100, std = |f1 − f2|/2 for two resources, in out[k] and added times `w` to totals[k].
 * Skipped (0, nothing added) for a pod that requests nothing.
 */
export function balancedScore(engine: Engine, cy: Cycle, rw: ResourceWeights, f: Int32Array, m: number, out: Float64Array, totals: Float64Array, w: number): number | undefined {
  const p = cy.p;
  if (p.cpu === 0 && p.mem === 0) return 0;
  const cl = engine.cl;
  // A node's score depends on its own resources and the pod's requests only: memoized per resource weights.
  const memo = memoOf(engine.balancedMemos, rw, cl.n);
  memo.use(cl, p.cpu, p.mem);
  const values = memo.values;
  const at = memo.at;
  const from = memo.validFrom;
  const changedAt = cl.changedAt;
  const now = cl.tick;
  for (let k = 0; k < m; k++) {
    const i = f[k]!;
    const t = at[i]!;
    if (t >= from && t >= changedAt[i]!) {
      const v = values[i]!;
      out[k] = v;
      totals[k]! += v * w;
      continue;
    }
    let n = 0;
    let f1 = 0;
    let f2 = 0;
    const cc = cl.allocCpu[i]!;
    if (cc > 0 && rw.cpu > 0) {
      f1 = Math.min(1, (cl.reqCpu[i]! + p.cpu) / cc);
      n++;
    }
    const mc = cl.allocMem[i]!;
    if (mc > 0 && rw.memory > 0) {
      const x = Math.min(1, (cl.reqMem[i]! + p.mem) / mc);
      if (n === 0) f1 = x;
      else f2 = x;
      n++;
    }
    const std = n === 2 ? Math.abs((f1 - f2) / 2) : 0;
    const v = Math.trunc((1 - std) * MAX_NODE_SCORE);
    values[i] = v;
    at[i] = now;
    out[k] = v;
    totals[k]! += v * w;
  }
  return undefined;
}

/** ((capacity − requested)·100)/capacity in integer arithmetic; 0 when the request exceeds capacity. */
function leastRequested(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** (min(requested, capacity)·100)/capacity in integer arithmetic. */
function mostRequested(requested: number, capacity: number): number {
  if (capacity <= 0) return 0;
  return Math.trunc((Math.min(requested, capacity) * MAX_NODE_SCORE) / capacity);
}

/** helper.BuildBrokenLinearFunction over shape points scaled to 0..100 (score·10), integer arithmetic. */
function brokenLinear(shape: readonly UtilizationShapePoint[]): (u: number) => number {
  const pts = shape.map((s) => ({ u: s.utilization, s: s.score * (MAX_NODE_SCORE / 10) }));
  return (p) => {
    for (let i = 0; i < pts.length; i++) {
      const pt = pts[i]!;
      if (p <= pt.u) {
        if (i === 0) return pts[0]!.s;
        const prev = pts[i - 1]!;
        return prev.s + Math.trunc(((pt.s - prev.s) * (p - prev.u)) / (pt.u - prev.u));
      }
    }
    return pts.length === 0 ? 0 : pts[pts.length - 1]!.s;
  };
}

/** RequestedToCapacityRatio: per resource f(requested·100/capacity), weighted mean over resources scoring > 0, rounded. */
function ratioScore(fn: (u: number) => number, rc: number, cc: number, wc: number, rm: number, cm: number, wm: number): number {
  let sum = 0;
  let weights = 0;
  const one = (r: number, c: number, w: number): void => {
    if (c === 0 || w <= 0) return;
    const s = r > c ? fn(100) : fn(Math.trunc((r * 100) / c));
    if (s > 0) {
      sum += s * w;
      weights += w;
    }
  };
  one(rc, cc, wc);
  one(rm, cm, wm);
  return weights === 0 ? 0 : Math.round(sum / weights);
}
