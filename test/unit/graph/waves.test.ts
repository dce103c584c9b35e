import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DesiredObject } from "../../../operator/src/api/objects.js";
import { buildGraph, DesiredGraph, diffGraphs, formatFieldPath } from "../../../operator/src/graph/index.js";
import { configMap, dependsOn, deployment, manifest, namespace, node, wave } from "./fabricate.js";

const DEPENDS = ["metadata", "annotations", "coxswain.io/depends-on"];

describe("sync waves", () => {
  it("reads each object's wave from argocd.argoproj.io/sync-wave, 0 by default and for unknown keys", () => {
    const { graph } = buildGraph([manifest(deployment("a", "default", { annotations: wave(-2) })), manifest(deployment("b", "default", { annotations: wave("+3") })), manifest(deployment("c", "default"))]);
    expect(graph.waveOf("Deployment/default/a")).toBe(-2);
    expect(graph.waveOf("Deployment/default/b")).toBe(3);
    expect(graph.waveOf("Deployment/default/c")).toBe(0);
    expect(graph.waveOf("Deployment/default/nope")).toBe(0);
  });

  it("orders by wave first, then dependencies, then key", () => {
    const { graph, diagnostics } = buildGraph([
      manifest(deployment("a", "default", { annotations: wave(1) })),
      manifest(deployment("b", "default", { annotations: { ...wave(1), ...dependsOn("c") } })),
      manifest(deployment("c", "default", { annotations: wave(1) })),
      manifest(deployment("z", "default", { annotations: wave(-1) })),
      manifest(deployment("m", "default")),
    ]);
    expect(diagnostics).toEqual([]);
    expect(graph.order()).toEqual(["Deployment/default/z", "Deployment/default/m", "Deployment/default/a", "Deployment/default/c", "Deployment/default/b"]);
    expect(graph.waves()).toEqual([
      { wave: -1, keys: ["Deployment/default/z"] },
      { wave: 0, keys: ["Deployment/default/m"] },
      { wave: 1, keys: ["Deployment/default/a", "Deployment/default/c", "Deployment/default/b"] },
    ]);
  });

  it("creates in wave order and deletes in reverse wave order", () => {
    const objects = [manifest(deployment("late", "default", { annotations: wave(5) })), manifest(deployment("early", "default", { annotations: wave(-5) })), manifest(deployment("mid", "default"))];
    const { graph } = buildGraph(objects);
    expect(diffGraphs(undefined, graph).changes.map((c) => c.key)).toEqual(["Deployment/default/early", "Deployment/default/mid", "Deployment/default/late"]);
    expect(diffGraphs(graph, DesiredGraph.empty()).changes.map((c) => c.key)).toEqual(["Deployment/default/late", "Deployment/default/mid", "Deployment/default/early"]);
  });

  it("reports a dependency in a later wave than its dependent as a DependencyCycle at the field that declares it", () => {
    const objects = [manifest(deployment("db", "default", { annotations: wave(2) })), manifest(deployment("web", "default", { annotations: { ...wave(1), ...dependsOn("db") } }))];
    const { graph, diagnostics } = buildGraph(objects);
    expect(graph.waveConflicts()).toEqual([{ from: "Deployment/default/db", to: "Deployment/default/web" }]);
    expect(diagnostics.map((d) => [d.code, d.line, d.field])).toEqual([["DependencyCycle", objects[1]!.locate(DEPENDS).line, formatFieldPath(DEPENDS)]]);
    // The dependency still comes first.
    expect(graph.order()).toEqual(["Deployment/default/db", "Deployment/default/web"]);
  });

  it("reports a derived edge against the waves too: a namespace applied after its objects", () => {
    const objects = [manifest(namespace("shop", wave(1))), manifest(configMap("cfg", "shop", {}, wave(0)))];
    const { diagnostics } = buildGraph(objects);
    expect(diagnostics.map((d) => [d.code, d.field])).toEqual([["DependencyCycle", "metadata.namespace"]]);
  });

  it("accepts dependencies within a wave and from lower waves", () => {
    const { diagnostics, graph } = buildGraph([
      manifest(namespace("shop", wave(-1))),
      manifest(configMap("cfg", "shop", { a: "1" })),
      manifest(deployment("web", "shop", { env: [{ configMap: "cfg", key: "a" }], annotations: wave(3) })),
    ]);
    expect(diagnostics).toEqual([]);
    expect(graph.waveConflicts()).toEqual([]);
  });
});

describe("sync wave properties", () => {
  /**
   * Random commits of Deployments d0..d9 with random waves and depends-on edges. Edges go from lower to
   * higher index only (no cycles); when `consistent`, a dependency's wave never exceeds its dependent's.
   */
  const commitArb = (consistent: boolean) =>
    fc.array(fc.record({ wave: fc.integer({ min: -3, max: 3 }), deps: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }), { maxLength: 10 }).map((specs) => {
      const waves = specs.map((s) => s.wave);
      if (consistent) for (let i = 0; i < specs.length; i++) for (const j of specs[i]!.deps) if (j < i) waves[i] = Math.max(waves[i]!, waves[j]!);
      return specs.map((s, i): DesiredObject => {
        const deps = s.deps.filter((j) => j < i).map((j) => `d${j}`);
        const annotations = { ...wave(waves[i]!), ...(deps.length ? dependsOn(deps.join(",")) : {}) };
        return deployment(`d${i}`, "default", { annotations });
      });
    });

  it("orders every consistent commit by wave and respects every edge", () => {
    fc.assert(
      fc.property(commitArb(true), (objects) => {
        const { graph, diagnostics } = buildGraph(objects.map((o) => manifest(o)));
        expect(diagnostics).toEqual([]);
        const order = graph.order();
        expect([...order].sort()).toEqual(graph.keys());
        for (let i = 1; i < order.length; i++) expect(graph.waveOf(order[i - 1]!)).toBeLessThanOrEqual(graph.waveOf(order[i]!));
        const index = new Map(order.map((k, i) => [k, i]));
        for (const { from, to } of graph.edges()) expect(index.get(from)!).toBeLessThan(index.get(to)!);
        expect(graph.waves().flatMap((w) => w.keys)).toEqual(order);
      }),
    );
  });

  it("reports exactly the edges that go from a higher wave to a lower one, and still respects every edge", () => {
    fc.assert(
      fc.property(commitArb(false), (objects) => {
        const { graph, diagnostics } = buildGraph(objects.map((o) => manifest(o)));
        const expected = graph.edges().filter((e) => graph.waveOf(e.from) > graph.waveOf(e.to));
        expect(graph.waveConflicts()).toEqual(expected);
        expect(diagnostics.filter((d) => d.code === "DependencyCycle")).toHaveLength(expected.length);
        const index = new Map(graph.order().map((k, i) => [k, i]));
        for (const { from, to } of graph.edges()) expect(index.get(from)!).toBeLessThan(index.get(to)!);
      }),
    );
  });

  it("among keys whose dependencies are placed, always places the lowest wave, then the smallest key", () => {
    fc.assert(
      fc.property(commitArb(false), (objects) => {
        const { graph } = buildGraph(objects.map((o) => manifest(o)));
        const placed = new Set<string>();
        for (const k of graph.order()) {
          const free = graph
            .keys()
            .filter((x) => !placed.has(x) && graph.dependenciesOf(x).every((d) => placed.has(d)))
            .sort((a, b) => graph.waveOf(a) - graph.waveOf(b) || (a < b ? -1 : 1));
          expect(k).toBe(free[0]);
          placed.add(k);
        }
      }),
    );
  });

  it("gives a graph built without waves the same order as before waves existed", () => {
    const g = new DesiredGraph([{ object: node("b") }, { object: node("a") }, { object: node("c") }], [{ from: "Node/c", to: "Node/a" }]);
    expect(g.order()).toEqual(["Node/b", "Node/c", "Node/a"]);
    expect(g.waves()).toEqual([{ wave: 0, keys: ["Node/b", "Node/c", "Node/a"] }]);
  });
});
