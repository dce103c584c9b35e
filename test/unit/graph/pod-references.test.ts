import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../../operator/src/api/errors.js";
import type { EnvFromSource, EnvVar } from "../../../operator/src/api/generated/index.js";
import type { Deployment } from "../../../operator/src/api/objects.js";
import { buildGraph, formatFieldPath } from "../../../operator/src/graph/index.js";
import { configMap, deployment, manifest, rollout, secret } from "./fabricate.js";

const C0 = ["spec", "template", "spec", "containers", 0];
const SECRET_REF = [...C0, "env", 0, "valueFrom", "secretKeyRef"];
const ENV_FROM = (i: number, ref: "configMapRef" | "secretRef") => [...C0, "envFrom", i, ref, "name"];

/** The Deployment "web" in default whose container has `env` and `envFrom`. */
function web(env: EnvVar[], envFrom?: EnvFromSource[]): Deployment {
  const d = deployment("web", "default");
  const c = d.spec.template.spec.containers[0]!;
  c.env = env;
  if (envFrom) c.envFrom = envFrom;
  return d;
}

const secretEnv = (ref: { name: string; key: string; optional?: boolean }): EnvVar[] => [{ name: "S", valueFrom: { secretKeyRef: ref } }];

describe("env references to Secrets and envFrom sources", () => {
  const cases: { name: string; objects: ReturnType<typeof manifest>[]; edges: [string, string][]; problems: { code: ErrorCode; severity?: "warning"; field: (string | number)[] }[] }[] = [
    {
      name: "a secretKeyRef links the Secret to the workload",
      objects: [manifest(secret("db", "default", { password: "pw-value" })), manifest(web(secretEnv({ name: "db", key: "password" })))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [],
    },
    {
      name: "a secretKeyRef to a Secret that is not in the commit is MissingReference at its name",
      objects: [manifest(web(secretEnv({ name: "db", key: "password" })))],
      edges: [],
      problems: [{ code: "MissingReference", field: [...SECRET_REF, "name"] }],
    },
    {
      name: "a secretKeyRef to a key the Secret lacks is MissingReference at its key",
      objects: [manifest(secret("db", "default", { user: "app" })), manifest(web(secretEnv({ name: "db", key: "password" })))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [{ code: "MissingReference", field: [...SECRET_REF, "key"] }],
    },
    {
      name: "an optional secretKeyRef may name a missing Secret or key",
      objects: [manifest(secret("db", "default", { user: "app" })), manifest(web([...secretEnv({ name: "db", key: "password", optional: true }), ...secretEnv({ name: "gone", key: "x", optional: true })]))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [],
    },
    {
      name: "a Secret value that is not UTF-8 cannot be an env value: InvalidField at the key",
      objects: [manifest(secret("db", "default", { password: new Uint8Array([0xff, 0xfe, 0x41]) })), manifest(web(secretEnv({ name: "db", key: "password" })))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [{ code: "InvalidField", field: [...SECRET_REF, "key"] }],
    },
    {
      name: "a Secret value with a NUL byte cannot be an env value: InvalidField at the key",
      objects: [manifest(secret("db", "default", { password: "a\u0000b" })), manifest(web(secretEnv({ name: "db", key: "password" })))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [{ code: "InvalidField", field: [...SECRET_REF, "key"] }],
    },
    {
      name: "envFrom links each ConfigMap and Secret it reads to the workload, Rollouts too",
      objects: [
        manifest(configMap("cfg", "default", { A: "1" })),
        manifest(secret("db", "default", { B: "2" })),
        manifest(web([], [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "db" } }])),
        manifest(
          (() => {
            const r = rollout("api", "default");
            r.spec.template.spec.containers[0]!.envFrom = [{ secretRef: { name: "db" } }];
            return r;
          })(),
        ),
      ],
      edges: [
        ["ConfigMap/default/cfg", "Deployment/default/web"],
        ["Secret/default/db", "Deployment/default/web"],
        ["Secret/default/db", "Rollout/default/api"],
      ],
      problems: [],
    },
    {
      name: "an envFrom source that is not in the commit is MissingReference at its name, unless optional",
      objects: [manifest(web([], [{ configMapRef: { name: "cfg" } }, { secretRef: { name: "db" } }, { secretRef: { name: "opt", optional: true } }]))],
      edges: [],
      problems: [
        { code: "MissingReference", field: ENV_FROM(0, "configMapRef") },
        { code: "MissingReference", field: ENV_FROM(1, "secretRef") },
      ],
    },
    {
      name: "envFrom keys that are not variable names (with the prefix) are skipped with a warning at the source",
      objects: [manifest(configMap("cfg", "default", { "a b": "1", "1st": "2", ok: "3" })), manifest(web([], [{ configMapRef: { name: "cfg" } }, { prefix: "X_", configMapRef: { name: "cfg" } }]))],
      edges: [["ConfigMap/default/cfg", "Deployment/default/web"]],
      problems: [
        { code: "InvalidField", severity: "warning", field: ENV_FROM(0, "configMapRef") },
        { code: "InvalidField", severity: "warning", field: ENV_FROM(1, "configMapRef") },
      ],
    },
    {
      name: "an envFrom Secret with a value no environment can hold is InvalidField at the source",
      objects: [manifest(secret("db", "default", { TOKEN: "a\u0000b" })), manifest(web([], [{ secretRef: { name: "db" } }]))],
      edges: [["Secret/default/db", "Deployment/default/web"]],
      problems: [{ code: "InvalidField", field: ENV_FROM(0, "secretRef") }],
    },
  ];

  it.each(cases)("$name", ({ objects, edges, problems }) => {
    const { graph, diagnostics } = buildGraph(objects);
    expect(diagnostics.map((d) => ({ code: d.code, field: d.field, ...(d.severity === "warning" ? { severity: "warning" } : {}) }))).toEqual(
      problems.map((p) => ({ code: p.code, field: formatFieldPath(p.field), ...(p.severity ? { severity: p.severity } : {}) })),
    );
    expect(graph.edges().map((e) => [e.from, e.to])).toEqual(edges);
  });

  it("no message quotes a Secret value", () => {
    const value = "pw-\u0000-very-secret";
    const { diagnostics } = buildGraph([manifest(secret("db", "default", { password: value, "bad key": value })), manifest(web(secretEnv({ name: "db", key: "password" }), [{ secretRef: { name: "db" } }]))]);
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) expect(d.message).not.toContain("very-secret");
  });
});
