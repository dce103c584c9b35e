import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_PROFILE, schedule } from "../../../operator/src/scheduler/index.js";
import type { CycleState, NodeSnapshot, PodRequest } from "../../../operator/src/scheduler/types.js";
import { Gi, Mi, node, pod } from "./builders.js";

const owners = ["Deployment/default/web", "Deployment/default/api", "Deployment/ops/db"];

/** A node whose requests are within its allocatable (the fleet cache never reports more). */
const nodeArb = fc
  .record({
    unschedulable: fc.boolean(),
    cpu: fc.integer({ min: 0, max: 8000 }),
    memMi: fc.integer({ min: 0, max: 16384 }),
    pods: fc.integer({ min: 0, max: 12 }),
    usedCpuPct: fc.integer({ min: 0, max: 100 }),
    usedMemPct: fc.integer({ min: 0, max: 100 }),
    podCount: fc.integer({ min: 0, max: 12 }),
    freePorts: fc.integer({ min: 0, max: 6 }),
    byOwner: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 3, maxLength: 3 }),
  })
  .map((r) => {
    const requested = { cpuMillis: Math.floor((r.cpu * r.usedCpuPct) / 100), memoryBytes: Math.floor((r.memMi * r.usedMemPct) / 100) * Mi };
    return {
      unschedulable: r.unschedulable,
      labels: {},
      allocatable: { cpuMillis: r.cpu, memoryBytes: r.memMi * Mi, pods: r.pods },
      requested,
      requestedForScoring: { ...requested },
      podCount: Math.min(r.podCount, r.pods),
      freePorts: r.freePorts,
      podsByOwner: Object.fromEntries(owners.map((o, i) => [o, r.byOwner[i]!]).filter(([, c]) => (c as number) > 0)),
    };
  });

const nodesArb = fc
  .array(nodeArb, { minLength: 0, maxLength: 8 })
  .map((ns) => ns.map((n, i): NodeSnapshot => ({ name: `node-${String(i).padStart(2, "0")}`, ...n })));

const podArb = fc.record({
  owner: fc.constantFrom(...owners, ""),
  cpu: fc.integer({ min: 0, max: 3000 }),
  memMi: fc.integer({ min: 0, max: 6000 }),
  ports: fc.integer({ min: 0, max: 2 }),
});

const podsArb = fc
  .array(podArb, { minLength: 0, maxLength: 25 })
  .map((ps) =>
    ps.map(
      (p, i): PodRequest => ({
        id: `pod-${i}`,
        owner: p.owner,
        requests: { cpuMillis: p.cpu, memoryBytes: p.memMi * Mi },
        requestsForScoring: { cpuMillis: p.cpu || 100, memoryBytes: (p.memMi || 200) * Mi },
        ports: p.ports,
      }),
    ),
  );

/** Applies a pod to a reference copy of its node (what the scheduler's assume step must do). */
function apply(n: NodeSnapshot, p: PodRequest): void {
  n.requested.cpuMillis += p.requests.cpuMillis;
  n.requested.memoryBytes += p.requests.memoryBytes;
  n.requestedForScoring.cpuMillis += p.requestsForScoring.cpuMillis;
  n.requestedForScoring.memoryBytes += p.requestsForScoring.memoryBytes;
  n.podCount += 1;
  n.freePorts -= p.ports;
  n.podsByOwner[p.owner] = (n.podsByOwner[p.owner] ?? 0) + 1;
}

/** Default-profile total score of every node for a pod, recomputed independently of the pass. */
function totals(p: PodRequest, feasible: NodeSnapshot[]): number[] {
  const sum = feasible.map(() => 0);
  for (const plugin of DEFAULT_PROFILE.scores) {
    const state: CycleState = new Map();
    plugin.preScore?.(p, feasible, state);
    const s = Float64Array.from(feasible.map((n) => plugin.score(p, n, state)));
    plugin.normalize?.(p, s, feasible, state);
    s.forEach((v, i) => (sum[i]! += v * plugin.weight));
  }
  return sum;
}

function fits(n: NodeSnapshot, p: PodRequest): boolean {
  return DEFAULT_PROFILE.filters.every((f) => f.filter(p, n, new Map()) === undefined);
}

describe("schedule properties", () => {
  it("never takes a node beyond its allocatable cpu, memory, pods or free ports", () => {
    fc.assert(
      fc.property(nodesArb, podsArb, fc.integer(), (nodes, pods, seed) => {
        const r = schedule(nodes, pods, { seed });
        const ref = new Map(nodes.map((n) => [n.name, structuredClone(n)]));
        const byId = new Map(pods.map((p) => [p.id, p]));
        for (const pl of r.placements) apply(ref.get(pl.node)!, byId.get(pl.id)!);
        for (const n of ref.values()) {
          expect(n.requested.cpuMillis).toBeLessThanOrEqual(n.allocatable.cpuMillis);
          expect(n.requested.memoryBytes).toBeLessThanOrEqual(n.allocatable.memoryBytes);
          expect(n.podCount).toBeLessThanOrEqual(n.allocatable.pods);
          expect(n.freePorts).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never places a pod on an unschedulable node", () => {
    fc.assert(
      fc.property(nodesArb, podsArb, (nodes, pods) => {
        const cordoned = new Set(nodes.filter((n) => n.unschedulable).map((n) => n.name));
        for (const pl of schedule(nodes, pods).placements) expect(cordoned.has(pl.node)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("places or explains every pod, each at a best-scoring feasible node given the pods before it", () => {
    fc.assert(
      fc.property(nodesArb, podsArb, fc.integer(), (nodes, pods, seed) => {
        const r = schedule(nodes, pods, { seed });
        const placed = new Map(r.placements.map((p) => [p.id, p]));
        const failed = new Map(r.unschedulable.map((u) => [u.id, u]));
        expect(placed.size + failed.size).toBe(pods.length);
        const ref = nodes.map((n) => structuredClone(n)).sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const p of pods) {
          const feasible = ref.filter((n) => fits(n, p));
          const pl = placed.get(p.id);
          if (pl === undefined) {
            expect(feasible).toEqual([]);
            const reasons: Record<string, number> = {};
            for (const n of ref) {
              const first = DEFAULT_PROFILE.filters.map((f) => f.filter(p, n, new Map())).find((x) => x !== undefined);
              for (const reason of typeof first === "string" ? [first] : (first ?? [])) reasons[reason] = (reasons[reason] ?? 0) + 1;
            }
            expect(failed.get(p.id)!.reasons).toEqual(reasons);
            continue;
          }
          const scores = totals(p, feasible);
          const chosen = feasible.findIndex((n) => n.name === pl.node);
          expect(chosen).toBeGreaterThanOrEqual(0);
          expect(scores[chosen]).toBe(Math.max(...scores));
          expect(pl.score).toBe(scores[chosen]);
          apply(feasible[chosen]!, p);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("spreads replicas of one owner over identical empty nodes with max − min ≤ 1", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 4096 }),
        fc.integer(),
        (nodeCount, replicas, cpu, memMi, seed) => {
          const nodes = Array.from({ length: nodeCount }, (_, i) =>
            node(`n${i}`, { allocatable: { cpuMillis: 64_000, memoryBytes: 256 * Gi, pods: 110 }, freePorts: 1000 }),
          );
          const requests = { cpuMillis: cpu, memoryBytes: memMi * Mi };
          const pods = Array.from({ length: replicas }, (_, i) => pod(`web-${i}`, { requests }));
          const r = schedule(nodes, pods, { seed });
          expect(r.placements).toHaveLength(replicas);
          const counts = nodes.map((n) => r.placements.filter((p) => p.node === n.name).length);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives the same result for the same seed, whatever the order of the nodes array", () => {
    fc.assert(
      fc.property(nodesArb, podsArb, fc.integer(), (nodes, pods, seed) => {
        const a = schedule(nodes, pods, { seed });
        expect(schedule(nodes, pods, { seed })).toEqual(a);
        expect(schedule([...nodes].reverse(), pods, { seed })).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it("does not mutate its inputs", () => {
    fc.assert(
      fc.property(nodesArb, podsArb, fc.integer(), (nodes, pods, seed) => {
        const before = structuredClone({ nodes, pods });
        schedule(nodes, pods, { seed });
        expect({ nodes, pods }).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });
});
