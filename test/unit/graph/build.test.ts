import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../operator/src/api/errors.js";
import type { DaemonSet, Deployment } from "../../../operator/src/api/objects.js";
import type { ManifestObject } from "../../../operator/src/manifest/types.js";
import { buildGraph, DesiredGraph, formatFieldPath } from "../../../operator/src/graph/index.js";
import { configMap, dependsOn, deployment, manifest, namespace, node, rollout } from "./fabricate.js";

/** The DaemonSet of a fabricated Deployment's selector and template. */
function daemonSet(d: Deployment): DaemonSet {
  return { apiVersion: "apps/v1", kind: "DaemonSet", metadata: d.metadata, spec: { selector: d.spec.selector, template: d.spec.template } };
}

const ENV0 = ["spec", "template", "spec", "containers", 0, "env", 0, "valueFrom", "configMapKeyRef"];
const DEPENDS = ["metadata", "annotations", "coxswain.io/depends-on"];

describe("buildGraph edges", () => {
  const cases: { name: string; objects: ManifestObject[]; edges: [string, string][] }[] = [
    {
      name: "links a declared Namespace to every object in it, and nothing else",
      objects: [manifest(namespace("shop")), manifest(configMap("cfg", "shop")), manifest(deployment("web", "shop")), manifest(deployment("web", "default")), manifest(node("n1"))],
      edges: [
        ["Namespace/shop", "ConfigMap/shop/cfg"],
        ["Namespace/shop", "Deployment/shop/web"],
      ],
    },
    {
      name: "links a declared default Namespace to the objects that omit their namespace",
      objects: [manifest(namespace("default")), manifest(deployment("web", "default"))],
      edges: [["Namespace/default", "Deployment/default/web"]],
    },
    {
      name: "links a ConfigMap to each Deployment whose env reads it, once however many keys are read",
      objects: [
        manifest(configMap("cfg", "default", { a: "1", b: "2" })),
        manifest(
          deployment("web", "default", {
            env: [
              { configMap: "cfg", key: "a" },
              { configMap: "cfg", key: "b" },
            ],
          }),
        ),
        manifest(deployment("api", "default", { env: [{ configMap: "cfg", key: "b" }] })),
        manifest(deployment("other", "default")),
      ],
      edges: [
        ["ConfigMap/default/cfg", "Deployment/default/api"],
        ["ConfigMap/default/cfg", "Deployment/default/web"],
      ],
    },
    {
      name: "links an optional ConfigMap reference when the ConfigMap exists, even without the key",
      objects: [manifest(configMap("cfg", "default", {})), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "missing", optional: true }] }))],
      edges: [["ConfigMap/default/cfg", "Deployment/default/web"]],
    },
    {
      name: "follows env references in every container, not only the first",
      objects: [manifest(configMap("cfg", "default", { a: "1" })), manifest(deployment("web", "default", { containers: 2, env: [{ configMap: "cfg", key: "a" }] }))],
      edges: [["ConfigMap/default/cfg", "Deployment/default/web"]],
    },
    {
      name: "resolves depends-on bare names, Kind/name and Kind/namespace/name, ignoring spaces and empty entries",
      objects: [
        manifest(namespace("ops")),
        manifest(node("n1")),
        manifest(deployment("db", "default")),
        manifest(configMap("cfg", "default")),
        manifest(deployment("log", "ops")),
        manifest(deployment("web", "default", { annotations: dependsOn(" db, ConfigMap/cfg,,Deployment/ops/log , Node/n1, Namespace/ops") })),
      ],
      edges: [
        ["ConfigMap/default/cfg", "Deployment/default/web"],
        ["Deployment/default/db", "Deployment/default/web"],
        ["Deployment/ops/log", "Deployment/default/web"],
        ["Namespace/ops", "Deployment/default/web"],
        ["Namespace/ops", "Deployment/ops/log"],
        ["Node/n1", "Deployment/default/web"],
      ],
    },
    {
      name: "lets cluster-scoped objects depend on objects named with their namespace",
      objects: [manifest(deployment("db", "default")), manifest(node("n1", dependsOn("Deployment/default/db, Node/n2"))), manifest(node("n2"))],
      edges: [
        ["Deployment/default/db", "Node/n1"],
        ["Node/n2", "Node/n1"],
      ],
    },
    {
      name: "merges a dependency declared twice into one edge",
      objects: [manifest(configMap("cfg", "default", { a: "1" })), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a" }], annotations: dependsOn("ConfigMap/cfg,ConfigMap/default/cfg") }))],
      edges: [["ConfigMap/default/cfg", "Deployment/default/web"]],
    },
    {
      name: "resolves a bare depends-on name to a workload of any kind that makes pods (a DaemonSet, a Rollout)",
      objects: [
        manifest(daemonSet(deployment("agent", "default"))),
        manifest(rollout("api", "default")),
        manifest(configMap("agent", "default")),
        manifest(deployment("web", "default", { annotations: dependsOn("agent, api") })),
      ],
      edges: [
        ["DaemonSet/default/agent", "Deployment/default/web"],
        ["Rollout/default/api", "Deployment/default/web"],
      ],
    },
    {
      name: "links a ConfigMap to a DaemonSet whose env reads it, and a DaemonSet to what depends on it",
      objects: [
        manifest(configMap("cfg", "default", { a: "1" })),
        manifest(daemonSet(deployment("agent", "default", { env: [{ configMap: "cfg", key: "a" }] }))),
        manifest(deployment("web", "default", { annotations: dependsOn("DaemonSet/agent") })),
      ],
      edges: [
        ["ConfigMap/default/cfg", "DaemonSet/default/agent"],
        ["DaemonSet/default/agent", "Deployment/default/web"],
      ],
    },
  ];

  it.each(cases)("$name", ({ objects, edges }) => {
    const { graph, diagnostics } = buildGraph(objects);
    expect(diagnostics).toEqual([]);
    expect(graph.edges().map((e) => [e.from, e.to])).toEqual(edges);
    for (const [from, to] of edges) {
      expect(graph.dependenciesOf(to)).toContain(from);
      expect(graph.dependentsOf(from)).toContain(to);
    }
  });
});

describe("buildGraph diagnostics", () => {
  type Expected = { code: ErrorCode; at: number; path: (string | number)[] };
  const cases: { name: string; objects: ManifestObject[]; expected: Expected[] }[] = [
    {
      name: "reports a namespaced object whose namespace is not declared, at metadata.namespace",
      objects: [manifest(configMap("cfg", "shop"))],
      expected: [{ code: "MissingReference", at: 0, path: ["metadata", "namespace"] }],
    },
    {
      name: "accepts objects in the default namespace without a Namespace object",
      objects: [manifest(configMap("cfg", "default")), manifest(deployment("web", "default"))],
      expected: [],
    },
    {
      name: "reports an env reference to a ConfigMap that is not in the commit, at its name",
      objects: [manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [{ code: "MissingReference", at: 0, path: [...ENV0, "name"] }],
    },
    {
      name: "reports an env reference to a ConfigMap of the same name in another namespace",
      objects: [manifest(namespace("other")), manifest(configMap("cfg", "other", { a: "1" })), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [{ code: "MissingReference", at: 2, path: [...ENV0, "name"] }],
    },
    {
      name: "reports an env reference to a key the ConfigMap does not have, at its key",
      objects: [manifest(configMap("cfg", "default", { b: "2" })), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [{ code: "MissingReference", at: 1, path: [...ENV0, "key"] }],
    },
    {
      name: "accepts an optional env reference to a missing ConfigMap",
      objects: [manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a", optional: true }] }))],
      expected: [],
    },
    {
      name: "reports an explicitly non-optional env reference to a missing key",
      objects: [manifest(configMap("cfg", "default")), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a", optional: false }] }))],
      expected: [{ code: "MissingReference", at: 1, path: [...ENV0, "key"] }],
    },
    {
      name: "reports a depends-on entry naming an object that is not in the commit",
      objects: [manifest(deployment("web", "default", { annotations: dependsOn("db") }))],
      expected: [{ code: "MissingReference", at: 0, path: DEPENDS }],
    },
    {
      name: "reports each bad depends-on entry on its own",
      objects: [manifest(deployment("web", "default", { annotations: dependsOn("db, NetworkPolicy/x, a/b/c/d, Node/ns/n, api") }))],
      expected: [
        { code: "InvalidField", at: 0, path: DEPENDS },
        { code: "InvalidField", at: 0, path: DEPENDS },
        { code: "InvalidField", at: 0, path: DEPENDS },
        { code: "MissingReference", at: 0, path: DEPENDS },
        { code: "MissingReference", at: 0, path: DEPENDS },
      ],
    },
    {
      name: "rejects a bare depends-on name that two kinds that make pods have (InvalidField), not one of another kind",
      objects: [manifest(daemonSet(deployment("db", "default"))), manifest(rollout("db", "default")), manifest(deployment("web", "default", { annotations: dependsOn("db") }))],
      expected: [{ code: "InvalidField", at: 2, path: DEPENDS }],
    },
    {
      name: "rejects a relative depends-on entry on a cluster-scoped object",
      objects: [manifest(deployment("db", "default")), manifest(node("n1", dependsOn("db")))],
      expected: [{ code: "InvalidField", at: 1, path: DEPENDS }],
    },
    {
      name: "reports a cycle of two Deployments once, on the first one's depends-on",
      objects: [manifest(deployment("a", "default", { annotations: dependsOn("b") })), manifest(deployment("b", "default", { annotations: dependsOn("a") }))],
      expected: [{ code: "DependencyCycle", at: 0, path: DEPENDS }],
    },
    {
      name: "reports an object that depends on itself as a cycle",
      objects: [manifest(deployment("a", "default", { annotations: dependsOn("a") }))],
      expected: [{ code: "DependencyCycle", at: 0, path: DEPENDS }],
    },
    {
      name: "reports a cycle closed through a derived ConfigMap edge, at the env reference",
      objects: [manifest(configMap("cfg", "default", { a: "1" }, dependsOn("Deployment/web"))), manifest(deployment("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [{ code: "DependencyCycle", at: 0, path: DEPENDS }],
    },
    {
      name: "reports two separate cycles separately",
      objects: [
        manifest(deployment("a", "default", { annotations: dependsOn("b") })),
        manifest(deployment("b", "default", { annotations: dependsOn("a") })),
        manifest(deployment("c", "default", { annotations: dependsOn("d") })),
        manifest(deployment("d", "default", { annotations: dependsOn("c") })),
      ],
      expected: [
        { code: "DependencyCycle", at: 0, path: DEPENDS },
        { code: "DependencyCycle", at: 2, path: DEPENDS },
      ],
    },
    {
      name: "reports the second of two objects with the same key and keeps the first",
      objects: [manifest(node("n1"), "a.yaml", 1), manifest(node("n1"), "b.yaml", 1)],
      expected: [{ code: "DuplicateObject", at: 1, path: [] }],
    },
  ];

  it.each(cases)("$name", ({ objects, expected }) => {
    const { diagnostics } = buildGraph(objects);
    const line = (d: { file: string; line: number; col: number; code: string; severity: string; field: string }) => `${d.file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.field}`;
    const want = expected.map(({ code, at, path }) => line({ ...objects[at]!.locate(path), code, severity: "error", field: formatFieldPath(path) }));
    expect(diagnostics.map(line).sort()).toEqual(want.sort());
    for (const d of diagnostics) expect(d.message.length).toBeGreaterThan(0);
  });

  it("returns diagnostics sorted by file, line and column", () => {
    const objects = [manifest(configMap("z", "nope"), "a.yaml", 40), manifest(configMap("y", "nope"), "a.yaml", 3), manifest(configMap("x", "nope"), "b.yaml", 1)];
    const at = (i: number) => {
      const p = objects[i]!.locate(["metadata", "namespace"]);
      return `${p.file}:${p.line}`;
    };
    const { diagnostics } = buildGraph(objects);
    expect(diagnostics.map((d) => `${d.file}:${d.line}`)).toEqual([at(1), at(0), at(2)]);
  });

  it("keeps the first of two duplicates by position whatever the input order", () => {
    const first = manifest(deployment("web", "default", { replicas: 1 }), "a.yaml", 10);
    const second = manifest(deployment("web", "default", { replicas: 2 }), "a.yaml", 50);
    for (const input of [
      [first, second],
      [second, first],
    ]) {
      const { graph, diagnostics } = buildGraph(input);
      expect(graph.size).toBe(1);
      expect(graph.get("Deployment/default/web")?.source).toEqual(first.source);
      expect(diagnostics.map((d) => [d.code, d.line])).toEqual([["DuplicateObject", 50]]);
    }
  });
});

describe("cycles", () => {
  it("lists a cycle in depends-on order starting at its smallest key", () => {
    const { graph } = buildGraph([
      manifest(deployment("c", "default", { annotations: dependsOn("a") })),
      manifest(deployment("b", "default", { annotations: dependsOn("c") })),
      manifest(deployment("a", "default", { annotations: dependsOn("b") })),
    ]);
    expect(graph.cycles()).toEqual([["Deployment/default/a", "Deployment/default/b", "Deployment/default/c"]]);
  });

  it("names the shortest cycle through the smallest key of a tangle", () => {
    // a → b → c → a and a → c → a: the two-step one is named.
    const { graph, diagnostics } = buildGraph([
      manifest(deployment("a", "default", { annotations: dependsOn("b, c") })),
      manifest(deployment("b", "default", { annotations: dependsOn("c") })),
      manifest(deployment("c", "default", { annotations: dependsOn("a") })),
    ]);
    expect(graph.cycles()).toEqual([["Deployment/default/a", "Deployment/default/c"]]);
    expect(diagnostics.map((d) => d.code)).toEqual(["DependencyCycle"]);
  });

  it("orders a cyclic graph completely and still puts outside dependencies first", () => {
    // 0 depends on the a↔b cycle; a depends on m, which is outside the cycle. 0 sorts first but waits for a;
    // once a is placed, both 0 and b are free and go by key.
    const { graph } = buildGraph([
      manifest(deployment("a", "default", { annotations: dependsOn("b, m") })),
      manifest(deployment("b", "default", { annotations: dependsOn("a") })),
      manifest(deployment("m", "default")),
      manifest(deployment("0", "default", { annotations: dependsOn("a") })),
    ]);
    expect(graph.order()).toEqual(["Deployment/default/m", "Deployment/default/a", "Deployment/default/0", "Deployment/default/b"]);
  });

  it("breaks a cycle that waits on another cycle only after that one", () => {
    // a↔b depends on c↔d through a → c: c and d come first although a is the smallest key.
    const { graph } = buildGraph([
      manifest(deployment("a", "default", { annotations: dependsOn("b, c") })),
      manifest(deployment("b", "default", { annotations: dependsOn("a") })),
      manifest(deployment("c", "default", { annotations: dependsOn("d") })),
      manifest(deployment("d", "default", { annotations: dependsOn("c") })),
    ]);
    expect(graph.order()).toEqual(["Deployment/default/c", "Deployment/default/d", "Deployment/default/a", "Deployment/default/b"]);
  });

  it("handles a depends-on chain of 20,000 objects without deep recursion", () => {
    const n = 20_000;
    const name = (i: number) => `d${String(i).padStart(5, "0")}`;
    const objects = Array.from({ length: n }, (_, i) => manifest(deployment(name(i), "default", { annotations: dependsOn(name((i + 1) % n)) })));
    const { graph, diagnostics } = buildGraph(objects);
    expect(diagnostics.map((d) => d.code)).toEqual(["DependencyCycle"]);
    expect(graph.cycles()[0]).toHaveLength(n);
    expect(graph.order()).toHaveLength(n);
  });
});

describe("DesiredGraph", () => {
  const objects = [
    manifest(namespace("shop")),
    manifest(configMap("cfg", "shop", { a: "1" })),
    manifest(deployment("web", "shop", { env: [{ configMap: "cfg", key: "a" }] })),
    manifest(deployment("api", "shop")),
    manifest(node("n2")),
    manifest(node("n1")),
  ];
  const { graph } = buildGraph(objects);

  it("lists keys, objects and kinds sorted by key", () => {
    const keys = ["ConfigMap/shop/cfg", "Deployment/shop/api", "Deployment/shop/web", "Namespace/shop", "Node/n1", "Node/n2"];
    expect(graph.keys()).toEqual(keys);
    expect(graph.size).toBe(6);
    expect(graph.objects().map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ConfigMap/cfg", "Deployment/api", "Deployment/web", "Namespace/shop", "Node/n1", "Node/n2"]);
    expect(graph.ofKind("Node").map((e) => e.object.spec.endpoint)).toEqual(["unix:///run/n1.sock", "unix:///run/n2.sock"]);
    expect(graph.ofKind("Deployment").map((e) => e.key)).toEqual(["Deployment/shop/api", "Deployment/shop/web"]);
  });

  it("answers get and has by key, with the object's source position", () => {
    const entry = graph.get("Deployment/shop/web");
    expect(entry?.object).toEqual(objects[2]!.object);
    expect(entry?.source).toEqual(objects[2]!.source);
    expect(graph.has("Deployment/shop/web")).toBe(true);
    expect(graph.has("Deployment/shop/nope")).toBe(false);
    expect(graph.get("Deployment/shop/nope")).toBeUndefined();
    expect(graph.dependenciesOf("Deployment/shop/nope")).toEqual([]);
  });

  it("orders dependencies first and breaks ties by key", () => {
    expect(graph.order()).toEqual(["Namespace/shop", "ConfigMap/shop/cfg", "Deployment/shop/api", "Deployment/shop/web", "Node/n1", "Node/n2"]);
    expect(graph.dependenciesOf("Deployment/shop/web")).toEqual(["ConfigMap/shop/cfg", "Namespace/shop"]);
    expect(graph.dependentsOf("Namespace/shop")).toEqual(["ConfigMap/shop/cfg", "Deployment/shop/api", "Deployment/shop/web"]);
  });

  it("cannot be changed through what it hands out, nor through the objects it was built from", () => {
    const dep = graph.get("Deployment/shop/web")!.object as { spec: { replicas: number } };
    expect(() => (dep.spec.replicas = 9)).toThrow(TypeError);
    expect(() => (graph.keys() as string[]).push("x")).toThrow(TypeError);
    expect(() => (graph.order() as string[]).pop()).toThrow(TypeError);
    expect(() => (graph.dependentsOf("Namespace/shop") as string[]).pop()).toThrow(TypeError);
    const input = objects[3]!.object as { spec: { replicas: number } };
    input.spec.replicas = 42;
    expect((graph.get("Deployment/shop/api")!.object as typeof input).spec.replicas).toBe(1);
    input.spec.replicas = 1;
  });

  it("has an empty graph", () => {
    const empty = DesiredGraph.empty();
    expect(empty.size).toBe(0);
    expect(empty.keys()).toEqual([]);
    expect(empty.order()).toEqual([]);
  });

  it("refuses edges to objects it does not hold", () => {
    expect(() => new DesiredGraph([{ object: node("n1") }], [{ from: "Node/n1", to: "Node/n2" }])).toThrow();
    expect(() => new DesiredGraph([{ object: node("n1") }, { object: node("n1") }])).toThrow();
  });
});
