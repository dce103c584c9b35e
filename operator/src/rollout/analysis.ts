/**
 * Canary analysis, the decision: an analysis step measures the new revision's requests against the stable
 * revision's in `count` windows of `intervalSeconds` each (the node proxies' request logs; the caller
 * measures, see traffic/analysis.ts), judges each window, and ends Successful, Failed or Inconclusive, as an
 * Argo Rollouts AnalysisRun does, without an AnalysisTemplate or a metrics provider:
 *
 * - A window is Inconclusive when the new revision had fewer than minRequests requests (too few to judge),
 *   or when a latency check cannot be made: no HTTP request of the new revision (a TCP Service), or, for a
 *   ratio, fewer than minRequests HTTP requests of the stable revision to compare with.
 * - Otherwise it is Failed when a check fails — the success rate below successRateMin, the p95 above
 *   maxMs, or above maxRatio × the stable revision's p95 (taken as at least 1 ms: HAProxy's timers are
 *   whole milliseconds, and 0 would make any ratio fail) — and Successful when none does. A failed check
 *   outranks an inconclusive one.
 * - The analysis is Failed as soon as more than failureLimit windows failed, Inconclusive as soon as more
 *   than inconclusiveLimit were inconclusive, Successful once `count` windows were measured without
 *   either, and Running until then (Argo's rules).
 *
 * "Not enough requests" is Argo's inconclusive, and coxswain does what Argo does with an inconclusive run:
 * the rollout neither goes on nor rolls back, it waits for a person (the coxswain.io/promote annotation
 * passes it, a new commit replaces it). Rolling back a revision because nobody sent it requests would punish
 * quiet hours; promoting it would ship what nobody measured.
 *
 * Pure. Messages carry the figures and no clock, so that they stay the same from one reconcile to the next.
 */
import { CoxError } from "../api/errors.js";
import type { AnalysisFigures, AnalysisSpec, AnalysisVerdict, AnalysisWindow, JudgedWindow } from "./types.js";

/** A percentage for a message, cut (never rounded up) to two decimals: 98.996 is "98.99%", never "99%". */
function percent(x: number): string {
  return `${Number((Math.floor(x * 100) / 100).toFixed(2))}%`;
}

/** One revision's figures for a message: "1000 requests, 70% succeeded, p95 12 ms". */
function describeFigures(f: AnalysisFigures): string {
  const parts = [`${f.requests} request${f.requests === 1 ? "" : "s"}`];
  if (f.successRate !== undefined) parts.push(`${percent(f.successRate)} succeeded`);
  if (f.latencyP95Ms !== undefined) parts.push(`p95 ${f.latencyP95Ms} ms`);
  return parts.join(", ");
}

/** Throws CoxError InvalidArgument for a spec the decision cannot use. */
function validate(spec: AnalysisSpec): void {
  const whole = (v: number, min: number) => Number.isSafeInteger(v) && v >= min;
  const bad = (what: string) => {
    throw new CoxError("InvalidArgument", `analysis ${what}`, { details: { spec } });
  };
  if (!whole(spec.intervalSeconds, 1)) bad(`intervalSeconds ${spec.intervalSeconds}: expected whole seconds ≥ 1`);
  if (!whole(spec.count, 1)) bad(`count ${spec.count}: expected an integer ≥ 1`);
  if (!whole(spec.failureLimit, 0) || !whole(spec.inconclusiveLimit, 0)) bad(`limits ${spec.failureLimit}/${spec.inconclusiveLimit}: expected integers ≥ 0`);
  if (!whole(spec.minRequests, 1)) bad(`minRequests ${spec.minRequests}: expected an integer ≥ 1`);
  if (!(spec.successRateMin >= 0 && spec.successRateMin <= 100)) bad(`successRateMin ${spec.successRateMin}: expected a percentage from 0 to 100`);
  const l = spec.latencyP95;
  if (l !== undefined) {
    if (l.maxMs === undefined && l.maxRatio === undefined) bad("latencyP95: expected maxMs, maxRatio or both");
    if (l.maxMs !== undefined && !whole(l.maxMs, 1)) bad(`latencyP95.maxMs ${l.maxMs}: expected whole milliseconds ≥ 1`);
    if (l.maxRatio !== undefined && !(l.maxRatio > 0 && Number.isFinite(l.maxRatio))) bad(`latencyP95.maxRatio ${l.maxRatio}: expected a number > 0`);
  }
}

/**
 * How one window came out (see the module comment for the rules); `reason` names the checks that failed,
 * or why none could be made, with the figures. Throws CoxError InvalidArgument on a malformed spec.
 */
export function judgeWindow(spec: AnalysisSpec, window: AnalysisWindow): JudgedWindow {
  validate(spec);
  const { canary, stable } = window;
  if (canary.requests < spec.minRequests) {
    return { ...window, phase: "Inconclusive", reason: `the new revision had ${canary.requests} request${canary.requests === 1 ? "" : "s"}, fewer than minRequests ${spec.minRequests}` };
  }
  const failed: string[] = [];
  const unknown: string[] = [];
  if (spec.successRateMin > 0 && canary.successRate! < spec.successRateMin) {
    failed.push(`success rate ${percent(canary.successRate!)} (${canary.failed} of ${canary.requests} failed) is below ${spec.successRateMin}%`);
  }
  const latency = spec.latencyP95;
  if (latency !== undefined) {
    const p95 = canary.latencyP95Ms;
    if (p95 === undefined) {
      unknown.push("the new revision had no HTTP request to measure latency over");
    } else {
      if (latency.maxMs !== undefined && p95 > latency.maxMs) failed.push(`p95 ${p95} ms is above ${latency.maxMs} ms`);
      if (latency.maxRatio !== undefined) {
        if (stable.latencyRequests < spec.minRequests || stable.latencyP95Ms === undefined) {
          unknown.push(`the stable revision had ${stable.latencyRequests} HTTP request${stable.latencyRequests === 1 ? "" : "s"} to compare latency with, fewer than minRequests ${spec.minRequests}`);
        } else {
          const base = Math.max(1, stable.latencyP95Ms);
          if (p95 > latency.maxRatio * base) failed.push(`p95 ${p95} ms is more than ${latency.maxRatio} × the stable revision's ${stable.latencyP95Ms} ms`);
        }
      }
    }
  }
  if (failed.length > 0) return { ...window, phase: "Failed", reason: failed.join("; ") };
  if (unknown.length > 0) return { ...window, phase: "Inconclusive", reason: unknown.join("; ") };
  return { ...window, phase: "Successful" };
}

/** A window for a message: its number, how it came out and why, and both revisions' figures. */
export function describeWindow(w: JudgedWindow, n: number): string {
  return `window ${n}: ${w.reason ?? w.phase.toLowerCase()} (new revision: ${describeFigures(w.canary)}; stable: ${describeFigures(w.stable)})`;
}

/**
 * Where an analysis stands after `windows` (judged by judgeWindow, oldest first): Failed or Inconclusive
 * as soon as a limit is exceeded, Successful after `count` windows, Running before. The message names the
 * windows it ended on, with their figures. Throws CoxError InvalidArgument on a malformed spec.
 */
export function analysisVerdict(spec: AnalysisSpec, windows: readonly JudgedWindow[]): AnalysisVerdict {
  validate(spec);
  const numbered = windows.map((w, i) => ({ w, n: i + 1 }));
  const failed = numbered.filter(({ w }) => w.phase === "Failed");
  const inconclusive = numbered.filter(({ w }) => w.phase === "Inconclusive");
  const list = (ws: typeof numbered) => ws.map(({ w, n }) => describeWindow(w, n)).join("; ");
  if (failed.length > spec.failureLimit) {
    return { phase: "Failed", message: `analysis failed: ${failed.length} window(s) failed, more than failureLimit ${spec.failureLimit}: ${list(failed)}` };
  }
  if (inconclusive.length > spec.inconclusiveLimit) {
    return {
      phase: "Inconclusive",
      message: `analysis inconclusive: ${inconclusive.length} window(s) could not be judged, more than inconclusiveLimit ${spec.inconclusiveLimit}: ${list(inconclusive)}`,
    };
  }
  if (windows.length >= spec.count) {
    return { phase: "Successful", message: `analysis passed: ${windows.length} window(s) of ${spec.intervalSeconds}s: ${list(numbered)}` };
  }
  return { phase: "Running", message: `analysis measuring window ${windows.length + 1} of ${spec.count} (${spec.intervalSeconds}s each)` };
}

/**
 * The windows to measure now: back to back from `from` (the end of the last one measured, or the start
 * of the analysis), each intervalSeconds long, those that ended at or before `now`, at most `left` of
 * them. Pure.
 */
export function windowsDue(spec: AnalysisSpec, from: number, now: number, left: number): { from: number; to: number }[] {
  validate(spec);
  const out: { from: number; to: number }[] = [];
  const length = spec.intervalSeconds * 1000;
  for (let start = from; out.length < left && start + length <= now; start += length) out.push({ from: start, to: start + length });
  return out;
}
