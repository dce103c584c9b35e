/**
 * The measuring side of canary analysis (controllers/workload/analysis.ts) with a hand-fed request stream:
 * which records count and for which revision, when a window is judged, what a restart keeps, and the
 * state's round trip through the status record.
 */
import { describe, expect, it } from "vitest";
import { analysisFromRecord, analysisRecord, CanaryAnalyses, revisionGroups, type AnalysisState } from "../../../operator/src/controllers/workload/analysis.js";
import { DEFAULT_ANALYSIS } from "../../../operator/src/rollout/index.js";
import type { ObservedPod } from "../../../operator/src/runtime/fleet.js";
import type { RequestRecord } from "../../../operator/src/traffic/types.js";

const SPEC = { ...DEFAULT_ANALYSIS, intervalSeconds: 10, count: 2, minRequests: 2 };
const T0 = 1_000_000;
const AT = { revision: "b", step: 1, spec: SPEC, startedAt: T0 };
const GROUPS = new Map([
  ["10.0.0.1:31001", "canary"],
  ["10.0.0.2:31002", "stable"],
]);

/** A hand-fed stream of request records: what the service controller's subscribeRequests gives. */
function stream() {
  const listeners = new Set<(r: readonly RequestRecord[]) => void>();
  return {
    subscribe: (l: (r: readonly RequestRecord[]) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit: (records: RequestRecord[]) => {
      for (const l of listeners) l(records);
    },
    get subscribers() {
      return listeners.size;
    },
  };
}

function rec(serverAddress: string, at: number, status = 200, totalMs = 5): RequestRecord {
  return { at, mode: "http", backend: "default.web:80", server: "s1", serverAddress, status, responseMs: totalMs, totalMs, termination: "--", retries: 0, redispatched: false };
}

describe("CanaryAnalyses", () => {
  it("keeps the records of the Rollout's pods from the start of the step, and judges a window half a second after it ended", () => {
    const s = stream();
    const a = new CanaryAnalyses(s.subscribe);
    const first = a.measure("Rollout/default/web", AT, undefined, GROUPS, T0);
    expect(first).toMatchObject({ judged: [], wakeAt: T0 + 10_500, state: { verdict: { phase: "Running" } } });
    s.emit([rec("10.0.0.1:31001", T0 + 1), rec("10.0.0.1:31001", T0 + 2, 500), rec("10.0.0.2:31002", T0 + 3), rec("10.0.0.9:31009", T0 + 4), rec("10.0.0.1:31001", T0 + 10_000)]);
    expect(a.measure("Rollout/default/web", AT, first.state, GROUPS, T0 + 10_499).judged).toEqual([]);
    const second = a.measure("Rollout/default/web", AT, first.state, GROUPS, T0 + 10_500);
    expect(second.judged).toHaveLength(1);
    expect(second.judged[0]).toMatchObject({ from: T0, to: T0 + 10_000, phase: "Failed", canary: { requests: 2, failed: 1 }, stable: { requests: 1, failed: 0 } });
    expect(second.state.verdict.phase).toBe("Failed");
    // Ended: it stops listening.
    expect(s.subscribers).toBe(0);
  });

  it("counts a record that arrived at a window's end for the next window", () => {
    const s = stream();
    const a = new CanaryAnalyses(s.subscribe);
    let state = a.measure("k", AT, undefined, GROUPS, T0).state;
    s.emit([rec("10.0.0.1:31001", T0 + 1), rec("10.0.0.1:31001", T0 + 2), rec("10.0.0.1:31001", T0 + 10_000), rec("10.0.0.1:31001", T0 + 10_001)]);
    state = a.measure("k", AT, state, GROUPS, T0 + 20_500).state;
    expect(state.windows.map((w) => w.canary.requests)).toEqual([2, 2]);
    expect(state.verdict.phase).toBe("Successful");
  });

  it("goes on from the windows a restarted operator read back, measuring the window in progress again from the restart", () => {
    const s = stream();
    const before = new CanaryAnalyses(s.subscribe);
    let state = before.measure("k", AT, undefined, GROUPS, T0).state;
    s.emit([rec("10.0.0.1:31001", T0 + 1), rec("10.0.0.1:31001", T0 + 2)]);
    state = before.measure("k", AT, state, GROUPS, T0 + 10_500).state;
    expect(state.windows).toHaveLength(1);
    const restored = analysisFromRecord(JSON.parse(JSON.stringify(analysisRecord(state))))!;

    const after = new CanaryAnalyses(s.subscribe);
    const restart = T0 + 15_000;
    const resumed = after.measure("k", AT, restored, GROUPS, restart);
    expect(resumed.wakeAt).toBe(restart + 10_500);
    s.emit([rec("10.0.0.1:31001", restart + 1), rec("10.0.0.1:31001", restart + 2)]);
    const done = after.measure("k", AT, resumed.state, GROUPS, restart + 10_500);
    expect(done.judged).toMatchObject([{ from: restart, to: restart + 10_000, phase: "Successful" }]);
    expect(done.state.verdict.phase).toBe("Successful");
  });

  it("starts afresh for another step or revision, and forgets what it collected for the one before", () => {
    const s = stream();
    const a = new CanaryAnalyses(s.subscribe);
    const one = a.measure("k", AT, undefined, GROUPS, T0).state;
    s.emit([rec("10.0.0.1:31001", T0 + 1), rec("10.0.0.1:31001", T0 + 2)]);
    const other = { ...AT, step: 3, startedAt: T0 + 5_000 };
    const two = a.measure("k", other, one, GROUPS, T0 + 5_000);
    expect(two.state).toMatchObject({ step: 3, windows: [], startedAt: T0 + 5_000 });
    const judged = a.measure("k", other, two.state, GROUPS, T0 + 15_500).judged;
    expect(judged).toMatchObject([{ phase: "Inconclusive", canary: { requests: 0 } }]);
    expect(s.subscribers).toBe(0);
  });

  it("measures no request without a request stream: its windows are inconclusive", () => {
    const a = new CanaryAnalyses(undefined);
    const state = a.measure("k", AT, undefined, GROUPS, T0).state;
    expect(a.measure("k", AT, state, GROUPS, T0 + 10_500).state.verdict.phase).toBe("Inconclusive");
  });

  it("stop() ends the subscription", () => {
    const s = stream();
    const a = new CanaryAnalyses(s.subscribe);
    a.measure("k", AT, undefined, GROUPS, T0);
    expect(s.subscribers).toBe(1);
    a.stop("k");
    expect(s.subscribers).toBe(0);
  });
});

describe("revisionGroups", () => {
  it("maps every port of the new and the stable revision's pods, at their node's address, and no other revision's", () => {
    const pod = (name: string, revision: string, node: string, ports: number[]): ObservedPod =>
      ({ name, revision, node, ports: ports.map((hostPort) => ({ containerPort: 8080, hostPort, protocol: "TCP" })) }) as unknown as ObservedPod;
    const address = (node: string) => ({ n1: "10.0.0.1", n2: "10.0.0.2" })[node];
    const groups = revisionGroups([pod("b-1", "b", "n1", [31001, 31002]), pod("a-1", "a", "n2", [31001]), pod("x-1", "x", "n2", [31003]), pod("b-2", "b", "gone", [31004])], "b", "a", address);
    expect([...groups].sort()).toEqual([
      ["10.0.0.1:31001", "canary"],
      ["10.0.0.1:31002", "canary"],
      ["10.0.0.2:31001", "stable"],
    ]);
  });
});

describe("the analysis in the status record", () => {
  const state: AnalysisState = {
    revision: "b",
    step: 1,
    startedAt: T0,
    windows: [
      {
        from: T0,
        to: T0 + 10_000,
        phase: "Failed",
        reason: "success rate 50% (1 of 2 failed) is below 99%",
        canary: { requests: 2, failed: 1, successRate: 50, latencyRequests: 2, latencyP95Ms: 5 },
        stable: { requests: 0, failed: 0, latencyRequests: 0 },
      },
    ],
    verdict: { phase: "Failed", message: "analysis failed: …" },
  };

  it("is read back as it was written", () => {
    expect(analysisFromRecord(JSON.parse(JSON.stringify(analysisRecord(state))))).toEqual(state);
  });

  it("is not read back when it is damaged: the analysis starts over", () => {
    const good = analysisRecord(state);
    for (const bad of [
      { ...good, startedAt: "soon" },
      { ...good, phase: "Maybe" },
      { ...good, windows: [{ ...good.windows[0]!, phase: "Running" }] },
      { ...good, windows: undefined },
    ]) {
      expect(analysisFromRecord(bad as unknown as typeof good)).toBeUndefined();
    }
  });
});
