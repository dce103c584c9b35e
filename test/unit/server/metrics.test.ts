/**
 * OperatorMetrics and the callbacks that feed it: two operators in one process count apart (a Registry
 * each, default metrics included); a rollout outcome is a commit leaving Progressing; the status store
 * reports phase changes it is told of, not records read back from Git; the work queue reports how long a
 * key waited.
 */
import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../../operator/src/engine/queue.js";
import { OperatorMetrics } from "../../../operator/src/server/metrics.js";
import { StatusStore } from "../../../operator/src/status/store.js";
import type { CommitPhase, CommitRecord } from "../../../operator/src/status/types.js";
import { parseExposition, sampleValue } from "../../support/prometheus-text.js";

const gauges = { nodes: () => [{ name: "a", ready: true }], podPhases: () => ["Running", "Running", "Pending"], queueDepth: () => 3 };
const read = async (m: OperatorMetrics) => parseExposition((await m.exposition()).text);

describe("OperatorMetrics", () => {
  it("keeps two operators' counts apart, each with the default process metrics", async () => {
    const one = new OperatorMetrics(gauges);
    const two = new OperatorMetrics(gauges);
    one.reconciled("Deployment", 12, true);
    one.webhook("github", "triggered");
    const [a, b] = [await read(one), await read(two)];
    expect(sampleValue(a, "coxswain_reconcile_errors_total", { controller: "Deployment" })).toBe(1);
    expect(sampleValue(a, "coxswain_reconcile_duration_seconds_sum", { controller: "Deployment" })).toBeCloseTo(0.012);
    expect(sampleValue(b, "coxswain_reconcile_errors_total", { controller: "Deployment" })).toBeUndefined();
    expect(sampleValue(b, "coxswain_webhook_requests_total", { provider: "github", result: "triggered" })).toBeUndefined();
    expect(a.get("process_cpu_seconds_total")?.type).toBe("counter");
    expect(b.get("process_cpu_seconds_total")?.type).toBe("counter");
  });

  it("reads gauges when scraped and counts a rollout's outcome when a commit leaves Progressing", async () => {
    const m = new OperatorMetrics(gauges);
    m.commitPhase("Pending", undefined);
    m.commitPhase("Progressing", "Pending");
    m.commitPhase("Failed", "Progressing");
    m.commitPhase("RolledBack", "Failed");
    m.commitPhase("Invalid", undefined);
    m.scheduled(2, 3, 1);
    const f = await read(m);
    expect(sampleValue(f, "coxswain_rollouts_total", { outcome: "Failed" })).toBe(1);
    expect(sampleValue(f, "coxswain_rollouts_total", { outcome: "RolledBack" })).toBeUndefined();
    expect(sampleValue(f, "coxswain_commit_phase_transitions_total", { phase: "RolledBack" })).toBe(1);
    expect(sampleValue(f, "coxswain_scheduler_attempts_total", { result: "scheduled" })).toBe(3);
    expect(sampleValue(f, "coxswain_scheduler_attempts_total", { result: "unschedulable" })).toBe(1);
    expect(sampleValue(f, "coxswain_pods", { phase: "Running" })).toBe(2);
    expect(sampleValue(f, "coxswain_pods", { phase: "Pending" })).toBe(1);
    expect(sampleValue(f, "coxswain_node_ready", { node: "a" })).toBe(1);
    expect(sampleValue(f, "coxswain_workqueue_depth")).toBe(3);
  });
});

function commit(oid: string, phase: CommitPhase): CommitRecord {
  return { commit: oid, branch: "main", subject: "s", phase, message: "" } as CommitRecord;
}

describe("StatusStore onCommitPhase", () => {
  it("reports a new commit and each change of its phase, not the same phase again nor records read back", () => {
    const seen: string[] = [];
    const store = new StatusStore({ onCommitPhase: (phase, previous) => seen.push(`${previous ?? "-"}→${phase}`) });
    const a = "a".repeat(40);
    store.setCommit(commit(a, "Progressing"));
    store.setCommit({ ...commit(a, "Progressing"), message: "1/2 pods ready" });
    store.setCommit(commit(a, "Succeeded"));
    store.merge({ commits: [commit("b".repeat(40), "Failed")], workloads: [], extra: [] });
    expect(seen).toEqual(["-→Progressing", "Progressing→Succeeded"]);
  });
});

describe("WorkQueue onStart", () => {
  it("reports how long each key waited between add and start", async () => {
    let now = 1_000;
    const waited: [string, number][] = [];
    const q = new WorkQueue({
      concurrency: 1,
      clock: { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
      onStart: (key, ms) => waited.push([key, ms]),
    });
    q.add("x");
    now += 250;
    q.start(async () => undefined);
    await q.onIdle();
    expect(waited).toEqual([["x", 250]]);
  });
});
