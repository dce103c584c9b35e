import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../operator/src/api/errors.js";
import type { Node } from "../../../operator/src/api/objects.js";
import { buildGraph, formatFieldPath } from "../../../operator/src/graph/index.js";
import type { ManifestObject } from "../../../operator/src/manifest/types.js";
import { deployment, manifest, namespace, node, rollout, service } from "./fabricate.js";

/** A Node whose portRange is `range`. */
function rangedNode(name: string, range: string): Node {
  const n = node(name);
  return { ...n, spec: { ...n.spec, portRange: range } };
}

const NODE_PORT0 = ["spec", "ports", 0, "nodePort"];
const TARGET = (i: number) => ["spec", "ports", i, "targetPort"];
const HTTP = [{ name: "http", containerPort: 8080 }];

describe("buildGraph's rules of Services", () => {
  type Expected = { code: ErrorCode; severity: "error" | "warning"; at: number; path: (string | number)[] };
  const cases: { name: string; objects: ManifestObject[]; expected: Expected[] }[] = [
    {
      name: "accepts a Service that selects a Deployment whose container declares its targetPort by name",
      objects: [manifest(deployment("web", "default", { ports: HTTP })), manifest(service("web", "default", { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] }))],
      expected: [],
    },
    {
      name: "accepts a Service that selects a Rollout's pod template by a subset of its labels",
      objects: [manifest(rollout("api", "default", { ports: HTTP, labels: { app: "api", tier: "back" } })), manifest(service("api", "default", { selector: { tier: "back" }, ports: [{ port: 80, targetPort: 8080 }] }))],
      expected: [],
    },
    {
      name: "warns, without failing the commit, about a selector that matches no workload's pod template",
      objects: [manifest(deployment("web", "default", { ports: HTTP })), manifest(service("web", "default", { selector: { app: "webb" }, ports: [{ port: 80, targetPort: "http" }] }))],
      expected: [{ code: "MissingReference", severity: "warning", at: 1, path: ["spec", "selector"] }],
    },
    {
      name: "looks for the selected workloads in the Service's namespace only",
      objects: [manifest(namespace("shop")), manifest(deployment("web", "shop", { ports: HTTP })), manifest(service("web", "default", { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] }))],
      expected: [{ code: "MissingReference", severity: "warning", at: 2, path: ["spec", "selector"] }],
    },
    {
      name: "warns about a targetPort name that no selected workload's containers declare",
      objects: [
        manifest(deployment("web", "default", { ports: HTTP })),
        manifest(
          service("web", "default", {
            selector: { app: "web" },
            ports: [
              { name: "a", port: 80, targetPort: "http" },
              { name: "b", port: 81, targetPort: "admin" },
            ],
          }),
        ),
      ],
      expected: [{ code: "MissingReference", severity: "warning", at: 1, path: TARGET(1) }],
    },
    {
      name: "warns about a numeric targetPort, or a defaulted one, that no selected container declares (only declared ports get host ports)",
      objects: [
        manifest(deployment("web", "default", { ports: HTTP })),
        manifest(
          service("web", "default", {
            selector: { app: "web" },
            ports: [
              { name: "a", port: 8080 },
              { name: "b", port: 80, targetPort: 9090 },
              { name: "c", port: 81 },
            ],
          }),
        ),
      ],
      expected: [
        { code: "MissingReference", severity: "warning", at: 1, path: TARGET(1) },
        { code: "MissingReference", severity: "warning", at: 1, path: TARGET(2) },
      ],
    },
    {
      name: "does not take a UDP container port of that name for the TCP port a Service asks for",
      objects: [
        manifest(deployment("dns", "default", { ports: [{ name: "dns", containerPort: 53, protocol: "UDP" }] })),
        manifest(service("dns", "default", { selector: { app: "dns" }, ports: [{ port: 53, targetPort: "dns" }] })),
      ],
      expected: [{ code: "MissingReference", severity: "warning", at: 1, path: TARGET(0) }],
    },
    {
      name: "accepts a targetPort that one of several selected workloads declares",
      objects: [
        manifest(deployment("a", "default", { labels: { app: "x", v: "1" } })),
        manifest(deployment("b", "default", { labels: { app: "x", v: "2" }, ports: HTTP })),
        manifest(service("x", "default", { selector: { app: "x" }, ports: [{ port: 80, targetPort: "http" }] })),
      ],
      expected: [],
    },
    {
      name: "leaves a Service without selector to the manifest stage's warning",
      objects: [manifest(service("ext", "default"))],
      expected: [],
    },
    {
      name: "reports the same nodePort in two Services as an error at each",
      objects: [manifest(service("a", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] })), manifest(service("b", "default", { type: "LoadBalancer", ports: [{ port: 81, nodePort: 30080 }] }))],
      expected: [
        { code: "InvalidField", severity: "error", at: 0, path: NODE_PORT0 },
        { code: "InvalidField", severity: "error", at: 1, path: NODE_PORT0 },
      ],
    },
    {
      name: "reports a nodePort outside 30000-32767 when the commit declares no Node (the default node's range)",
      objects: [manifest(service("a", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 8080 }] }))],
      expected: [{ code: "InvalidField", severity: "error", at: 0, path: NODE_PORT0 }],
    },
    {
      name: "reports a nodePort outside the portRange of any Node in the commit",
      objects: [manifest(rangedNode("a", "30000-32767")), manifest(rangedNode("b", "20000-20099")), manifest(service("s", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }))],
      expected: [{ code: "InvalidField", severity: "error", at: 2, path: NODE_PORT0 }],
    },
    {
      name: "accepts a nodePort inside every Node's portRange, also outside the default range",
      objects: [manifest(rangedNode("a", "20000-20099")), manifest(rangedNode("b", "20050-20199")), manifest(service("s", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 20060 }] }))],
      expected: [],
    },
  ];

  it.each(cases)("$name", ({ objects, expected }) => {
    const { graph, diagnostics } = buildGraph(objects);
    const want = expected
      .map((e) => ({ ...objects[e.at]!.locate(e.path), code: e.code, severity: e.severity, field: formatFieldPath(e.path) }))
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
    // Each diagnostic names the Service it is about (locate() gives the object's key).
    expect(diagnostics.map(({ file, line, col, object, code, severity, field }) => ({ file, line, col, object, code, severity, field }))).toEqual(want);
    for (const d of diagnostics) expect(d.message.length).toBeGreaterThan(0);
    // Services are objects of the graph like any other, with no edges of their own.
    for (const m of objects) expect(graph.has(m.key)).toBe(true);
    for (const e of graph.edges()) expect(e.from.startsWith("Service/") || e.to.startsWith("Service/")).toBe(false);
  });

  it("names the other Service and says a nodePort is reserved out of each node's portRange", () => {
    const { diagnostics } = buildGraph([
      manifest(rangedNode("b", "20000-20099")),
      manifest(service("a", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] })),
      manifest(service("c", "default", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] })),
    ]);
    const forA = diagnostics.filter((d) => d.file.startsWith("Service_default_a"));
    expect(forA.map((d) => d.message).join("\n")).toMatch(/Service\/default\/c/);
    expect(forA.map((d) => d.message).join("\n")).toMatch(/reserved out of each node's portRange/);
    expect(forA.map((d) => d.message).join("\n")).toMatch(/Node "b" \(20000-20099\)/);
  });

  it("gives the same diagnostics whatever the order of the objects", () => {
    const objects = [
      manifest(deployment("web", "default", { ports: HTTP })),
      manifest(service("a", "default", { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80, nodePort: 30080, targetPort: "admin" }] })),
      manifest(service("b", "default", { type: "NodePort", selector: { app: "nope" }, ports: [{ port: 80, nodePort: 30080 }] })),
    ];
    expect(buildGraph([...objects].reverse()).diagnostics).toEqual(buildGraph(objects).diagnostics);
  });
});
