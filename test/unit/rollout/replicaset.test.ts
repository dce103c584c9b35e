/** The ReplicaSet decision (rollout/replicaset.ts): counts kept, templates not rolled, Kubernetes' scale-down ranking. */
import { describe, expect, it } from "vitest";
import { compareForScaleDown, replicaSetStep, type ReplicaSetPod } from "../../../operator/src/rollout/index.js";
import { codeOf } from "../../support/errors.js";
import { params, T } from "./builders.js";

/** A ready, running pod on `node`, created `age` ms before T and ready since `readyAge` ms before T. */
function pod(name: string, o: Partial<ReplicaSetPod> & { age?: number; readyAge?: number } = {}): ReplicaSetPod {
  const { age = 3_600_000, readyAge = age - 1000, ...rest } = o;
  const p: ReplicaSetPod = { name, revision: "r1", node: "a", createdAt: T - age, terminating: false, failed: false, ready: true, readySince: T - readyAge, pending: false, restartCount: 0, ...rest };
  if (!p.ready) delete p.readySince;
  return p;
}

const step = (replicas: number, pods: ReplicaSetPod[], o: { revision?: string; minReadySeconds?: number; evict?: string[]; lastProgressAt?: number } = {}) =>
  replicaSetStep({
    params: params(replicas, 0, 0, { minReadySeconds: o.minReadySeconds ?? 0 }),
    revision: o.revision ?? "r1",
    pods,
    now: T,
    lastProgressAt: o.lastProgressAt ?? T,
    ...(o.evict ? { evict: o.evict } : {}),
  });

describe("replicaSetStep", () => {
  const cases: { name: string; replicas: number; pods: ReplicaSetPod[]; revision?: string; evict?: string[]; create: number; remove: string[]; complete: boolean }[] = [
    { name: "creates every pod of a new set", replicas: 3, pods: [], create: 3, remove: [], complete: false },
    { name: "is complete with replicas available pods", replicas: 3, pods: [pod("p1"), pod("p2"), pod("p3")], create: 0, remove: [], complete: true },
    { name: "replaces a lost pod", replicas: 3, pods: [pod("p1"), pod("p2")], create: 1, remove: [], complete: false },
    { name: "a template change leaves running pods alone", replicas: 3, revision: "r2", pods: [pod("p1"), pod("p2"), pod("p3")], create: 0, remove: [], complete: true },
    { name: "a scale-up after a template change creates pods of the new template", replicas: 4, revision: "r2", pods: [pod("p1"), pod("p2"), pod("p3")], create: 1, remove: [], complete: false },
    { name: "a failed pod is removed and replaced", replicas: 2, pods: [pod("p1"), pod("p2", { failed: true, ready: false })], create: 1, remove: ["p2"], complete: false },
    { name: "a terminating pod is already replaced", replicas: 2, pods: [pod("p1"), pod("p2", { terminating: true })], create: 1, remove: [], complete: false },
    { name: "a draining node's pod is evicted and replaced", replicas: 2, evict: ["p2"], pods: [pod("p1"), pod("p2", { node: "b" })], create: 1, remove: ["p2"], complete: false },
    { name: "scale to zero removes every pod", replicas: 0, pods: [pod("p1"), pod("p2")], create: 0, remove: ["p1", "p2"], complete: false },
    { name: "zero replicas and no pods is complete", replicas: 0, pods: [], create: 0, remove: [], complete: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = step(c.replicas, c.pods, { ...(c.revision ? { revision: c.revision } : {}), ...(c.evict ? { evict: c.evict } : {}) });
      expect(s.create).toBe(c.create);
      expect([...s.remove].sort()).toEqual(c.remove);
      expect(s.complete).toBe(c.complete);
    });
  }

  it("counts pods of the current template as updated and says that older ones keep theirs", () => {
    const s = step(4, [pod("p1"), pod("p2"), pod("p3"), pod("n1", { revision: "r2" })], { revision: "r2" });
    expect(s.counts).toMatchObject({ replicas: 4, updated: 1, ready: 4, available: 4 });
    expect(s.complete).toBe(true);
    expect(s.reason).toContain("new pods only");
  });

  it("counts a pod as available only after minReadySeconds and looks again then", () => {
    const s = step(1, [pod("p1", { age: 5000, readyAge: 4000 })], { minReadySeconds: 10 });
    expect(s.counts.available).toBe(0);
    expect(s.complete).toBe(false);
    expect(s.requeueAfterMs).toBe(6001);
  });

  it("fails the progress deadline when no pod becomes available", () => {
    const s = step(1, [pod("p1", { ready: false, age: 700_000 })], { lastProgressAt: T - 601_000 });
    expect(s.deadlineExceeded).toBe(true);
  });

  it("refuses malformed input with InvalidArgument", () => {
    expect(codeOf(() => step(1, [pod("p1"), pod("p1")]))).toBe("InvalidArgument");
  });
});

describe("Kubernetes' scale-down ranking", () => {
  // Each row: the pod removed first, then the second; everything else equal.
  const rows: { name: string; first: ReplicaSetPod; second: ReplicaSetPod; others?: ReplicaSetPod[] }[] = [
    { name: "unscheduled before scheduled", first: pod("x", { node: undefined, ready: false, pending: true }), second: pod("a", { ready: false, pending: true }) },
    { name: "pending before running", first: pod("x", { pending: true, ready: false }), second: pod("a", { ready: false }) },
    { name: "not ready before ready", first: pod("x", { ready: false }), second: pod("a") },
    { name: "doubled up before alone", first: pod("x", { node: "a" }), second: pod("a", { node: "b" }), others: [pod("o", { node: "a" })] },
    { name: "more recently ready before longer ready", first: pod("x", { readyAge: 60_000 }), second: pod("a", { readyAge: 3_600_000 }) },
    { name: "ready times in one power of two: by name, restarts not consulted", first: pod("a", { readyAge: 3_000_000 }), second: pod("x", { readyAge: 3_100_000, restartCount: 5 }) },
    { name: "more restarts first (not ready: no ready time)", first: pod("x", { ready: false, restartCount: 3 }), second: pod("a", { ready: false, restartCount: 1 }) },
    { name: "newer before older", first: pod("x", { ready: false, age: 60_000 }), second: pod("a", { ready: false, age: 3_600_000 }) },
    { name: "all equal: by name", first: pod("a"), second: pod("b") },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const all = [r.first, r.second, ...(r.others ?? [])];
      const perNode = new Map<string, number>();
      for (const p of all) if (p.node !== undefined) perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
      expect(compareForScaleDown(r.first, r.second, perNode, T)).toBeLessThan(0);
      expect(compareForScaleDown(r.second, r.first, perNode, T)).toBeGreaterThan(0);
    });
  }

  it("scaling 4 → 2 removes the not-ready pod, then a doubled-up one before the most recently ready", () => {
    const s = step(2, [pod("p1", { node: "a" }), pod("p2", { node: "a" }), pod("p3", { node: "b", readyAge: 60_000 }), pod("p4", { node: "c", ready: false })]);
    expect(s.remove).toEqual(["p4", "p1"]);
    expect(s.create).toBe(0);
  });

  it("scales down across revisions by rank, not by revision", () => {
    const s = step(2, [pod("old1", { readyAge: 7_200_000 }), pod("old2", { readyAge: 7_200_000, node: "b" }), pod("new1", { revision: "r2", readyAge: 10_000, node: "c" })], { revision: "r2" });
    expect(s.remove).toEqual(["new1"]);
  });
});
