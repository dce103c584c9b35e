import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { DEFAULT_PROFILE, evaluatePod, explainUnschedulable, schedule, unschedulableError } from "../../../operator/src/scheduler/index.js";
import type { FilterPlugin, NodeSnapshot, PodRequest, ScheduleOptions, ScorePlugin } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, nodeWith, pod, running } from "./builders.js";

function nodesOf(result: ReturnType<typeof schedule>): Record<string, string> {
  return Object.fromEntries(result.placements.map((p) => [p.id, p.node]));
}

function perNode(result: ReturnType<typeof schedule>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of result.placements) out[p.node] = (out[p.node] ?? 0) + 1;
  return out;
}

const NO_PREEMPTION: ScheduleOptions = { preemption: false };

describe("schedule places pods", () => {
  it("places a pod on the only node that fits", () => {
    const nodes = [node("a", { unschedulable: true }), node("b", { requested: { cpuMillis: 4000, memoryBytes: 0 } }), node("c")];
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
    const r = schedule(
      [node("a"), node("b")],
      ["p1", "p2", "p3"].map((id) => pod(id, { requests: big })),
      NO_PREEMPTION,
    );
    expect(r.placements).toHaveLength(2);
    expect(r.unschedulable).toEqual([{ id: "p3", message: "0/2 nodes are available: 2 Insufficient cpu.", reasons: { "Insufficient cpu": 2 }, plugins: ["NodeResourcesFit"] }]);
  });

  it("places pods asking for an extended resource on the node that declares it, counting each placement, and says when none has enough left", () => {
    const dongle = { cpuMillis: 100, memoryBytes: 1 * Mi, extended: { "example.com/dongle": 1 } };
    const r = schedule(
      [node("a"), node("b", { allocatable: { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110, extended: { "example.com/dongle": 2 } } }), node("c")],
      ["p1", "p2", "p3"].map((id) => pod(id, { requests: dongle })),
      NO_PREEMPTION,
    );
    expect(r.placements.map((p) => [p.id, p.node])).toEqual([
      ["p1", "b"],
      ["p2", "b"],
    ]);
    expect(r.unschedulable).toEqual([{ id: "p3", message: "0/3 nodes are available: 3 Insufficient example.com/dongle.", reasons: { "Insufficient example.com/dongle": 3 }, plugins: ["NodeResourcesFit"] }]);
  });

  it("stops placing on a node once its port range is exhausted", () => {
    const r = schedule(
      [node("a", { freePorts: 2 })],
      ["p1", "p2", "p3"].map((id) => pod(id, { ports: 1 })),
      NO_PREEMPTION,
    );
    expect(r.placements.map((p) => p.id)).toEqual(["p1", "p2"]);
    expect(r.unschedulable[0]!.message).toBe("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.");
  });

  it("counts a placed pod's fixed host port for the next pod", () => {
    const r = schedule([node("a"), node("b")], [pod("p1", { hostPorts: [{ port: 80 }] }), pod("p2", { hostPorts: [{ port: 80 }] }), pod("p3", { hostPorts: [{ port: 80 }] })], NO_PREEMPTION);
    expect(new Set(r.placements.map((p) => p.node))).toEqual(new Set(["a", "b"]));
    expect(r.unschedulable.map((u) => u.id)).toEqual(["p3"]);
  });

  it("stops placing on a node once it holds its maximum number of pods", () => {
    const r = schedule([node("a", { allocatable: { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 1 } })], [pod("p1"), pod("p2")]);
    expect(r.placements.map((p) => p.id)).toEqual(["p1"]);
    expect(r.unschedulable[0]!.reasons).toEqual({ "Too many pods": 1 });
  });

  it("prefers the least allocated node", () => {
    const nodes = [node("busy", { requestedForScoring: { cpuMillis: 3000, memoryBytes: 6 * Gi } }), node("idle", { requestedForScoring: { cpuMillis: 500, memoryBytes: 1 * Gi } })];
    expect(nodesOf(schedule(nodes, [pod("p", { owner: "" })]))).toEqual({ p: "idle" });
  });

  it("spreads the replicas of one owner over identical nodes", () => {
    const pods = Array.from({ length: 9 }, (_, i) => pod(`web-${i}`));
    expect(perNode(schedule([node("a"), node("b"), node("c")], pods))).toEqual({ a: 3, b: 3, c: 3 });
  });

  it("prefers the zone with fewer replicas of the owner (system default zone constraint)", () => {
    const zone = (z: string) => ({ "topology.kubernetes.io/zone": z });
    // b and c are equally empty; b shares zone z1 with a replica on a, c is alone in z2.
    const nodes = [node("a", { labels: zone("z1"), podsByOwner: { "Deployment/default/web": 1 } }), node("b", { labels: zone("z1") }), node("c", { labels: zone("z2") })];
    for (let seed = 0; seed < 10; seed++) expect(nodesOf(schedule(nodes, [pod("p")], { seed }))).toEqual({ p: "c" });
  });

  it("lets spreading (weight 2) outweigh a small resource advantage (weight 1)", () => {
    const nodes = [node("a", { podsByOwner: { "Deployment/default/web": 1 }, requestedForScoring: { cpuMillis: 0, memoryBytes: 0 } }), node("b", { requestedForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } })];
    expect(nodesOf(schedule(nodes, [pod("p")]))).toEqual({ p: "b" });
  });

  it("keeps pods off nodes with untolerated taints and on nodes their selector names", () => {
    const nodes = [node("db", { labels: { role: "db" }, taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] }), node("web", { labels: { role: "web" } })];
    const r = schedule(nodes, [pod("plain"), pod("tolerant", { nodeSelector: { role: "db" }, tolerations: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] })]);
    expect(nodesOf(r)).toEqual({ plain: "web", tolerant: "db" });
  });

  it("applies anti-affinity to pods placed earlier in the same pass", () => {
    const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" }] } };
    const pods = ["w1", "w2", "w3"].map((id) => pod(id, { labels: { app: "web" }, affinity: anti }));
    const r = schedule([node("a"), node("b")], pods, NO_PREEMPTION);
    expect(new Set(r.placements.map((p) => p.node))).toEqual(new Set(["a", "b"]));
    expect(r.unschedulable).toEqual([
      {
        id: "w3",
        message: "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
        reasons: { "node(s) didn't match pod anti-affinity rules": 2 },
        plugins: ["InterPodAffinity"],
      },
    ]);
  });

  it("keeps DoNotSchedule zone spreading within maxSkew as replicas are placed", () => {
    const sel = { matchLabels: { app: "web" } };
    const spread = [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" as const, labelSelector: sel }];
    // Zone A is much emptier (LeastAllocated prefers it), but spreading forces alternation.
    const nodes = [node("a1", { labels: { zone: "A" } }), node("b1", { labels: { zone: "B" }, requested: { cpuMillis: 3000, memoryBytes: 6 * Gi } })];
    const r = schedule(
      nodes,
      Array.from({ length: 6 }, (_, i) => pod(`w${i}`, { owner: "", labels: { app: "web" }, topologySpreadConstraints: spread })),
    );
    expect(perNode(r)).toEqual({ a1: 3, b1: 3 });
  });

  it("reports the final weighted score of the chosen node", () => {
    // Empty node, pod 100m/128Mi (scoring 400m/800Mi): TaintToleration 100·3 + spreading 100·2 + LeastAllocated 90
    // + BalancedAllocation (1 − |0.025 − 0.015625|/2)·100 = 99 → 689.
    const r = schedule([node("a")], [pod("p", { requestsForScoring: { cpuMillis: 400, memoryBytes: 800 * Mi } })]);
    expect(r.placements).toEqual([{ id: "p", node: "a", score: 689 }]);
  });

  it("picks the node evaluatePod ranks best, with the same total", () => {
    const nodes = [node("a", { requested: { cpuMillis: 2000, memoryBytes: 1 * Gi } }), node("b", { taints: [{ key: "x", effect: "PreferNoSchedule" }] }), node("c")];
    const p = pod("p");
    const ev = evaluatePod(nodes, p);
    const r = schedule(nodes, [p]);
    expect(ev.best).toEqual([r.placements[0]!.node]);
    expect(ev.nodes.find((n) => n.node === r.placements[0]!.node)!.total).toBe(r.placements[0]!.score);
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

  it("binds an unbound claim with the first pod that mounts it: every replica of the pass lands on that node, though spreading would split them", () => {
    const claims = [{ name: "default/data" }];
    const r = schedule([node("a"), node("b"), node("c")], [pod("p1", { claims }), pod("p2", { claims }), pod("p3", { claims })], { seed: 7 });
    expect(r.unschedulable).toEqual([]);
    expect(new Set(r.placements.map((p) => p.node)).size).toBe(1);
  });

  it("places a pod whose claim is bound to a node there, and explains the wait when that node is gone", () => {
    const nodes = [node("a"), node("b")];
    expect(nodesOf(schedule(nodes, [pod("p", { claims: [{ name: "default/data", node: "b" }] })]))).toEqual({ p: "b" });
    const r = schedule(nodes, [pod("p", { claims: [{ name: "default/data", node: "gone" }] })]);
    expect(r.placements).toEqual([]);
    expect(r.unschedulable[0]!.message).toBe("0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
    expect(r.unschedulable[0]!.plugins).toEqual(["VolumeBinding"]);
  });

  it("does not let a claim's pods preempt elsewhere: only the bound node is tried", () => {
    const full = node("b", { requested: { cpuMillis: 4000, memoryBytes: 0 } });
    const r = schedule([node("a"), full], [pod("p", { claims: [{ name: "default/data", node: "b" }], requests: { cpuMillis: 1000, memoryBytes: 0 } })], NO_PREEMPTION);
    expect(r.placements).toEqual([]);
    expect(r.unschedulable[0]!.reasons).toEqual({ "Insufficient cpu": 1, "node(s) had volume node affinity conflict": 1 });
  });

  it("places a pod on its nominated node when it fits there, whatever the scores say", () => {
    const nodes = [node("a"), node("b", { requested: { cpuMillis: 3000, memoryBytes: 6 * Gi } })];
    expect(nodesOf(schedule(nodes, [pod("p", { nominatedNodeName: "b" })]))).toEqual({ p: "b" });
    // When the nominated node does not fit, the pod goes through the usual search.
    const full = [node("a"), node("b", { requested: { cpuMillis: 4000, memoryBytes: 0 } })];
    expect(nodesOf(schedule(full, [pod("p", { nominatedNodeName: "b" })]))).toEqual({ p: "a" });
  });
});

describe("schedule samples large fleets (percentageOfNodesToScore)", () => {
  const fleet = (n: number, cordonEvery = 0) => Array.from({ length: n }, (_, i) => node(`n${String(i).padStart(4, "0")}`, { unschedulable: cordonEvery > 0 && i % cordonEvery === 0 }));

  it("filters every node of a fleet below 100 nodes", () => {
    expect(schedule(fleet(99), [pod("p")]).nextStartIndex).toBe(0);
  });

  it("stops after 100 feasible nodes on a 200-node fleet (pct 50 − 200/125 = 49 → 98 < 100)", () => {
    const r = schedule(fleet(200), [pod("p1"), pod("p2")]);
    expect(r.nextStartIndex).toBe(0);
    const one = schedule(fleet(200), [pod("p1")]);
    expect(one.nextStartIndex).toBe(100);
  });

  it("stops after N·pct/100 feasible nodes with pct = 50 − N/125 (1,000 nodes → 42% → 420), counting rejected nodes as processed", () => {
    // Every 10th node is cordoned: finding 420 feasible nodes from index 0 processes 467 nodes (47 of them cordoned).
    const r = schedule(fleet(1000, 10), [pod("p")]);
    expect(r.nextStartIndex).toBe(467);
  });

  it("never goes below 5% (10,000 nodes → max(5, 50 − 80) = 5% → 500)", () => {
    expect(schedule(fleet(10_000), [pod("p")]).nextStartIndex).toBe(500);
  });

  it("starts the next pod where the last one stopped, round robin over the node list", () => {
    const r = schedule(fleet(1000), [pod("p1"), pod("p2"), pod("p3")]);
    expect(r.nextStartIndex).toBe((3 * 420) % 1000);
    // The second pod of a pass only saw nodes 420..839: its node is among them.
    const idx = Number(r.placements[1]!.node.slice(1));
    expect(idx).toBeGreaterThanOrEqual(420);
    expect(idx).toBeLessThan(840);
  });

  it("continues from startIndex and honours an explicit percentage (100 = all nodes, 20 = 200 of 1,000)", () => {
    expect(schedule(fleet(1000), [pod("p")], { startIndex: 900 }).nextStartIndex).toBe((900 + 420) % 1000);
    expect(schedule(fleet(1000), [pod("p")], { percentageOfNodesToScore: 100 }).nextStartIndex).toBe(0);
    expect(schedule(fleet(1000), [pod("p")], { percentageOfNodesToScore: 20 }).nextStartIndex).toBe(200);
  });

  it("evaluates every node before declaring a pod unschedulable", () => {
    const nodes = fleet(300).map((n, i) => (i === 250 ? n : { ...n, unschedulable: true }));
    const r = schedule(nodes, [pod("p")]);
    expect(nodesOf(r)).toEqual({ p: "n0250" });
    const none = schedule(fleet(300, 1), [pod("q")], NO_PREEMPTION);
    expect(none.unschedulable[0]!.message).toBe("0/300 nodes are available: 300 node(s) were unschedulable.");
  });

  it("rejects a percentage outside 0..100 with InvalidArgument", () => {
    let caught: unknown;
    try {
      schedule(fleet(2), [pod("p")], { percentageOfNodesToScore: 101 });
    } catch (e) {
      caught = e;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("schedule explains unschedulable pods as Kubernetes does", () => {
  const full = { cpuMillis: 4000, memoryBytes: 8 * Gi };
  const cases: { name: string; nodes: NodeSnapshot[]; pod: PodRequest; message: string; reasons: Record<string, number> }[] = [
    {
      name: "counts one reason per node: a cordoned node and two nodes short of memory",
      nodes: [node("a", { unschedulable: true }), node("b", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } }), node("c", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } })],
      pod: pod("p"),
      message:
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
      reasons: { "Insufficient memory": 2, "node(s) were unschedulable": 1 },
    },
    {
      name: "counts a node under every resource it lacks",
      nodes: [node("a", { requested: full })],
      pod: pod("p"),
      message: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
      reasons: { "Insufficient cpu": 1, "Insufficient memory": 1 },
    },
    {
      name: "names the untolerated taint, and says preemption cannot help",
      nodes: [
        node("a", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } }),
        node("b", { requested: { cpuMillis: 0, memoryBytes: 8 * Gi } }),
        node("c", { taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] }),
      ],
      pod: pod("p"),
      message:
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
      reasons: { "Insufficient memory": 2, "node(s) had untolerated taint {dedicated: db}": 1 },
    },
    {
      name: "counts only the first failing filter: a cordoned full node is only unschedulable",
      nodes: [node("a", { unschedulable: true, requested: full, freePorts: 0 })],
      pod: pod("p"),
      message: "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
      reasons: { "node(s) were unschedulable": 1 },
    },
    {
      name: "says a pod with preemptionPolicy Never is not eligible",
      nodes: [node("a", { requested: full })],
      pod: pod("p", { preemptionPolicy: "Never" }),
      message: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: not eligible due to preemptionPolicy=Never.",
      reasons: { "Insufficient cpu": 1, "Insufficient memory": 1 },
    },
    {
      name: "sorts the '<count> <reason>' strings as strings, so 10 sorts before 2",
      nodes: [
        ...Array.from({ length: 10 }, (_, i) => node(`cordoned-${String(i).padStart(2, "0")}`, { unschedulable: true })),
        node("full-1", { requested: full }),
        node("full-2", { requested: { cpuMillis: 4000, memoryBytes: 0 } }),
      ],
      pod: pod("p"),
      message:
        "0/12 nodes are available: 1 Insufficient memory, 10 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/12 nodes are available: 10 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
      reasons: { "Insufficient cpu": 2, "Insufficient memory": 1, "node(s) were unschedulable": 10 },
    },
    { name: "explains a pass over no nodes with Kubernetes' ErrNoNodesAvailable", nodes: [], pod: pod("p"), message: "no nodes available to schedule pods", reasons: {} },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, message, reasons }) => {
    const r = schedule(nodes, [p]);
    expect(r.placements).toEqual([]);
    expect(r.unschedulable).toHaveLength(1);
    expect(r.unschedulable[0]!.message).toBe(message);
    expect(r.unschedulable[0]!.reasons).toEqual(reasons);
    expect(Object.keys(r.unschedulable[0]!.reasons)).toEqual(Object.keys(reasons).sort());
  });

  it("leaves the preemption part out when preemption is off", () => {
    const r = schedule([node("a", { unschedulable: true })], [pod("p")], NO_PREEMPTION);
    expect(r.unschedulable[0]!.message).toBe("0/1 nodes are available: 1 node(s) were unschedulable.");
  });

  it("formats the message from a histogram alone", () => {
    expect(explainUnschedulable(3, { "Insufficient memory": 2, "node(s) were unschedulable": 1 })).toBe("0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.");
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

  it("lists the filter plugins that rejected nodes, sorted", () => {
    const nodes = [node("a", { unschedulable: true }), node("b", { requested: full }), node("c", { freePorts: 0 })];
    expect(schedule(nodes, [pod("p")]).unschedulable[0]!.plugins).toEqual(["NodePorts", "NodeResourcesFit", "NodeUnschedulable"]);
  });
});

describe("schedule preempts lower-priority pods", () => {
  const req = (cpu: number) => ({ requests: { cpuMillis: cpu, memoryBytes: 0 } });

  it("nominates the pod to a node and names the victims, then keeps the node for it for the rest of the pass", () => {
    const nodes = [nodeWith("a", [running("low", { priority: 0, ...req(3000) })])];
    const r = schedule(nodes, [pod("high", { priority: 100, ...req(2000) }), pod("second", { priority: 100, ...req(2000) }), pod("third", { priority: 100, ...req(2000) })]);
    expect(r.placements).toEqual([]);
    expect(r.unschedulable[0]).toEqual({
      id: "high",
      message: "0/1 nodes are available: 1 Insufficient cpu.",
      reasons: { "Insufficient cpu": 1 },
      plugins: ["NodeResourcesFit"],
      preemption: { node: "a", victims: [{ name: "low", namespace: "default", node: "a", priority: 0 }] },
    });
    // Once "low" is gone, a holds "high" and "second" exactly (2000 + 2000 of 4000): both are nominated there.
    expect(r.unschedulable[1]!.preemption).toEqual({ node: "a", victims: [{ name: "low", namespace: "default", node: "a", priority: 0 }] });
    // Nothing is left for "third": a is promised to the first two.
    expect(r.unschedulable[2]!.preemption).toBeUndefined();
    expect(r.unschedulable[2]!.message).toBe("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.");
  });

  it("does not preempt pods of equal priority", () => {
    const nodes = [nodeWith("a", [running("peer", { priority: 100, ...req(3000) })])];
    const r = schedule(nodes, [pod("p", { priority: 100, ...req(2000) })]);
    expect(r.unschedulable[0]!.preemption).toBeUndefined();
    expect(r.unschedulable[0]!.message).toContain("preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");
  });

  it("places a nominated pod once its victims are gone", () => {
    const nodes = [node("a"), node("b")];
    expect(nodesOf(schedule(nodes, [pod("p", { nominatedNodeName: "b" })]))).toEqual({ p: "b" });
  });

  it("does not preempt again while the victims of an earlier preemption still terminate", () => {
    const nodes = [nodeWith("a", [running("low", { priority: 0, terminating: true, ...req(3000) }), running("low2", { priority: 0, ...req(1000) })])];
    const r = schedule(nodes, [pod("high", { priority: 100, nominatedNodeName: "a", ...req(2000) })]);
    expect(r.unschedulable[0]!.preemption).toBeUndefined();
    expect(r.unschedulable[0]!.message).toBe("0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a terminating pod on the nominated node.");
  });
});

describe("schedule runs any profile", () => {
  it("runs a filter plugin added to the profile and counts its reason", () => {
    const gpuOnly: FilterPlugin = {
      name: "GpuOnly",
      filter: (_p, n) => (n.labels.gpu === "true" ? undefined : "node(s) had no GPU"),
    };
    const profile = { filters: [...DEFAULT_PROFILE.filters, gpuOnly], scores: DEFAULT_PROFILE.scores };
    const r = schedule([node("a"), node("b", { labels: { gpu: "true" } }), node("c", { unschedulable: true })], [pod("p")], { profile });
    expect(nodesOf(r)).toEqual({ p: "b" });
    const none = schedule([node("a"), node("c", { unschedulable: true })], [pod("p")], { profile, preemption: false });
    expect(none.unschedulable[0]!.message).toBe("0/2 nodes are available: 1 node(s) had no GPU, 1 node(s) were unschedulable.");
  });

  it("shows a custom filter the node as the pass left it (earlier placements included)", () => {
    const seen: number[] = [];
    const spy: FilterPlugin = { name: "Spy", filter: (_p, n) => void seen.push(n.podCount) };
    schedule([node("a")], [pod("p1"), pod("p2"), pod("p3")], { profile: { filters: [spy], scores: [] } });
    expect(seen).toEqual([0, 1, 2]);
  });

  it("runs a score plugin added to the profile with its weight", () => {
    const preferZ: ScorePlugin = { name: "PreferZ", weight: 10, score: (_p, n) => (n.name === "z" ? 100 : 0) };
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
