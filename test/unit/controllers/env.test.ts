import { describe, expect, it } from "vitest";
import type { Container, EnvFromSource, EnvVar } from "../../../operator/src/api/generated/index.js";
import type { ConfigMap, Deployment, DesiredObject, Secret } from "../../../operator/src/api/objects.js";
import { keyOf } from "../../../operator/src/api/objects.js";
import { launchEnv, planEnv, type PodEnvContext, type PodFacts } from "../../../operator/src/controllers/workload/env.js";
import { planTemplate, podLaunches } from "../../../operator/src/controllers/workload/template.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { codeOf } from "../../support/errors.js";

const cm = (name: string, data: Record<string, string>): ConfigMap => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "shop" }, data });
const secret = (name: string, values: Record<string, string>): Secret => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: "shop" },
  type: "Opaque",
  data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
});
const lookupOf =
  (...objects: DesiredObject[]) =>
  (key: string) =>
    objects.find((o) => keyOf(o) === key);

const OBJECTS = [cm("cfg", { greeting: "hi $(PORT)", LEVEL: "info", "bad key": "x", "1st": "y" }), cm("more", { LEVEL: "debug", EXTRA: "e" }), secret("db", { password: "s3cr3t-$$-value", user: "app" })];

const POD: Omit<PodEnvContext, "containers"> = { namespace: "shop", labels: { app: "web", tier: "front" }, annotations: { "example.com/team": "blue" } };
const FACTS: PodFacts = { pod: "web-abc-1", node: "n1", hostIP: "10.0.0.5", podIP: "10.0.0.5", allocatable: { cpuMillis: 3500, memoryBytes: 8 * 2 ** 30 } };
const VARS = { PORT: "30001", COXSWAIN_POD: "web-abc-1" };

function container(env: EnvVar[], envFrom?: EnvFromSource[], resources?: Container["resources"]): Container {
  return { name: "app", image: "app:v1", env, ...(envFrom ? { envFrom } : {}), ...(resources ? { resources } : {}) };
}

/** The environment a container gets, apart from VARS. */
function resolve(c: Container, others: Container[] = [], facts: PodFacts = FACTS): Record<string, string> {
  const planned = planEnv(c, { ...POD, containers: [c, ...others] }, lookupOf(...OBJECTS), {});
  const env = launchEnv(planned, VARS, facts, c.name);
  for (const k of Object.keys(VARS)) if (env[k] === VARS[k as keyof typeof VARS]) delete env[k];
  return env;
}

describe("container environment", () => {
  const cases: { name: string; container: Container; others?: Container[]; facts?: PodFacts; want: Record<string, string> }[] = [
    {
      name: "a secretKeyRef gives the Secret's decoded value, taken as it is ($$ stays)",
      container: container([{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }]),
      want: { PASSWORD: "s3cr3t-$$-value" },
    },
    {
      name: "a configMapKeyRef value is taken as it is, as the kubelet does: $(VAR) in it is not expanded",
      container: container([{ name: "GREETING", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } }]),
      want: { GREETING: "hi $(PORT)" },
    },
    {
      name: "an optional secretKeyRef to a missing Secret or key leaves the variable out",
      container: container([
        { name: "A", valueFrom: { secretKeyRef: { name: "nope", key: "x", optional: true } } },
        { name: "B", valueFrom: { secretKeyRef: { name: "db", key: "nope", optional: true } } },
      ]),
      want: {},
    },
    {
      name: "fieldRef gives the pod's name, namespace, labels, annotations, node and addresses",
      container: container([
        { name: "NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "TIER", valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
        { name: "TEAM", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.annotations['example.com/team']" } } },
        { name: "MISSING", valueFrom: { fieldRef: { fieldPath: "metadata.labels['nope']" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      ]),
      want: { NAME: "web-abc-1", NS: "shop", TIER: "front", TEAM: "blue", MISSING: "", NODE: "n1", HOST_IP: "10.0.0.5", POD_IP: "10.0.0.5" },
    },
    {
      name: "resourceFieldRef divides by the divisor and rounds up, as Kubernetes does",
      container: container(
        [
          { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
          { name: "CPU_M", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
          { name: "MEM_MI", valueFrom: { resourceFieldRef: { resource: "requests.memory", divisor: "1Mi" } } },
          { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory" } } },
          { name: "REQ_CPU", valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: 1 } } },
        ],
        undefined,
        { requests: { cpu: "100m", memory: "100M" }, limits: { cpu: "1250m", memory: "1Gi" } },
      ),
      want: { CPU: "2", CPU_M: "1250", MEM_MI: "96", MEM: String(2 ** 30), REQ_CPU: "1" },
    },
    {
      name: "a limit the container does not set is the node's allocatable amount; an unset request is 0",
      container: container([
        { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
        { name: "MEM_GI", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Gi" } } },
        { name: "REQ", valueFrom: { resourceFieldRef: { resource: "requests.memory" } } },
      ]),
      want: { CPU: "4", MEM_GI: "8", REQ: "0" },
    },
    {
      name: "resourceFieldRef.containerName reads another container of the pod",
      container: container([{ name: "SIDE_MEM", valueFrom: { resourceFieldRef: { containerName: "side", resource: "limits.memory", divisor: "1Mi" } } }]),
      others: [{ name: "side", image: "side:v1", resources: { limits: { memory: "64Mi" } } }],
      want: { SIDE_MEM: "64" },
    },
    {
      name: "envFrom gives every key that is a variable name, skips the others, and a later source wins",
      container: container([], [{ configMapRef: { name: "cfg" } }, { configMapRef: { name: "more" } }]),
      want: { greeting: "hi $(PORT)", LEVEL: "debug", EXTRA: "e" },
    },
    {
      name: "envFrom with a prefix names the variables prefix + key, and a key valid only with the prefix is kept",
      container: container(
        [],
        [
          { prefix: "CFG_", configMapRef: { name: "cfg" } },
          { prefix: "DB_", secretRef: { name: "db" } },
        ],
      ),
      want: { CFG_greeting: "hi $(PORT)", CFG_LEVEL: "info", CFG_1st: "y", DB_password: "s3cr3t-$$-value", DB_user: "app" },
    },
    {
      name: "env wins over envFrom, and env[].value expands $(VAR) from envFrom variables and the ones before it",
      container: container(
        [
          { name: "LEVEL", value: "warn" },
          { name: "URL", value: "http://$(user)@localhost:$(PORT)/$(LEVEL)" },
        ],
        [{ secretRef: { name: "db" } }, { configMapRef: { name: "cfg" } }],
      ),
      want: { greeting: "hi $(PORT)", LEVEL: "warn", password: "s3cr3t-$$-value", user: "app", URL: "http://app@localhost:30001/warn" },
    },
    {
      name: "an optional envFrom source that does not exist gives nothing",
      container: container([], [{ secretRef: { name: "nope", optional: true } }, { configMapRef: { name: "nope", optional: true } }]),
      want: {},
    },
  ];

  it.each(cases)("$name", ({ container: c, others, facts, want }) => {
    expect(resolve(c, others, facts)).toEqual(want);
  });

  it("status.podIP on a bridge network is InvalidField at launch, naming the variable", () => {
    const c = container([{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }]);
    const { podIP: _, ...bridge } = FACTS;
    expect(codeOf(() => resolve(c, [], bridge))).toBe("InvalidField");
  });
});

describe("revision and Secrets", () => {
  const workload = (env: EnvVar[], envFrom?: EnvFromSource[]): Deployment => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [container(env, envFrom)] } },
    },
  });
  const node: NodeConfig = { name: "n1", endpoint: "unix:///x.sock", network: "host", address: "10.0.0.5", portRange: { from: 30000, to: 30009 }, unschedulable: false, labels: {} };
  const byKeyRef = workload([{ name: "P", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }]);
  const byEnvFrom = workload([], [{ secretRef: { name: "db" } }]);
  const byConfigMap = workload([], [{ configMapRef: { name: "cfg" } }]);

  it.each([
    ["a secretKeyRef", byKeyRef],
    ["an envFrom secretRef", byEnvFrom],
  ])("a changed Secret value read through %s makes a new revision, and the revision holds no trace of the value", (_, w) => {
    const a = planTemplate(w, lookupOf(secret("db", { password: "first-password" })));
    const b = planTemplate(w, lookupOf(secret("db", { password: "second-password" })));
    expect(b.revision).not.toBe(a.revision);
    expect(planTemplate(w, lookupOf(secret("db", { password: "first-password" }))).revision).toBe(a.revision);
    const [launch] = podLaunches(a, { pod: "web-1", node, hostPorts: [], commit: "c0ffee", instance: "coxswain" });
    expect(launch!.env.P ?? launch!.env.password).toBe("first-password");
    expect(JSON.stringify(launch!.labels)).not.toContain("first-password");
    // The runtime keeps these out of its error messages however short they are (runtime/env.ts).
    expect(launch!.secretEnv).toEqual(w === byKeyRef ? ["P"] : ["password"]);
  });

  it("a changed ConfigMap value read through envFrom makes a new revision", () => {
    expect(planTemplate(byConfigMap, lookupOf(cm("cfg", { A: "1" }))).revision).not.toBe(planTemplate(byConfigMap, lookupOf(cm("cfg", { A: "2" }))).revision);
  });

  it("the pod's name and node are resolved per pod, not in the revision", () => {
    const w = workload([{ name: "NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
    const plan = planTemplate(w, lookupOf());
    const names = ["web-1", "web-2"].map((pod) => podLaunches(plan, { pod, node, hostPorts: [], commit: "c0ffee", instance: "coxswain" })[0]!.env.NAME);
    expect(names).toEqual(["web-1", "web-2"]);
  });
});
