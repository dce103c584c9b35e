/** The Job decision (rollout/job.ts), table-driven: counts, creations, removals, back-off, deadline, Indexed. */
import { describe, expect, it } from "vitest";
import { jobBackoffMs, jobStep, type EvictedJobPod, type JobParams, type JobPod } from "../../../operator/src/rollout/job.js";

const T0 = 1_000_000;
const base: JobParams = { completions: 1, parallelism: 1, backoffLimit: 6, completionMode: "NonIndexed", restartPolicy: "Never" };

function pod(name: string, phase: JobPod["phase"], extra: Partial<JobPod> = {}): JobPod {
  return { name, phase, restartCount: 0, createdAt: T0, ...(phase === "Succeeded" || phase === "Failed" ? { finishedAt: T0 + 1_000 } : {}), ...extra };
}

describe("jobStep", () => {
  const cases: { name: string; params?: Partial<JobParams>; pods: JobPod[]; now?: number; expect: Record<string, unknown> }[] = [
    { name: "a new Job creates one pod", pods: [], expect: { condition: { type: "Running" }, create: [{}], remove: [], active: 0 } },
    { name: "completions 3 parallelism 2: two at a time", params: { completions: 3, parallelism: 2 }, pods: [], expect: { create: [{}, {}] } },
    {
      name: "completions 3 parallelism 2, one succeeded and one running: one more",
      params: { completions: 3, parallelism: 2 },
      pods: [pod("a", "Succeeded"), pod("b", "Running")],
      expect: { create: [{}], succeeded: 1, active: 1 },
    },
    {
      name: "completions 3 parallelism 2, two succeeded and one running: none (only one completion missing)",
      params: { completions: 3, parallelism: 2 },
      pods: [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Running")],
      expect: { create: [], succeeded: 2, active: 1 },
    },
    {
      name: "all completions: Complete at the last exit, active pods removed",
      params: { completions: 2, parallelism: 3 },
      pods: [pod("a", "Succeeded"), pod("b", "Succeeded", { finishedAt: T0 + 5_000 }), pod("c", "Running")],
      expect: { condition: { type: "Complete", at: T0 + 5_000 }, remove: ["c"], create: [] },
    },
    {
      name: "a failure waits the back-off (10 s) before the next pod",
      pods: [pod("a", "Failed")],
      now: T0 + 5_000,
      expect: { create: [], failed: 1, backoffUntil: T0 + 11_000, nextCheckAt: T0 + 11_000 },
    },
    { name: "after the back-off the next pod is created", pods: [pod("a", "Failed")], now: T0 + 11_000, expect: { create: [{}] } },
    {
      name: "three failures: 40 s back-off from the latest",
      pods: [pod("a", "Failed"), pod("b", "Failed", { finishedAt: T0 + 30_000 }), pod("c", "Failed", { finishedAt: T0 + 80_000 })],
      now: T0 + 100_000,
      expect: { create: [], backoffUntil: T0 + 120_000 },
    },
    {
      name: "more failures than backoffLimit: Failed BackoffLimitExceeded, active pods removed",
      params: { backoffLimit: 1, parallelism: 2, completions: 2 },
      pods: [pod("a", "Failed"), pod("b", "Failed", { finishedAt: T0 + 9_000 }), pod("c", "Running")],
      expect: { condition: { type: "Failed", reason: "BackoffLimitExceeded", at: T0 + 9_000 }, remove: ["c"], create: [] },
    },
    {
      name: "backoffLimit 0: the first failure fails the Job",
      params: { backoffLimit: 0 },
      pods: [pod("a", "Failed")],
      expect: { condition: { type: "Failed", reason: "BackoffLimitExceeded" } },
    },
    {
      name: "OnFailure: restarts of active pods count against backoffLimit",
      params: { backoffLimit: 2, restartPolicy: "OnFailure" },
      pods: [pod("a", "Running", { restartCount: 2 })],
      expect: { condition: { type: "Failed", reason: "BackoffLimitExceeded" }, remove: ["a"] },
    },
    {
      name: "OnFailure: fewer restarts than backoffLimit keep running",
      params: { backoffLimit: 2, restartPolicy: "OnFailure" },
      pods: [pod("a", "Running", { restartCount: 1 })],
      expect: { condition: { type: "Running" }, create: [] },
    },
    {
      name: "activeDeadlineSeconds passed: Failed DeadlineExceeded, active pods removed",
      params: { activeDeadlineSeconds: 30 },
      pods: [pod("a", "Running")],
      now: T0 + 30_000,
      expect: { condition: { type: "Failed", reason: "DeadlineExceeded", at: T0 + 30_000 }, remove: ["a"] },
    },
    { name: "before the deadline: check again at it", params: { activeDeadlineSeconds: 30 }, pods: [pod("a", "Running")], now: T0 + 1_000, expect: { nextCheckAt: T0 + 30_000, create: [] } },
    {
      name: "parallelism lowered: the newest active pods go",
      params: { completions: 5, parallelism: 1 },
      pods: [pod("a", "Running"), pod("b", "Running", { createdAt: T0 + 5 }), pod("c", "Running", { createdAt: T0 + 9 })],
      expect: { remove: ["b", "c"], create: [] },
    },
    {
      name: "Indexed: lowest free indexes, up to parallelism",
      params: { completionMode: "Indexed", completions: 4, parallelism: 2 },
      pods: [pod("a", "Succeeded", { index: 0 }), pod("b", "Running", { index: 2 })],
      expect: { create: [{ index: 1 }], completedIndexes: [0], succeeded: 1 },
    },
    {
      name: "Indexed: a failed index is retried (after the back-off)",
      params: { completionMode: "Indexed", completions: 2, parallelism: 2 },
      pods: [pod("a", "Succeeded", { index: 0 }), pod("b", "Failed", { index: 1 })],
      now: T0 + 20_000,
      expect: { create: [{ index: 1 }], failed: 1 },
    },
    {
      name: "Indexed: two pods of one index succeeding count once",
      params: { completionMode: "Indexed", completions: 2, parallelism: 2 },
      pods: [pod("a", "Succeeded", { index: 0 }), pod("b", "Succeeded", { index: 0 })],
      expect: { succeeded: 1, create: [{ index: 1 }], condition: { type: "Running" } },
    },
    {
      name: "Indexed: every index succeeded: Complete",
      params: { completionMode: "Indexed", completions: 2, parallelism: 2 },
      pods: [pod("a", "Succeeded", { index: 1 }), pod("b", "Succeeded", { index: 0 })],
      expect: { condition: { type: "Complete", at: T0 + 1_000 }, completedIndexes: [0, 1] },
    },
    { name: "a terminating pod is not active", pods: [pod("a", "Terminating")], expect: { active: 0, create: [{}] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const step = jobStep({ params: { ...base, ...c.params }, pods: c.pods, startTime: T0, now: c.now ?? T0 + 2_000 });
      expect(step).toMatchObject(c.expect);
    });
  }

  it("the back-off doubles from 10 s to at most 6 min", () => {
    expect([0, 1, 2, 3, 6, 7, 50].map(jobBackoffMs)).toEqual([0, 10_000, 20_000, 40_000, 320_000, 360_000, 360_000]);
  });
});

describe("jobStep on a draining node", () => {
  // An evicted pod (DisruptionTarget) counts as failed, as Kubernetes counts it without a podFailurePolicy.
  const drainCases: { name: string; params?: Partial<JobParams>; pods: JobPod[]; evicted?: EvictedJobPod[]; draining?: string[]; now?: number; expect: Record<string, unknown> }[] = [
    { name: "an active pod on a draining node is to be evicted; nothing new yet", pods: [pod("a", "Running")], draining: ["a"], expect: { evict: ["a"], create: [], active: 1, failed: 0 } },
    {
      name: "every active pod on the node, sorted; not the ended ones, not those elsewhere",
      params: { completions: 4, parallelism: 3 },
      pods: [pod("c", "Running"), pod("a", "Pending"), pod("b", "Running"), pod("d", "Succeeded")],
      draining: ["c", "a", "d"],
      expect: { evict: ["a", "c"], succeeded: 1 },
    },
    {
      name: "an evicted pod is failed from its eviction on (the pod gone): the replacement waits the back-off",
      pods: [],
      evicted: [{ name: "a", at: T0 + 1_000 }],
      now: T0 + 5_000,
      expect: { failed: 1, active: 0, create: [], backoffUntil: T0 + 11_000, evict: [] },
    },
    { name: "after the back-off the replacement is created", pods: [], evicted: [{ name: "a", at: T0 + 1_000 }], now: T0 + 11_000, expect: { failed: 1, create: [{}] } },
    {
      name: "an evicted pod still stopping counts once, as failed, not as terminating",
      pods: [pod("a", "Terminating")],
      evicted: [{ name: "a", at: T0 + 1_000 }],
      now: T0 + 11_000,
      expect: { failed: 1, active: 0, create: [{}] },
    },
    {
      name: "evictions count toward backoffLimit: beyond it the Job fails (BackoffLimitExceeded)",
      params: { backoffLimit: 1 },
      pods: [pod("a", "Failed")],
      evicted: [{ name: "b", at: T0 + 9_000 }],
      expect: { condition: { type: "Failed", reason: "BackoffLimitExceeded", at: T0 + 9_000 }, failed: 2, evict: [] },
    },
    { name: "backoffLimit 0: one eviction fails the Job", params: { backoffLimit: 0 }, pods: [], evicted: [{ name: "a", at: T0 }], expect: { condition: { type: "Failed", reason: "BackoffLimitExceeded" } } },
    {
      name: "Indexed: the evicted pod's index is created again (after the back-off)",
      params: { completionMode: "Indexed", completions: 3, parallelism: 3 },
      pods: [pod("a", "Succeeded", { index: 0 }), pod("c", "Running", { index: 2 })],
      evicted: [{ name: "b", index: 1, at: T0 + 1_000 }],
      now: T0 + 11_000,
      expect: { create: [{ index: 1 }], failed: 1, active: 1 },
    },
    {
      name: "a pod both in excess and draining is removed, not evicted",
      params: { completions: 5, parallelism: 1 },
      pods: [pod("a", "Running"), pod("b", "Running", { createdAt: T0 + 5 })],
      draining: ["a", "b"],
      expect: { remove: ["b"], evict: ["a"] },
    },
    {
      name: "a Job that completed evicts nothing",
      pods: [pod("a", "Succeeded"), pod("b", "Running")],
      draining: ["b"],
      params: { completions: 1, parallelism: 2 },
      expect: { condition: { type: "Complete" }, remove: ["b"], evict: [] },
    },
  ];
  for (const c of drainCases) {
    it(c.name, () => {
      const step = jobStep({ params: { ...base, ...c.params }, pods: c.pods, evicted: c.evicted ?? [], draining: c.draining ?? [], startTime: T0, now: c.now ?? T0 + 2_000 });
      expect(step).toMatchObject(c.expect);
    });
  }
});
