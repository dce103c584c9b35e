/**
 * The Ingress kind beyond what the fixtures show: how a path is read for routing, which Ingresses are
 * coxswain's, which of two paths that route the same requests is used, and hosts and paths as properties.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import type { Ingress } from "../../../operator/src/api/objects.js";
import { compareClaims, ingressPathClaims, isServedIngress, routedPath } from "../../../operator/src/manifest/ingress.js";
import { ManifestCache, loadManifests } from "../../../operator/src/manifest/index.js";

function ingress(spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: "web" }): Ingress {
  return { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { namespace: "default", ...metadata }, spec } as unknown as Ingress;
}

/** The diagnostics of loading one Ingress whose only rule has `host` and one path. */
function diagnosticsOf(host: string | undefined, path: string | undefined, pathType: string): { field: string; severity: string }[] {
  const doc = ingress({ rules: [{ ...(host !== undefined ? { host } : {}), http: { paths: [{ ...(path !== undefined ? { path } : {}), pathType, backend: { service: { name: "web", port: { number: 80 } } } }] } }] });
  return loadManifests([{ path: "ing.yaml", content: YAML.stringify(doc) }], { cache: new ManifestCache() }).diagnostics.map((d) => ({ field: d.field, severity: d.severity }));
}

describe("routedPath", () => {
  it.each([
    { path: "/foo", pathType: "Exact", want: { match: "Exact", path: "/foo" } },
    { path: "/foo/", pathType: "Exact", want: { match: "Exact", path: "/foo/" } },
    { path: "/foo", pathType: "Prefix", want: { match: "Prefix", path: "/foo" } },
    { path: "/foo/", pathType: "Prefix", want: { match: "Prefix", path: "/foo" } },
    { path: "/", pathType: "Prefix", want: { match: "Prefix", path: "" } },
    { path: "/foo/", pathType: "ImplementationSpecific", want: { match: "Prefix", path: "/foo" } },
    { path: undefined, pathType: "ImplementationSpecific", want: { match: "Prefix", path: "" } },
  ] as const)("reads $pathType $path as $want.match $want.path", ({ path, pathType, want }) => {
    expect(routedPath(path, pathType)).toEqual(want);
  });
});

describe("isServedIngress", () => {
  it.each([
    { what: "no class", metadata: {}, spec: {}, served: true },
    { what: "class coxswain", metadata: {}, spec: { ingressClassName: "coxswain" }, served: true },
    { what: "class nginx", metadata: {}, spec: { ingressClassName: "nginx" }, served: false },
    { what: "the old annotation naming coxswain", metadata: { annotations: { "kubernetes.io/ingress.class": "coxswain" } }, spec: {}, served: true },
    { what: "the old annotation naming traefik", metadata: { annotations: { "kubernetes.io/ingress.class": "traefik" } }, spec: {}, served: false },
  ])("serves an Ingress with $what: $served", ({ metadata, spec, served }) => {
    expect(isServedIngress(ingress(spec, { name: "web", ...metadata }))).toBe(served);
  });
});

describe("compareClaims", () => {
  const paths = (list: { path: string; pathType: string }[]) => ({
    rules: [{ host: "a.example.com", http: { paths: list.map((p) => ({ ...p, backend: { service: { name: "web", port: { number: 80 } } } })) } }],
  });

  it("uses a Prefix path before an ImplementationSpecific one that routes the same, whatever their Ingresses and order", () => {
    const a = ingressPathClaims(ingress(paths([{ path: "/img", pathType: "ImplementationSpecific" }]), { name: "a" }))[0]!;
    const b = ingressPathClaims(ingress(paths([{ path: "/img/", pathType: "Prefix" }]), { name: "b" }))[0]!;
    expect(a.key).toBe(b.key);
    expect([a, b].sort(compareClaims)[0]).toBe(b);
    expect([b, a].sort(compareClaims)[0]).toBe(b);
  });

  it("then the first Ingress by namespace/name, then the first declared", () => {
    const claims = [
      ...ingressPathClaims(
        ingress(
          paths([
            { path: "/x", pathType: "Prefix" },
            { path: "/x/", pathType: "Prefix" },
          ]),
          { name: "b" },
        ),
      ),
      ...ingressPathClaims(ingress(paths([{ path: "/x", pathType: "Prefix" }]), { name: "b", namespace: "a" })),
    ];
    const sorted = [...claims].sort(compareClaims);
    expect(sorted.map((c) => `${c.ingress}#${c.index}`)).toEqual(["a/b#0", "default/b#0", "default/b#1"]);
  });

  it("is a total order on claims with the same key (antisymmetric, transitive), so every node picks the same path", () => {
    const claim = fc
      .record({
        ingress: fc.constantFrom("a/x", "a/y", "b/x"),
        rule: fc.nat(3),
        index: fc.nat(3),
        pathType: fc.constantFrom("Prefix" as const, "ImplementationSpecific" as const),
      })
      .map((c) => ({ ...c, match: "Prefix" as const, path: "/p", key: "k" }));
    fc.assert(
      fc.property(claim, claim, claim, (a, b, c) => {
        expect(Math.sign(compareClaims(a, b)) + Math.sign(compareClaims(b, a))).toBe(0);
        if (compareClaims(a, b) <= 0 && compareClaims(b, c) <= 0) expect(compareClaims(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });
});

describe("hosts and paths", () => {
  const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
  const dnsName = fc
    .array(label, { minLength: 1, maxLength: 4 })
    .map((ls) => ls.join("."))
    .filter((h) => !/^[0-9.]+$/.test(h));

  it("accepts every DNS name and '*.' DNS name as a rule host", () => {
    fc.assert(
      fc.property(dnsName, fc.boolean(), (name, wild) => {
        expect(diagnosticsOf(wild ? `*.${name}` : name, "/", "Prefix")).toEqual([]);
      }),
      { numRuns: 50 },
    );
  });

  it("refuses a host with '*' anywhere but as the whole first label", () => {
    fc.assert(
      fc.property(dnsName, dnsName, (a, b) => {
        for (const host of [`${a}.*.${b}`, `*${a}.${b}`, `${a}*.${b}`, "*"]) expect(diagnosticsOf(host, "/", "Prefix")).toEqual([{ field: "spec.rules[0].host", severity: "error" }]);
      }),
      { numRuns: 20 },
    );
  });

  it("accepts every clean absolute path of URL characters for each pathType", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9\-_~!$&'*+,;=:@]{1,8}$/);
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), fc.boolean(), fc.constantFrom("Exact", "Prefix", "ImplementationSpecific"), (segs, slash, pathType) => {
        const path = `/${segs.join("/")}${slash && segs.length > 0 ? "/" : ""}`;
        expect(diagnosticsOf(undefined, path, pathType).filter((d) => d.severity === "error")).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
