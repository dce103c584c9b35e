import { describe, expect, it } from "vitest";
import type { LifecycleHandler } from "../../../operator/src/api/generated/index.js";
import type { ConfigMap, Deployment } from "../../../operator/src/api/objects.js";
import { expandVars } from "../../../operator/src/controllers/workload/env.js";
import { planTemplate, podLaunches } from "../../../operator/src/controllers/workload/template.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
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

  it("in host mode the container sees its assigned host ports as PORT and PORT_<NAME>", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const [launch] = podLaunches(plan, { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" });
    expect(launch!.env.PORT).toBe("30001");
    expect(launch!.env.PORT_HTTP).toBe("30001");
    expect(launch!.env.PORT_ADMIN).toBe("30002");
    expect(launch!.env.URL).toBe("http://localhost:30001/");
    expect(launch!.env.GREETING).toBe("hi");
    expect(launch!.args).toEqual(["--listen=30001", "--admin=30002", "$(PORT)", "$(UNKNOWN)"]);
    expect(launch!.ports.map((p) => [p.containerPort, p.hostPort])).toEqual([[8080, 30001], [9090, 30002]]);
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

  it("the same plan and placement always give the same launch (spec hash included)", () => {
    const plan = planTemplate(deployment(), lookup(cfg("hi")));
    const at = { pod: "web-abc-1", node: node("host"), hostPorts: [30001, 30002], commit: "c0ffee", instance: "coxswain" };
    expect(podLaunches(plan, at)).toEqual(podLaunches(plan, at));
  });
});
