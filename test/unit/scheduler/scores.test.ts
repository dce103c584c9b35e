import { describe, expect, it } from "vitest";
import {
  balancedAllocation,
  createProfile,
  DEFAULT_PROFILE,
  evaluatePod,
  imageLocality,
  interPodAffinityScore,
  leastAllocated,
  mostAllocated,
  nodeAffinityScore,
  nodeResourcesFitScore,
  podTopologySpreadScore,
  schedule,
  taintTolerationScore,
} from "../../../operator/src/scheduler/index.js";
import type { CycleState, NodeSnapshot, PodRequest, ScheduleOptions, ScorePlugin } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, pod, running, withPlacement } from "./builders.js";

/** The normalized 0..100 score each node gets from `plugin` alone (every node feasible). */
function scores(plugin: ScorePlugin, nodes: NodeSnapshot[], p: PodRequest, opts: ScheduleOptions = {}): number[] {
  const ev = evaluatePod(nodes, p, { ...opts, profile: { filters: [], scores: [plugin] } });
  const byName = new Map(ev.nodes.map((n) => [n.node, n.scores![plugin.name]!]));
  return nodes.map((n) => byName.get(n.name)!);
}

interface Case {
  name: string;
  nodes: NodeSnapshot[];
  pod: PodRequest;
  scores: number[];
}

describe("TaintToleration score", () => {
  const soft = (key: string) => ({ key, effect: "PreferNoSchedule" as const });
  const cases: Case[] = [
    { name: "gives every node 100 when no node has PreferNoSchedule taints", nodes: [node("a"), node("b")], pod: pod("p"), scores: [100, 100] },
    {
      name: "reverse-normalizes the count of intolerable PreferNoSchedule taints (0, 1, 2 → 100, 50, 0)",
      nodes: [node("a"), node("b", { taints: [soft("x")] }), node("c", { taints: [soft("x"), soft("y")] })],
      pod: pod("p"),
      scores: [100, 50, 0],
    },
    {
      name: "does not count taints the pod tolerates, nor NoSchedule taints",
      nodes: [node("a", { taints: [soft("x"), { key: "hard", effect: "NoSchedule" }] }), node("b", { taints: [soft("y")] })],
      pod: pod("p", { tolerations: [{ key: "x", operator: "Exists", effect: "PreferNoSchedule" }] }),
      scores: [100, 0],
    },
    {
      name: "does not count a taint tolerated only for another effect",
      nodes: [node("a", { taints: [soft("x")] }), node("b")],
      pod: pod("p", { tolerations: [{ key: "x", operator: "Exists", effect: "NoSchedule" }] }),
      scores: [0, 100],
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, scores: want }) => {
    expect(scores(taintTolerationScore, nodes, p)).toEqual(want);
  });
});

describe("NodeAffinity score", () => {
  const preferred = (...terms: [number, string, string][]) => ({
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: terms.map(([weight, key, value]) => ({
          weight,
          preference: { matchExpressions: [{ key, operator: "In" as const, values: [value] }] },
        })),
      },
    },
  });
  const nodes = [node("both", { labels: { disk: "ssd", zone: "z1" } }), node("ssd", { labels: { disk: "ssd" } }), node("z1", { labels: { zone: "z1" } }), node("none")];
  const cases: Case[] = [
    { name: "gives every node 0 to a pod without preferred terms", nodes, pod: pod("p"), scores: [0, 0, 0, 0] },
    {
      name: "sums the weights of the matching terms, normalized by the highest sum",
      nodes,
      pod: pod("p", preferred([60, "disk", "ssd"], [20, "zone", "z1"])),
      // sums 80, 60, 20, 0 → ·100/80
      scores: [100, 75, 25, 0],
    },
    { name: "gives 0 everywhere when no node matches", nodes: [node("a"), node("b")], pod: pod("p", preferred([50, "gpu", "yes"])), scores: [0, 0] },
  ];
  it.each(cases)("$name", ({ nodes: ns, pod: p, scores: want }) => {
    expect(scores(nodeAffinityScore, ns, p)).toEqual(want);
  });
});

describe("PodTopologySpread score", () => {
  const owner = "Deployment/default/web";
  const byOwner = (c: number) => (c > 0 ? { podsByOwner: { [owner]: c } } : {});
  const cases: Case[] = [
    { name: "gives every node 100 when no node has a replica yet", nodes: [node("a"), node("b"), node("c")], pod: pod("p"), scores: [100, 100, 100] },
    {
      // hostname only (no zone labels): weight log(3 + 2); raw 2, round(1.609 + 2) = 4, round(3.219 + 2) = 5; 100·(5 + 2 − s)/5
      name: "ranks nodes with fewer replicas of the owner higher, normalized as kube-scheduler does",
      nodes: [node("a"), node("b", byOwner(1)), node("c", byOwner(2))],
      pod: pod("p"),
      scores: [100, 60, 40],
    },
    {
      // weight log(4) = 1.386; raw round(3·1.386 + 2) = 6, round(5·1.386 + 2) = 9; 100·(15 − s)/9
      name: "keeps the most loaded node above 0 because maxSkew 3 softens the raw scores",
      nodes: [node("a", byOwner(3)), node("b", byOwner(5))],
      pod: pod("p"),
      scores: [100, 66],
    },
    { name: "ignores replicas of other owners", nodes: [node("a"), node("b", { podsByOwner: { other: 4 } })], pod: pod("p"), scores: [100, 100] },
    {
      // hostname weight log(5), zone weight log(2 zones + 2); raw a = 1.609 + 2 + 1.386 + 4 = 9, b = 2 + 1.386 + 4 = 7, c = 6
      name: "adds the system default zone constraint (maxSkew 5) for nodes with a zone label",
      nodes: [
        node("a", { labels: { "topology.kubernetes.io/zone": "z1" }, ...byOwner(1) }),
        node("b", { labels: { "topology.kubernetes.io/zone": "z1" } }),
        node("c", { labels: { "topology.kubernetes.io/zone": "z2" } }),
      ],
      pod: pod("p"),
      scores: [66, 88, 100],
    },
    {
      // a: 2 replicas, both terminating (not counted); b: 1 running. weight log(4): raw a = 2, b = round(1.386 + 2) = 3
      name: "does not count an owner's terminating pods",
      nodes: [
        node("a", { podsByOwner: { [owner]: 2 }, pods: [running("t1", { owner, terminating: true }), running("t2", { owner, terminating: true })] }),
        node("b", { podsByOwner: { [owner]: 1 }, pods: [running("r1", { owner })] }),
      ],
      pod: pod("p"),
      scores: [100, 66],
    },
    { name: "skips a pod without owner (no default constraints): 0 everywhere", nodes: [node("a", { podsByOwner: { "": 5 } }), node("b")], pod: pod("p", { owner: "" }), scores: [0, 0] },
    {
      // explicit ScheduleAnyway on zone, selector app=web: counts z1 = 2, z2 = 0; weight log(2 + 2); raw z1 = 2·1.386 + 0 = 3, z2 = 0
      name: "uses a pod's ScheduleAnyway constraints instead of the defaults and gives nodes without the key 0",
      nodes: [node("a", { labels: { zone: "z1" }, pods: [running("x", { labels: { app: "web" } }), running("y", { labels: { app: "web" } })] }), node("b", { labels: { zone: "z2" } }), node("nolabel")],
      pod: pod("p", {
        labels: { app: "web" },
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { app: "web" } } }],
      }),
      scores: [0, 100, 0],
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, scores: want }) => {
    expect(scores(podTopologySpreadScore, nodes, p)).toEqual(want);
  });
});

describe("InterPodAffinity score", () => {
  const term = (app: string, topologyKey: string) => ({ labelSelector: { matchLabels: { app } }, topologyKey });
  const zones = (pods: ReturnType<typeof running>[][]) => [
    node("a1", { labels: { zone: "A" }, pods: pods[0] ?? [] }),
    node("a2", { labels: { zone: "A" }, pods: pods[1] ?? [] }),
    node("b1", { labels: { zone: "B" }, pods: pods[2] ?? [] }),
  ];
  const cases: Case[] = [
    { name: "gives every node 0 when no affinity is involved", nodes: zones([]), pod: pod("p"), scores: [0, 0, 0] },
    {
      name: "prefers the zone holding pods the preferred affinity selects",
      nodes: zones([[running("d", { labels: { app: "db" } })]]),
      pod: pod("p", { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term("db", "zone") }] } } }),
      scores: [100, 100, 0],
    },
    {
      // raw: a1 = −100 (anti) , a2 = 0, b1 = 0; min-max → 0, 100, 100
      name: "avoids the node holding pods the preferred anti-affinity selects",
      nodes: zones([[running("w", { labels: { app: "web" } })]]),
      pod: pod("p", { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term("web", "kubernetes.io/hostname") }] } } }),
      scores: [0, 100, 100],
    },
    {
      // raw per node: zone A +80 − 20 (two db pods? no: one db pod in A, one in B) ...
      name: "weighs several terms: +80 per db pod in the zone, −20 per cache pod on the node",
      nodes: zones([[running("d", { labels: { app: "db" } }), running("c", { labels: { app: "cache" } })], [], [running("c2", { labels: { app: "cache" } })]]),
      pod: pod("p", {
        affinity: {
          podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 80, podAffinityTerm: term("db", "zone") }] },
          podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 20, podAffinityTerm: term("cache", "kubernetes.io/hostname") }] },
        },
      }),
      // raw a1 = 80 − 20 = 60, a2 = 80, b1 = −20; min −20, max 80 → 100·(s + 20)/100
      scores: [80, 100, 0],
    },
    {
      name: "counts an existing pod's required affinity that selects the pod (hard weight 1) toward its zone",
      nodes: zones([[], [], [running("x", { labels: { app: "db" }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web", "zone")] } } })]]),
      pod: pod("p", { labels: { app: "web" } }),
      scores: [0, 0, 100],
    },
    {
      name: "counts an existing pod's preferred anti-affinity that selects the pod against its node",
      nodes: zones([
        [running("x", { labels: { app: "db" }, affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: term("web", "kubernetes.io/hostname") }] } } })],
      ]),
      pod: pod("p", { labels: { app: "web" } }),
      scores: [0, 100, 100],
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, scores: want }) => {
    expect(scores(interPodAffinityScore, nodes, p)).toEqual(want);
  });
});

describe("NodeResourcesFit score", () => {
  const alloc = { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110 };
  const cases: { name: string; plugin: ScorePlugin; node: NodeSnapshot; pod: PodRequest; score: number }[] = [
    {
      name: "LeastAllocated gives an empty node 100 minus the incoming pod's share",
      plugin: leastAllocated,
      node: node("a", { allocatable: alloc }),
      pod: pod("p", { requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } }),
      // cpu (3600·100)/4000 = 90, memory (7392Mi·100)/8192Mi = 90.2 → 90
      score: 90,
    },
    {
      name: "LeastAllocated averages cpu and memory with equal weights",
      plugin: leastAllocated,
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 1000, memoryBytes: 4 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 0, memoryBytes: 2 * Gi } }),
      score: 50,
    },
    {
      name: "LeastAllocated truncates each resource score and the average as integer arithmetic does",
      plugin: leastAllocated,
      node: node("a", { allocatable: { cpuMillis: 3000, memoryBytes: 1000, pods: 10 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 1000, memoryBytes: 0 } }),
      // cpu (2000·100)/3000 = 66, memory 100 → 166/2 = 83
      score: 83,
    },
    {
      name: "LeastAllocated scores a resource requested beyond capacity as 0",
      plugin: leastAllocated,
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 4000, memoryBytes: 0 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 100, memoryBytes: 0 } }),
      score: 50,
    },
    {
      name: "LeastAllocated leaves out a resource the node has none of",
      plugin: leastAllocated,
      node: node("a", { allocatable: { cpuMillis: 1000, memoryBytes: 0, pods: 10 } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 250, memoryBytes: 1 * Gi } }),
      score: 75,
    },
    {
      name: "MostAllocated scores the requested share (cpu 50, memory 25 → 37)",
      plugin: mostAllocated,
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      score: 37,
    },
    {
      name: "MostAllocated caps a resource requested beyond capacity at 100",
      plugin: mostAllocated,
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 5000, memoryBytes: 8 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 100, memoryBytes: 0 } }),
      score: 100,
    },
    {
      name: "RequestedToCapacityRatio follows its shape (0→0, 100→10 is utilization itself: cpu 50, memory 25 → 38 rounded)",
      plugin: nodeResourcesFitScore({
        type: "RequestedToCapacityRatio",
        shape: [
          { utilization: 0, score: 0 },
          { utilization: 100, score: 10 },
        ],
      }),
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      score: 38,
    },
    {
      name: "RequestedToCapacityRatio with a decreasing shape spreads (0→10, 100→0: cpu 50, memory 75 → 63 rounded)",
      plugin: nodeResourcesFitScore({
        type: "RequestedToCapacityRatio",
        shape: [
          { utilization: 0, score: 10 },
          { utilization: 100, score: 0 },
        ],
      }),
      node: node("a", { allocatable: alloc, requestedForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      pod: pod("p", { requestsForScoring: { cpuMillis: 1000, memoryBytes: 1 * Gi } }),
      score: 63,
    },
  ];
  it.each(cases)("$name", ({ plugin, node: n, pod: p, score }) => {
    expect(scores(plugin, [n], p)).toEqual([score]);
  });
});

describe("NodeResourcesBalancedAllocation score", () => {
  const alloc = { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110 };
  const cases: Case[] = [
    {
      // cpu (1000 + 1000)/4000 = 0.5, memory 2Gi/8Gi = 0.25 → std 0.125 → 87.5 → 87
      name: "scores (1 − |f_cpu − f_mem|/2)·100 on real requests including the pod",
      nodes: [node("a", { allocatable: alloc, requested: { cpuMillis: 1000, memoryBytes: 0 } })],
      pod: pod("p", { requests: { cpuMillis: 1000, memoryBytes: 2 * Gi } }),
      scores: [87],
    },
    {
      name: "gives 100 to a node whose fractions are equal",
      nodes: [node("a", { allocatable: alloc, requested: { cpuMillis: 1000, memoryBytes: 2 * Gi } })],
      pod: pod("p", { requests: { cpuMillis: 1000, memoryBytes: 2 * Gi } }),
      scores: [100],
    },
    {
      name: "caps each fraction at 1",
      nodes: [node("a", { allocatable: alloc, requested: { cpuMillis: 8000, memoryBytes: 0 } })],
      pod: pod("p", { requests: { cpuMillis: 1, memoryBytes: 8 * Gi } }),
      scores: [100],
    },
    {
      name: "is skipped (0 everywhere) for a pod that requests nothing (best effort)",
      nodes: [node("a", { allocatable: alloc, requested: { cpuMillis: 1000, memoryBytes: 0 } })],
      pod: pod("p", { requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 100, memoryBytes: 200 * Mi } }),
      scores: [0],
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, scores: want }) => {
    expect(scores(balancedAllocation, nodes, p)).toEqual(want);
  });
});

describe("ImageLocality score", () => {
  const img = "registry.local/app:v1";
  const cases: Case[] = [
    { name: "gives every node 0 to a pod without images", nodes: [node("a", { images: [img] })], pod: pod("p"), scores: [0] },
    {
      // 500 MiB · 1/3 nodes = 174,762,666 B; (that − 23 MiB)·100 / (1000 MiB − 23 MiB) = 14
      name: "scales the image size by the share of nodes holding it",
      nodes: [node("a", { images: [img], imageSizes: { [img]: 500 * Mi } }), node("b"), node("c")],
      pod: pod("p", { images: [img] }),
      scores: [14, 0, 0],
    },
    {
      // 256 MiB (unknown size) · 3/3: (256 − 23)·100/977 = 23
      name: "treats an image of unknown size as 256 MiB",
      nodes: [node("a", { images: [img] }), node("b", { images: [img] }), node("c", { images: [img] })],
      pod: pod("p", { images: [img] }),
      scores: [23, 23, 23],
    },
    {
      name: "reads a name without tag as :latest",
      nodes: [node("a", { images: ["app:latest"], imageSizes: { app: 1000 * Mi } }), node("b")],
      pod: pod("p", { images: ["app"] }),
      // 1000 MiB · 1/2 = 500 MiB → (500 − 23)·100/977 = 48
      scores: [48, 0],
    },
    {
      name: "caps the sum at 1000 MiB per container",
      nodes: [node("a", { images: [img], imageSizes: { [img]: 5000 * Mi } })],
      pod: pod("p", { images: [img] }),
      scores: [100],
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, scores: want }) => {
    expect(scores(imageLocality, nodes, p)).toEqual(want);
  });
});

describe("score plugins in the default profile", () => {
  it("weighs TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, the rest 1", () => {
    expect(DEFAULT_PROFILE.scores.map((s) => `${s.name}=${s.weight}`)).toEqual([
      "TaintToleration=3",
      "NodeAffinity=2",
      "PodTopologySpread=2",
      "InterPodAffinity=2",
      "NodeResourcesFit=1",
      "NodeResourcesBalancedAllocation=1",
      "ImageLocality=1",
    ]);
  });

  it("sums the weighted normalized scores into each node's total", () => {
    const ev = evaluatePod([node("a"), node("b", { podsByOwner: { "Deployment/default/web": 1 } })], pod("p", { requests: { cpuMillis: 400, memoryBytes: 800 * Mi } }));
    for (const n of ev.nodes) {
      const sum = DEFAULT_PROFILE.scores.reduce((s, plugin) => s + n.scores![plugin.name]! * plugin.weight, 0);
      expect(n.total).toBe(sum);
    }
    expect(ev.best).toEqual(["a"]);
  });

  it("selects MostAllocated through createProfile, bin-packing onto the fuller node", () => {
    const nodes = [node("busy", { requested: { cpuMillis: 3000, memoryBytes: 6 * Gi } }), node("idle")];
    const p = pod("p", { owner: "" });
    expect(evaluatePod(nodes, p).best).toEqual(["idle"]);
    expect(evaluatePod(nodes, p, { profile: createProfile({ scoringStrategy: { type: "MostAllocated" } }) }).best).toEqual(["busy"]);
  });

  it("leaves out disabled plugins and applies changed weights", () => {
    const profile = createProfile({ disabled: ["ImageLocality", "InterPodAffinity"], weights: { NodeResourcesFit: 5 } });
    expect(profile.scores.map((s) => `${s.name}=${s.weight}`)).toEqual(["TaintToleration=3", "NodeAffinity=2", "PodTopologySpread=2", "NodeResourcesFit=5", "NodeResourcesBalancedAllocation=1"]);
    expect(profile.filters.map((f) => f.name)).not.toContain("InterPodAffinity");
  });

  it("scores each pod of a pass on the nodes as the placements before it left them, whatever the strategy", () => {
    // Replicas share their requests objects; a second shape in between, then the first again.
    const small = { cpuMillis: 500, memoryBytes: 1 * Gi };
    const large = { cpuMillis: 1500, memoryBytes: 512 * Mi };
    const shapes = [small, small, small, small, large, large, small, small, large, small, small, small];
    const pods = shapes.map((requests, k) => pod(`p${k}`, { owner: "", requests, requestsForScoring: requests }));
    const nodes = [
      node("a", { allocatable: { cpuMillis: 8000, memoryBytes: 8 * Gi, pods: 110 } }),
      node("b", { requested: { cpuMillis: 1000, memoryBytes: 3 * Gi } }),
      node("c", { allocatable: { cpuMillis: 6000, memoryBytes: 16 * Gi, pods: 110 }, requested: { cpuMillis: 2500, memoryBytes: 0 } }),
    ];
    for (const profile of [DEFAULT_PROFILE, createProfile({ scoringStrategy: { type: "MostAllocated" } })]) {
      const r = schedule(nodes, pods, { profile });
      expect(r.placements).toHaveLength(pods.length);
      let fleet = nodes;
      for (const [k, pl] of r.placements.entries()) {
        const ev = evaluatePod(fleet, pods[k]!, { profile });
        expect(ev.best).toContain(pl.node);
        expect(ev.nodes.find((n) => n.node === pl.node)!.total).toBe(pl.score);
        fleet = withPlacement(fleet, pods[k]!, pl.node);
      }
      // The nodes' usage changed the choice along the way (no node took every pod).
      expect(new Set(r.placements.map((pl) => pl.node)).size).toBeGreaterThan(1);
    }
  });

  it("works as a plain ScorePlugin: preScore over the nodes, then score per node", () => {
    const nodes = [node("a"), node("b", { podsByOwner: { "Deployment/default/web": 1 } }), node("c", { podsByOwner: { "Deployment/default/web": 2 } })];
    const state: CycleState = new Map();
    podTopologySpreadScore.preScore!(pod("p"), nodes, state);
    expect(nodes.map((n) => podTopologySpreadScore.score(pod("p"), n, state))).toEqual([100, 60, 40]);
  });
});
