import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import { proxyConfig, type ProxyNode } from "../../../operator/src/traffic/proxy.js";
import type { ProxyConfig, ServiceRoute, ServiceSpec, TrafficPod } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";
import { pod, podPort, port, service } from "./builders.js";

const node: ProxyNode = {
  name: "n1",
  address: "10.0.0.1",
  serviceNetworkAddresses: new Map([
    ["default/web", "127.77.0.10"],
    ["default/api", "127.77.0.11"],
    ["shop/web", "127.77.0.12"],
  ]),
};

/** The proxy configuration of node n1 for `services` and the endpoints `pods` give them, with Rollouts' `routes`. */
function configFor(services: ServiceSpec[], pods: TrafficPod[], routes?: Map<string, ServiceRoute>): ProxyConfig {
  return proxyConfig(
    node,
    services,
    services.map((s) => serviceEndpoints(s, pods, routes?.get(`${s.namespace}/${s.name}`))),
    routes,
  );
}

const ROLLOUT = "Rollout/default/web";
/** A pod of the Rollout default/web at `revision`. */
const rolloutPod = (name: string, revision: string, over: Partial<TrafficPod> = {}): TrafficPod => pod(name, { owner: ROLLOUT, revision, ...over });
/** default/web carries the Rollout's split: `weight` % to revision c1, the rest to s1. */
const split = (weight: number, canary = "c1"): Map<string, ServiceRoute> => new Map([["default/web", { rollout: ROLLOUT, role: "split", stable: "s1", canary, weight }]]);

/** Listeners as "key mode [affinity] binds → servers" lines, servers as "id@address:port/weight state". */
function lines(config: ProxyConfig): string[] {
  return config.listeners.map(
    (l) =>
      `${l.key} ${l.mode}${l.affinity ? ` affinity=${l.affinity.timeoutSeconds}s` : ""} ${l.binds.map((b) => `${b.address}:${b.port}`).join(",")} → ` +
      l.servers.map((s) => `${s.id}@${s.address}:${s.port}/${s.weight} ${s.state}`).join(", "),
  );
}

const web = (over: Partial<ServiceSpec> = {}): ServiceSpec => service("web", over);
const podB = (name: string, over: Partial<TrafficPod> = {}): TrafficPod => pod(name, { node: "n2", address: "10.0.0.2", ports: [podPort({ hostPort: 31001 })], ...over });

describe("proxyConfig", () => {
  const cases: { name: string; services: ServiceSpec[]; pods: TrafficPod[]; routes?: Map<string, ServiceRoute>; want: string[] }[] = [
    {
      name: "serves a ClusterIP Service on its address with every endpoint of the fleet, weight 1",
      services: [web()],
      pods: [pod("web-a"), podB("web-b")],
      want: ["default/web:80 tcp 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 ready, web-b:31001@10.0.0.2:31001/1 ready"],
    },
    { name: "gives a headless Service no listener", services: [web({ headless: true })], pods: [pod("web-a")], want: [] },
    {
      name: "adds this node's address with the nodePort for a NodePort Service",
      services: [web({ type: "NodePort", ports: [port({ nodePort: 30080 })] })],
      pods: [],
      want: ["default/web:80 tcp 10.0.0.1:30080,127.77.0.10:80 → "],
    },
    {
      name: "serves a LoadBalancer Service as a NodePort one",
      services: [web({ type: "LoadBalancer", ports: [port({ nodePort: 30080 })] })],
      pods: [],
      want: ["default/web:80 tcp 10.0.0.1:30080,127.77.0.10:80 → "],
    },
    {
      name: "has one listener per Service port, in the port's mode",
      services: [web({ ports: [port({ name: "http", mode: "http" }), port({ name: "grpc", port: 9000, targetPort: 9000 })] })],
      pods: [pod("web-a", { ports: [podPort(), podPort({ containerPort: 9000, hostPort: 31009 })] })],
      want: ["default/web:80 http 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 ready", "default/web:9000 tcp 127.77.0.10:9000 → web-a:31009@10.0.0.1:31009/1 ready"],
    },
    {
      name: "keeps clients on one server for the affinity timeout with ClientIP affinity",
      services: [web({ sessionAffinity: "ClientIP", affinityTimeoutSeconds: 600 })],
      pods: [pod("web-a")],
      want: ["default/web:80 tcp affinity=600s 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 ready"],
    },
    {
      name: "drains a terminating endpoint while a ready one is left",
      services: [web()],
      pods: [pod("web-a", { terminating: true }), podB("web-b")],
      want: ["default/web:80 tcp 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 drain, web-b:31001@10.0.0.2:31001/1 ready"],
    },
    {
      name: "takes a terminating endpoint out entirely in an affinity listener, where a drained server would keep its stuck clients",
      services: [web({ sessionAffinity: "ClientIP" })],
      pods: [pod("web-a", { terminating: true }), podB("web-b")],
      want: ["default/web:80 tcp affinity=10800s 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 maint, web-b:31001@10.0.0.2:31001/1 ready"],
    },
    {
      name: "keeps terminating-but-ready endpoints serving when no ready one is left",
      services: [web()],
      pods: [pod("web-a", { terminating: true }), podB("web-b", { terminating: true, ready: false })],
      want: ["default/web:80 tcp 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 ready, web-b:31001@10.0.0.2:31001/1 drain"],
    },
    {
      name: "weights a canary split so that the canary revision's pods take its share and other pods none, in the split Service only",
      services: [web(), service("web", { namespace: "shop" })],
      pods: [rolloutPod("web-c1-a", "c1"), rolloutPod("web-s1-a", "s1"), rolloutPod("web-s1-b", "s1"), rolloutPod("web-old", "o1"), pod("web-x"), pod("web-a", { namespace: "shop" })],
      routes: split(10),
      want: [
        "default/web:80 tcp 127.77.0.10:80 → web-c1-a:31000@10.0.0.1:31000/56 ready, web-old:31000@10.0.0.1:31000/0 ready, web-s1-a:31000@10.0.0.1:31000/252 ready, web-s1-b:31000@10.0.0.1:31000/252 ready, web-x:31000@10.0.0.1:31000/0 ready",
        "shop/web:80 tcp 127.77.0.12:80 → web-a:31000@10.0.0.1:31000/1 ready",
      ],
    },
    {
      name: "gives the stable revision everything while no canary pod is ready, and leaves leaving pods out of the count",
      services: [web()],
      pods: [rolloutPod("web-c1-a", "c1", { ready: false }), rolloutPod("web-c1-b", "c1", { terminating: true }), rolloutPod("web-s1-a", "s1")],
      routes: split(50),
      want: ["default/web:80 tcp 127.77.0.10:80 → web-c1-b:31000@10.0.0.1:31000/1 drain, web-s1-a:31000@10.0.0.1:31000/1 ready"],
    },
    {
      name: "sends to the other pods at weight 1 when neither revision of the split has a ready pod",
      services: [web()],
      pods: [rolloutPod("web-old", "o1"), pod("web-x")],
      routes: split(10),
      want: ["default/web:80 tcp 127.77.0.10:80 → web-old:31000@10.0.0.1:31000/1 ready, web-x:31000@10.0.0.1:31000/1 ready"],
    },
    {
      name: "gives a revision that is both canary and stable every request, and its older pods none",
      services: [web()],
      pods: [rolloutPod("web-s1-a", "s1"), rolloutPod("web-old", "o1")],
      routes: split(10, "s1"),
      want: ["default/web:80 tcp 127.77.0.10:80 → web-old:31000@10.0.0.1:31000/0 ready, web-s1-a:31000@10.0.0.1:31000/1 ready"],
    },
    {
      name: "serves only the pods of the Rollout's revision a revision route names",
      services: [web()],
      pods: [rolloutPod("web-c1-a", "c1"), rolloutPod("web-s1-a", "s1"), pod("web-x", { revision: "c1" })],
      routes: new Map([["default/web", { rollout: ROLLOUT, role: "canary", revision: "c1" }]]),
      want: ["default/web:80 tcp 127.77.0.10:80 → web-c1-a:31000@10.0.0.1:31000/1 ready"],
    },
    {
      name: "sorts listeners by key and servers by id whatever the input order",
      services: [web(), service("api", { ports: [port({ port: 8080 })] })],
      pods: [podB("web-b"), pod("web-a"), pod("api-z", { labels: { app: "api" } }), pod("api-a", { labels: { app: "api" } })],
      want: [
        "default/api:8080 tcp 127.77.0.11:8080 → api-a:31000@10.0.0.1:31000/1 ready, api-z:31000@10.0.0.1:31000/1 ready",
        "default/web:80 tcp 127.77.0.10:80 → web-a:31000@10.0.0.1:31000/1 ready, web-b:31001@10.0.0.2:31001/1 ready",
      ],
    },
  ];
  it.each(cases)("$name", ({ services, pods, routes, want }) => {
    expect(lines(configFor(services, pods, routes))).toEqual(want);
  });

  it("gives a Service without an endpoints entry a listener with no servers", () => {
    expect(lines(proxyConfig(node, [web()], []))).toEqual(["default/web:80 tcp 127.77.0.10:80 → "]);
  });

  it("names the node it is for", () => {
    expect(proxyConfig(node, [], []).node).toBe("n1");
  });

  const bad: { name: string; services: ServiceSpec[]; routes?: Map<string, ServiceRoute> }[] = [
    { name: "refuses a Service that has no address on the node", services: [service("unknown")] },
    { name: "refuses a NodePort Service port without a nodePort", services: [web({ type: "NodePort" })] },
    { name: "refuses a split weight above 100", services: [web()], routes: split(101) },
    { name: "refuses a negative split weight", services: [web()], routes: split(-1) },
    { name: "refuses a fractional split weight", services: [web()], routes: split(1.5) },
    { name: "refuses a Service given twice", services: [web(), web()] },
    {
      name: "refuses two Services on the same node port",
      services: [web({ type: "NodePort", ports: [port({ nodePort: 30080 })] }), service("api", { type: "NodePort", ports: [port({ port: 81, nodePort: 30080 })] })],
    },
  ];
  it.each(bad)("$name", ({ services, routes }) => {
    expect(codeOf(() => configFor(services, [rolloutPod("web-a", "c1"), rolloutPod("web-b", "s1")], routes))).toBe("InvalidArgument");
  });
});

describe("proxyConfig properties", () => {
  it("gives every endpoint of a non-headless Service exactly one server, with an id that does not depend on the other pods", () => {
    const arbPods = fc.uniqueArray(fc.record({ name: fc.constantFrom("web-a", "web-b", "web-c", "web-d"), hostPort: fc.integer({ min: 31000, max: 31010 }), ready: fc.boolean(), terminating: fc.boolean() }), {
      selector: (p) => p.name,
    });
    fc.assert(
      fc.property(arbPods, fc.boolean(), (specs, affinity) => {
        const pods = specs.map((p) => pod(p.name, { ready: p.ready, terminating: p.terminating, ports: [podPort({ hostPort: p.hostPort })] }));
        const s = web(affinity ? { sessionAffinity: "ClientIP" } : {});
        const [listener] = configFor([s], pods).listeners;
        const endpoints = serviceEndpoints(s, pods).ports[0]!.endpoints;
        expect(listener!.servers.map((x) => x.id)).toEqual(endpoints.map((e) => `${e.pod}:${e.port}`));
        for (const p of pods) {
          const alone = configFor([s], [p]).listeners[0]!.servers.map((x) => x.id);
          for (const id of alone) expect(listener!.servers.some((x) => x.id === id)).toBe(true);
        }
        if (affinity) expect(listener!.servers.some((x) => x.state === "drain")).toBe(false);
      }),
    );
  });
});
