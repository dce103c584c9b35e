import { describe, expect, it } from "vitest";
import { analysisVerdict, judgeWindow, windowsDue } from "../../../operator/src/rollout/analysis.js";
import { DEFAULT_ANALYSIS } from "../../../operator/src/rollout/params.js";
import type { AnalysisFigures, AnalysisSpec, AnalysisWindow, JudgedWindow } from "../../../operator/src/rollout/types.js";
import { codeOf } from "../../support/errors.js";

/** The defaults: 3 windows of 30 s, no failure or inconclusive window tolerated, 20 requests, 99% success. */
const SPEC: AnalysisSpec = { ...DEFAULT_ANALYSIS };

/** `requests` HTTP requests of which `failed` failed, with this p95. */
function figures(requests: number, failed = 0, p95 = 10): AnalysisFigures {
  return {
    requests,
    failed,
    ...(requests > 0 ? { successRate: (100 * (requests - failed)) / requests, latencyP95Ms: p95 } : {}),
    latencyRequests: requests,
  };
}

function window(canary: AnalysisFigures, stable: AnalysisFigures = figures(300)): AnalysisWindow {
  return { from: 0, to: 30_000, canary, stable };
}

describe("judgeWindow", () => {
  const cases: { name: string; spec?: Partial<AnalysisSpec>; window: AnalysisWindow; phase: JudgedWindow["phase"]; reason?: RegExp }[] = [
    { name: "a window in which every request of the new revision succeeded is successful", window: window(figures(100)), phase: "Successful" },
    { name: "a success rate exactly at the minimum passes", window: window(figures(100, 1)), phase: "Successful" },
    {
      name: "a success rate below the minimum fails, and the reason gives the rate and the counts",
      window: window(figures(100, 30)),
      phase: "Failed",
      reason: /success rate 70% \(30 of 100 failed\) is below 99%/,
    },
    {
      name: "a rate a hair below the minimum is shown cut, never rounded up to the minimum",
      spec: { successRateMin: 99 },
      window: window({ ...figures(100_000, 1_001) }),
      phase: "Failed",
      reason: /success rate 98\.99% /,
    },
    { name: "a minimum of 0 turns the success-rate check off", spec: { successRateMin: 0 }, window: window(figures(100, 100)), phase: "Successful" },
    {
      name: "a window with fewer requests of the new revision than minRequests is inconclusive, whatever they did",
      window: window(figures(19, 19)),
      phase: "Inconclusive",
      reason: /had 19 requests, fewer than minRequests 20/,
    },
    { name: "a window with no request of the new revision is inconclusive", window: window(figures(0)), phase: "Inconclusive", reason: /had 0 requests/ },
    { name: "a p95 at the maximum passes", spec: { latencyP95: { maxMs: 200 } }, window: window(figures(100, 0, 200)), phase: "Successful" },
    { name: "a p95 above the maximum fails", spec: { latencyP95: { maxMs: 200 } }, window: window(figures(100, 0, 201)), phase: "Failed", reason: /p95 201 ms is above 200 ms/ },
    {
      name: "a p95 more than maxRatio times the stable revision's fails",
      spec: { latencyP95: { maxRatio: 1.5 } },
      window: window(figures(100, 0, 31), figures(300, 0, 20)),
      phase: "Failed",
      reason: /p95 31 ms is more than 1\.5 × the stable revision's 20 ms/,
    },
    { name: "a p95 at maxRatio times the stable revision's passes", spec: { latencyP95: { maxRatio: 1.5 } }, window: window(figures(100, 0, 30), figures(300, 0, 20)), phase: "Successful" },
    {
      name: "a stable p95 of 0 ms counts as 1 ms, so that a ratio can pass at all",
      spec: { latencyP95: { maxRatio: 2 } },
      window: window(figures(100, 0, 2), figures(300, 0, 0)),
      phase: "Successful",
    },
    {
      name: "a ratio with fewer stable requests than minRequests to compare with is inconclusive",
      spec: { latencyP95: { maxRatio: 1.5 } },
      window: window(figures(100), figures(5)),
      phase: "Inconclusive",
      reason: /stable revision had 5 HTTP requests to compare latency with, fewer than minRequests 20/,
    },
    {
      name: "a latency check over a new revision with no HTTP request (a TCP Service) is inconclusive",
      spec: { latencyP95: { maxMs: 100 } },
      window: window({ requests: 50, failed: 0, successRate: 100, latencyRequests: 0 }),
      phase: "Inconclusive",
      reason: /no HTTP request to measure latency over/,
    },
    {
      name: "a failed check outranks one that could not be made",
      spec: { latencyP95: { maxRatio: 1.5 } },
      window: window(figures(100, 50), figures(5)),
      phase: "Failed",
      reason: /success rate 50%/,
    },
    {
      name: "every check that fails is named",
      spec: { latencyP95: { maxMs: 100, maxRatio: 2 } },
      window: window(figures(100, 10, 500), figures(300, 0, 50)),
      phase: "Failed",
      reason: /success rate 90% .*; p95 500 ms is above 100 ms; p95 500 ms is more than 2 × the stable revision's 50 ms/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const judged = judgeWindow({ ...SPEC, ...c.spec }, c.window);
      expect(judged.phase).toBe(c.phase);
      if (c.reason) expect(judged.reason).toMatch(c.reason);
      else expect(judged.reason).toBeUndefined();
      expect(judged.canary).toEqual(c.window.canary);
    });
  }
});

describe("analysisVerdict", () => {
  const ok = judgeWindow(SPEC, window(figures(100)));
  const bad = judgeWindow(SPEC, window(figures(100, 30)));
  const quiet = judgeWindow(SPEC, window(figures(3)));
  const cases: { name: string; spec?: Partial<AnalysisSpec>; windows: JudgedWindow[]; phase: string; message?: RegExp }[] = [
    { name: "no window measured yet is running", windows: [], phase: "Running", message: /measuring window 1 of 3/ },
    { name: "fewer successful windows than count is running", windows: [ok, ok], phase: "Running", message: /measuring window 3 of 3/ },
    { name: "count successful windows pass", windows: [ok, ok, ok], phase: "Successful", message: /analysis passed: 3 window\(s\) of 30s/ },
    {
      name: "a failed window beyond failureLimit fails at once, naming the window and both revisions' figures",
      windows: [ok, bad],
      phase: "Failed",
      message:
        /1 window\(s\) failed, more than failureLimit 0: window 2: success rate 70% \(30 of 100 failed\) is below 99% \(new revision: 100 requests, 70% succeeded, p95 10 ms; stable: 300 requests, 100% succeeded, p95 10 ms\)/,
    },
    { name: "failed windows within failureLimit keep it running", spec: { failureLimit: 1 }, windows: [bad, ok], phase: "Running" },
    { name: "failed windows within failureLimit still pass after count windows", spec: { failureLimit: 1 }, windows: [bad, ok, ok], phase: "Successful" },
    { name: "one failed window more than failureLimit fails", spec: { failureLimit: 1 }, windows: [bad, ok, bad], phase: "Failed", message: /2 window\(s\) failed/ },
    {
      name: "an inconclusive window beyond inconclusiveLimit makes it inconclusive at once, saying why",
      windows: [quiet],
      phase: "Inconclusive",
      message: /1 window\(s\) could not be judged, more than inconclusiveLimit 0: window 1: the new revision had 3 requests, fewer than minRequests 20/,
    },
    { name: "inconclusive windows within inconclusiveLimit do not stop it", spec: { inconclusiveLimit: 2 }, windows: [quiet, ok, quiet], phase: "Successful" },
    { name: "failures are judged before inconclusive windows", spec: { inconclusiveLimit: 0 }, windows: [quiet, bad], phase: "Failed" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdict = analysisVerdict({ ...SPEC, ...c.spec }, c.windows);
      expect(verdict.phase).toBe(c.phase);
      if (c.message) expect(verdict.message).toMatch(c.message);
    });
  }

  it("says the same thing for the same windows, however often it is asked", () => {
    expect(analysisVerdict(SPEC, [ok, bad])).toEqual(analysisVerdict(SPEC, [ok, bad]));
  });
});

describe("windowsDue", () => {
  const spec = { ...SPEC, intervalSeconds: 10 };
  const cases: { name: string; from: number; now: number; left: number; want: { from: number; to: number }[] }[] = [
    { name: "a window that has not ended is not due", from: 0, now: 9_999, left: 3, want: [] },
    { name: "a window is due once it ended", from: 0, now: 10_000, left: 3, want: [{ from: 0, to: 10_000 }] },
    {
      name: "windows follow each other back to back",
      from: 5_000,
      now: 40_000,
      left: 3,
      want: [
        { from: 5_000, to: 15_000 },
        { from: 15_000, to: 25_000 },
        { from: 25_000, to: 35_000 },
      ],
    },
    {
      name: "no more windows than are left to measure",
      from: 0,
      now: 100_000,
      left: 2,
      want: [
        { from: 0, to: 10_000 },
        { from: 10_000, to: 20_000 },
      ],
    },
  ];
  for (const c of cases) it(c.name, () => expect(windowsDue(spec, c.from, c.now, c.left)).toEqual(c.want));
});

describe("a malformed analysis", () => {
  const cases: { name: string; spec: Partial<AnalysisSpec> }[] = [
    { name: "an interval under a second", spec: { intervalSeconds: 0 } },
    { name: "a count of 0", spec: { count: 0 } },
    { name: "a negative failure limit", spec: { failureLimit: -1 } },
    { name: "minRequests of 0", spec: { minRequests: 0 } },
    { name: "a success rate above 100", spec: { successRateMin: 101 } },
    { name: "a latency check without a limit", spec: { latencyP95: {} } },
    { name: "a latency ratio of 0", spec: { latencyP95: { maxRatio: 0 } } },
  ];
  for (const c of cases) it(`is refused: ${c.name}`, () => expect(codeOf(() => analysisVerdict({ ...SPEC, ...c.spec }, []))).toBe("InvalidArgument"));
});
