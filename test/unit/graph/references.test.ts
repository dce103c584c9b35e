import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../operator/src/api/errors.js";
import type { Deployment } from "../../../operator/src/api/objects.js";
import type { ManifestObject } from "../../../operator/src/manifest/types.js";
import { formatDiagnostic } from "../../../operator/src/manifest/types.js";
import { buildGraph, formatFieldPath, tlsSecretProblem } from "../../../operator/src/graph/index.js";
import { configMap, cronJob, dependsOn, deployment, manifest, namespace, priorityClass, rollout, secret, tcpNode } from "./fabricate.js";

/** Test-only TLS material: a CA, a client certificate it signed, that certificate's key, and an unrelated key. */
const tls = (file: string) => readFileSync(new URL(`../../fixtures/manifests/tls/${file}`, import.meta.url), "utf8");
const PEM = { ca: tls("ca.crt"), crt: tls("tls.crt"), key: tls("tls.key"), otherKey: tls("other.key") };
const GOOD_TLS = { "ca.crt": PEM.ca, "tls.crt": PEM.crt, "tls.key": PEM.key };

/** `d` with these pod volumes. */
function withVolumes(d: Deployment, volumes: NonNullable<Deployment["spec"]["template"]["spec"]["volumes"]>): Deployment {
  return { ...d, spec: { ...d.spec, template: { ...d.spec.template, spec: { ...d.spec.template.spec, volumes } } } };
}

const SECRET_REF = ["spec", "tls", "secretRef", "name"];
const PRIORITY = ["spec", "template", "spec", "priorityClassName"];
const ENV0 = ["spec", "template", "spec", "containers", 0, "env", 0, "valueFrom", "configMapKeyRef"];
const DEPENDS = ["metadata", "annotations", "coxswain.io/depends-on"];

describe("buildGraph edges of the new kinds", () => {
  const cases: { name: string; objects: ManifestObject[]; edges: [string, string][] }[] = [
    {
      name: "links a Node's TLS Secret to the Node, in the Secret's namespace",
      objects: [manifest(namespace("fleet")), manifest(secret("certs", "fleet", GOOD_TLS)), manifest(tcpNode("a", "certs", "fleet")), manifest(secret("certs", "default", GOOD_TLS)), manifest(tcpNode("b", "certs"))],
      edges: [
        ["Namespace/fleet", "Secret/fleet/certs"],
        ["Secret/default/certs", "Node/b"],
        ["Secret/fleet/certs", "Node/a"],
      ],
    },
    {
      name: "links a PriorityClass to every workload whose pod template names it, Deployments and Rollouts",
      objects: [
        manifest(priorityClass("high", 1000)),
        manifest(priorityClass("low", -5)),
        manifest(deployment("web", "default", { priorityClassName: "high" })),
        manifest(rollout("api", "default", { priorityClassName: "high" })),
        manifest(deployment("batch", "default", { priorityClassName: "low" })),
      ],
      edges: [
        ["PriorityClass/high", "Deployment/default/web"],
        ["PriorityClass/high", "Rollout/default/api"],
        ["PriorityClass/low", "Deployment/default/batch"],
      ],
    },
    {
      name: "accepts the built-in system PriorityClasses without declaring them (no edge)",
      objects: [manifest(deployment("dns", "default", { priorityClassName: "system-cluster-critical" })), manifest(rollout("agent", "default", { priorityClassName: "system-node-critical" }))],
      edges: [],
    },
    {
      name: "links a ConfigMap to the Rollouts whose env reads it, as for Deployments",
      objects: [manifest(configMap("cfg", "default", { a: "1" })), manifest(rollout("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      edges: [["ConfigMap/default/cfg", "Rollout/default/web"]],
    },
    {
      name: "links a ConfigMap and a Secret to the workloads whose volumes read them, and an optional missing one to nothing",
      objects: [
        manifest(configMap("cfg", "default", { a: "1" })),
        manifest(secret("creds", "default", { k: "v" })),
        manifest(
          withVolumes(deployment("web", "default"), [
            { name: "c", configMap: { name: "cfg" } },
            { name: "s", secret: { secretName: "creds", items: [{ key: "k", path: "k" }] } },
            { name: "o", secret: { secretName: "not-here", optional: true } },
          ]),
        ),
      ],
      edges: [
        ["ConfigMap/default/cfg", "Deployment/default/web"],
        ["Secret/default/creds", "Deployment/default/web"],
      ],
    },
    {
      name: "links a CronJob to the ConfigMaps and PriorityClass its jobTemplate's pod template names",
      objects: [manifest(configMap("cfg", "default", { a: "1" })), manifest(priorityClass("low", -5)), manifest(cronJob("report", "default", { priorityClassName: "low", env: [{ configMap: "cfg", key: "a" }] }))],
      edges: [
        ["ConfigMap/default/cfg", "CronJob/default/report"],
        ["PriorityClass/low", "CronJob/default/report"],
      ],
    },
    {
      name: "resolves a bare depends-on name to the Rollout when there is no Deployment of that name",
      objects: [manifest(rollout("api", "default")), manifest(deployment("db", "default")), manifest(deployment("web", "default", { annotations: dependsOn("api, db, Rollout/api") }))],
      edges: [
        ["Deployment/default/db", "Deployment/default/web"],
        ["Rollout/default/api", "Deployment/default/web"],
      ],
    },
  ];

  it.each(cases)("$name", ({ objects, edges }) => {
    const { graph, diagnostics } = buildGraph(objects);
    expect(diagnostics).toEqual([]);
    expect(graph.edges().map((e) => [e.from, e.to])).toEqual(edges);
  });

  it("keys Rollouts Rollout/namespace/name whichever apiVersion they were written with", () => {
    const { graph, diagnostics } = buildGraph([manifest(rollout("a", "default", { apiVersion: "argoproj.io/v1alpha1" })), manifest(rollout("b", "default", { apiVersion: "coxswain.io/v1alpha1" }))]);
    expect(diagnostics).toEqual([]);
    expect(graph.ofKind("Rollout").map((e) => e.key)).toEqual(["Rollout/default/a", "Rollout/default/b"]);
  });
});

describe("buildGraph diagnostics of the new kinds", () => {
  type Expected = { code: ErrorCode; at: number; path: (string | number)[] };
  const cases: { name: string; objects: ManifestObject[]; expected: Expected[] }[] = [
    {
      name: "accepts a Node whose TLS Secret holds a CA, a client certificate and its key as PEM",
      objects: [manifest(secret("certs", "default", GOOD_TLS)), manifest(tcpNode("a", "certs"))],
      expected: [],
    },
    {
      name: "accepts the TLS material in a kubernetes.io/tls Secret",
      objects: [manifest(secret("certs", "default", GOOD_TLS, "kubernetes.io/tls")), manifest(tcpNode("a", "certs"))],
      expected: [],
    },
    {
      name: "reports a Node whose TLS Secret is not in the commit, at the secret reference",
      objects: [manifest(tcpNode("a", "certs"))],
      expected: [{ code: "MissingReference", at: 0, path: SECRET_REF }],
    },
    {
      name: "reports a Node whose TLS Secret is in another namespace than the reference says",
      objects: [manifest(namespace("fleet")), manifest(secret("certs", "fleet", GOOD_TLS)), manifest(tcpNode("a", "certs"))],
      expected: [{ code: "MissingReference", at: 2, path: SECRET_REF }],
    },
    {
      name: "reports a TLS Secret without tls.key as SecretInvalid",
      objects: [manifest(secret("certs", "default", { "ca.crt": PEM.ca, "tls.crt": PEM.crt })), manifest(tcpNode("a", "certs"))],
      expected: [{ code: "SecretInvalid", at: 1, path: SECRET_REF }],
    },
    {
      name: "reports a TLS Secret whose ca.crt is not a PEM certificate",
      objects: [manifest(secret("certs", "default", { ...GOOD_TLS, "ca.crt": "not a certificate" })), manifest(tcpNode("a", "certs"))],
      expected: [{ code: "SecretInvalid", at: 1, path: SECRET_REF }],
    },
    {
      name: "reports a TLS Secret whose tls.key is a certificate instead of a key",
      objects: [manifest(secret("certs", "default", { ...GOOD_TLS, "tls.key": PEM.crt })), manifest(tcpNode("a", "certs"))],
      expected: [{ code: "SecretInvalid", at: 1, path: SECRET_REF }],
    },
    {
      name: "reports a TLS Secret whose tls.key does not belong to its tls.crt",
      objects: [manifest(secret("certs", "default", { ...GOOD_TLS, "tls.key": PEM.otherKey })), manifest(tcpNode("a", "certs"))],
      expected: [{ code: "SecretInvalid", at: 1, path: SECRET_REF }],
    },
    {
      name: "reports a workload naming a PriorityClass that is not declared, as Kubernetes rejects such pods",
      objects: [manifest(deployment("web", "default", { priorityClassName: "high" })), manifest(rollout("api", "default", { priorityClassName: "nope" }))],
      expected: [
        { code: "MissingReference", at: 0, path: PRIORITY },
        { code: "MissingReference", at: 1, path: PRIORITY },
      ],
    },
    {
      name: "reports every PriorityClass with globalDefault after the first by key",
      objects: [
        manifest(priorityClass("b", 10, { globalDefault: true })),
        manifest(priorityClass("a", 5, { globalDefault: true })),
        manifest(priorityClass("c", 1, { globalDefault: true })),
        manifest(priorityClass("d", 1)),
      ],
      expected: [
        { code: "InvalidField", at: 0, path: ["globalDefault"] },
        { code: "InvalidField", at: 2, path: ["globalDefault"] },
      ],
    },
    {
      name: "reports a Rollout's env reference to a missing ConfigMap",
      objects: [manifest(rollout("web", "default", { env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [{ code: "MissingReference", at: 0, path: [...ENV0, "name"] }],
    },
    {
      name: "reports a CronJob's missing ConfigMap and PriorityClass at their place under spec.jobTemplate",
      objects: [manifest(cronJob("report", "default", { priorityClassName: "nope", env: [{ configMap: "cfg", key: "a" }] }))],
      expected: [
        { code: "MissingReference", at: 0, path: ["spec", "jobTemplate", ...ENV0, "name"] },
        { code: "MissingReference", at: 0, path: ["spec", "jobTemplate", ...PRIORITY] },
      ],
    },
    {
      name: "rejects a bare depends-on name when both a Deployment and a Rollout have it",
      objects: [manifest(deployment("api", "default")), manifest(rollout("api", "default")), manifest(deployment("web", "default", { annotations: dependsOn("api") }))],
      expected: [{ code: "InvalidField", at: 2, path: DEPENDS }],
    },
  ];

  it.each(cases)("$name", ({ objects, expected }) => {
    const { diagnostics } = buildGraph(objects);
    const line = (d: { file: string; line: number; col: number; code: string; severity: string; field: string }) => `${d.file}:${d.line}:${d.col} ${d.severity} ${d.code} ${d.field}`;
    const want = expected.map(({ code, at, path }) => line({ ...objects[at]!.locate(path), code, severity: "error", field: formatFieldPath(path) }));
    expect(diagnostics.map(line).sort()).toEqual(want.sort());
    for (const d of diagnostics) expect(d.message.length).toBeGreaterThan(0);
  });

  it("never prints the TLS material in a diagnostic", () => {
    const variants = [
      { "ca.crt": PEM.ca, "tls.crt": PEM.crt },
      { ...GOOD_TLS, "ca.crt": "PLAINTEXT-CA-MARKER" },
      { ...GOOD_TLS, "tls.key": PEM.otherKey },
      { ...GOOD_TLS, "tls.key": "PLAINTEXT-KEY-MARKER" },
    ];
    for (const values of variants) {
      const { diagnostics } = buildGraph([manifest(secret("certs", "default", values)), manifest(tcpNode("a", "certs"))]);
      expect(diagnostics.map((d) => d.code)).toEqual(["SecretInvalid"]);
      const text = diagnostics.map(formatDiagnostic).join("\n");
      for (const v of Object.values(values)) {
        for (const line of v.split("\n").filter((l) => l.length >= 8 && !l.startsWith("-----"))) expect(text).not.toContain(line);
        expect(text).not.toContain(Buffer.from(v).toString("base64").slice(0, 16));
      }
    }
  });

  it("finds no problem in good TLS material and one in an empty Secret", () => {
    expect(tlsSecretProblem(secret("s", "default", GOOD_TLS))).toBeUndefined();
    expect(tlsSecretProblem(secret("s", "default", {}))).toBeDefined();
  });
});
