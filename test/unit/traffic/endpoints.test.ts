import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allServiceEndpoints, serverStates, serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import type { Endpoint, ServiceEndpoints, ServiceSpec, TrafficPod } from "../../../operator/src/traffic/types.js";
import { pod, podPort, port, service } from "./builders.js";

/** Each Service port ("name:port") → its endpoints as "pod@address:port", flagged "not-ready" and "terminating". */
function summary(eps: ServiceEndpoints): Record<string, string[]> {
  return Object.fromEntries(eps.ports.map((p) => [`${p.name ?? ""}:${p.port}`, p.endpoints.map((e) => `${e.pod}@${e.address}:${e.port}${e.ready ? "" : " not-ready"}${e.terminating ? " terminating" : ""}`)]));
}

interface Case {
  name: string;
  service: ServiceSpec;
  pods: TrafficPod[];
  want: Record<string, string[]>;
}

const web = (over: Partial<ServiceSpec> = {}): ServiceSpec => service("web", over);

describe("serviceEndpoints", () => {
  const cases: Case[] = [
    {
      name: "selects the ready pods whose labels contain every selector pair",
      service: web({ selector: { app: "web", tier: "front" } }),
      pods: [
        pod("a", { labels: { app: "web", tier: "front", extra: "x" } }),
        pod("b", { labels: { app: "web" } }),
        pod("c", { labels: { app: "web", tier: "back" } }),
        pod("d", { labels: { app: "web", tier: "front" } }),
      ],
      want: { ":80": ["a@10.0.0.1:31000", "d@10.0.0.1:31000"] },
    },
    {
      name: "ignores pods of other namespaces",
      service: web(),
      pods: [pod("a", { namespace: "other" }), pod("b")],
      want: { ":80": ["b@10.0.0.1:31000"] },
    },
    { name: "selects nothing when the Service has no selector", service: web({ selector: undefined }), pods: [pod("a")], want: { ":80": [] } },
    { name: "selects nothing when the selector is empty", service: web({ selector: {} }), pods: [pod("a")], want: { ":80": [] } },
    {
      name: "leaves out pods that are not ready",
      service: web(),
      pods: [pod("a", { ready: false }), pod("b")],
      want: { ":80": ["b@10.0.0.1:31000"] },
    },
    {
      name: "lists not-ready pods, as ready, when the Service publishes not-ready addresses",
      service: web({ publishNotReadyAddresses: true }),
      pods: [pod("a", { ready: false }), pod("b")],
      want: { ":80": ["a@10.0.0.1:31000", "b@10.0.0.1:31000"] },
    },
    {
      name: "lists terminating pods, ready or not, flagged terminating",
      service: web(),
      pods: [pod("a", { terminating: true }), pod("b", { terminating: true, ready: false }), pod("c")],
      want: { ":80": ["a@10.0.0.1:31000 terminating", "b@10.0.0.1:31000 not-ready terminating", "c@10.0.0.1:31000"] },
    },
    {
      name: "resolves a named targetPort per pod, each pod to its own port of that name",
      service: web({ ports: [port({ targetPort: "http" })] }),
      pods: [
        pod("a", { ports: [podPort({ name: "http", containerPort: 8080, hostPort: 31001 })] }),
        pod("b", { node: "n2", address: "10.0.0.2", ports: [podPort({ name: "http", containerPort: 9090, hostPort: 31002 })] }),
      ],
      want: { ":80": ["a@10.0.0.1:31001", "b@10.0.0.2:31002"] },
    },
    {
      name: "leaves a pod without the named port out of that Service port only",
      service: web({ ports: [port({ name: "http", targetPort: "http" }), port({ name: "metrics", port: 9100, targetPort: "metrics" })] }),
      pods: [pod("a", { ports: [podPort({ name: "http", hostPort: 31001 }), podPort({ name: "metrics", containerPort: 9100, hostPort: 31002 })] }), pod("b", { ports: [podPort({ name: "http", hostPort: 31003 })] })],
      want: { "http:80": ["a@10.0.0.1:31001", "b@10.0.0.1:31003"], "metrics:9100": ["a@10.0.0.1:31002"] },
    },
    {
      name: "resolves a numeric targetPort to the pod's port with that containerPort, answering on its hostPort",
      service: web({ ports: [port({ targetPort: 9090 })] }),
      pods: [pod("a", { ports: [podPort({ containerPort: 8080, hostPort: 31001 }), podPort({ containerPort: 9090, hostPort: 31002 })] })],
      want: { ":80": ["a@10.0.0.1:31002"] },
    },
    {
      name: "leaves out a pod that does not declare the numeric targetPort",
      service: web({ ports: [port({ targetPort: 9090 })] }),
      pods: [pod("a"), pod("b", { ports: [podPort({ containerPort: 9090, hostPort: 31005 })] })],
      want: { ":80": ["b@10.0.0.1:31005"] },
    },
    {
      name: "ignores a UDP port of the same number or name",
      service: web({ ports: [port({ name: "dns", targetPort: "dns" }), port({ name: "raw", port: 81, targetPort: 53 })] }),
      pods: [pod("a", { ports: [podPort({ name: "dns", containerPort: 53, protocol: "UDP", hostPort: 31001 })] })],
      want: { "dns:80": [], "raw:81": [] },
    },
    {
      name: "takes the first declared port when several have the targetPort's number",
      service: web(),
      pods: [pod("a", { ports: [podPort({ hostPort: 31007 }), podPort({ hostPort: 31008 })] })],
      want: { ":80": ["a@10.0.0.1:31007"] },
    },
    {
      name: "sorts endpoints by pod name whatever the order of the pods",
      service: web(),
      pods: [pod("web-c"), pod("web-a", { node: "n2", address: "10.0.0.2" }), pod("web-b")],
      want: { ":80": ["web-a@10.0.0.2:31000", "web-b@10.0.0.1:31000", "web-c@10.0.0.1:31000"] },
    },
  ];
  it.each(cases)("$name", ({ service: s, pods, want }) => {
    expect(summary(serviceEndpoints(s, pods))).toEqual(want);
  });

  it("names the Service and keeps its ports in the Service's order, with their names", () => {
    const s = web({ ports: [port({ name: "a", port: 80 }), port({ name: "b", port: 443, targetPort: 8443 })] });
    const eps = serviceEndpoints(s, []);
    expect(eps).toEqual({
      namespace: "default",
      name: "web",
      ports: [
        { name: "a", port: 80, endpoints: [] },
        { name: "b", port: 443, endpoints: [] },
      ],
    });
  });

  it("carries the pod's node and address into the endpoint", () => {
    const eps = serviceEndpoints(web(), [pod("a", { node: "n7", address: "10.9.8.7" })]);
    expect(eps.ports[0]!.endpoints).toEqual([{ pod: "a", node: "n7", address: "10.9.8.7", port: 31000, ready: true, terminating: false }]);
  });
});

describe("serverStates", () => {
  const ep = (pod: string, ready: boolean, terminating: boolean): Endpoint => ({ pod, node: "n1", address: "10.0.0.1", port: 31000, ready, terminating });
  const cases: { name: string; endpoints: Endpoint[]; want: string[] }[] = [
    { name: "gives nothing for no endpoints", endpoints: [], want: [] },
    {
      name: "sends new requests to ready endpoints and drains terminating ones",
      endpoints: [ep("a", true, false), ep("b", true, true), ep("c", false, true)],
      want: ["ready", "drain", "drain"],
    },
    {
      name: "keeps terminating-but-ready endpoints serving while no ready one is left",
      endpoints: [ep("a", true, true), ep("b", false, true), ep("c", true, true)],
      want: ["ready", "drain", "ready"],
    },
    { name: "drains every terminating endpoint when none is ready", endpoints: [ep("a", false, true)], want: ["drain"] },
    {
      name: "sends nothing to an endpoint that is neither ready nor terminating",
      endpoints: [ep("a", false, false), ep("b", true, false)],
      want: ["maint", "ready"],
    },
  ];
  it.each(cases)("$name", ({ endpoints, want }) => {
    expect(serverStates(endpoints)).toEqual(want);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties, against a re-statement of the rules.

const arbPod: fc.Arbitrary<TrafficPod> = fc.record({
  namespace: fc.constantFrom("default", "other"),
  name: fc.constantFrom("p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"),
  node: fc.constantFrom("n1", "n2", "n3"),
  labels: fc.dictionary(fc.constantFrom("app", "tier"), fc.constantFrom("web", "api", "front")),
  address: fc.constantFrom("10.0.0.1", "10.0.0.2"),
  ports: fc.array(
    fc.record({
      name: fc.option(fc.constantFrom("http", "metrics"), { nil: undefined }),
      containerPort: fc.constantFrom(8080, 9090),
      hostPort: fc.integer({ min: 30000, max: 30100 }),
      protocol: fc.constantFrom("TCP" as const, "UDP" as const),
    }),
    { maxLength: 3 },
  ),
  ready: fc.boolean(),
  terminating: fc.boolean(),
});

/** Pods with unique names in their namespace, as the fleet has them. */
const arbPods = fc.uniqueArray(arbPod, { selector: (p) => `${p.namespace}/${p.name}`, maxLength: 8 });

const arbService: fc.Arbitrary<ServiceSpec> = fc
  .record({
    selector: fc.option(fc.dictionary(fc.constantFrom("app", "tier"), fc.constantFrom("web", "api", "front")), { nil: undefined }),
    publishNotReadyAddresses: fc.boolean(),
    targets: fc.uniqueArray(fc.constantFrom<number | string>("http", "metrics", 8080, 9090), { minLength: 1, maxLength: 3 }),
  })
  .map(({ selector, publishNotReadyAddresses, targets }) => service("web", { selector, publishNotReadyAddresses, ports: targets.map((t, i) => port({ name: `p${i}`, port: 80 + i, targetPort: t })) }));

/** The rules, stated again without the implementation's helpers. */
function reference(s: ServiceSpec, pods: readonly TrafficPod[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const sp of s.ports) {
    const list: string[] = [];
    for (const p of pods) {
      if (p.namespace !== s.namespace || s.selector === undefined || Object.keys(s.selector).length === 0) continue;
      if (Object.keys(s.selector).some((k) => p.labels[k] !== s.selector![k])) continue;
      if (!p.ready && !p.terminating && !s.publishNotReadyAddresses) continue;
      const matching = p.ports.filter((pp) => pp.protocol === "TCP" && (typeof sp.targetPort === "string" ? pp.name === sp.targetPort : pp.containerPort === sp.targetPort));
      if (matching.length === 0) continue;
      const ready = p.ready || s.publishNotReadyAddresses;
      list.push(`${p.name}@${p.address}:${matching[0]!.hostPort}${ready ? "" : " not-ready"}${p.terminating ? " terminating" : ""}`);
    }
    out[`${sp.name ?? ""}:${sp.port}`] = list.sort();
  }
  return out;
}

describe("serviceEndpoints properties", () => {
  it("lists exactly the endpoints the rules give, sorted by pod name", () => {
    fc.assert(
      fc.property(arbService, arbPods, (s, pods) => {
        const got = serviceEndpoints(s, pods);
        expect(summary(got)).toEqual(reference(s, pods));
        for (const p of got.ports) expect(p.endpoints.map((e) => e.pod)).toEqual(p.endpoints.map((e) => e.pod).sort());
      }),
    );
  });

  it("gives the same endpoints whatever the order of the pods", () => {
    fc.assert(
      fc.property(
        arbService,
        arbPods.chain((pods) => fc.tuple(fc.constant(pods), fc.shuffledSubarray(pods, { minLength: pods.length }))),
        (s, [pods, shuffled]) => {
          expect(serviceEndpoints(s, shuffled)).toEqual(serviceEndpoints(s, pods));
        },
      ),
    );
  });

  it("gives every Service through the label index exactly what serviceEndpoints gives it over all pods", () => {
    const arbServices = fc.array(arbService, { maxLength: 4 }).map((ss) => ss.map((s, i) => ({ ...s, name: `svc${i}` })));
    fc.assert(
      fc.property(arbServices, arbPods, (services, pods) => {
        const all = allServiceEndpoints(services, pods, new Map());
        expect([...all.keys()]).toEqual(services.map((s) => `${s.namespace}/${s.name}`));
        for (const s of services) expect(all.get(`${s.namespace}/${s.name}`)).toEqual(serviceEndpoints(s, pods));
      }),
    );
  });

  it("sends new requests to ready endpoints, else to terminating-but-ready ones, and never lets a leaving one vanish", () => {
    fc.assert(
      fc.property(arbService, arbPods, (s, pods) => {
        for (const { endpoints } of serviceEndpoints(s, pods).ports) {
          const states = serverStates(endpoints);
          const anyReady = endpoints.some((e) => e.ready && !e.terminating);
          endpoints.forEach((e, i) => {
            if (e.ready && !e.terminating) expect(states[i]).toBe("ready");
            if (e.terminating) expect(states[i]).toBe(!anyReady && e.ready ? "ready" : "drain");
          });
          // Some endpoint takes requests whenever one could.
          expect(states.includes("ready")).toBe(endpoints.some((e) => e.ready));
        }
      }),
    );
  });
});
