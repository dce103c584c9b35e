/** A bare Pod's decision (rollout/pod.ts): created once, replaced on a spec change, never rescheduled. */
import { describe, expect, it } from "vitest";
import { podStep, type PodNodeState, type ReplicaSetPod } from "../../../operator/src/rollout/index.js";
import { params, T } from "./builders.js";

function pod(name: string, o: Partial<ReplicaSetPod> = {}): ReplicaSetPod {
  return { name, revision: "r1", node: "a", createdAt: T - 60_000, terminating: false, failed: false, ready: true, readySince: T - 50_000, pending: false, restartCount: 0, ...o };
}

describe("podStep", () => {
  const cases: {
    name: string;
    pods: ReplicaSetPod[];
    revision?: string;
    placed?: { revision: string; node: string };
    node?: PodNodeState;
    want: { create: number; remove: string[]; complete: boolean; nodeName?: string; lost?: boolean; replacing?: boolean };
  }[] = [
    { name: "a new Pod is created once, where the scheduler says", pods: [], want: { create: 1, remove: [], complete: false } },
    { name: "a running Pod is complete", pods: [pod("web")], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: [], complete: true } },
    { name: "a changed spec deletes the pod first", revision: "r2", pods: [pod("web")], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: ["web"], complete: false, replacing: true } },
    { name: "then waits for it to stop", revision: "r2", pods: [pod("web", { terminating: true })], placed: { revision: "r1", node: "a" }, want: { create: 0, remove: [], complete: false } },
    { name: "then creates it with the new spec, scheduled anew", revision: "r2", pods: [], placed: { revision: "r1", node: "a" }, want: { create: 1, remove: [], complete: false } },
    { name: "containers removed on a Ready node: created again on that node only", pods: [], placed: { revision: "r1", node: "a" }, node: "Ready", want: { create: 1, remove: [], complete: false, nodeName: "a" } },
    { name: "its node NotReady: waits", pods: [], placed: { revision: "r1", node: "a" }, node: "NotReady", want: { create: 0, remove: [], complete: false } },
    { name: "its node lost: Failed, never recreated", pods: [], placed: { revision: "r1", node: "a" }, node: "Lost", want: { create: 0, remove: [], complete: true, lost: true } },
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
      expect(s.deadlineExceeded).toBe(false);
    });
  }
});
