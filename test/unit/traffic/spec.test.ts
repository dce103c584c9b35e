import fc from "fast-check";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Rollout, Service } from "../../../operator/src/api/objects.js";
import { loadManifests } from "../../../operator/src/manifest/index.js";
import { toRolloutServices, toServiceSpec } from "../../../operator/src/traffic/spec.js";
import type { RolloutServices, ServiceSpec } from "../../../operator/src/traffic/types.js";

/** A Service as the manifest stage hands it over: validated, defaulted, frozen. Fails on any error. */
function loaded(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: "web" }): Service {
  const doc = YAML.stringify({ apiVersion: "v1", kind: "Service", metadata, spec });
  const set = loadManifests([{ path: "svc.yaml", content: doc }], { cache: null });
  expect(set.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  expect(set.objects).toHaveLength(1);
  return set.objects[0]!.object as Service;
}

describe("toServiceSpec", () => {
  it("applies Kubernetes' defaults to a minimal Service", () => {
    expect(toServiceSpec(loaded({ selector: { app: "web" }, ports: [{ port: 80 }] }))).toEqual<ServiceSpec>({
      namespace: "default",
      name: "web",
      type: "ClusterIP",
      selector: { app: "web" },
      ports: [{ port: 80, targetPort: 80, protocol: "TCP", mode: "tcp" }],
      sessionAffinity: "None",
      affinityTimeoutSeconds: 10800,
      publishNotReadyAddresses: false,
      headless: false,
    });
  });

  it("keeps what a NodePort Service with ClientIP affinity says, and sorts ports by port then name", () => {
    const svc = loaded(
      {
        type: "NodePort",
        selector: { tier: "web", app: "shop" },
        ports: [
          { name: "metrics", port: 9090, targetPort: "metrics" },
          { name: "http", port: 80, targetPort: 8080, nodePort: 30080 },
          { name: "admin", port: 81, nodePort: 30081, appProtocol: "http" },
        ],
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        publishNotReadyAddresses: true,
      },
      { name: "shop", namespace: "shop" },
    );
    expect(toServiceSpec(svc)).toEqual<ServiceSpec>({
      namespace: "shop",
      name: "shop",
      type: "NodePort",
      selector: { app: "shop", tier: "web" },
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP", nodePort: 30080, mode: "http" },
        { name: "admin", port: 81, targetPort: 81, protocol: "TCP", nodePort: 30081, mode: "http" },
        { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP", mode: "tcp" },
      ],
      sessionAffinity: "ClientIP",
      affinityTimeoutSeconds: 60,
      publishNotReadyAddresses: true,
      headless: false,
    });
  });

  it("gives ClientIP affinity the default timeout of 10800 seconds", () => {
    expect(toServiceSpec(loaded({ selector: { a: "b" }, ports: [{ port: 80 }], sessionAffinity: "ClientIP" })).affinityTimeoutSeconds).toBe(10800);
  });

  it("reads a headless Service, with or without ports, from clusterIP None or clusterIPs [None]", () => {
    expect(toServiceSpec(loaded({ clusterIP: "None", selector: { app: "db" } }))).toMatchObject({ headless: true, ports: [] });
    expect(toServiceSpec(loaded({ clusterIPs: ["None"], selector: { app: "db" }, ports: [{ port: 5432 }] }))).toMatchObject({ headless: true });
    expect(toServiceSpec(loaded({ clusterIP: "10.0.0.7", selector: { app: "db" }, ports: [{ port: 5432 }] })).headless).toBe(false);
  });

  it("leaves the selector undefined when the Service has none or an empty one", () => {
    expect(toServiceSpec(loaded({ ports: [{ port: 80 }] })).selector).toBeUndefined();
    expect(toServiceSpec(loaded({ selector: {}, ports: [{ port: 80 }] })).selector).toBeUndefined();
  });

  const modes: { name: string; port: Record<string, unknown>; mode: "http" | "tcp" }[] = [
    { name: "a port named http is HTTP", port: { name: "http" }, mode: "http" },
    { name: "a port named http-<something> is HTTP", port: { name: "http-api" }, mode: "http" },
    { name: "a port named https is TCP", port: { name: "https" }, mode: "tcp" },
    { name: "a port named httpx is TCP", port: { name: "httpx" }, mode: "tcp" },
    { name: "a port without a name is TCP", port: {}, mode: "tcp" },
    { name: "appProtocol http is HTTP whatever the name", port: { name: "web", appProtocol: "http" }, mode: "http" },
    { name: "appProtocol HTTP is HTTP", port: { appProtocol: "HTTP" }, mode: "http" },
    { name: "appProtocol https wins over the name http", port: { name: "http", appProtocol: "https" }, mode: "tcp" },
    { name: "appProtocol kubernetes.io/h2c is TCP", port: { name: "http-grpc", appProtocol: "kubernetes.io/h2c" }, mode: "tcp" },
  ];
  it.each(modes)("decides the port's mode: $name", ({ port, mode }) => {
    expect(toServiceSpec(loaded({ selector: { a: "b" }, ports: [{ port: 80, ...port }] })).ports[0]!.mode).toBe(mode);
  });

  it("throws for what the manifest stage refuses (a programming error, not a user error)", () => {
    const base: Service = { apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { ports: [{ port: 80 }] } };
    expect(() => toServiceSpec({ ...base, spec: { ...base.spec, type: "ExternalName" } })).toThrow(/ExternalName/);
    expect(() => toServiceSpec({ ...base, spec: { ports: [{ port: 53, protocol: "UDP" }] } })).toThrow(/UDP/);
  });

  it("sorts any set of valid ports by port then name, defaults every targetPort and keeps each port once", () => {
    const portArb = fc.record({
      port: fc.integer({ min: 1, max: 65535 }),
      targetPort: fc.option(fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom("web", "metrics", "grpc-api")), { nil: undefined }),
      appProtocol: fc.option(fc.constantFrom("http", "https", "tcp"), { nil: undefined }),
    });
    const namesArb = fc.uniqueArray(fc.stringMatching(/^[a-z]([-a-z0-9]{0,8}[a-z0-9])?$/), { minLength: 2, maxLength: 6 });
    fc.assert(
      fc.property(namesArb, fc.array(portArb, { minLength: 6, maxLength: 6 }), (names, raw) => {
        const byPort = new Map<number, unknown>();
        names.forEach((name, i) => {
          const p = raw[i]!;
          if (byPort.has(p.port)) return;
          byPort.set(p.port, {
            name,
            port: p.port,
            ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
            ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
          });
        });
        const ports = [...byPort.values()] as { name: string; port: number; targetPort?: number | string; appProtocol?: string }[];
        const spec = toServiceSpec(loaded({ selector: { a: "b" }, ports }));
        expect(spec.ports).toHaveLength(ports.length);
        for (let i = 1; i < spec.ports.length; i++) expect(spec.ports[i - 1]!.port).toBeLessThan(spec.ports[i]!.port);
        for (const out of spec.ports) {
          const input = ports.find((p) => p.port === out.port)!;
          expect(out.targetPort).toBe(input.targetPort ?? input.port);
          expect(out.name).toBe(input.name.toLowerCase());
          const http = input.appProtocol !== undefined ? input.appProtocol === "http" : input.name === "http" || input.name.startsWith("http-");
          expect(out.mode).toBe(http ? "http" : "tcp");
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe("toRolloutServices", () => {
  /** A Rollout as the manifest stage hands it over, with `strategy`. Fails on any error. */
  function rollout(strategy: Record<string, unknown>, namespace?: string): Rollout {
    const doc = YAML.stringify({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      metadata: { name: "web", ...(namespace ? { namespace } : {}) },
      spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web", tier: "front" } }, spec: { containers: [{ name: "c", image: "i" }] } }, strategy },
    });
    const set = loadManifests([{ path: "r.yaml", content: doc }], { cache: null });
    expect(set.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    return set.objects[0]!.object as Rollout;
  }

  it("reads a canary's Service fields and trafficRouting: {}", () => {
    expect(toRolloutServices(rollout({ canary: { canaryService: "c", stableService: "s", trafficRouting: {} } }))).toEqual<RolloutServices>({
      namespace: "default",
      name: "web",
      labels: { app: "web", tier: "front" },
      strategy: "canary",
      canaryService: "c",
      stableService: "s",
      trafficRouting: true,
    });
  });

  it("reads a blue/green Rollout's Service fields, in its namespace", () => {
    expect(toRolloutServices(rollout({ blueGreen: { activeService: "a", previewService: "p" } }, "shop"))).toEqual<RolloutServices>({
      namespace: "shop",
      name: "web",
      labels: { app: "web", tier: "front" },
      strategy: "blueGreen",
      activeService: "a",
      previewService: "p",
    });
  });

  it("leaves out the fields a Rollout does not give", () => {
    expect(toRolloutServices(rollout({ canary: { steps: [{ setWeight: 10 }] } }))).toEqual<RolloutServices>({ namespace: "default", name: "web", labels: { app: "web", tier: "front" }, strategy: "canary" });
  });
});
