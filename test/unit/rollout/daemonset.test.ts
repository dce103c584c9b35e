import { describe, expect, it } from "vitest";
import { daemonFit, daemonSetStep, withDaemonTolerations } from "../../../operator/src/rollout/index.js";
import type { DaemonNode, DaemonPod, DaemonSetInput, DaemonSetStep } from "../../../operator/src/rollout/index.js";

const T = 1_000_000;

function node(name: string, extra: Partial<DaemonNode> = {}): DaemonNode {
  return { name, labels: {}, ready: true, ...extra };
}
/** A pod of `revision` on `node`, available (ready long ago) unless told otherwise. */
function pod(name: string, nodeName: string, revision: string, extra: Partial<DaemonPod> = {}): DaemonPod {
  return { name, node: nodeName, revision, createdAt: T - 60_000, ready: true, readySince: T - 50_000, terminating: false, ...extra };
}
function input(nodes: DaemonNode[], pods: DaemonPod[], extra: Partial<DaemonSetInput> = {}): DaemonSetInput {
  return { nodes, pods, revision: "new", scheduling: { tolerations: withDaemonTolerations(undefined) }, strategy: { type: "RollingUpdate" }, minReadySeconds: 0, now: T, ...extra };
}

interface Case {
  name: string;
  input: DaemonSetInput;
  want: Partial<Pick<DaemonSetStep, "nodes" | "create" | "complete" | "waiting">> & { remove?: string[]; counts?: Partial<DaemonSetStep["counts"]> };
}

const three = [node("a"), node("b"), node("c")];

const cases: Case[] = [
  {
    name: "a new DaemonSet gets one pod on every node",
    input: input(three, []),
    want: { nodes: ["a", "b", "c"], create: ["a", "b", "c"], remove: [], complete: false, counts: { desiredNumberScheduled: 3, currentNumberScheduled: 0, numberUnavailable: 3 } },
  },
  {
    name: "one available pod of the wanted revision per node is complete",
    input: input(three, [pod("p-a", "a", "new"), pod("p-b", "b", "new"), pod("p-c", "c", "new")]),
    want: {
      create: [],
      remove: [],
      complete: true,
      counts: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3, numberAvailable: 3, numberUnavailable: 0, numberMisscheduled: 0 },
    },
  },
  {
    name: "a node that joined gets a pod",
    input: input([...three, node("d")], [pod("p-a", "a", "new"), pod("p-b", "b", "new"), pod("p-c", "c", "new")]),
    want: { create: ["d"], remove: [], complete: false, counts: { desiredNumberScheduled: 4, currentNumberScheduled: 3 } },
  },
  {
    name: "a pod on a node that left the fleet goes",
    input: input([node("a")], [pod("p-a", "a", "new"), pod("p-z", "z", "new")]),
    want: { create: [], remove: ["p-z"], complete: false },
  },
  {
    name: "nodeSelector: a node without the label gets no pod, and its pod goes",
    input: input([node("a", { labels: { role: "edge" } }), node("b")], [pod("p-a", "a", "new"), pod("p-b", "b", "new")], { scheduling: { nodeSelector: { role: "edge" }, tolerations: withDaemonTolerations(undefined) } }),
    want: { nodes: ["a"], create: [], remove: ["p-b"], counts: { desiredNumberScheduled: 1, numberMisscheduled: 1 } },
  },
  {
    name: "required node affinity selects nodes like the scheduler does",
    input: input([node("a", { labels: { zone: "1" } }), node("b", { labels: { zone: "2" } })], [], {
      scheduling: {
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["2"] }] }] } } },
        tolerations: withDaemonTolerations(undefined),
      },
    }),
    want: { nodes: ["b"], create: ["b"] },
  },
  {
    name: "a NoSchedule taint without a toleration: no new pod there, but a running one stays (misscheduled)",
    input: input([node("a", { taints: [{ key: "gpu", effect: "NoSchedule" }] }), node("b", { taints: [{ key: "gpu", effect: "NoSchedule" }] })], [pod("p-a", "a", "new")]),
    want: { nodes: [], create: [], remove: [], complete: true, counts: { desiredNumberScheduled: 0, numberMisscheduled: 1 } },
  },
  {
    name: "a NoExecute taint without a toleration removes the running pod",
    input: input([node("a", { taints: [{ key: "maintenance", effect: "NoExecute" }] })], [pod("p-a", "a", "new")]),
    want: { nodes: [], create: [], remove: ["p-a"] },
  },
  {
    name: "a toleration of the pod's own lets it onto a tainted node",
    input: input([node("a", { taints: [{ key: "gpu", value: "yes", effect: "NoSchedule" }] })], [], {
      scheduling: { tolerations: withDaemonTolerations([{ key: "gpu", operator: "Equal", value: "yes", effect: "NoSchedule" }]) },
    }),
    want: { nodes: ["a"], create: ["a"] },
  },
  {
    name: "the tolerations Kubernetes adds let daemon pods onto cordoned, not-ready and pressured nodes",
    input: input(
      [
        node("a", { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] }),
        node("b", { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] }),
        node("c", {
          taints: [
            { key: "node.kubernetes.io/memory-pressure", effect: "NoSchedule" },
            { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" },
            { key: "node.kubernetes.io/pid-pressure", effect: "NoSchedule" },
          ],
        }),
        node("d", { taints: [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }] }),
      ],
      [],
    ),
    want: { nodes: ["a", "b", "c", "d"], create: ["a", "b", "c", "d"] },
  },
  {
    name: "a node that does not answer is left alone and does not hold up completion",
    input: input([node("a"), node("b", { ready: false })], [pod("p-a", "a", "new")]),
    want: { nodes: ["a", "b"], create: [], remove: [], waiting: ["b"], complete: true, counts: { desiredNumberScheduled: 2, currentNumberScheduled: 1 } },
  },
  {
    name: "a failed pod is removed and its node gets a new one",
    input: input([node("a")], [pod("p-a", "a", "new", { failed: true, ready: false })]),
    want: { create: ["a"], remove: ["p-a"] },
  },
  {
    name: "two pods on a node: the oldest stays",
    input: input([node("a")], [pod("p-1", "a", "new", { createdAt: T - 10 }), pod("p-2", "a", "new", { createdAt: T - 100 })]),
    want: { create: [], remove: ["p-1"] },
  },
  {
    name: "a terminating pod does not count: the node gets its new pod at once",
    input: input([node("a")], [pod("p-a", "a", "old", { terminating: true })]),
    want: { create: ["a"], remove: [] },
  },
  {
    name: "rolling update, maxUnavailable 1: one old pod goes at a time",
    input: input(three, [pod("o-a", "a", "old"), pod("o-b", "b", "old"), pod("o-c", "c", "old")]),
    want: { create: [], remove: ["o-a"], complete: false, counts: { updatedNumberScheduled: 0 } },
  },
  {
    name: "rolling update, maxUnavailable 1: nothing more goes while a node's new pod is not available",
    input: input(three, [pod("n-a", "a", "new", { ready: false, readySince: undefined }), pod("o-b", "b", "old"), pod("o-c", "c", "old")]),
    want: { create: [], remove: [] },
  },
  {
    name: "rolling update, maxUnavailable 1: the next node once the first is available",
    input: input(three, [pod("n-a", "a", "new"), pod("o-b", "b", "old"), pod("o-c", "c", "old")]),
    want: { create: [], remove: ["o-b"], counts: { updatedNumberScheduled: 1 } },
  },
  {
    name: "rolling update: a node whose old pod is terminating counts as unavailable",
    input: input(three, [pod("o-a", "a", "old", { terminating: true }), pod("o-b", "b", "old"), pod("o-c", "c", "old")]),
    want: { create: ["a"], remove: [] },
  },
  {
    name: "rolling update: an unavailable old pod is replaced at once, beyond maxUnavailable",
    input: input(three, [pod("o-a", "a", "old", { ready: false, readySince: undefined }), pod("o-b", "b", "old", { ready: false, readySince: undefined }), pod("o-c", "c", "old")]),
    want: { create: [], remove: ["o-a", "o-b"] },
  },
  {
    name: "rolling update, maxUnavailable 50% of 3 nodes rounds up to 2",
    input: input(three, [pod("o-a", "a", "old"), pod("o-b", "b", "old"), pod("o-c", "c", "old")], { strategy: { type: "RollingUpdate", maxUnavailable: "50%" } }),
    want: { remove: ["o-a", "o-b"] },
  },
  {
    name: "minReadySeconds: a new pod ready for less is not available yet",
    input: input([node("a"), node("b")], [pod("n-a", "a", "new", { readySince: T - 5_000 }), pod("o-b", "b", "old")], { minReadySeconds: 10 }),
    want: { remove: [], counts: { numberReady: 2, numberAvailable: 1 } },
  },
  {
    name: "maxSurge 1: a new pod beside the old one, one node at a time",
    input: input(three, [pod("o-a", "a", "old"), pod("o-b", "b", "old"), pod("o-c", "c", "old")], { strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 } }),
    want: { create: ["a"], remove: [] },
  },
  {
    name: "maxSurge 1: the old pod goes once the new one beside it is available",
    input: input(three, [pod("o-a", "a", "old", { createdAt: T - 90_000 }), pod("n-a", "a", "new"), pod("o-b", "b", "old"), pod("o-c", "c", "old")], {
      strategy: { type: "RollingUpdate", maxSurge: 1, maxUnavailable: 0 },
    }),
    want: { create: ["b"], remove: ["o-a"] },
  },
  {
    name: "OnDelete: old pods stay; a node whose pod was deleted gets the new revision",
    input: input(three, [pod("o-a", "a", "old"), pod("o-b", "b", "old")], { strategy: { type: "OnDelete" } }),
    want: { create: ["c"], remove: [], complete: false, counts: { updatedNumberScheduled: 0 } },
  },
  {
    name: "OnDelete: available pods of any revision on every node are complete",
    input: input(three, [pod("o-a", "a", "old"), pod("o-b", "b", "old"), pod("n-c", "c", "new")], { strategy: { type: "OnDelete" } }),
    want: { create: [], remove: [], complete: true, counts: { updatedNumberScheduled: 1 } },
  },
];

describe("daemonSetStep", () => {
  for (const c of cases) {
    it(c.name, () => {
      const step = daemonSetStep(c.input);
      const { remove, counts, ...rest } = c.want;
      expect(step).toMatchObject(rest);
      if (remove) expect(step.remove.map((r) => r.pod)).toEqual(remove);
      if (counts) expect(step.counts).toMatchObject(counts);
    });
  }

  it("is deterministic: the same input in another order gives the same step", () => {
    const pods = [pod("o-c", "c", "old"), pod("o-a", "a", "old"), pod("o-b", "b", "old")];
    expect(daemonSetStep(input([...three].reverse(), pods))).toEqual(daemonSetStep(input(three, [...pods].reverse())));
  });

  it("asks to look again when a ready pod becomes available (minReadySeconds)", () => {
    const step = daemonSetStep(input([node("a")], [pod("n-a", "a", "new", { readySince: T - 4_000 })], { minReadySeconds: 10 }));
    expect(step.requeueAfterMs).toBe(6_000);
  });
});

describe("daemonFit", () => {
  it("uses the scheduler's filters: nodeName, nodeSelector, taints (NoExecute only for a running pod)", () => {
    const tolerations = withDaemonTolerations(undefined);
    expect(daemonFit({ name: "a", labels: {} }, { nodeName: "b", tolerations })).toEqual({ shouldRun: false, shouldContinue: false });
    expect(daemonFit({ name: "a", labels: { "kubernetes.io/os": "linux" } }, { nodeSelector: { "kubernetes.io/os": "linux" }, tolerations })).toEqual({ shouldRun: true, shouldContinue: true });
    expect(daemonFit({ name: "a", labels: {}, taints: [{ key: "x", effect: "NoSchedule" }] }, { tolerations })).toEqual({ shouldRun: false, shouldContinue: true });
    expect(daemonFit({ name: "a", labels: {}, taints: [{ key: "x", effect: "PreferNoSchedule" }] }, { tolerations })).toEqual({ shouldRun: true, shouldContinue: true });
  });

  it("adds Kubernetes' daemon tolerations once, after the pod's own", () => {
    const own = [{ key: "node.kubernetes.io/unschedulable", operator: "Exists" as const, effect: "NoSchedule" as const }];
    const list = withDaemonTolerations(own);
    expect(list[0]).toBe(own[0]);
    expect(list.map((t) => t.key)).toEqual([
      "node.kubernetes.io/unschedulable",
      "node.kubernetes.io/not-ready",
      "node.kubernetes.io/unreachable",
      "node.kubernetes.io/disk-pressure",
      "node.kubernetes.io/memory-pressure",
      "node.kubernetes.io/pid-pressure",
    ]);
  });
});
