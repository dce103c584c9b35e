/**
 * The Service kind beyond what the fixtures show: what loading keeps of a Service (defaults applied, fields
 * reported as ignored dropped) and how every field marked not supported by coxswain is reported.
 */
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { canonicalJson } from "../../../operator/src/api/canonical.js";
import type { Service } from "../../../operator/src/api/objects.js";
import { ManifestCache, UNSUPPORTED_KEYWORD, loadManifests, readCrdSchema, type ManifestSet } from "../../../operator/src/manifest/index.js";

function load(doc: Record<string, unknown>): ManifestSet {
  return loadManifests([{ path: "svc.yaml", content: YAML.stringify(doc) }], { cache: new ManifestCache() });
}

function service(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: "web" }): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Service", metadata, spec };
}

function loadedService(spec: Record<string, unknown>): Service {
  const set = load(service(spec));
  expect(set.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return set.objects[0]!.object as Service;
}

describe("a loaded Service", () => {
  it("is the same object whether written by hand or exported with kubectl get -o yaml (what is reported as ignored is dropped)", () => {
    const byHand = loadedService({ type: "NodePort", selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, nodePort: 31080 }] });
    const exported = loadedService({
      type: "NodePort",
      clusterIP: "10.96.12.34",
      clusterIPs: ["10.96.12.34"],
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      internalTrafficPolicy: "Cluster",
      externalTrafficPolicy: "Cluster",
      sessionAffinity: "None",
      selector: { app: "web" },
      ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 31080 }],
    });
    expect(canonicalJson(exported)).toBe(canonicalJson(byHand));
    expect(exported.spec).not.toHaveProperty("clusterIP");
  });

  it("drops allocateLoadBalancerNodePorts true, healthCheckNodePort and an empty clusterIP", () => {
    const svc = loadedService({ type: "LoadBalancer", clusterIP: "", allocateLoadBalancerNodePorts: true, healthCheckNodePort: 32000, selector: { a: "b" }, ports: [{ port: 80 }] });
    for (const f of ["clusterIP", "allocateLoadBalancerNodePorts", "healthCheckNodePort"]) expect(svc.spec, f).not.toHaveProperty(f);
  });

  it("keeps clusterIP None, and makes clusterIPs [None] with clusterIP omitted or empty clusterIP None (Kubernetes fills one from the other)", () => {
    expect(loadedService({ clusterIP: "None", selector: { a: "b" } }).spec.clusterIP).toBe("None");
    for (const clusterIP of [undefined, ""]) {
      const fromList = loadedService({ ...(clusterIP === undefined ? {} : { clusterIP }), clusterIPs: ["None"], selector: { a: "b" } });
      expect(fromList.spec.clusterIP).toBe("None");
      expect(fromList.spec).not.toHaveProperty("clusterIPs");
    }
  });

  it("drops a sessionAffinityConfig without sessionAffinity ClientIP, as Kubernetes does, and fills the timeout with ClientIP", () => {
    expect(loadedService({ selector: { a: "b" }, ports: [{ port: 80 }], sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } }).spec).not.toHaveProperty("sessionAffinityConfig");
    expect(loadedService({ selector: { a: "b" }, ports: [{ port: 80 }], sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: {} } }).spec.sessionAffinityConfig).toEqual({
      clientIP: { timeoutSeconds: 10800 },
    });
  });

  it("defaults every port's targetPort to its port and protocol to TCP", () => {
    const svc = loadedService({
      selector: { a: "b" },
      ports: [
        { name: "a", port: 80 },
        { name: "b", port: 81, targetPort: "web" },
      ],
    });
    expect(svc.spec.ports).toEqual([
      { name: "a", port: 80, targetPort: 80, protocol: "TCP" },
      { name: "b", port: 81, targetPort: "web", protocol: "TCP" },
    ]);
  });

  it("accepts the IANA service names Kubernetes accepts as targetPort", () => {
    for (const name of ["http", "h2", "x-1", "a1b2c3d4e5f6g7h", "123a"]) loadedService({ selector: { a: "b" }, ports: [{ port: 80, targetPort: name }] });
  });
});

describe("Service fields coxswain does not support", () => {
  const schema = readCrdSchema("Service") as { properties: { spec: { properties: Record<string, Record<string, unknown>> } } };
  const fields = Object.entries(schema.properties.spec.properties).filter(([, s]) => typeof s[UNSUPPORTED_KEYWORD] === "string");

  it("include what people's repositories carry and coxswain cannot honour", () => {
    expect(fields.map(([f]) => f).sort()).toEqual(["externalIPs", "externalName", "loadBalancerClass", "loadBalancerIP", "loadBalancerSourceRanges", "trafficDistribution"]);
  });

  it.each(fields)("report %s as not supported, with the schema's reason, never as unknown or silently", (field, s) => {
    const set = load(service({ type: "LoadBalancer", selector: { a: "b" }, ports: [{ port: 80 }], [field]: "x" }));
    expect(set.objects).toEqual([]);
    expect(set.diagnostics.map((d) => [d.code, d.severity, d.field])).toEqual([["SchemaViolation", "error", `spec.${field}`]]);
    expect(set.diagnostics[0]!.message).toContain(s[UNSUPPORTED_KEYWORD] as string);
  });

  it("are not listed among the supported fields when a field is unknown", () => {
    const set = load(service({ selector: { a: "b" }, ports: [{ port: 80 }], clusterIp: "None" }));
    expect(set.diagnostics.map((d) => d.field)).toEqual(["spec.clusterIp"]);
    expect(set.diagnostics[0]!.message).toContain("clusterIP");
    expect(set.diagnostics[0]!.message).not.toContain("externalIPs");
  });
});
