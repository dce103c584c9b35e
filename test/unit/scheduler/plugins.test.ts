import { describe, expect, it } from "vitest";
import {
  filterReasons,
  leastAllocated,
  nodePorts,
  nodeResourcesFit,
  nodeUnschedulable,
  podTopologySpread,
} from "../../../operator/src/scheduler/index.js";
import type { CycleState, NodeSnapshot, PodRequest, ScorePlugin } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, pod } from "./builders.js";

/** Runs a score plugin the way the framework does: preScore, score each node, normalize. */
function scoreAll(plugin: ScorePlugin, p: PodRequest, nodes: NodeSnapshot[]): number[] {
  const state: CycleState = new Map();
  plugin.preScore?.(p, nodes, state);
  const scores = Float64Array.from(nodes.map((n) => plugin.score(p, n, state)));
  plugin.normalize?.(p, scores, nodes, state);
  return [...scores];
}

describe("NodeUnschedulable filter", () => {
  const cases: { name: string; node: NodeSnapshot; reasons: string[] }[] = [
    { name: "rejects a cordoned node as unschedulable", node: node("a", { unschedulable: true }), reasons: ["node(s) were unschedulable"] },
    { name: "accepts a node that is not cordoned", node: node("a"), reasons: [] },
  ];
  it.each(cases)("$name", ({ node: n, reasons }) => {
    expect(filterReasons(nodeUnschedulable, pod("p"), n)).toEqual(reasons);
  });
});

describe("NodePorts filter", () => {
  const noPorts = "node(s) didn't have free ports for the requested pod ports";
  const cases: { name: string; ports: number; freePorts: number; reasons: string[] }[] = [
    { name: "accepts a pod that needs no ports on a node whose range is exhausted", ports: 0, freePorts: 0, reasons: [] },
    { name: "accepts a pod that needs exactly the ports still free", ports: 2, freePorts: 2, reasons: [] },
    { name: "rejects a pod that needs a port on a node whose range is exhausted", ports: 1, freePorts: 0, reasons: [noPorts] },
    { name: "rejects a pod that needs more ports than are free", ports: 3, freePorts: 2, reasons: [noPorts] },
  ];
  it.each(cases)("$name", ({ ports, freePorts, reasons }) => {
    expect(filterReasons(nodePorts, pod("p", { ports }), node("a", { freePorts }))).toEqual(reasons);
  });
});

describe("NodeResourcesFit filter", () => {
  const alloc = { cpuMillis: 1000, memoryBytes: 1 * Gi, pods: 3 };
  const cases: { name: string; node: NodeSnapshot; pod: PodRequest; reasons: string[] }[] = [
    {
      name: "accepts a pod that exactly fills the remaining cpu and memory",
      node: node("a", { allocatable: alloc, requested: { cpuMillis: 600, memoryBytes: 512 * Mi } }),
      pod: pod("p", { requests: { cpuMillis: 400, memoryBytes: 512 * Mi } }),
      reasons: [],
    },
    {
      name: "rejects with Insufficient cpu when the request exceeds allocatable minus requested by one millicore",
      node: node("a", { allocatable: alloc, requested: { cpuMillis: 600, memoryBytes: 0 } }),
      pod: pod("p", { requests: { cpuMillis: 401, memoryBytes: 0 } }),
      reasons: ["Insufficient cpu"],
    },
    {
      name: "rejects with Insufficient memory when memory is short",
      node: node("a", { allocatable: alloc, requested: { cpuMillis: 0, memoryBytes: 1 * Gi } }),
      pod: pod("p", { requests: { cpuMillis: 1, memoryBytes: 1 } }),
      reasons: ["Insufficient memory"],
    },
    {
      name: "reports every insufficient resource of the node, not only the first",
      node: node("a", { allocatable: alloc }),
      pod: pod("p", { requests: { cpuMillis: 2000, memoryBytes: 2 * Gi } }),
      reasons: ["Insufficient cpu", "Insufficient memory"],
    },
    {
      name: "reports Too many pods first when the node is at its pod limit, besides short resources",
      node: node("a", { allocatable: alloc, podCount: 3 }),
      pod: pod("p", { requests: { cpuMillis: 2000, memoryBytes: 0 } }),
      reasons: ["Too many pods", "Insufficient cpu"],
    },
    {
      name: "ignores a resource the pod does not request even on an overcommitted node",
      node: node("a", { allocatable: alloc, requested: { cpuMillis: 5000, memoryBytes: 0 } }),
      pod: pod("p", { requests: { cpuMillis: 0, memoryBytes: 1 * Mi } }),
      reasons: [],
    },
    {
      name: "checks only the pod count for a pod without requests",
      node: node("a", { allocatable: alloc, podCount: 3, requested: { cpuMillis: 5000, memoryBytes: 5 * Gi } }),
      pod: pod("p", { requests: { cpuMillis: 0, memoryBytes: 0 } }),
      reasons: ["Too many pods"],
    },
  ];
  it.each(cases)("$name", ({ node: n, pod: p, reasons }) => {
    expect(filterReasons(nodeResourcesFit, p, n)).toEqual(reasons);
  });
});

describe("NodeResourcesFit LeastAllocated score", () => {
  const alloc = { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110 };
  const cases: { name: string; node: NodeSnapshot; pod: PodRequest; score: number }[] = [
    {
      name: "gives an empty node 100 minus the incoming pod's share",
      node: node("a", { allocatable: alloc }),
      pod: pod("p", { requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } }),
      // cpu (3600·100)/4000 = 90, memory (7392Mi·100)/8192Mi = 90.2 → 90
      score: 90,
    },
    {
      name: "averages cpu and memory with equal weights",
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 1000, memoryBytes: 4 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 0, memoryBytes: 2 * Gi } }),
      // cpu 75, memory 25 → 50
      score: 50,
    },
    {
      name: "truncates each resource score and the average as integer arithmetic does",
      node: node("a", { allocatable: { cpuMillis: 3000, memoryBytes: 1000, pods: 10 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 1000, memoryBytes: 0 } }),
      // cpu (2000·100)/3000 = 66, memory 100 → 166/2 = 83
      score: 83,
    },
    {
      name: "scores a resource requested beyond capacity as 0",
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 4000, memoryBytes: 0 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 100, memoryBytes: 0 } }),
      score: 50,
    },
    {
      name: "leaves out a resource the node has none of",
      node: node("a", { allocatable: { cpuMillis: 1000, memoryBytes: 0, pods: 10 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 250, memoryBytes: 1 * Gi } }),
      score: 75,
    },
  ];
  it.each(cases)("$name", ({ node: n, pod: p, score }) => {
    expect(scoreAll(leastAllocated, p, [n])).toEqual([score]);
  });

  it("weighs 1 in the default profile", () => {
    expect(leastAllocated.weight).toBe(1);
  });
});

describe("PodTopologySpread score (system default hostname constraint)", () => {
  const owner = "Deployment/default/web";
  const cases: { name: string; counts: number[]; owner?: string; scores: number[] }[] = [
    { name: "gives every node 100 when no node has a replica yet", counts: [0, 0, 0], scores: [100, 100, 100] },
    {
      // weight log(3 + 2); raw 2, round(1·1.609 + 2) = 4, round(2·1.609 + 2) = 5; 100·(5 + 2 − s)/5
      name: "ranks nodes with fewer replicas of the owner higher, normalized as kube-scheduler does",
      counts: [0, 1, 2],
      scores: [100, 60, 40],
    },
    {
      // weight log(4); raw round(1.386 + 2) = 3 for all → 100·(3 + 3 − 3)/3 = 100
      name: "gives equal nodes equal scores",
      counts: [1, 1],
      scores: [100, 100],
    },
    {
      // weight log(4) = 1.386; raw round(3·1.386 + 2) = 6, round(5·1.386 + 2) = 9; 100·(15 − s)/9
      name: "keeps the most loaded node above 0 because maxSkew 3 softens the raw scores",
      counts: [3, 5],
      scores: [100, 66],
    },
    { name: "ignores replicas of other owners", counts: [0, 4], owner: "Deployment/default/other", scores: [100, 100] },
  ];
  it.each(cases)("$name", ({ counts, scores, owner: other }) => {
    const nodes = counts.map((c, i) => node(`n${i}`, { podsByOwner: c > 0 ? { [other ?? owner]: c } : {} }));
    expect(scoreAll(podTopologySpread, pod("p", { owner }), nodes)).toEqual(scores);
  });

  it("gives every node 100 to a pod without owner", () => {
    const nodes = [node("a", { podsByOwner: { "": 5 } }), node("b")];
    expect(scoreAll(podTopologySpread, pod("p", { owner: "" }), nodes)).toEqual([100, 100]);
  });

  it("weighs 2 in the default profile", () => {
    expect(podTopologySpread.weight).toBe(2);
  });
});
