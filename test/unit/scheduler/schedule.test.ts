import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import {
  DEFAULT_PROFILE,
  explainUnschedulable,
  schedule,
  unschedulableError,
} from "../../../operator/src/scheduler/index.js";
import type { FilterPlugin, NodeSnapshot, PodRequest, ScorePlugin } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, pod } from "./builders.js";

function nodesOf(result: ReturnType<typeof schedule>): Record<string, string> {
  return Object.fromEntries(result.placements.map((p) => [p.id, p.node]));
}

describe("schedule places pods", () => {
  it("places a pod on the only node that fits", () => {
    const nodes = [
      node("a", { unschedulable: true }),
      node("b", { requested: { cpuMillis: 4000, memoryBytes: 0 } }),
      node("c"),
    ];
    const r = schedule(nodes, [pod("p")]);
    expect(nodesOf(r)).toEqual({ p: "c" });
    expect(r.unschedulable).toEqual([]);
  });

  it("counts each placement for the next pod at once (assume), so two node-sized pods land on two nodes", () => {
    const big = { cpuMillis: 3000, memoryBytes: 1 * Gi };
    const r = schedule([node("a"), node("b")], [pod("p1", { requests: big, owner: "x" }), pod("p2", { requests: big, owner: "y" })]);
    expect(new Set(r.placements.map((p) => p.node))).toEqual(new Set(["a", "b"]));
  });

  it("leaves the third node-sized pod unschedulable once both nodes are taken", () => {
    const big = { cpuMillis: 3000, memoryBytes: 1 * Gi };
    const r = schedule([node("a"), node("b")], ["p1", "p2", "p3"].map((id) => pod(id, { requests: big })));
    expect(r.placements).toHaveLength(2);
    expect(r.unschedulable).toEqual([
      { id: "p3", message: "0/2 nodes are available: 2 Insufficient cpu.", reasons: { "Insufficient cpu": 2 } },
    ]);
  });

  it("stops placing on a node once its port range is exhausted", () => {
    const r = schedule([node("a", { freePorts: 2 })], ["p1", "p2", "p3"].map((id) => pod(id, { ports: 1 })));
    expect(r.placements.map((p) => p.id)).toEqual(["p1", "p2"]);
    expect(r.unschedulable[0]!.message).toBe("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.");
  });

  it("stops placing on a node once it holds its maximum number of pods", () => {
    const r = schedule([node("a", { allocatable: { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 1 } })], [pod("p1"), pod("p2")]);
    expect(r.placements.map((p) => p.id)).toEqual(["p1"]);
    expect(r.unschedulable[0]!.reasons).toEqual({ "Too many pods": 1 });
  });

  it("prefers the least allocated node", () => {
    const nodes = [
      node("busy", { requestedForScoring: { cpuMillis: 3000, memoryBytes: 6 * Gi } }),
      node("idle", { requestedForScoring: { cpuMillis: 500, memoryBytes: 1 * Gi } }),
    ];
    expect(nodesOf(schedule(nodes, [pod("p", { owner: "" })]))).toEqual({ p: "idle" });
  });

  it("spreads the replicas of one owner over identical nodes", () => {
    const pods = Array.from({ length: 9 }, (_, i) => pod(`web-${i}`));
    const r = schedule([node("a"), node("b"), node("c")], pods);
    const perNode: Record<string, number> = {};
    for (const p of r.placements) perNode[p.node] = (perNode[p.node] ?? 0) + 1;
    expect(perNode).toEqual({ a: 3, b: 3, c: 3 });
  });

  it("lets spreading (weight 2) outweigh a small resource advantage (weight 1)", () => {
    // "a" is slightly less allocated but already holds a replica; "b" holds none.
    const nodes = [
      node("a", { podsByOwner: { "Deployment/default/web": 1 }, requestedForScoring: { cpuMillis: 0, memoryBytes: 0 } }),
      node("b", { requestedForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } }),
    ];
    expect(nodesOf(schedule(nodes, [pod("p")]))).toEqual({ p: "b" });
  });

  it("reports the final weighted score of the chosen node", () => {
    // Empty node, pod 400m/800Mi: LeastAllocated 90 · 1 + spreading 100 · 2.
    const r = schedule([node("a")], [pod("p", { requestsForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } })]);
    expect(r.placements).toEqual([{ id: "p", node: "a", score: 290 }]);
  });

  it("breaks ties by the seed: the same seed always picks the same node, and seeds differ in their picks", () => {
    const nodes = ["a", "b", "c", "d"].map((n) => node(n));
    const picks = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const first = schedule(nodes, [pod("p")], { seed }).placements[0]!.node;
      expect(schedule(nodes, [pod("p")], { seed }).placements[0]!.node).toBe(first);
      picks.add(first);
    }
    expect(picks.size).toBeGreaterThan(1);
  });

  it("is reproducible without a seed", () => {
    const nodes = ["a", "b", "c", "d"].map((n) => node(n));
    const pods = Array.from({ length: 7 }, (_, i) => pod(`p${i}`, { owner: `o${i % 2}` }));
    expect(schedule(nodes, pods)).toEqual(schedule(nodes, pods));
  });

  it("gives the same placements whatever the order of the nodes array", () => {
    const nodes = ["a", "b", "c", "d", "e"].map((n) => node(n));
    const pods = Array.from({ length: 12 }, (_, i) => pod(`p${i}`));
    expect(schedule([...nodes].reverse(), pods, { seed: 7 })).toEqual(schedule(nodes, pods, { seed: 7 }));
  });
});

describe("schedule explains unschedulable pods as Kubernetes does", () => {
  const full = { cpuMillis: 4000, memoryBytes: 8 * Gi };
  const cases: { name: string; nodes: NodeSnapshot[]; pod: PodRequest; message: string; reasons: Record<string, number> }[] = [
    {
      name: "counts one reason per node: a cordoned node and two nodes short of memory",
      nodes: [
        node("a", { unschedulable: true }),
        node("b", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } }),
        node("c", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } }),
      ],
      pod: pod("p"),
      message: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.",
      reasons: { "Insufficient memory": 2, "node(s) were unschedulable": 1 },
    },
    {
      name: "counts a node under every resource it lacks",
      nodes: [node("a", { requested: full })],
      pod: pod("p"),
      message: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
      reasons: { "Insufficient cpu": 1, "Insufficient memory": 1 },
    },
    {
      name: "counts only the first failing filter: a cordoned full node is only unschedulable",
      nodes: [node("a", { unschedulable: true, requested: full, freePorts: 0 })],
      pod: pod("p"),
      message: "0/1 nodes are available: 1 node(s) were unschedulable.",
      reasons: { "node(s) were unschedulable": 1 },
    },
    {
      name: "checks ports before resources, as kube-scheduler orders NodePorts before NodeResourcesFit",
      nodes: [node("a", { requested: full, freePorts: 0 })],
      pod: pod("p"),
      message: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
      reasons: { "node(s) didn't have free ports for the requested pod ports": 1 },
    },
    {
      name: "sorts the '<count> <reason>' strings as strings, so 10 sorts before 2",
      nodes: [
        ...Array.from({ length: 10 }, (_, i) => node(`cordoned-${String(i).padStart(2, "0")}`, { unschedulable: true })),
        node("full-1", { requested: full }),
        node("full-2", { requested: { cpuMillis: 4000, memoryBytes: 0 } }),
      ],
      pod: pod("p"),
      message: "0/12 nodes are available: 1 Insufficient memory, 10 node(s) were unschedulable, 2 Insufficient cpu.",
      reasons: { "Insufficient cpu": 2, "Insufficient memory": 1, "node(s) were unschedulable": 10 },
    },
    {
      name: "explains a pass over no nodes with Kubernetes' ErrNoNodesAvailable",
      nodes: [],
      pod: pod("p"),
      message: "no nodes available to schedule pods",
      reasons: {},
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, message, reasons }) => {
    const r = schedule(nodes, [p]);
    expect(r.placements).toEqual([]);
    expect(r.unschedulable).toEqual([{ id: p.id, message, reasons }]);
    expect(Object.keys(r.unschedulable[0]!.reasons)).toEqual(Object.keys(reasons).sort());
  });

  it("formats the message from a histogram alone", () => {
    expect(explainUnschedulable(3, { "Insufficient memory": 2, "node(s) were unschedulable": 1 })).toBe(
      "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.",
    );
    expect(explainUnschedulable(0, {})).toBe("no nodes available to schedule pods");
  });

  it("turns an unschedulable pod into a waiting CoxError, PortRangeExhausted when ports are the only reason", () => {
    const ports = schedule([node("a", { freePorts: 0 })], [pod("p")]).unschedulable[0]!;
    const memory = schedule([node("a", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } })], [pod("p")]).unschedulable[0]!;
    const e1 = unschedulableError(ports);
    const e2 = unschedulableError(memory);
    expect([e1.code, e1.retry]).toEqual(["PortRangeExhausted", "waiting"]);
    expect([e2.code, e2.retry]).toEqual(["Unschedulable", "waiting"]);
  });
});

describe("schedule runs any profile", () => {
  it("runs a filter plugin added to the profile and counts its reason", () => {
    const gpuOnly: FilterPlugin = {
      name: "NodeAffinity",
      filter: (_p, n) => (n.labels["gpu"] === "true" ? undefined : "node(s) didn't match Pod's node affinity/selector"),
    };
    const profile = { filters: [...DEFAULT_PROFILE.filters, gpuOnly], scores: DEFAULT_PROFILE.scores };
    const r = schedule([node("a"), node("b", { labels: { gpu: "true" } }), node("c", { unschedulable: true })], [pod("p")], { profile });
    expect(nodesOf(r)).toEqual({ p: "b" });
    const none = schedule([node("a"), node("c", { unschedulable: true })], [pod("p")], { profile });
    expect(none.unschedulable[0]!.message).toBe(
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable.",
    );
  });

  it("runs a score plugin added to the profile with its weight", () => {
    const preferZ: ScorePlugin = { name: "PreferZ", weight: 5, score: (_p, n) => (n.name === "z" ? 100 : 0) };
    const r = schedule([node("a"), node("z", { requestedForScoring: { cpuMillis: 3000, memoryBytes: 6 * Gi } })], [pod("p")], {
      profile: { filters: DEFAULT_PROFILE.filters, scores: [...DEFAULT_PROFILE.scores, preferZ] },
    });
    expect(nodesOf(r)).toEqual({ p: "z" });
  });

  it("rejects a score plugin that leaves a value outside 0..100 with InvalidArgument", () => {
    const broken: ScorePlugin = { name: "Broken", weight: 1, score: () => 101 };
    let caught: unknown;
    try {
      schedule([node("a")], [pod("p")], { profile: { filters: [], scores: [broken] } });
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("schedule rejects ambiguous input", () => {
  const cases: { name: string; nodes: NodeSnapshot[]; pods: PodRequest[] }[] = [
    { name: "two nodes with the same name", nodes: [node("a"), node("a")], pods: [pod("p")] },
    { name: "two pods with the same id", nodes: [node("a")], pods: [pod("p"), pod("p")] },
  ];
  it.each(cases)("throws InvalidArgument for $name", ({ nodes, pods }) => {
    let caught: unknown;
    try {
      schedule(nodes, pods);
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});
