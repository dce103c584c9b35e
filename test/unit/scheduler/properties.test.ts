/**
 * Properties of the scheduling pass against an independent reference: a brute-force re-statement of every hard
 * constraint (written here from the Kubernetes rules, without the scheduler's indexes or caches), checked for
 * each placement on the snapshot as it stood when the pod was placed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluatePod, schedule, selectVictims } from "../../../operator/src/scheduler/index.js";
import type { Affinity, NodeSnapshot, PodAffinityTerm, PodRequest, PodSummary, Taint, Toleration, TopologySpreadConstraint } from "../../../operator/src/scheduler/types.js";
import { Mi, node, withPlacement } from "./builders.js";

const HOST = "kubernetes.io/hostname";
/** The extended resource some nodes declare and some pods request. */
const DONGLE = "example.com/dongle";
const dongles = (r: { extended?: Readonly<Record<string, number>> } | undefined) => r?.extended?.[DONGLE] ?? 0;
const APPS = ["a", "b", "c"];
const TAINTS: Taint[] = [
  { key: "dedicated", value: "db", effect: "NoSchedule" },
  { key: "gpu", effect: "NoExecute" },
  { key: "soft", value: "x", effect: "PreferNoSchedule" },
];
const TOLERATIONS: Toleration[] = [
  { key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule" },
  { key: "gpu", operator: "Exists" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
];

// ---------------------------------------------------------------------------------------------------------
// The reference: hard constraints, brute force.

function labelsOf(n: NodeSnapshot): Record<string, string> {
  return n.labels[HOST] === undefined ? { ...n.labels, [HOST]: n.name } : n.labels;
}

function tolerates(ts: readonly Toleration[], t: Taint): boolean {
  return ts.some((x) => (x.effect === undefined || x.effect === t.effect) && (x.key === undefined || x.key === "" || x.key === t.key) && ((x.operator ?? "Equal") === "Exists" || (x.value ?? "") === (t.value ?? "")));
}

function matchesLabels(sel: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (sel === undefined) return false;
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

function matchesNode(p: PodRequest, n: NodeSnapshot): boolean {
  if (!Object.entries(p.nodeSelector ?? {}).every(([k, v]) => n.labels[k] === v)) return false;
  const terms = p.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms === undefined) return true;
  return terms.some((t) => (t.matchExpressions ?? []).length > 0 && (t.matchExpressions ?? []).every((e) => e.operator === "In" && (e.values ?? []).includes(n.labels[e.key] ?? "\u0000")));
}

/** Pods of the fleet with their node. */
function allPods(nodes: readonly NodeSnapshot[]): { pod: PodSummary; node: NodeSnapshot }[] {
  return nodes.flatMap((n) => (n.pods ?? []).map((pod) => ({ pod, node: n })));
}

function termSelects(t: PodAffinityTerm, ownerNs: string, pod: { namespace?: string; labels?: Record<string, string> }): boolean {
  return (pod.namespace ?? "default") === ownerNs && matchesLabels(t.labelSelector?.matchLabels as Record<string, string>, pod.labels as Record<string, string>);
}

/** Whether `p` may go to `n` given the fleet `nodes` (every hard constraint). */
function fits(p: PodRequest, n: NodeSnapshot, nodes: readonly NodeSnapshot[]): boolean {
  const tol = p.tolerations ?? [];
  if (n.unschedulable && !tolerates(tol, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" })) return false;
  if ((n.taints ?? []).some((t) => t.effect !== "PreferNoSchedule" && !tolerates(tol, t))) return false;
  if (!matchesNode(p, n)) return false;
  if (p.ports > n.freePorts) return false;
  if ((p.hostPorts ?? []).some((hp) => (n.hostPortsInUse ?? []).some((u) => u.port === hp.port))) return false;
  if (n.podCount + 1 > n.allocatable.pods) return false;
  if (p.requests.cpuMillis > 0 && p.requests.cpuMillis > n.allocatable.cpuMillis - n.requested.cpuMillis) return false;
  if (p.requests.memoryBytes > 0 && p.requests.memoryBytes > n.allocatable.memoryBytes - n.requested.memoryBytes) return false;
  if (dongles(p.requests) > 0 && dongles(p.requests) > dongles(n.allocatable) - dongles(n.requested)) return false;
  const ns = p.namespace ?? "default";
  const pods = allPods(nodes);
  // DoNotSchedule spreading.
  const hard = (p.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === "DoNotSchedule");
  for (const c of hard) {
    const nl = labelsOf(n);
    if (nl[c.topologyKey] === undefined) return false;
    const eligible = nodes.filter((x) => hard.every((h) => labelsOf(x)[h.topologyKey] !== undefined) && matchesNode(p, x));
    const counts = new Map<string, number>();
    for (const x of eligible) {
      const d = labelsOf(x)[c.topologyKey]!;
      const m = (x.pods ?? []).filter((q) => !q.terminating && (q.namespace ?? "default") === ns && matchesLabels(c.labelSelector?.matchLabels as Record<string, string>, q.labels as Record<string, string>)).length;
      counts.set(d, (counts.get(d) ?? 0) + m);
    }
    const min = counts.size === 0 ? 0 : Math.min(...counts.values());
    const self = matchesLabels(c.labelSelector?.matchLabels as Record<string, string>, p.labels as Record<string, string>) ? 1 : 0;
    if ((counts.get(nl[c.topologyKey]!) ?? 0) + self - min > c.maxSkew) return false;
  }
  // Required pod affinity: a pod matching every term in the node's domain of each term, or none anywhere.
  const aff = p.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  if (aff.length > 0) {
    if (aff.some((t) => labelsOf(n)[t.topologyKey] === undefined)) return false;
    const matching = pods.filter(({ pod }) => aff.every((t) => termSelects(t, ns, pod)));
    const near = aff.every((t) => matching.some(({ node: m }) => labelsOf(m)[t.topologyKey] === labelsOf(n)[t.topologyKey]));
    const anyWithKey = matching.some(({ node: m }) => aff.some((t) => labelsOf(m)[t.topologyKey] !== undefined));
    const self = aff.every((t) => termSelects(t, ns, { namespace: ns, labels: p.labels as Record<string, string> }));
    if (!near && (anyWithKey || !self)) return false;
  }
  // Required anti-affinity, both directions.
  for (const t of p.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    const v = labelsOf(n)[t.topologyKey];
    if (v !== undefined && pods.some(({ pod, node: m }) => labelsOf(m)[t.topologyKey] === v && termSelects(t, ns, pod))) return false;
  }
  for (const { pod, node: m } of pods) {
    for (const t of pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      const v = labelsOf(m)[t.topologyKey];
      if (v !== undefined && labelsOf(n)[t.topologyKey] === v && termSelects(t, pod.namespace ?? "default", { namespace: ns, labels: p.labels as Record<string, string> })) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Generators.

/** true once in n + 1 draws. */
const rarely = (n: number): fc.Arbitrary<boolean> => fc.integer({ min: 0, max: n }).map((x) => x === 0);

const antiArb = (app: string): fc.Arbitrary<Affinity | undefined> =>
  fc.option(
    fc.constantFrom(HOST, "zone").map(
      (topologyKey): Affinity => ({
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey }] },
      }),
    ),
    { nil: undefined, freq: 3 },
  );

const runningArb = fc
  .record({ app: fc.constantFrom(...APPS), priority: fc.integer({ min: 0, max: 2 }), cpu: fc.integer({ min: 0, max: 1500 }), terminating: rarely(6) })
  .chain((r) => antiArb(r.app).map((affinity) => ({ ...r, affinity })));

const nodeArb = fc.record({
  zone: fc.constantFrom("z1", "z2", "z3", undefined),
  disk: fc.constantFrom("ssd", "hdd", undefined),
  taints: fc.subarray(TAINTS, { maxLength: 2 }),
  unschedulable: rarely(8),
  cpu: fc.integer({ min: 0, max: 8000 }),
  memMi: fc.integer({ min: 0, max: 16384 }),
  pods: fc.integer({ min: 0, max: 12 }),
  usedCpu: fc.integer({ min: 0, max: 3000 }),
  freePorts: fc.integer({ min: 0, max: 6 }),
  port80: rarely(4),
  running: fc.array(runningArb, { maxLength: 3 }),
  dongles: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined, freq: 2 }),
});

function buildNode(name: string, r: typeof nodeArb extends fc.Arbitrary<infer T> ? T : never): NodeSnapshot {
  const labels: Record<string, string> = {};
  if (r.zone !== undefined) labels.zone = r.zone;
  if (r.disk !== undefined) labels.disk = r.disk;
  const pods: PodSummary[] = r.running.map((x, k) => {
    // A node that declares dongles has its first pod hold one.
    const extended = k === 0 && (r.dongles ?? 0) > 0 ? { extended: { [DONGLE]: 1 } } : {};
    const s: PodSummary = {
      name: `${name}-run-${k}`,
      namespace: "default",
      labels: { app: x.app },
      owner: `Deployment/default/${x.app}`,
      priority: x.priority,
      requests: { cpuMillis: x.cpu, memoryBytes: 0, ...extended },
      terminating: x.terminating,
    };
    if (x.affinity !== undefined) s.affinity = x.affinity;
    return s;
  });
  const used = r.usedCpu + pods.reduce((s, p) => s + p.requests!.cpuMillis, 0);
  const podsByOwner: Record<string, number> = {};
  for (const p of pods) podsByOwner[p.owner!] = (podsByOwner[p.owner!] ?? 0) + 1;
  return node(name, {
    labels,
    taints: r.taints,
    unschedulable: r.unschedulable,
    allocatable: { cpuMillis: Math.max(r.cpu, used), memoryBytes: r.memMi * Mi, pods: Math.max(r.pods, pods.length), ...(r.dongles !== undefined ? { extended: { [DONGLE]: r.dongles } } : {}) },
    requested: { cpuMillis: used, memoryBytes: 0, ...(pods.some((p) => dongles(p.requests) > 0) ? { extended: { [DONGLE]: 1 } } : {}) },
    requestedForScoring: { cpuMillis: used, memoryBytes: 0 },
    podCount: pods.length,
    podsByOwner,
    freePorts: r.freePorts,
    hostPortsInUse: r.port80 ? [{ port: 80 }] : [],
    pods,
  });
}

const nodesArb = (min: number, max: number) => fc.array(nodeArb, { minLength: min, maxLength: max }).map((rs) => rs.map((r, i) => buildNode(`node-${String(i).padStart(3, "0")}`, r)));

const podArb = fc.record({
  app: fc.constantFrom(...APPS),
  owner: fc.constantFrom("web", "api", ""),
  cpu: fc.integer({ min: 0, max: 3000 }),
  memMi: fc.integer({ min: 0, max: 6000 }),
  ports: fc.integer({ min: 0, max: 2 }),
  port80: rarely(5),
  priority: fc.integer({ min: 0, max: 3 }),
  tolerations: fc.subarray(TOLERATIONS, { maxLength: 2 }),
  nodeSelector: fc.constantFrom(undefined, { disk: "ssd" }),
  zoneAffinity: fc.constantFrom(undefined, ["z1", "z2"]),
  spread: fc.option(fc.record({ key: fc.constantFrom(HOST, "zone"), maxSkew: fc.integer({ min: 1, max: 2 }) }), { nil: undefined, freq: 2 }),
  podAffinity: rarely(6),
  anti: fc.option(fc.constantFrom(HOST, "zone"), { nil: undefined, freq: 2 }),
  dongles: fc.constantFrom(0, 0, 0, 1, 2),
});

const podsArb = (max: number) =>
  fc.array(podArb, { maxLength: max }).map((rs) =>
    rs.map((r, i): PodRequest => {
      const requests = { cpuMillis: r.cpu, memoryBytes: r.memMi * Mi, ...(r.dongles > 0 ? { extended: { [DONGLE]: r.dongles } } : {}) };
      const p: PodRequest = {
        id: `pod-${i}`,
        owner: r.owner === "" ? "" : `Deployment/default/${r.owner}`,
        labels: { app: r.app },
        requests,
        requestsForScoring: { cpuMillis: r.cpu || 100, memoryBytes: (r.memMi || 200) * Mi },
        ports: r.ports,
        priority: r.priority,
        tolerations: r.tolerations,
      };
      if (r.port80) p.hostPorts = [{ port: 80 }];
      if (r.nodeSelector !== undefined) p.nodeSelector = r.nodeSelector;
      const affinity: Affinity = {};
      if (r.zoneAffinity !== undefined) {
        affinity.nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: r.zoneAffinity }] }] } };
      }
      if (r.podAffinity) affinity.podAffinity = { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "a" } }, topologyKey: "zone" }] };
      if (r.anti !== undefined) affinity.podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: r.app } }, topologyKey: r.anti }] };
      if (Object.keys(affinity).length > 0) p.affinity = affinity;
      if (r.spread !== undefined) {
        const c: TopologySpreadConstraint = { maxSkew: r.spread.maxSkew, topologyKey: r.spread.key, whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: r.app } } };
        p.topologySpreadConstraints = [c];
      }
      return p;
    }),
  );

// ---------------------------------------------------------------------------------------------------------

describe("schedule properties", () => {
  it("never violates a hard constraint (capacity, ports, taints, node affinity, spread skew, pod (anti-)affinity) and leaves a pod out only when nothing fits", () => {
    fc.assert(
      fc.property(nodesArb(0, 8), podsArb(20), fc.integer(), (nodes, pods, seed) => {
        const r = schedule(nodes, pods, { seed, preemption: false });
        const placed = new Map(r.placements.map((p) => [p.id, p.node]));
        expect(placed.size + r.unschedulable.length).toBe(pods.length);
        let fleet: NodeSnapshot[] = nodes;
        for (const p of pods) {
          const target = placed.get(p.id);
          if (target === undefined) {
            expect(fleet.filter((n) => fits(p, n, fleet)).map((n) => n.name)).toEqual([]);
            continue;
          }
          expect(fits(p, fleet.find((n) => n.name === target)!, fleet)).toBe(true);
          fleet = withPlacement(fleet, p, target);
        }
        for (const n of fleet) {
          expect(n.requested.cpuMillis).toBeLessThanOrEqual(n.allocatable.cpuMillis);
          expect(n.requested.memoryBytes).toBeLessThanOrEqual(n.allocatable.memoryBytes);
          expect(dongles(n.requested)).toBeLessThanOrEqual(dongles(n.allocatable));
          expect(n.podCount).toBeLessThanOrEqual(n.allocatable.pods);
          expect(n.freePorts).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("places each pod at a best-scoring node of a fresh evaluation of the snapshot as it stood (incremental state = recomputed state)", () => {
    fc.assert(
      fc.property(nodesArb(1, 8), podsArb(15), fc.integer(), (nodes, pods, seed) => {
        const r = schedule(nodes, pods, { seed, preemption: false });
        const placed = new Map(r.placements.map((p) => [p.id, p]));
        let fleet: NodeSnapshot[] = nodes;
        for (const p of pods) {
          const ev = evaluatePod(fleet, p);
          const pl = placed.get(p.id);
          if (pl === undefined) {
            expect(ev.best).toEqual([]);
            const u = r.unschedulable.find((x) => x.id === p.id)!;
            expect(u.message).toBe(ev.message);
            continue;
          }
          expect(ev.best).toContain(pl.node);
          expect(ev.nodes.find((n) => n.node === pl.node)!.total).toBe(pl.score);
          fleet = withPlacement(fleet, p, pl.node);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never picks an infeasible node when it samples a large fleet", () => {
    fc.assert(
      fc.property(nodesArb(100, 160), podsArb(12), fc.integer(), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 200 }), (nodes, pods, seed, pct, start) => {
        const r = schedule(nodes, pods, { seed, preemption: false, percentageOfNodesToScore: pct, startIndex: start });
        const placed = new Map(r.placements.map((p) => [p.id, p.node]));
        let fleet: NodeSnapshot[] = nodes;
        for (const p of pods) {
          const target = placed.get(p.id);
          if (target === undefined) {
            expect(fleet.some((n) => fits(p, n, fleet))).toBe(false);
            continue;
          }
          expect(fits(p, fleet.find((n) => n.name === target)!, fleet)).toBe(true);
          fleet = withPlacement(fleet, p, target);
        }
        expect(r.nextStartIndex).toBeGreaterThanOrEqual(0);
        expect(r.nextStartIndex).toBeLessThan(nodes.length);
      }),
      { numRuns: 40 },
    );
  });

  it("gives the same result for the same seed, whatever the order of the nodes array", () => {
    fc.assert(
      fc.property(nodesArb(0, 8), podsArb(15), fc.integer(), (nodes, pods, seed) => {
        const a = schedule(nodes, pods, { seed });
        expect(schedule(nodes, pods, { seed })).toEqual(a);
        expect(schedule([...nodes].reverse(), pods, { seed })).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it("does not modify its inputs", () => {
    fc.assert(
      fc.property(nodesArb(0, 8), podsArb(15), fc.integer(), (nodes, pods, seed) => {
        const before = structuredClone({ nodes, pods });
        schedule(nodes, pods, { seed });
        for (const p of pods) selectVictims(p, nodes, { seed });
        expect({ nodes, pods }).toEqual(before);
      }),
      { numRuns: 150 },
    );
  });

  it("spreads replicas of one owner over identical empty nodes with max − min ≤ 1", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 1000 }), fc.integer(), (nodeCount, replicas, cpu, seed) => {
        const nodes = Array.from({ length: nodeCount }, (_, i) => node(`n${i}`, { allocatable: { cpuMillis: 64_000, memoryBytes: 256 * 1024 * Mi, pods: 110 }, freePorts: 1000 }));
        const pods = Array.from(
          { length: replicas },
          (_, i): PodRequest => ({ id: `web-${i}`, owner: "Deployment/default/web", requests: { cpuMillis: cpu, memoryBytes: 0 }, requestsForScoring: { cpuMillis: cpu || 100, memoryBytes: 200 * Mi }, ports: 1 }),
        );
        const r = schedule(nodes, pods, { seed });
        expect(r.placements).toHaveLength(replicas);
        const counts = nodes.map((n) => r.placements.filter((p) => p.node === n.name).length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });
});

describe("preemption properties", () => {
  it("only removes lower-priority pods, after which the pod fits its nominated node; without a nomination no removal helps", () => {
    fc.assert(
      fc.property(nodesArb(1, 6), podsArb(1), fc.integer(), (nodes, [p], seed) => {
        if (p === undefined) return;
        const pr = { ...p, priority: 5 };
        const r = selectVictims(pr, nodes, { seed });
        const priority = pr.priority;
        if (r === undefined) {
          // Nothing fits now, or preemption cannot help: then removing every lower-priority pod fits nowhere either
          // (unless the pod already fits somewhere).
          // (Required pod affinity is unresolvable for preemption, as in Kubernetes, even where removing the only
          // matching pods would let the pod in as the first of its group.)
          if (nodes.some((n) => fits(pr, n, nodes)) || pr.affinity?.podAffinity !== undefined) return;
          for (const n of nodes) {
            const without = nodes.map((x) => (x === n ? stripLower(x, priority) : x));
            expect(fits(pr, without.find((x) => x.name === n.name)!, without)).toBe(false);
          }
          return;
        }
        expect(nodes.some((n) => fits(pr, n, nodes))).toBe(false);
        for (const v of r.victims) expect(v.priority).toBeLessThan(priority);
        const gone = new Set(r.victims.map((v) => v.name));
        const after = nodes.map((n) => (n.name === r.node ? dropPods(n, gone) : n));
        expect(fits(pr, after.find((n) => n.name === r.node)!, after)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** The node without the named pods (aggregates adjusted). */
function dropPods(n: NodeSnapshot, names: ReadonlySet<string>): NodeSnapshot {
  const keep = (n.pods ?? []).filter((p) => !names.has(p.name));
  const gone = (n.pods ?? []).filter((p) => names.has(p.name));
  const cpu = gone.reduce((s, p) => s + (p.requests?.cpuMillis ?? 0), 0);
  const freed = gone.reduce((s, p) => s + dongles(p.requests), 0);
  const podsByOwner = { ...n.podsByOwner };
  for (const p of gone) if (p.owner !== undefined) podsByOwner[p.owner] = (podsByOwner[p.owner] ?? 1) - 1;
  return {
    ...n,
    pods: keep,
    podCount: n.podCount - gone.length,
    requested: { ...n.requested, cpuMillis: n.requested.cpuMillis - cpu, ...(freed > 0 ? { extended: { [DONGLE]: dongles(n.requested) - freed } } : {}) },
    requestedForScoring: { ...n.requestedForScoring, cpuMillis: n.requestedForScoring.cpuMillis - cpu },
    podsByOwner,
  };
}

function stripLower(n: NodeSnapshot, priority: number): NodeSnapshot {
  return dropPods(n, new Set((n.pods ?? []).filter((p) => (p.priority ?? 0) < priority).map((p) => p.name)));
}

describe("claims (VolumeBinding)", () => {
  const NODES = ["a", "b", "c", "d"];
  const claimArb = fc.record({ claim: fc.constantFrom("default/x", "default/y", "other/x"), bound: fc.option(fc.constantFrom(...NODES, "gone"), { nil: undefined }) });
  it("puts every pod of a claim on one node, the bound one when the claim has one, and never on another", () => {
    fc.assert(
      fc.property(fc.subarray(NODES, { minLength: 1 }), fc.array(fc.uniqueArray(claimArb, { selector: (c) => c.claim, maxLength: 2 }), { minLength: 1, maxLength: 8 }), fc.integer(), (names, podClaims, seed) => {
        // One binding per claim for the whole pass, as the operator would give it.
        const binding = new Map<string, string | undefined>();
        for (const cs of podClaims) for (const c of cs) if (!binding.has(c.claim)) binding.set(c.claim, c.bound);
        const pods: PodRequest[] = podClaims.map((cs, i) => ({
          id: `p${i}`,
          owner: `Deployment/default/w${i % 2}`,
          requests: { cpuMillis: 10, memoryBytes: Mi },
          requestsForScoring: { cpuMillis: 10, memoryBytes: Mi },
          ports: 0,
          claims: [...new Set(cs.map((c) => c.claim))].sort().map((name) => ({ name, ...(binding.get(name) !== undefined ? { node: binding.get(name)! } : {}) })),
        }));
        const r = schedule(
          names.map((n) => node(n)),
          pods,
          { seed },
        );
        const where = new Map<string, string>();
        for (const p of r.placements) {
          for (const c of pods.find((x) => x.id === p.id)!.claims!) {
            if (c.node !== undefined) expect(p.node).toBe(c.node);
            const seen = where.get(c.name);
            if (seen !== undefined) expect(p.node).toBe(seen);
            where.set(c.name, p.node);
          }
        }
        // A pod whose claims are all unbound or bound to present nodes, and agree, is placed.
        for (const p of pods) {
          const bound = new Set(p.claims!.flatMap((c) => (c.node ? [c.node] : [])));
          if (bound.size === 0 && p.claims!.every((c) => !where.has(c.name))) expect(r.placements.some((x) => x.id === p.id)).toBe(true);
          if ([...bound].some((b) => !names.includes(b)) || bound.size > 1) expect(r.placements.some((x) => x.id === p.id)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
