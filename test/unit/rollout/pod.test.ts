/**
 * A bare Pod's decision (rollout/pod.ts): created once, replaced on a spec change, never rescheduled; with
 * restartPolicy OnFailure or Never, a pod that ended (Succeeded or Failed) is terminal: never created again
 * at its revision, replaced by a new spec.
 */
import { describe, expect, it } from "vitest";
import { podStep, type BarePod, type PodEnd, type PodNodeState } from "../../../operator/src/rollout/index.js";
import { params, T } from "./builders.js";

function pod(name: string, o: Partial<BarePod> = {}): BarePod {
  return { name, revision: "r1", node: "a", createdAt: T - 60_000, terminating: false, failed: false, ready: true, readySince: T - 50_000, pending: false, restartCount: 0, ...o };
}

describe("podStep", () => {
  const cases: {
    name: string;
    pods: BarePod[];
    revision?: string;
    placed?: { revision: string; node: string; ended?: PodEnd };
    node?: PodNodeState;
    want: { create: number; remove: string[]; complete: boolean; nodeName?: string; lost?: boolean; replacing?: boolean; ended?: PodEnd };
  }[] = [
    { name: "a new Pod is created once, where the scheduler says", pods: [], want: { create: 1, remove: [], complete: false } },
    { name: "a running Pod is complete", pods: [pod("web")], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: [], complete: true } },
    { name: "a changed spec deletes the pod first", revision: "r2", pods: [pod("web")], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: ["web"], complete: false, replacing: true } },
    { name: "then waits for it to stop", revision: "r2", pods: [pod("web", { terminating: true })], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: [], complete: false } },
    { name: "then creates it with the new spec, scheduled anew", revision: "r2", pods: [], placed: { revision: "r1", node: "a" }, want: { create: 1, remove: [], complete: false } },
    { name: "containers removed on a Ready node: created again on that node only", pods: [], placed: { revision: "r1", node: "a" }, node: "Ready", want: { create: 1, remove: [], complete: false, nodeName: "a" } },
    { name: "its node NotReady: waits", pods: [], placed: { revision: "r1", node: "a" }, node: "NotReady", want: { create: 0, remove: [], complete: false } },
    { name: "its node lost: Failed, never recreated", pods: [], placed: { revision: "r1", node: "a" }, node: "Lost", want: { create: 0, remove: [], complete: true, lost: true } },
    // restartPolicy OnFailure or Never: a pod that ended is terminal.
    {
      name: "a pod that Succeeded is complete, kept, not recreated",
      pods: [pod("job", { ready: false, ended: "Succeeded" })],
      placed: { revision: "r1", node: "a", ended: "Succeeded" },
      want: { create: 0, remove: [], complete: true, ended: "Succeeded" },
    },
    {
      name: "a pod that Failed is not complete, kept, not recreated",
      pods: [pod("job", { ready: false, ended: "Failed" })],
      placed: { revision: "r1", node: "a", ended: "Failed" },
      want: { create: 0, remove: [], complete: false, ended: "Failed" },
    },
    {
      name: "a pod that Failed before the operator knew it (placed not updated yet) is terminal too",
      pods: [pod("job", { ready: false, ended: "Failed" })],
      placed: { revision: "r1", node: "a" },
      want: { create: 0, remove: [], complete: false, ended: "Failed" },
    },
    {
      name: "a pod that Succeeded and whose containers were removed since is not created again",
      pods: [],
      placed: { revision: "r1", node: "a", ended: "Succeeded" },
      node: "Ready",
      want: { create: 0, remove: [], complete: true, ended: "Succeeded" },
    },
    {
      name: "a pod that Failed and whose containers were removed since is not created again",
      pods: [],
      placed: { revision: "r1", node: "a", ended: "Failed" },
      node: "Ready",
      want: { create: 0, remove: [], complete: false, ended: "Failed" },
    },
    {
      name: "an ended pod on a lost node stays as it ended (not NodeLost)",
      pods: [],
      placed: { revision: "r1", node: "a", ended: "Succeeded" },
      node: "Lost",
      want: { create: 0, remove: [], complete: true, ended: "Succeeded" },
    },
    {
      name: "a changed spec replaces a pod that Succeeded",
      revision: "r2",
      pods: [pod("job", { ready: false, ended: "Succeeded" })],
      placed: { revision: "r1", node: "a", ended: "Succeeded" },
      want: { create: 0, remove: ["job"], complete: false, replacing: true },
    },
    {
      name: "a changed spec replaces a pod that Failed",
      revision: "r2",
      pods: [pod("job", { ready: false, ended: "Failed" })],
      placed: { revision: "r1", node: "a", ended: "Failed" },
      want: { create: 0, remove: ["job"], complete: false, replacing: true },
    },
    {
      name: "and once it stopped, runs the new spec (the old end does not hold it back)",
      revision: "r2",
      pods: [],
      placed: { revision: "r1", node: "a", ended: "Failed" },
      want: { create: 1, remove: [], complete: false },
    },
    {
      name: "an OnFailure pod restarting in place is not ended: nothing created, nothing removed",
      pods: [pod("job", { ready: false, readySince: undefined, restartCount: 3 })],
      placed: { revision: "r1", node: "a" },
      want: { create: 0, remove: [], complete: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = podStep({
        params: params(1, 0, 0),
        revision: c.revision ?? "r1",
        pods: c.pods,
        now: T,
        lastProgressAt: T,
        ...(c.placed ? { placed: c.placed } : {}),
        nodeState: () => c.node ?? "Ready",
      });
      expect(s.create).toBe(c.want.create);
      expect(s.remove).toEqual(c.want.remove);
      expect(s.complete).toBe(c.want.complete);
      expect(s.nodeName).toBe(c.want.nodeName);
      expect(s.lost !== undefined).toBe(c.want.lost ?? false);
      expect(s.replacing !== undefined).toBe(c.want.replacing ?? false);
      expect(s.ended?.phase).toBe(c.want.ended);
      expect(s.deadlineExceeded).toBe(false);
      if (c.want.ended !== undefined) {
        expect(s.revisions.every((r) => r.create === 0)).toBe(true);
        expect(s.requeueAfterMs).toBeUndefined();
        expect(s.progressed).toBe(false);
      }
    });
  }

  it("an ended pod is never late: no deadline runs long after it ended", () => {
    for (const ended of ["Succeeded", "Failed"] as const) {
      const s = podStep({
        params: params(1, 0, 0),
        revision: "r1",
        pods: [pod("job", { ready: false, readySince: undefined, createdAt: T - 3_600_000, ended })],
        now: T,
        lastProgressAt: T - 3_600_000,
        placed: { revision: "r1", node: "a" },
        nodeState: () => "Ready",
      });
      expect(s.deadlineExceeded).toBe(false);
      expect(s.ended?.phase).toBe(ended);
    }
  });
});
