/**
 * The operator's policy file: how it is read (every problem with file:line, one InvalidArgument), and what
 * it allows per namespace when a commit is read (PolicyDenied at the field, default deny).
 */
import { describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { ManifestCache, loadManifests } from "../../../operator/src/manifest/index.js";
import { parsePolicy, policyDiagnostics, type Policy } from "../../../operator/src/manifest/policy.js";
import type { ManifestObject } from "../../../operator/src/manifest/types.js";
import type { DesiredObject } from "../../../operator/src/api/objects.js";
import { codeOf } from "../../support/errors.js";

/** The "file:line" prefixes of a policy file's problems. */
function problemLines(text: string): string[] {
  try {
    parsePolicy(text, "policy.yaml");
  } catch (err) {
    if (!isCoxError(err, "InvalidArgument")) throw err;
    return [...err.message.matchAll(/^(policy\.yaml:\d+):\d+: /gm)].map((m) => m[1]!);
  }
  return [];
}

describe("policy files", () => {
  it("read a namespace entry, normalizing capability names", () => {
    const policy = parsePolicy("namespaces:\n  monitoring:\n    allowPrivileged: true\n    allowHostPID: true\n    allowedCapabilities: [cap_net_admin, SYS_TIME, NET_ADMIN]\n", "policy.yaml");
    expect(policy.namespaces.get("monitoring")).toEqual({
      allowPrivileged: true,
      allowHostPath: false,
      allowHostPID: true,
      allowHostIPC: false,
      allowedCapabilities: ["NET_ADMIN", "SYS_TIME"],
    });
  });

  it.each<[string, string, string[]]>([
    ["an empty file", "", ["policy.yaml:1"]],
    ["a list instead of a mapping", "- monitoring\n", ["policy.yaml:1"]],
    ["an unknown top-level field", "namespaces: {}\nallowAll: true\n", ["policy.yaml:2"]],
    ["namespaces that are not a mapping", "namespaces: [default]\n", ["policy.yaml:1"]],
    ["a name that is no namespace", "namespaces:\n  Shop_1: {}\n", ["policy.yaml:2"]],
    ["a flag that is not a boolean, and an unknown field", "namespaces:\n  shop:\n    allowPrivileged: yes\n    allowEverything: true\n", ["policy.yaml:3", "policy.yaml:4"]],
    ["a capability Linux does not have", "namespaces:\n  shop:\n    allowedCapabilities:\n      - NET_ADMIN\n      - FLY\n", ["policy.yaml:5"]],
    ["YAML that does not parse, where the parser notices", "namespaces:\n  shop: {allowPrivileged: true\n", ["policy.yaml:3"]],
  ])("report %s at its line", (_, text, lines) => {
    expect(codeOf(() => parsePolicy(text, "policy.yaml"))).toBe("InvalidArgument");
    expect(problemLines(text)).toEqual(lines);
  });
});

const AGENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: NS
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      hostPID: true
      hostIPC: true
      containers:
        - name: agent
          image: agent:1
          securityContext:
            privileged: true
            capabilities:
              add: [NET_ADMIN, SYS_TIME]
`;

/** The fields a commit with the agent in `namespace` is denied, read under `policy`. */
function denied(namespace: string, policy?: Policy): string[] {
  const set = loadManifests([{ path: "agent.yaml", content: AGENT.replace("NS", namespace) }], { cache: new ManifestCache(), ...(policy ? { policy } : {}) });
  expect(set.diagnostics.every((d) => d.code === "PolicyDenied")).toBe(true);
  return set.diagnostics.map((d) => `${d.line} ${d.field}`);
}

const ALL_DENIED = [
  "13 spec.template.spec.hostPID",
  "14 spec.template.spec.hostIPC",
  "19 spec.template.spec.containers[0].securityContext.privileged",
  "21 spec.template.spec.containers[0].securityContext.capabilities.add[0]",
  "21 spec.template.spec.containers[0].securityContext.capabilities.add[1]",
];

describe("the policy of a commit", () => {
  const policy = parsePolicy(
    `namespaces:
  "*":
    allowedCapabilities: [SYS_TIME]
  monitoring:
    allowPrivileged: true
    allowHostPID: true
    allowHostIPC: true
    allowedCapabilities: [NET_ADMIN, SYS_TIME]
  lab:
    allowHostIPC: true
    allowedCapabilities: ["*"]
`,
    "policy.yaml",
  );

  it.each<[string, string, Policy | undefined, string[]]>([
    ["denies everything without a policy file", "monitoring", undefined, ALL_DENIED],
    ["allows what a namespace's own entry allows", "monitoring", policy, []],
    ['falls back to the "*" entry for a namespace it does not name', "shop", policy, ALL_DENIED.filter((f) => !f.endsWith("add[1]"))],
    ['uses a namespace\'s own entry whole, without the "*" entry\'s grants, and "*" capabilities for any', "lab", policy, ALL_DENIED.filter((f) => !f.includes("hostIPC") && !f.includes("capabilities"))],
    ['denies everything in a namespace a file without "*" does not name', "shop", parsePolicy("namespaces:\n  monitoring: {allowPrivileged: true}\n", "p.yaml"), ALL_DENIED],
  ])("%s", (_, namespace, p, want) => {
    expect(denied(namespace, p)).toEqual(want);
  });

  it("denies a hostPath volume unless allowHostPath", () => {
    // The volume schema is not this reading's: the template is given as the volumes feature types it.
    const object = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "agent", namespace: "monitoring" },
      spec: { selector: {}, template: { metadata: {}, spec: { containers: [], volumes: [{ name: "logs", hostPath: { path: "/var/log" } }] } } },
    } as unknown as DesiredObject;
    const at = { file: "agent.yaml", line: 1, col: 1 };
    const objects: ManifestObject[] = [{ key: "Deployment/monitoring/agent", object, source: at, locate: () => ({ ...at, object: "Deployment/monitoring/agent" }) }];
    expect(policyDiagnostics(policy, objects).map((d) => `${d.code} ${d.field}`)).toEqual(["PolicyDenied spec.template.spec.volumes[0].hostPath"]);
    expect(policyDiagnostics(parsePolicy("namespaces:\n  monitoring: {allowHostPath: true}\n", "p.yaml"), objects)).toEqual([]);
  });
});
