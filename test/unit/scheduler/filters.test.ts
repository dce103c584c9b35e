import { describe, expect, it } from "vitest";
import {
  evaluatePod,
  filterReasons,
  interPodAffinity,
  nodeAffinity,
  nodeName,
  nodePorts,
  nodeResourcesFit,
  nodeUnschedulable,
  podTopologySpread,
  taintToleration,
  volumeBinding,
} from "../../../operator/src/scheduler/index.js";
import type { Affinity, FilterPlugin, NodeSelectorTerm, NodeSnapshot, PodRequest, ScheduleOptions } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, pod, running } from "./builders.js";

/** Each rejected node's reasons (joined by " | "), with only `plugin` in the profile; feasible nodes are absent. */
function rejections(plugin: FilterPlugin, nodes: NodeSnapshot[], p: PodRequest, opts: ScheduleOptions = {}): Record<string, string> {
  const ev = evaluatePod(nodes, p, { ...opts, profile: { filters: [plugin], scores: [] } });
  const out: Record<string, string> = {};
  for (const n of ev.nodes) if (n.reasons.length > 0) out[n.node] = n.reasons.join(" | ");
  return out;
}

interface Case {
  name: string;
  nodes: NodeSnapshot[];
  pod: PodRequest;
  rejected: Record<string, string>;
  opts?: ScheduleOptions;
}

const UNSCHEDULABLE = "node(s) were unschedulable";

describe("NodeUnschedulable filter", () => {
  const cases: Case[] = [
    { name: "rejects a cordoned node as unschedulable", nodes: [node("a", { unschedulable: true }), node("b")], pod: pod("p"), rejected: { a: UNSCHEDULABLE } },
    {
      name: "lets a pod that tolerates node.kubernetes.io/unschedulable onto a cordoned node",
      nodes: [node("a", { unschedulable: true })],
      pod: pod("p", { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }] }),
      rejected: {},
    },
    {
      name: "lets a pod that tolerates every taint (empty key, Exists) onto a cordoned node",
      nodes: [node("a", { unschedulable: true })],
      pod: pod("p", { tolerations: [{ operator: "Exists" }] }),
      rejected: {},
    },
    {
      name: "keeps a pod whose toleration names another effect off a cordoned node",
      nodes: [node("a", { unschedulable: true })],
      pod: pod("p", { tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoExecute" }] }),
      rejected: { a: UNSCHEDULABLE },
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(nodeUnschedulable, nodes, p)).toEqual(rejected);
  });
});

describe("NodeName filter", () => {
  const other = "node(s) didn't match the requested node name";
  const cases: Case[] = [
    { name: "accepts every node for a pod without nodeName", nodes: [node("a"), node("b")], pod: pod("p"), rejected: {} },
    { name: "accepts only the node the pod names", nodes: [node("a"), node("b"), node("c")], pod: pod("p", { nodeName: "b" }), rejected: { a: other, c: other } },
    { name: "rejects every node when the named node does not exist", nodes: [node("a")], pod: pod("p", { nodeName: "zz" }), rejected: { a: other } },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(nodeName, nodes, p)).toEqual(rejected);
  });
});

describe("VolumeBinding filter", () => {
  const conflict = "node(s) had volume node affinity conflict";
  const cases: Case[] = [
    { name: "accepts every node for a pod without claims", nodes: [node("a"), node("b")], pod: pod("p"), rejected: {} },
    { name: "accepts every node for a pod whose claim is unbound", nodes: [node("a"), node("b")], pod: pod("p", { claims: [{ name: "default/data" }] }), rejected: {} },
    {
      name: "accepts only the node a bound claim is on",
      nodes: [node("a"), node("b"), node("c")],
      pod: pod("p", { claims: [{ name: "default/data", node: "b" }] }),
      rejected: { a: conflict, c: conflict },
    },
    {
      name: "rejects every node when the claim's node is not in the snapshot (gone or NotReady): the data is never moved",
      nodes: [node("a"), node("b")],
      pod: pod("p", { claims: [{ name: "default/data", node: "gone" }] }),
      rejected: { a: conflict, b: conflict },
    },
    {
      name: "rejects every node when two claims are bound to different nodes",
      nodes: [node("a"), node("b")],
      pod: pod("p", {
        claims: [
          { name: "default/data", node: "a" },
          { name: "default/logs", node: "b" },
        ],
      }),
      rejected: { a: conflict, b: conflict },
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(volumeBinding, nodes, p)).toEqual(rejected);
  });

  it("gives the same answer standalone (filterReasons) as inside a pass", () => {
    const p = pod("p", { claims: [{ name: "default/data", node: "b" }] });
    expect(filterReasons(volumeBinding, p, node("a"))).toEqual([conflict]);
    expect(filterReasons(volumeBinding, p, node("b"))).toEqual([]);
  });
});

describe("TaintToleration filter", () => {
  const db = { key: "dedicated", value: "db", effect: "NoSchedule" as const };
  const cases: Case[] = [
    {
      name: "rejects a node with an untolerated NoSchedule taint, naming it {key: value}",
      nodes: [node("a", { taints: [db] }), node("b")],
      pod: pod("p"),
      rejected: { a: "node(s) had untolerated taint {dedicated: db}" },
    },
    {
      name: "rejects a node with an untolerated NoExecute taint",
      nodes: [node("a", { taints: [{ key: "gone", effect: "NoExecute" }] })],
      pod: pod("p"),
      rejected: { a: "node(s) had untolerated taint {gone: }" },
    },
    {
      name: "ignores PreferNoSchedule taints (they only score)",
      nodes: [node("a", { taints: [{ key: "soft", value: "x", effect: "PreferNoSchedule" }] })],
      pod: pod("p"),
      rejected: {},
    },
    {
      name: "accepts a node whose taint an Equal toleration matches by key, value and effect",
      nodes: [node("a", { taints: [db] })],
      pod: pod("p", { tolerations: [{ key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" }] }),
      rejected: {},
    },
    {
      name: "does not tolerate a taint whose value differs from the toleration's",
      nodes: [node("a", { taints: [db] })],
      pod: pod("p", { tolerations: [{ key: "dedicated", value: "web" }] }),
      rejected: { a: "node(s) had untolerated taint {dedicated: db}" },
    },
    {
      name: "tolerates any value of the key with operator Exists and no effect",
      nodes: [node("a", { taints: [db, { key: "dedicated", value: "x", effect: "NoExecute" }] })],
      pod: pod("p", { tolerations: [{ key: "dedicated", operator: "Exists" }] }),
      rejected: {},
    },
    {
      name: "does not tolerate a NoExecute taint with a NoSchedule toleration",
      nodes: [node("a", { taints: [{ key: "dedicated", value: "db", effect: "NoExecute" }] })],
      pod: pod("p", { tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }] }),
      rejected: { a: "node(s) had untolerated taint {dedicated: db}" },
    },
    {
      name: "names the first untolerated taint in the node's order",
      nodes: [
        node("a", {
          taints: [
            { key: "ok", effect: "NoSchedule" },
            { key: "first", value: "1", effect: "NoSchedule" },
            { key: "second", value: "2", effect: "NoExecute" },
          ],
        }),
      ],
      pod: pod("p", { tolerations: [{ key: "ok", operator: "Exists" }] }),
      rejected: { a: "node(s) had untolerated taint {first: 1}" },
    },
    {
      name: "tolerates everything with an empty key and operator Exists",
      nodes: [node("a", { taints: [db, { key: "x", effect: "NoExecute" }] })],
      pod: pod("p", { tolerations: [{ operator: "Exists" }] }),
      rejected: {},
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(taintToleration, nodes, p)).toEqual(rejected);
  });
});

describe("NodeAffinity filter", () => {
  const no = "node(s) didn't match Pod's node affinity/selector";
  const nodes = [
    node("ssd-1", { labels: { disk: "ssd", zone: "z1", cores: "8" } }),
    node("ssd-2", { labels: { disk: "ssd", zone: "z2", cores: "16" } }),
    node("hdd-1", { labels: { disk: "hdd", zone: "z1", cores: "x" } }),
    node("bare", { labels: {} }),
  ];
  const required = (...terms: NodeSelectorTerm[]): Affinity => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } });
  const cases: Case[] = [
    { name: "accepts every node for a pod without selector or affinity", nodes, pod: pod("p"), rejected: {} },
    {
      name: "requires every nodeSelector label",
      nodes,
      pod: pod("p", { nodeSelector: { disk: "ssd", zone: "z1" } }),
      rejected: { "ssd-2": no, "hdd-1": no, bare: no },
    },
    {
      name: "ORs the required terms and ANDs the expressions within a term",
      nodes,
      pod: pod("p", {
        affinity: required(
          {
            matchExpressions: [
              { key: "disk", operator: "In", values: ["ssd"] },
              { key: "zone", operator: "In", values: ["z2"] },
            ],
          },
          { matchExpressions: [{ key: "disk", operator: "In", values: ["hdd"] }] },
        ),
      }),
      rejected: { "ssd-1": no, bare: no },
    },
    {
      name: "matches NotIn and DoesNotExist on a node without the label",
      nodes,
      pod: pod("p", {
        affinity: required({
          matchExpressions: [
            { key: "disk", operator: "NotIn", values: ["ssd"] },
            { key: "gpu", operator: "DoesNotExist" },
          ],
        }),
      }),
      rejected: { "ssd-1": no, "ssd-2": no },
    },
    {
      name: "matches Exists only on nodes with the label",
      nodes,
      pod: pod("p", { affinity: required({ matchExpressions: [{ key: "zone", operator: "Exists" }] }) }),
      rejected: { bare: no },
    },
    {
      name: "compares Gt numerically and never matches a label that is not an integer",
      nodes,
      pod: pod("p", { affinity: required({ matchExpressions: [{ key: "cores", operator: "Gt", values: ["9"] }] }) }),
      rejected: { "ssd-1": no, "hdd-1": no, bare: no },
    },
    {
      name: "compares Lt numerically (8 < 10 although '8' > '10' as text)",
      nodes,
      pod: pod("p", { affinity: required({ matchExpressions: [{ key: "cores", operator: "Lt", values: ["10"] }] }) }),
      rejected: { "ssd-2": no, "hdd-1": no, bare: no },
    },
    {
      name: "matches matchFields metadata.name",
      nodes,
      pod: pod("p", { affinity: required({ matchFields: [{ key: "metadata.name", operator: "In", values: ["bare", "hdd-1"] }] }) }),
      rejected: { "ssd-1": no, "ssd-2": no },
    },
    {
      name: "requires both the nodeSelector and the required terms",
      nodes,
      pod: pod("p", { nodeSelector: { zone: "z1" }, affinity: required({ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] }) }),
      rejected: { "ssd-2": no, "hdd-1": no, bare: no },
    },
    {
      name: "never matches a term without requirements",
      nodes,
      pod: pod("p", { affinity: required({}) }),
      rejected: { "ssd-1": no, "ssd-2": no, "hdd-1": no, bare: no },
    },
  ];
  it.each(cases)("$name", ({ nodes: ns, pod: p, rejected }) => {
    expect(rejections(nodeAffinity, ns, p)).toEqual(rejected);
  });
});

describe("NodePorts filter", () => {
  const noPorts = "node(s) didn't have free ports for the requested pod ports";
  const cases: Case[] = [
    { name: "accepts a pod that needs no ports on a node whose range is exhausted", nodes: [node("a", { freePorts: 0 })], pod: pod("p", { ports: 0 }), rejected: {} },
    { name: "accepts a pod that needs exactly the ports still free", nodes: [node("a", { freePorts: 2 })], pod: pod("p", { ports: 2 }), rejected: {} },
    { name: "rejects a pod that needs more range ports than are free", nodes: [node("a", { freePorts: 2 })], pod: pod("p", { ports: 3 }), rejected: { a: noPorts } },
    {
      name: "rejects a fixed hostPort already taken on the node (same protocol and port, any address)",
      nodes: [node("a", { hostPortsInUse: [{ port: 8080 }] }), node("b", { hostPortsInUse: [{ port: 8081 }] })],
      pod: pod("p", { ports: 0, hostPorts: [{ port: 8080 }] }),
      rejected: { a: noPorts },
    },
    {
      name: "accepts the same port number with another protocol",
      nodes: [node("a", { hostPortsInUse: [{ port: 53, protocol: "UDP" }] })],
      pod: pod("p", { ports: 0, hostPorts: [{ port: 53, protocol: "TCP" }] }),
      rejected: {},
    },
    {
      name: "accepts the same port on another specific address, rejects it against 0.0.0.0",
      nodes: [node("a", { hostPortsInUse: [{ port: 80, hostIP: "10.0.0.1" }] }), node("b", { hostPortsInUse: [{ port: 80 }] })],
      pod: pod("p", { ports: 0, hostPorts: [{ port: 80, hostIP: "10.0.0.2" }] }),
      rejected: { b: noPorts },
    },
    {
      name: "rejects a bind-all port against a port taken on a specific address",
      nodes: [node("a", { hostPortsInUse: [{ port: 80, hostIP: "10.0.0.1" }] })],
      pod: pod("p", { ports: 0, hostPorts: [{ port: 80 }] }),
      rejected: { a: noPorts },
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(nodePorts, nodes, p)).toEqual(rejected);
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
      name: "accepts a pod whose extended resource the node offers with enough left",
      node: node("a", { allocatable: { ...alloc, extended: { "example.com/dongle": 2 } }, requested: { cpuMillis: 0, memoryBytes: 0, extended: { "example.com/dongle": 1 } } }),
      pod: pod("p", { requests: { cpuMillis: 1, memoryBytes: 1, extended: { "example.com/dongle": 1 } } }),
      reasons: [],
    },
    {
      name: "rejects with Insufficient <name> when the node's extended resource is used up",
      node: node("a", { allocatable: { ...alloc, extended: { "example.com/dongle": 2 } }, requested: { cpuMillis: 0, memoryBytes: 0, extended: { "example.com/dongle": 2 } } }),
      pod: pod("p", { requests: { cpuMillis: 1, memoryBytes: 1, extended: { "example.com/dongle": 1 } } }),
      reasons: ["Insufficient example.com/dongle"],
    },
    {
      name: "rejects a node that does not declare the extended resource at all",
      node: node("a", { allocatable: alloc }),
      pod: pod("p", { requests: { cpuMillis: 1, memoryBytes: 1, extended: { "example.com/dongle": 1 } } }),
      reasons: ["Insufficient example.com/dongle"],
    },
    {
      name: "lists extended shortfalls after cpu and memory, by name, and ignores an extended request of 0",
      node: node("a", { allocatable: { ...alloc, extended: { "b.example/x": 1 } } }),
      pod: pod("p", { requests: { cpuMillis: 2000, memoryBytes: 0, extended: { "b.example/x": 2, "a.example/y": 1, "c.example/z": 0 } } }),
      reasons: ["Insufficient cpu", "Insufficient a.example/y", "Insufficient b.example/x"],
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

describe("PodTopologySpread filter (DoNotSchedule)", () => {
  const skew = "node(s) didn't match pod topology spread constraints";
  const missing = "node(s) didn't match pod topology spread constraints (missing required label)";
  const web = { app: "web" };
  const zone = (maxSkew = 1, extra: object = {}) => ({
    topologySpreadConstraints: [{ maxSkew, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" as const, labelSelector: { matchLabels: web }, ...extra }],
  });
  const w = (name: string, o: object = {}) => running(name, { labels: web, ...o });
  const cases: Case[] = [
    {
      name: "rejects the zone whose skew would exceed maxSkew (2 + 1 − 0 > 1)",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x"), w("y")] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: web, ...zone() }),
      rejected: { a1: skew },
    },
    {
      name: "accepts every zone while skew stays within maxSkew 2",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x")] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: web, ...zone(2) }),
      rejected: {},
    },
    {
      name: "sums a domain over its nodes",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x")] }), node("a2", { labels: { zone: "A" } }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: web, ...zone() }),
      rejected: { a1: skew, a2: skew },
    },
    {
      name: "rejects a node without the topology key as missing the label",
      nodes: [node("a1", { labels: { zone: "A" } }), node("nolabel")],
      pod: pod("p", { labels: web, ...zone() }),
      rejected: { nolabel: missing },
    },
    {
      name: "does not add the pod itself when it does not match its own selector",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x")] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: { app: "other" }, ...zone() }),
      rejected: {},
    },
    {
      name: "takes the minimum only over zones whose nodes match the pod's node affinity (nodeAffinityPolicy Honor)",
      nodes: [node("a1", { labels: { zone: "A", tier: "x" }, pods: [w("x")] }), node("b1", { labels: { zone: "B", tier: "x" }, pods: [w("y")] }), node("c1", { labels: { zone: "C", tier: "y" } })],
      pod: pod("p", { labels: web, nodeSelector: { tier: "x" }, ...zone() }),
      rejected: {},
    },
    {
      name: "counts zones outside the node affinity with nodeAffinityPolicy Ignore",
      nodes: [node("a1", { labels: { zone: "A", tier: "x" }, pods: [w("x")] }), node("b1", { labels: { zone: "B", tier: "x" }, pods: [w("y")] }), node("c1", { labels: { zone: "C", tier: "y" } })],
      pod: pod("p", { labels: web, nodeSelector: { tier: "x" }, ...zone(1, { nodeAffinityPolicy: "Ignore" }) }),
      rejected: { a1: skew, b1: skew },
    },
    {
      name: "takes the global minimum as 0 when there are fewer eligible domains than minDomains",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x")] }), node("b1", { labels: { zone: "B" }, pods: [w("y")] })],
      pod: pod("p", { labels: web, ...zone(1, { minDomains: 3 }) }),
      rejected: { a1: skew, b1: skew },
    },
    {
      name: "does not count terminating pods",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x", { terminating: true }), w("y", { terminating: true })] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: web, ...zone() }),
      rejected: {},
    },
    {
      name: "counts only pods of the pod's own namespace",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x", { namespace: "other" }), w("y", { namespace: "other" })] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: web, ...zone() }),
      rejected: {},
    },
    {
      name: "adds matchLabelKeys to the selector with the pod's own values",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x", { labels: { app: "web", rev: "1" } }), w("y", { labels: { app: "web", rev: "1" } })] }), node("b1", { labels: { zone: "B" } })],
      pod: pod("p", { labels: { app: "web", rev: "2" }, ...zone(1, { matchLabelKeys: ["rev"] }) }),
      rejected: {},
    },
    {
      name: "spreads over hostnames, every node being its own domain",
      nodes: [node("a", { pods: [w("x")] }), node("b")],
      pod: pod("p", { labels: web, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: web } }] }),
      rejected: { a: skew },
    },
    {
      name: "ignores ScheduleAnyway constraints",
      nodes: [node("a1", { labels: { zone: "A" }, pods: [w("x"), w("y")] }), node("b1", { labels: { zone: "B" } }), node("nolabel")],
      pod: pod("p", { labels: web, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: web } }] }),
      rejected: {},
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected }) => {
    expect(rejections(podTopologySpread, nodes, p)).toEqual(rejected);
  });
});

describe("InterPodAffinity filter", () => {
  const affinity = "node(s) didn't match pod affinity rules";
  const anti = "node(s) didn't match pod anti-affinity rules";
  const existing = "node(s) didn't satisfy existing pods anti-affinity rules";
  const db = { app: "db" };
  const web = { app: "web" };
  const z = (zone: string, o: Partial<NodeSnapshot> = {}) => ({ labels: { zone }, ...o });
  const term = (labels: Record<string, string>, topologyKey: string, o: object = {}) => ({ labelSelector: { matchLabels: labels }, topologyKey, ...o });
  const antiHost = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(web, "kubernetes.io/hostname")] } };
  const cases: Case[] = [
    {
      name: "requires a pod matching the affinity term in the node's zone",
      nodes: [node("a1", z("A", { pods: [running("d", { labels: db })] })), node("a2", z("A")), node("b1", z("B"))],
      pod: pod("p", { labels: web, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone")] } } }),
      rejected: { b1: affinity },
    },
    {
      name: "lets the first pod of a group with affinity to itself go anywhere",
      nodes: [node("a1", z("A")), node("b1", z("B"))],
      pod: pod("p", { labels: web, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(web, "zone")] } } }),
      rejected: {},
    },
    {
      name: "rejects every node when no pod matches and the pod does not match its own affinity",
      nodes: [node("a1", z("A")), node("b1", z("B"))],
      pod: pod("p", { labels: web, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone")] } } }),
      rejected: { a1: affinity, b1: affinity },
    },
    {
      name: "rejects a node without the affinity term's topology key",
      nodes: [node("a1", z("A", { pods: [running("d", { labels: db })] })), node("nolabel")],
      pod: pod("p", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone")] } } }),
      rejected: { nolabel: affinity },
    },
    {
      name: "ignores matching pods in other namespaces unless the term lists them",
      nodes: [node("a1", z("A", { pods: [running("d", { labels: db, namespace: "data" })] })), node("b1", z("B"))],
      pod: pod("p", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone")] } } }),
      rejected: { a1: affinity, b1: affinity },
    },
    {
      name: "finds pods in the namespaces the term lists",
      nodes: [node("a1", z("A", { pods: [running("d", { labels: db, namespace: "data" })] })), node("b1", z("B"))],
      pod: pod("p", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone", { namespaces: ["data"] })] } } }),
      rejected: { b1: affinity },
    },
    {
      name: "finds pods in the namespaces whose labels match namespaceSelector",
      nodes: [node("a1", z("A", { pods: [running("d", { labels: db, namespace: "data" })] })), node("b1", z("B", { pods: [running("e", { labels: db, namespace: "other" })] }))],
      pod: pod("p", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "zone", { namespaceSelector: { matchLabels: { team: "data" } } })] } } }),
      opts: { namespaceLabels: { data: { team: "data" }, other: { team: "web" } } },
      rejected: { b1: affinity },
    },
    {
      name: "keeps the pod off nodes holding a pod its hostname anti-affinity selects",
      nodes: [node("a", { pods: [running("w", { labels: web })] }), node("b")],
      pod: pod("p", { labels: web, affinity: antiHost }),
      rejected: { a: anti },
    },
    {
      name: "keeps the pod out of a whole zone with zone anti-affinity",
      nodes: [node("a1", z("A", { pods: [running("w", { labels: web })] })), node("a2", z("A")), node("b1", z("B"))],
      pod: pod("p", { labels: web, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(web, "zone")] } } }),
      rejected: { a1: anti, a2: anti },
    },
    {
      name: "keeps the pod away from an existing pod whose anti-affinity selects it (symmetry)",
      nodes: [node("a", { pods: [running("x", { labels: db, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(web, "kubernetes.io/hostname")] } } })] }), node("b")],
      pod: pod("p", { labels: web }),
      rejected: { a: existing },
    },
    {
      name: "lets a pod next to an existing pod whose anti-affinity does not select it",
      nodes: [node("a", { pods: [running("x", { labels: db, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term(db, "kubernetes.io/hostname")] } } })] })],
      pod: pod("p", { labels: web }),
      rejected: {},
    },
  ];
  it.each(cases)("$name", ({ nodes, pod: p, rejected, opts }) => {
    expect(rejections(interPodAffinity, nodes, p, opts)).toEqual(rejected);
  });
});

describe("filter order", () => {
  it("reports only the first failing filter in kube-scheduler's order for each node", () => {
    const full = { cpuMillis: 4000, memoryBytes: 8 * Gi };
    const nodes = [
      node("a", { unschedulable: true, taints: [{ key: "t", effect: "NoSchedule" }], requested: full }),
      node("b", { taints: [{ key: "t", effect: "NoSchedule" }], labels: {}, requested: full }),
      node("c", { labels: {}, requested: full, freePorts: 0 }),
      node("d", { labels: { disk: "ssd" }, requested: full, freePorts: 0 }),
      node("e", { labels: { disk: "ssd" }, requested: full }),
    ];
    const ev = evaluatePod(nodes, pod("p", { nodeSelector: { disk: "ssd" } }));
    expect(Object.fromEntries(ev.nodes.map((n) => [n.node, `${n.plugin}: ${n.reasons.join(", ")}`]))).toEqual({
      a: "NodeUnschedulable: node(s) were unschedulable",
      b: "TaintToleration: node(s) had untolerated taint {t: }",
      c: "NodeAffinity: node(s) didn't match Pod's node affinity/selector",
      d: "NodePorts: node(s) didn't have free ports for the requested pod ports",
      e: "NodeResourcesFit: Insufficient cpu, Insufficient memory",
    });
  });

  it("runs the filters in the profile's order when it differs from kube-scheduler's", () => {
    const nodes = [node("a", { unschedulable: true, requested: { cpuMillis: 4000, memoryBytes: 0 }, freePorts: 0 })];
    const ev = evaluatePod(nodes, pod("p"), { profile: { filters: [nodeResourcesFit, nodePorts, nodeUnschedulable], scores: [] } });
    expect(ev.nodes[0]!.reasons).toEqual(["Insufficient cpu"]);
    const ports = evaluatePod(nodes, pod("p", { requests: { cpuMillis: 0, memoryBytes: 0 } }), { profile: { filters: [nodeResourcesFit, nodePorts, nodeUnschedulable], scores: [] } });
    expect(ports.nodes[0]!.reasons).toEqual(["node(s) didn't have free ports for the requested pod ports"]);
  });

  it("works as a plain FilterPlugin on a single node", () => {
    expect(filterReasons(taintToleration, pod("p"), node("a", { taints: [{ key: "k", value: "v", effect: "NoSchedule" }] }))).toEqual(["node(s) had untolerated taint {k: v}"]);
    expect(filterReasons(nodeUnschedulable, pod("p"), node("a"))).toEqual([]);
  });
});
