import { describe, expect, it } from "vitest";
import type { LifecycleHandler } from "../../../operator/src/api/generated/index.js";
import type { ConfigMap, Deployment, Secret } from "../../../operator/src/api/objects.js";
import { expandVars } from "../../../operator/src/controllers/workload/env.js";
import { planTemplate, podLaunches, pullConfigsOf } from "../../../operator/src/controllers/workload/template.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { podGraceSeconds } from "../../../operator/src/runtime/kubelet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";

function deployment(overrides: Partial<Deployment["spec"]["template"]["spec"]["containers"][0]> = {}): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "app",
              image: "app:v1",
              args: ["--listen=$(PORT)", "--admin=$(PORT_ADMIN)", "$$(PORT)", "$(UNKNOWN)"],
              env: [
                { name: "GREETING", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } },
                { name: "URL", value: "http://localhost:$(PORT)/" },
              ],
              ports: [
                { name: "http", containerPort: 8080 },
                { name: "admin", containerPort: 9090 },
              ],
              resources: { requests: { cpu: "250m", memory: "64Mi" } },
              readinessProbe: { httpGet: { path: "/healthz", port: "http" } },
              ...overrides,
            },
          ],
        },
      },
    },
  };
}

const cfg = (greeting: string): ConfigMap => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "shop" }, data: { greeting } });
const lookup = (c: ConfigMap) => (key: string) => (key === "ConfigMap/shop/cfg" ? c : undefined);
const node = (network: "host" | "bridge"): NodeConfig => ({ name: "n1", endpoint: "unix:///x.sock", network, address: "10.0.0.5", portRange: { from: 30000, to: 30009 }, unschedulable: false, labels: {} });

describe("pod template", () => {
  it("expands $(VAR) as Kubernetes does: known names replaced, $$ escapes, unknown references kept", () => {
    expect(expandVars("a $(X) b $$(X) c $(Y) $(", { X: "1" })).toBe("a 1 b $(X) c $(Y) $(");
  });

  it("a revision changes with the template and with the ConfigMap values it reads, not with replicas", () => {
    const base = planTemplate(deployment(), lookup(cfg("hi"))).revision;
    const scaled = deployment();
    scaled.spec.replicas = 9;
    expect(planTemplate(scaled, lookup(cfg("hi"))).revision).toBe(base);
    expect(planTemplate(deployment(), lookup(cfg("hello"))).revision).not.toBe(base);
    expect(planTemplate(deployment({ image: "app:v2" }), lookup(cfg("hi"))).revision).not.toBe(base);
  });

  it('runs the containers under the engine\'s init unless the template says coxswain.io/init: "false", which is a new revision', () => {
    const at = { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" };
    const plain = planTemplate(deployment(), lookup(cfg("hi")));
    expect(podLaunches(plain, at)[0]!.noInit).toBeUndefined();
    const own = deployment();
    own.spec.template.metadata.annotations = { "coxswain.io/init": "false" };
    const planned = planTemplate(own, lookup(cfg("hi")));
    expect(podLaunches(planned, at)[0]!.noInit).toBe(true);
    expect(planned.revision).not.toBe(plain.revision);
  });

  it("in host mode the container sees its assigned host ports as PORT and PORT_<NAME>", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(launch!.env.PORT).toBe("30001");
    expect(launch!.env.PORT_HTTP).toBe("30001");
    expect(launch!.env.PORT_ADMIN).toBe("30002");
    expect(launch!.env.URL).toBe("http://localhost:30001/");
    expect(launch!.env.GREETING).toBe("hi");
    expect(launch!.args).toEqual(["--listen=30001", "--admin=30002", "$(PORT)", "$(UNKNOWN)"]);
    expect(launch!.ports.map((p) => [p.containerPort, p.hostPort])).toEqual([
      [8080, 30001],
      [9090, 30002],
    ]);
  });

  it("in bridge mode the container sees its declared container ports and the host ports are published to them", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("bridge"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(launch!.env.PORT).toBe("8080");
    expect(launch!.env.PORT_ADMIN).toBe("9090");
    expect(launch!.network).toBe("bridge");
    expect(launch!.ports[0]!.hostPort).toBe(30001);
  });

  it("labels carry everything needed to rebuild state after a restart, the probe resolved to the host port", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    const l = launch!.labels;
    expect(l[LABELS.owner]).toBe("coxswain");
    expect(l[LABELS.namespace]).toBe("shop");
    expect(l[LABELS.workload]).toBe("web");
    expect(l[LABELS.pod]).toBe("web-abc-1");
    expect(l[LABELS.revision]).toBe(plan.revision);
    expect(l[LABELS.commit]).toBe("c0ffee");
    expect(JSON.parse(l[LABELS.requests]!)).toEqual({ cpuMillis: 250, memoryBytes: 64 * 2 ** 20 });
    expect(JSON.parse(l[LABELS.readiness]!)).toMatchObject({ type: "http", port: 30001, path: "/healthz", periodSeconds: 10, failureThreshold: 3 });
    expect(launch!.runtimeName).toBe("cx_shop_web-abc-1_app");
  });

  it.each<[string, LifecycleHandler, unknown]>([
    ["an HTTP GET on a named port, resolved to its host port", { httpGet: { path: "/drain", port: "admin" } }, { type: "http", port: 30002, path: "/drain" }],
    ["an exec command", { exec: { command: ["sh", "-c", "kill -USR1 1"] } }, { type: "exec", command: ["sh", "-c", "kill -USR1 1"] }],
    ["a sleep", { sleep: { seconds: 7 } }, { type: "sleep", seconds: 7 }],
  ])("a preStop hook is kept in a label for the fleet to run after a restart: %s", (_, preStop, label) => {
    const plan = planTemplate(deployment({ lifecycle: { preStop } }), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(JSON.parse(launch!.labels[LABELS.preStop]!)).toEqual(label);
    expect(plan.revision).not.toBe(planTemplate(deployment(), lookup(cfg("hi"))).revision);
  });

  it.each<[string, LifecycleHandler, unknown]>([
    ["an HTTP GET on a container port number, resolved to its host port", { httpGet: { path: "/warm", port: 9090 } }, { type: "http", port: 30002, path: "/warm" }],
    ["an exec command", { exec: { command: ["touch", "/tmp/started"] } }, { type: "exec", command: ["touch", "/tmp/started"] }],
    ["a sleep", { sleep: { seconds: 2 } }, { type: "sleep", seconds: 2 }],
  ])("a postStart hook is kept in a label of its own for the kubelet: %s", (_, postStart, label) => {
    const plan = planTemplate(deployment({ lifecycle: { postStart } }), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(JSON.parse(launch!.labels[LABELS.postStart]!)).toEqual(label);
    expect(launch!.labels[LABELS.preStop]).toBeUndefined();
    expect(JSON.parse(launch!.labels[LABELS.probes]!)).toEqual({ grace: 30 }); // for the kubelet's stop after a failed hook
    expect(plan.revision).not.toBe(planTemplate(deployment(), lookup(cfg("hi"))).revision);
  });

  it("every container records the pod's grace period, probes or not, so that any stop of the pod can use it", () => {
    const d = deployment();
    d.spec.template.spec.terminationGracePeriodSeconds = 12;
    const [launch] = podLaunches(planTemplate(d, lookup(cfg("hi"))), { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(JSON.parse(launch!.labels[LABELS.probes]!)).toEqual({ grace: 12 });
    expect(podGraceSeconds({ containers: [{ labels: launch!.labels }] })).toBe(12);
  });

  it("a gRPC probe is resolved to the host port of its container port, with its service", () => {
    const plan = planTemplate(deployment({ livenessProbe: { grpc: { port: 9090, service: "cart" }, periodSeconds: 2 }, startupProbe: { grpc: { port: 8080 } } }), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("bridge"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    const probes = JSON.parse(launch!.labels[LABELS.probes]!);
    expect(probes.liveness).toEqual({ type: "grpc", port: 30002, service: "cart", initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    expect(probes.startup).toMatchObject({ type: "grpc", port: 30001 });
    expect(probes.startup.service).toBeUndefined();
  });

  it("the same plan and placement always give the same launch (spec hash included)", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const at = { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" };
    expect(podLaunches(plan, at)).toEqual(podLaunches(plan, at));
  });
});

describe("image pulls of a pod template", () => {
  const REGISTRY = "registry.example.com";
  const pullSecret = (password: string): Secret =>
    ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "registry", namespace: "shop" },
      type: "kubernetes.io/dockerconfigjson",
      stringData: { ".dockerconfigjson": JSON.stringify({ auths: { [REGISTRY]: { username: "ci", password } } }) },
    }) as Secret;
  const withSecrets = (d: Deployment): Deployment => {
    d.spec.template.spec.imagePullSecrets = [{ name: "registry" }];
    return d;
  };
  const at = { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" };
  const launchWith = (d: Deployment, password: string) => {
    const plan = planTemplate(d, lookup(cfg("hi")));
    const secrets = (k: string) => (k === "Secret/shop/registry" ? pullSecret(password) : undefined);
    return { plan, launch: podLaunches(plan, { ...at, pullConfigs: pullConfigsOf(plan, secrets) })[0]! };
  };

  it.each<[string, string, string | undefined, string]>([
    ["a tagged image is pulled when missing by default", "app:v1", undefined, "IfNotPresent"],
    ["a latest image is pulled every time by default", "app:latest", undefined, "Always"],
    ["the written policy wins", "app:v1", "Never", "Never"],
  ])("%s", (_, image, policy, expected) => {
    const { launch } = launchWith(deployment({ image, ...(policy ? { imagePullPolicy: policy as "Never" } : {}) }), "pw");
    expect(launch.pull?.policy).toBe(expected);
  });

  it("gives the launch the credentials of its registry, and keeps them out of the labels and the spec hash", () => {
    const password = "pa55-for-the-pull-only";
    const { launch } = launchWith(withSecrets(deployment({ image: `${REGISTRY}/team/app:v1` })), password);
    expect(launch.pull).toEqual({ policy: "IfNotPresent", auth: [{ username: "ci", password, serveraddress: REGISTRY }] });
    expect(JSON.stringify(launch.labels)).not.toContain(password);
    expect(JSON.stringify({ ...launch, pull: undefined })).not.toContain(password);
  });

  it("gives an image of another registry no credentials", () => {
    const { launch } = launchWith(withSecrets(deployment({ image: "elsewhere.example.com/app:v1" })), "pw");
    expect(launch.pull).toEqual({ policy: "IfNotPresent" });
  });

  it("rolls no pod for a rotated registry password: the revision and the spec hash stay, the next pull gets the new one", () => {
    const before = launchWith(withSecrets(deployment({ image: `${REGISTRY}/app:v1` })), "old-password");
    const after = launchWith(withSecrets(deployment({ image: `${REGISTRY}/app:v1` })), "new-password");
    expect(after.plan.revision).toBe(before.plan.revision);
    expect(after.launch.labels).toEqual(before.launch.labels);
    expect(after.launch.pull?.auth?.[0]?.password).toBe("new-password");
  });

  it("makes a new revision when the policy or the list of pull Secrets changes", () => {
    const base = planTemplate(deployment({ image: "app:v1" }), lookup(cfg("hi"))).revision;
    expect(planTemplate(deployment({ image: "app:v1", imagePullPolicy: "Always" }), lookup(cfg("hi"))).revision).not.toBe(base);
    expect(planTemplate(withSecrets(deployment({ image: "app:v1" })), lookup(cfg("hi"))).revision).not.toBe(base);
  });
});

describe("init containers", () => {
  const withInits = (): Deployment => {
    const d = deployment();
    d.spec.template.spec.volumes = [{ name: "shared", emptyDir: {} }];
    d.spec.template.spec.initContainers = [
      {
        name: "migrate",
        image: "tools:v1",
        command: ["migrate", "--greeting=$(GREETING)"],
        env: [{ name: "GREETING", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } }],
        resources: { requests: { cpu: "1", memory: "32Mi" } },
        securityContext: { readOnlyRootFilesystem: true },
        volumeMounts: [{ name: "shared", mountPath: "/shared" }],
      },
      { name: "seed", image: "tools:v1", resources: { requests: { cpu: "100m", memory: "1Gi" } } },
    ];
    return d;
  };
  const placement = { pod: "web-abc-x", node: node("host"), hostPorts: [30000, 30001], commit: "c1", instance: "coxswain" };

  it("are launched first, in order, labelled with their place and the pod's count of them; only the first starts at once", () => {
    const launches = podLaunches(planTemplate(withInits(), lookup(cfg("hi"))), placement);
    expect(launches.map((l) => [l.labels[LABELS.container], l.labels[LABELS.init], l.labels[LABELS.initCount], l.startLater])).toEqual([
      ["migrate", "0", "2", undefined],
      ["seed", "1", "2", true],
      ["app", undefined, "2", true],
    ]);
    const migrate = launches[0]!;
    // Env sources, volumes and securityContext are planned as for any container; no ports.
    expect(migrate.command).toEqual(["migrate", "--greeting=hi"]);
    expect(migrate.env.COXSWAIN_POD).toBe("web-abc-x");
    expect(migrate.env.PORT).toBeUndefined();
    expect(migrate.ports).toEqual([]);
    expect(migrate.mounts).toEqual([{ volume: "shared", mountPath: "/shared", readOnly: false }]);
    expect(migrate.volumes).toEqual([{ name: "shared", type: "emptyDir" }]);
    expect(migrate.security).toEqual({ readOnlyRootFilesystem: true });
    expect(launches[2]!.ports.map((p) => p.hostPort)).toEqual([30000, 30001]);
  });

  it("a pod without init containers starts every container at once", () => {
    expect(podLaunches(planTemplate(deployment(), lookup(cfg("hi"))), placement).map((l) => [l.startLater, l.labels[LABELS.initCount]])).toEqual([[undefined, undefined]]);
  });

  it("are part of the revision", () => {
    const base = planTemplate(withInits(), lookup(cfg("hi"))).revision;
    const changed = withInits();
    changed.spec.template.spec.initContainers![1]!.image = "tools:v2";
    expect(planTemplate(changed, lookup(cfg("hi"))).revision).not.toBe(base);
    expect(planTemplate(deployment(), lookup(cfg("hi"))).revision).not.toBe(base);
  });

  it("the pod requests the larger of its containers' sum and its largest init container, per resource, as Kubernetes does", () => {
    const plan = planTemplate(withInits(), lookup(cfg("hi")));
    expect(plan.requests).toEqual({ cpuMillis: 1000, memoryBytes: 2 ** 30 });
    expect(plan.requestsForScoring).toEqual({ cpuMillis: 1000, memoryBytes: 2 ** 30 });
    expect(plan.images).toEqual(["app:v1", "tools:v1"]);
  });

  it("extended resources are requested by the pod, summed over its containers and at least its largest init container's", () => {
    const d = withInits();
    const spec = d.spec.template.spec;
    spec.containers[0]!.resources = { requests: { cpu: "250m", "example.com/dongle": 1 }, limits: { "example.com/dongle": 1 } };
    spec.initContainers![0]!.resources = { requests: { "example.com/dongle": 2, "example.com/key": 1 }, limits: { "example.com/dongle": 2, "example.com/key": 1 } };
    const plan = planTemplate(d, lookup(cfg("hi")));
    expect(plan.requests.extended).toEqual({ "example.com/dongle": 2, "example.com/key": 1 });
    expect(plan.containers.map((c) => c.requests.extended)).toEqual([{ "example.com/dongle": 2, "example.com/key": 1 }, undefined, { "example.com/dongle": 1 }]);
    expect(JSON.parse(podLaunches(plan, placement)[2]!.labels[LABELS.requests]!)).toEqual({ cpuMillis: 250, memoryBytes: 0, extended: { "example.com/dongle": 1 } });
  });
});

describe("a pod's own names (aliases)", () => {
  const aliases = ["web-0.web", "web-0.web.shop", "web-0.web.shop.svc", "web-0.web.shop.svc.cluster.local"];
  const withSidecar = (): Deployment => {
    const d = deployment();
    d.spec.template.spec.containers.push({ name: "sidecar", image: "tools:v1" });
    d.spec.template.spec.initContainers = [{ name: "migrate", image: "tools:v1" }];
    return d;
  };
  const cases: { name: string; network: "host" | "bridge"; want: (string[] | undefined)[] }[] = [
    { name: "go to the first container that is not an init container, on a bridge node", network: "bridge", want: [undefined, aliases, undefined] },
    { name: "go nowhere on a host-network node (no address per pod)", network: "host", want: [undefined, undefined, undefined] },
  ];
  it.each(cases)("$name", ({ network, want }) => {
    const launches = podLaunches(planTemplate(withSidecar(), lookup(cfg("hi"))), { pod: "web-0", node: node(network), hostPorts: [30000, 30001], commit: "c1", instance: "coxswain", aliases });
    expect(launches.map((l) => l.aliases)).toEqual(want);
  });
});
