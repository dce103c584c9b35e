import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, dataEqual } from "../../../operator/src/api/canonical.js";
import type { DesiredObject, ResourceKey } from "../../../operator/src/api/objects.js";
import { buildGraph, changeDetails, changedFields, DesiredGraph, diffGraphs, formatChange, type ChangeSet } from "../../../operator/src/graph/index.js";
import { configMap, dependsOn, deployment, manifest, namespace, node, secret } from "./fabricate.js";

const graphOf = (objects: DesiredObject[]) => buildGraph(objects.map((o) => manifest(o))).graph;

describe("diffGraphs", () => {
  it("creates everything, dependencies first, when nothing was applied before", () => {
    const after = graphOf([deployment("web", "shop", { env: [{ configMap: "cfg", key: "a" }] }), configMap("cfg", "shop", { a: "1" }), namespace("shop")]);
    const lines = diffGraphs(undefined, after).changes.map(formatChange);
    expect(lines).toEqual(["create Namespace/shop", "create ConfigMap/shop/cfg", "create Deployment/shop/web"]);
    expect(diffGraphs(DesiredGraph.empty(), after)).toEqual(diffGraphs(undefined, after));
  });

  it("deletes everything, dependents first, when the new commit is empty", () => {
    const before = graphOf([namespace("shop"), configMap("cfg", "shop", { a: "1" }), deployment("web", "shop", { env: [{ configMap: "cfg", key: "a" }] })]);
    const lines = diffGraphs(before, DesiredGraph.empty()).changes.map(formatChange);
    expect(lines).toEqual(["delete Deployment/shop/web", "delete ConfigMap/shop/cfg", "delete Namespace/shop"]);
  });

  it("names the changed fields of an update, two levels deep and sorted", () => {
    const before = graphOf([deployment("web", "default", { replicas: 1, image: "app:v1" }), configMap("cfg", "default", { a: "1", "b.conf": "x" })]);
    const after = graphOf([deployment("web", "default", { replicas: 3, image: "app:v2", annotations: { note: "x" } }), configMap("cfg", "default", { a: "1", "b.conf": "y", c: "new" })]);
    expect(diffGraphs(before, after).changes.map(formatChange)).toEqual(['update ConfigMap/default/cfg (data.c, data["b.conf"])', "update Deployment/default/web (metadata.annotations, spec.replicas, spec.template)"]);
  });

  it("sees no change when only the order of fields differs", () => {
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v && typeof v === "object"
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseKeys(x)]),
            )
          : v;
    const a = deployment("web", "default", { env: [{ configMap: "cfg", key: "a", optional: true }] });
    const b = reverseKeys(a) as DesiredObject;
    expect(JSON.stringify(b)).not.toBe(JSON.stringify(a));
    expect(diffGraphs(graphOf([a]), graphOf([b])).changes).toEqual([]);
  });

  it("puts creates and updates before deletes, each in dependency order", () => {
    const before = graphOf([namespace("old"), deployment("gone", "old"), deployment("web", "default", { replicas: 1 })]);
    const after = graphOf([namespace("new"), deployment("fresh", "new"), deployment("web", "default", { replicas: 2 })]);
    expect(diffGraphs(before, after).changes.map(formatChange)).toEqual([
      "update Deployment/default/web (spec.replicas)",
      "create Namespace/new",
      "create Deployment/new/fresh",
      "delete Deployment/old/gone",
      "delete Namespace/old",
    ]);
  });

  it("carries the objects before and after each change", () => {
    const a = deployment("web", "default", { replicas: 1 });
    const b = deployment("web", "default", { replicas: 2 });
    const [change] = diffGraphs(graphOf([a]), graphOf([b])).changes;
    expect(change).toMatchObject({ action: "update", key: "Deployment/default/web", fields: ["spec.replicas"] });
    expect(change!.before).toEqual(a);
    expect(change!.after).toEqual(b);
  });

  it("formats a change as one line", () => {
    expect(formatChange({ action: "create", key: "Deployment/default/web" })).toBe("create Deployment/default/web");
    expect(formatChange({ action: "update", key: "Deployment/default/web", fields: ["spec.replicas"] })).toBe("update Deployment/default/web (spec.replicas)");
  });

  it("names a whole top-level field that appears or disappears", () => {
    const a = { ...configMap("cfg", "default") } as DesiredObject & { data?: unknown };
    delete a.data;
    expect(changedFields(a, configMap("cfg", "default", { x: "1" }))).toEqual(["data"]);
  });
});

// ---- property tests ----------------------------------------------------------------------------

const NAMESPACES = ["default", "ops", "shop"] as const;

/** A random commit: declared namespaces, ConfigMaps, Deployments (depends-on only on lower-numbered ones, so
 *  the graph is acyclic) and Nodes, with some references broken on purpose. */
const commitArb = fc
  .record({
    namespaces: fc.subarray([...NAMESPACES]),
    configMaps: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom("c1", "c2", "c3"),
        ns: fc.constantFrom(...NAMESPACES),
        data: fc.dictionary(fc.constantFrom("a", "b", "c.d"), fc.constantFrom("1", "2"), { maxKeys: 3 }),
      }),
      { selector: (c) => `${c.ns}/${c.name}`, maxLength: 6 },
    ),
    deployments: fc.uniqueArray(
      fc.record({
        n: fc.integer({ min: 0, max: 5 }),
        ns: fc.constantFrom(...NAMESPACES),
        replicas: fc.integer({ min: 1, max: 3 }),
        image: fc.constantFrom("app:v1", "app:v2"),
        env: fc.array(fc.record({ configMap: fc.constantFrom("c1", "c2", "c3"), key: fc.constantFrom("a", "b", "c.d"), optional: fc.boolean() }), { maxLength: 3 }),
        deps: fc.subarray([0, 1, 2, 3, 4]),
      }),
      { selector: (d) => `${d.ns}/${d.n}`, maxLength: 8 },
    ),
    nodes: fc.subarray(["n1", "n2", "n3"]),
  })
  .map(({ namespaces, configMaps, deployments, nodes }) => {
    const objects: DesiredObject[] = [
      ...namespaces.map((n) => namespace(n)),
      ...configMaps.map((c) => configMap(c.name, c.ns, c.data)),
      ...deployments.map((d) => {
        const deps = d.deps.filter((j) => j < d.n).map((j) => `d${j}`);
        return deployment(`d${d.n}`, d.ns, {
          replicas: d.replicas,
          image: d.image,
          env: d.env,
          ...(deps.length ? { annotations: dependsOn(deps.join(",")) } : {}),
        });
      }),
      ...nodes.map((n) => node(n)),
    ];
    return objects;
  });

/** Shuffles with a seed drawn by fast-check, so failures shrink and replay. */
const shuffled = <T>(items: readonly T[]) =>
  fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: items.length, maxLength: items.length }).map((r) =>
    items
      .map((x, i) => [r[i]!, x] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, x]) => x),
  );

function applyChanges(before: DesiredGraph, cs: ChangeSet): Map<ResourceKey, DesiredObject> {
  const out = new Map(before.keys().map((k) => [k, before.get(k)!.object] as const));
  for (const c of cs.changes) {
    if (c.action === "delete") {
      expect(out.has(c.key)).toBe(true);
      out.delete(c.key);
    } else {
      expect(out.has(c.key)).toBe(c.action === "update");
      out.set(c.key, c.after!);
    }
  }
  return out;
}

function canonicalOf(graph: DesiredGraph) {
  return {
    keys: graph.keys(),
    order: graph.order(),
    edges: graph.edges(),
    cycles: graph.cycles(),
    objects: graph.objects().map(canonicalJson),
  };
}

describe("changeDetails", () => {
  const long = "x".repeat(41);
  const withPort = deployment("web", "default", { ports: [{ containerPort: 8080 }] });
  it.each<[string, DesiredObject, DesiredObject, string[]]>([
    ["shows a scalar field's old and new value", deployment("web", "default", { replicas: 2 }), deployment("web", "default", { replicas: 4 }), ["replicas 2 → 4"]],
    ["shows a container's image change by container name", deployment("web", "default", { image: "app:v1" }), deployment("web", "default", { image: "app:v2" }), ["main image app:v1 → app:v2"]],
    ["names a container added to the template", deployment("web", "default"), deployment("web", "default", { containers: 2 }), ["container side1 added"]],
    ["names any other template change without its values", deployment("web", "default"), withPort, ["pod template changed"]],
    [
      "names a container's env variables that changed, came or went, never their values",
      deployment("web", "default", { env: [{ configMap: "a", key: "x" }] }),
      deployment("web", "default", {
        env: [
          { configMap: "b", key: "x" },
          { configMap: "c", key: "y" },
        ],
      }),
      ["main env VAR_0 changed, VAR_1 added"],
    ],
    ["names env variables that went", deployment("web", "default", { env: [{ configMap: "a", key: "x" }] }), deployment("web", "default"), ["main env VAR_0 removed"]],
    [
      "names an image and env change together, and the rest of the template",
      deployment("web", "default", { image: "a:1" }),
      {
        ...withPort,
        spec: {
          ...withPort.spec,
          template: { ...withPort.spec.template, spec: { ...withPort.spec.template.spec, containers: [{ ...withPort.spec.template.spec.containers[0]!, image: "a:2", env: [{ name: "DEBUG", value: "1" }] }] } },
        },
      },
      ["main image a:1 → a:2", "main env DEBUG added", "pod template changed"],
    ],
    [
      "lists every changed field, in field order",
      deployment("web", "default", { replicas: 1, image: "a:1" }),
      deployment("web", "default", { replicas: 3, image: "a:2", annotations: { n: "x" } }),
      ["metadata.annotations changed", "replicas 1 → 3", "main image a:1 → a:2"],
    ],
    [
      "shows ConfigMap keys with short values, and names a key that came or went",
      configMap("cfg", "default", { a: "1", b: "2" }),
      configMap("cfg", "default", { a: "3", c: "4" }),
      ["data.a 1 → 3", "data.b 2 → (none)", "data.c (none) → 4"],
    ],
    ["only names a value too long to show", configMap("cfg", "default", { a: "1" }), configMap("cfg", "default", { a: long }), ["data.a changed"]],
    ["looks up keys that are not identifiers", configMap("cfg", "default", { "b.conf": "x" }), configMap("cfg", "default", { "b.conf": "y" }), ['data["b.conf"] x → y']],
    ["never shows a Secret's values", secret("s", "default", { token: "old-token" }), secret("s", "default", { token: "new-token" }), ["data.token changed"]],
  ])("%s", (_, before, after, want) => {
    expect(changeDetails(before, after)).toEqual(want);
  });
});

describe("diffGraphs properties", () => {
  it("finds no change between a graph and itself", () => {
    fc.assert(
      fc.property(commitArb, (objects) => {
        const g = graphOf(objects);
        expect(diffGraphs(g, g).changes).toEqual([]);
        expect(diffGraphs(g, graphOf(objects)).changes).toEqual([]);
      }),
    );
  });

  it("turns the first graph's objects into the second's when its changes are applied", () => {
    fc.assert(
      fc.property(commitArb, commitArb, (a, b) => {
        const ga = graphOf(a);
        const gb = graphOf(b);
        const cs = diffGraphs(ga, gb);
        const applied = applyChanges(ga, cs);
        expect([...applied.keys()].sort()).toEqual(gb.keys());
        for (const k of gb.keys()) expect(dataEqual(applied.get(k), gb.get(k)!.object)).toBe(true);
        for (const c of cs.changes) {
          if (c.action === "update") expect(c.fields!.length).toBeGreaterThan(0);
          expect(new Set(cs.changes.map((x) => x.key)).size).toBe(cs.changes.length);
        }
      }),
    );
  });

  it("orders changes so dependencies are applied before and deleted after their dependents", () => {
    fc.assert(
      fc.property(commitArb, commitArb, (a, b) => {
        const ga = graphOf(a);
        const gb = graphOf(b);
        const changes = diffGraphs(ga, gb).changes;
        const pos = new Map(changes.map((c, i) => [`${c.action === "delete" ? "-" : "+"}${c.key}`, i]));
        const firstDelete = changes.findIndex((c) => c.action === "delete");
        if (firstDelete >= 0) expect(changes.slice(firstDelete).every((c) => c.action === "delete")).toBe(true);
        for (const { from, to } of gb.edges()) {
          const pf = pos.get(`+${from}`);
          const pt = pos.get(`+${to}`);
          if (pf !== undefined && pt !== undefined) expect(pf).toBeLessThan(pt);
        }
        for (const { from, to } of ga.edges()) {
          const pf = pos.get(`-${from}`);
          const pt = pos.get(`-${to}`);
          if (pf !== undefined && pt !== undefined) expect(pt).toBeLessThan(pf);
        }
      }),
    );
  });

  it("does not depend on the order the objects were read in", () => {
    const arb = fc.tuple(commitArb, commitArb).chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), shuffled(a), shuffled(b)));
    fc.assert(
      fc.property(arb, ([a, b, a2, b2]) => {
        const one = buildGraph(a.map((o) => manifest(o)));
        const two = buildGraph(a2.map((o) => manifest(o)));
        expect(canonicalOf(two.graph)).toEqual(canonicalOf(one.graph));
        expect(two.diagnostics).toEqual(one.diagnostics);
        const d1 = diffGraphs(one.graph, graphOf(b)).changes;
        const d2 = diffGraphs(two.graph, graphOf(b2)).changes;
        expect(d2.map(formatChange)).toEqual(d1.map(formatChange));
        expect(d2.map((c) => canonicalJson([c.before, c.after]))).toEqual(d1.map((c) => canonicalJson([c.before, c.after])));
      }),
    );
  });
});

describe("DesiredGraph order properties", () => {
  it("respects every edge of an acyclic commit", () => {
    fc.assert(
      fc.property(commitArb, (objects) => {
        const { graph, diagnostics } = buildGraph(objects.map((o) => manifest(o)));
        expect(diagnostics.filter((d) => d.code === "DependencyCycle")).toEqual([]);
        const index = new Map(graph.order().map((k, i) => [k, i]));
        for (const { from, to } of graph.edges()) expect(index.get(from)!).toBeLessThan(index.get(to)!);
      }),
    );
  });

  /** Random graphs over Nodes n0..n9 with arbitrary (possibly cyclic) edges. */
  const randomGraphArb = fc.tuple(fc.integer({ min: 0, max: 10 }), fc.array(fc.tuple(fc.nat(9), fc.nat(9)), { maxLength: 25 })).map(([n, pairs]) => {
    const keys = Array.from({ length: n }, (_, i) => `Node/n${i}`);
    const edges = pairs.filter(([f, t]) => f < n && t < n).map(([f, t]) => ({ from: keys[f]!, to: keys[t]! }));
    return new DesiredGraph(
      keys.map((_, i) => ({ object: node(`n${i}`) })),
      edges,
    );
  });

  /** Independent acyclicity check: repeatedly remove keys with no remaining dependency. */
  const isAcyclic = (g: DesiredGraph) => {
    const left = new Set(g.keys());
    for (let progress = true; progress; ) {
      progress = false;
      for (const k of [...left]) {
        if (g.dependenciesOf(k).every((d) => !left.has(d))) {
          left.delete(k);
          progress = true;
        }
      }
    }
    return left.size === 0;
  };

  it("is the smallest-key-first topological order of any acyclic graph", () => {
    fc.assert(
      fc.property(randomGraphArb, (g) => {
        fc.pre(isAcyclic(g));
        expect(g.cycles()).toEqual([]);
        const placed = new Set<string>();
        for (const k of g.order()) {
          const free = g.keys().filter((x) => !placed.has(x) && g.dependenciesOf(x).every((d) => placed.has(d)));
          expect(k).toBe(free[0]);
          placed.add(k);
        }
        expect(placed.size).toBe(g.size);
      }),
    );
  });

  it("respects every edge between keys that are not on a common cycle, in any graph", () => {
    fc.assert(
      fc.property(randomGraphArb, (g) => {
        const keys = g.keys();
        const reach = new Map(keys.map((k) => [k, new Set(g.dependentsOf(k))]));
        for (const via of keys) for (const k of keys) if (reach.get(k)!.has(via)) for (const x of reach.get(via)!) reach.get(k)!.add(x);
        const index = new Map(g.order().map((k, i) => [k, i]));
        for (const { from, to } of g.edges()) {
          if (reach.get(to)!.has(from)) continue; // on a cycle: some edge of it must give way
          expect(index.get(from)!).toBeLessThan(index.get(to)!);
        }
      }),
    );
  });

  it("reports real cycles, each from its smallest key, and still orders every key once", () => {
    fc.assert(
      fc.property(randomGraphArb, (g) => {
        expect([...g.order()].sort()).toEqual(g.keys());
        expect(g.cycles().length === 0).toBe(isAcyclic(g));
        const seen = new Set<string>();
        for (const cycle of g.cycles()) {
          expect(cycle[0]).toBe([...cycle].sort()[0]);
          cycle.forEach((k, i) => {
            expect(seen.has(k)).toBe(false);
            seen.add(k);
            expect(g.dependenciesOf(k)).toContain(cycle[(i + 1) % cycle.length]);
          });
        }
      }),
    );
  });
});
