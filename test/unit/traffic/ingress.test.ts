/**
 * ingressRouting and proxyIngress: Kubernetes' path examples, host precedence, default backends and 404,
 * conflicts, certificates by server name, what the status file gets; and, as a property, that the
 * routing table read the way the rendered frontend reads it agrees with Kubernetes' rules read from the
 * objects (test/unit/traffic/ingress-model.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ingressRouting, proxyIngress, type TlsKeyPair } from "../../../operator/src/traffic/ingress.js";
import type { IngressPathSpec, IngressSpec, ServiceSpec } from "../../../operator/src/traffic/types.js";
import { codeOf } from "../../support/errors.js";
import { port, service } from "./builders.js";
import { frontendRoute, kubernetesRoute } from "./ingress-model.js";

const WEB = "default/web:80";
const API = "default/api:8080";
const services: ServiceSpec[] = [
  service("web", { ports: [port({ name: "http" }), port({ name: "admin", port: 9000, targetPort: 9000 })] }),
  service("api", { ports: [port({ name: "http-api", port: 8080 })] }),
  service("db", { headless: true, ports: [port({ port: 5432 })] }),
];

function ingress(name: string, over: Partial<IngressSpec> = {}): IngressSpec {
  return { namespace: "default", name, rules: [], tls: [], ...over };
}

function p(path: string | undefined, pathType: IngressPathSpec["pathType"] = "Prefix", to = "web", portRef: number | string = to === "api" ? 8080 : 80): IngressPathSpec {
  return { ...(path !== undefined ? { path } : {}), pathType, backend: { service: to, port: portRef } };
}

const noTls = (): TlsKeyPair | undefined => undefined;

/** Where a request goes once `ingresses` are routed, as the rendered frontend decides. */
function route(ingresses: IngressSpec[], host: string | undefined, path: string): string {
  return frontendRoute(ingressRouting(ingresses, services, noTls), host, path);
}

describe("ingressRouting: Kubernetes' path matching examples", () => {
  // The table "Examples" of https://kubernetes.io/docs/concepts/services-networking/ingress/#examples; each
  // path but the last goes to api, so "matches" means the request reaches api, else the default backend (web).
  const cases: { paths: [string, IngressPathSpec["pathType"]][]; request: string; matches: boolean | string }[] = [
    { paths: [["/", "Prefix"]], request: "/anything/at/all", matches: true },
    { paths: [["/foo", "Exact"]], request: "/foo", matches: true },
    { paths: [["/foo", "Exact"]], request: "/bar", matches: false },
    { paths: [["/foo", "Exact"]], request: "/foo/", matches: false },
    { paths: [["/foo/", "Exact"]], request: "/foo", matches: false },
    { paths: [["/foo", "Prefix"]], request: "/foo", matches: true },
    { paths: [["/foo", "Prefix"]], request: "/foo/", matches: true },
    { paths: [["/foo/", "Prefix"]], request: "/foo", matches: true },
    { paths: [["/foo/", "Prefix"]], request: "/foo/", matches: true },
    { paths: [["/aaa/bb", "Prefix"]], request: "/aaa/bbb", matches: false },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbb", matches: true },
    { paths: [["/aaa/bbb/", "Prefix"]], request: "/aaa/bbb", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbb/", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbb/ccc", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbbxyz", matches: false },
    { paths: [["/aaa", "Prefix"]], request: "/ccc", matches: false },
  ];
  it.each(cases)("$paths.0.1 $paths.0.0 matches $request: $matches", ({ paths, request, matches }) => {
    const ing = ingress("x", { defaultBackend: { service: "web", port: 80 }, rules: [{ paths: paths.map(([path, t]) => p(path, t, "api")) }] });
    expect(route([ing], "shop.example.com", request)).toBe(matches ? API : WEB);
  });

  it.each([
    { paths: ["/", "/aaa"], request: "/aaa/ccc", want: "/aaa" },
    { paths: ["/", "/aaa", "/aaa/bbb"], request: "/aaa/bbb", want: "/aaa/bbb" },
    { paths: ["/", "/aaa", "/aaa/bbb"], request: "/ccc", want: "/" },
  ])("takes the longest matching Prefix of $paths for $request: $want", ({ paths, request, want }) => {
    // Each path to a port of its own, to see which one won.
    const svc = [...services, service("many", { ports: paths.map((_, i) => port({ name: `p${i}`, port: 10000 + i })) })];
    const ing = ingress("x", { rules: [{ paths: paths.map((path, i) => p(path, "Prefix", "many", 10000 + i)) }] });
    expect(frontendRoute(ingressRouting([ing], svc, noTls), undefined, request)).toBe(`default/many:${10000 + paths.indexOf(want)}`);
  });

  it("prefers an Exact path to a Prefix path that is as long, in whichever order they are written", () => {
    for (const order of [
      ["Prefix", "Exact"],
      ["Exact", "Prefix"],
    ] as const) {
      const ing = ingress("x", { rules: [{ paths: order.map((t) => p("/foo", t, t === "Exact" ? "api" : "web")) }] });
      expect(route([ing], undefined, "/foo")).toBe(API);
      expect(route([ing], undefined, "/foo/bar")).toBe(WEB);
    }
  });

  it("reads an ImplementationSpecific path as a Prefix path (an empty one as /)", () => {
    const ing = ingress("x", { rules: [{ paths: [p("/api", "ImplementationSpecific", "api"), p(undefined, "ImplementationSpecific")] }] });
    expect(route([ing], undefined, "/api/v1")).toBe(API);
    expect(route([ing], undefined, "/apis")).toBe(WEB);
  });
});

describe("ingressRouting: hosts", () => {
  const ing = ingress("x", {
    defaultBackend: { service: "web", port: 9000 },
    rules: [{ host: "a.example.com", paths: [p("/a", "Prefix", "api")] }, { host: "*.example.com", paths: [p("/", "Prefix", "web")] }, { paths: [p("/", "Prefix", "api")] }],
  });
  it.each([
    { host: "a.example.com", path: "/a/1", want: API, why: "an exact host's path" },
    { host: "A.Example.COM:8080", path: "/a", want: API, why: "the Host header without its port, ignoring case" },
    { host: "a.example.com", path: "/b", want: "default/web:9000", why: "the default backend for an exact host's other paths, never the wildcard's nor the catch-all's routes" },
    { host: "b.example.com", path: "/b", want: WEB, why: "a wildcard host for any one label" },
    { host: "x.a.example.com", path: "/b", want: API, why: "not the wildcard for two labels: the rules without a host" },
    { host: "example.com", path: "/b", want: API, why: "not the wildcard for the bare domain" },
    { host: undefined, path: "/b", want: API, why: "the rules without a host for a request without a Host header" },
  ])("sends $host $path to $want: $why", ({ host, path, want }) => {
    expect(route([ing], host, path)).toBe(want);
  });

  it("answers 404 for what no route takes when no Ingress has a default backend", () => {
    const only = ingress("x", { rules: [{ host: "a.example.com", paths: [p("/a")] }] });
    expect(route([only], "a.example.com", "/b")).toBe("404");
    expect(route([only], "other.example.com", "/a")).toBe("404");
  });

  it("merges the rules of one host from several Ingresses", () => {
    const one = ingress("one", { rules: [{ host: "a.example.com", paths: [p("/web")] }] });
    const two = ingress("two", { rules: [{ host: "a.example.com", paths: [p("/api", "Prefix", "api")] }] });
    expect(route([one, two], "a.example.com", "/web/x")).toBe(WEB);
    expect(route([one, two], "a.example.com", "/api/x")).toBe(API);
  });
});

describe("ingressRouting: conflicts and what the status file gets", () => {
  it("uses the first Ingress by namespace/name for a path two Ingresses route, whatever their order, and says why the other is not", () => {
    const first = ingress("a", { rules: [{ host: "a.example.com", paths: [p("/x", "Prefix", "api")] }] });
    const second = ingress("b", { rules: [{ host: "a.example.com", paths: [p("/x/", "Prefix", "web")] }] });
    for (const list of [
      [first, second],
      [second, first],
    ]) {
      const r = ingressRouting(list, services, noTls);
      expect(frontendRoute(r, "a.example.com", "/x")).toBe(API);
      expect(r.outcomes.map((o) => o.name)).toEqual(["a", "b"]);
      expect(r.outcomes[0]!.paths[0]!.backend).toBe(API);
      expect(r.outcomes[1]!.paths[0]).toMatchObject({ path: "/x/", service: "web", port: 80 });
      expect(r.outcomes[1]!.paths[0]!.backend).toBeUndefined();
      expect(r.outcomes[1]!.paths[0]!.problem).toMatch(/default\/a/);
    }
  });

  it("prefers a Prefix path to an ImplementationSpecific one of an Ingress that comes first", () => {
    const first = ingress("a", { rules: [{ paths: [p("/x", "ImplementationSpecific", "api")] }] });
    const second = ingress("b", { rules: [{ paths: [p("/x", "Prefix", "web")] }] });
    expect(route([first, second], undefined, "/x")).toBe(WEB);
  });

  it("uses the first Ingress's default backend and says so in the other's outcome", () => {
    const r = ingressRouting([ingress("b", { defaultBackend: { service: "api", port: "http-api" } }), ingress("a", { defaultBackend: { service: "web", port: 80 } })], services, noTls);
    expect(r.defaultBackend).toBe(WEB);
    expect(r.outcomes[1]!.defaultBackend).toMatchObject({ service: "api", port: "http-api" });
    expect(r.outcomes[1]!.defaultBackend!.problem).toMatch(/default\/a/);
  });

  it("resolves ports by number and by name, and reports a Service or port that is not there and a headless Service", () => {
    const r = ingressRouting(
      [ingress("x", { rules: [{ paths: [p("/a", "Prefix", "web", "admin"), p("/b", "Prefix", "web", 8080), p("/c", "Prefix", "nope", 80), p("/d", "Prefix", "db", 5432), p("/e", "Prefix", "web", "HTTP")] }] })],
      services,
      noTls,
    );
    expect(r.outcomes[0]!.paths.map((o) => o.backend ?? o.problem)).toEqual([
      "default/web:9000",
      "Service web has no port 8080",
      "no Service nope in namespace default",
      "Service db is headless: no proxy listens for it",
      WEB,
    ]);
    expect(r.routes.map((x) => x.backend)).toEqual(["default/web:9000", WEB]);
  });

  it("does not depend on the order of the Ingresses or of the Services", () => {
    const list = [
      ingress("c", { defaultBackend: { service: "api", port: 8080 }, rules: [{ host: "a.example.com", paths: [p("/", "Prefix"), p("/x", "Exact", "api")] }] }),
      ingress("a", { rules: [{ host: "*.example.com", paths: [p("/y")] }, { paths: [p("/z", "ImplementationSpecific")] }] }),
      ingress("b", { defaultBackend: { service: "web", port: 80 }, rules: [{ host: "a.example.com", paths: [p("/", "Prefix", "api")] }] }),
    ];
    const want = ingressRouting(list, services, noTls);
    expect(ingressRouting([...list].reverse(), [...services].reverse(), noTls)).toEqual(want);
  });
});

describe("ingressRouting: certificates", () => {
  const pair = (name: string): TlsKeyPair => ({ cert: `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`, key: `-----BEGIN PRIVATE KEY-----\n${name}\n-----END PRIVATE KEY-----` });
  const tls = (ns: string, name: string): TlsKeyPair | undefined => (name === "broken" ? undefined : pair(`${ns}/${name}`));

  it("presents certificates for their own names first, then each host's from the first Ingress by namespace/name that names it", () => {
    const r = ingressRouting(
      [
        ingress("b", {
          tls: [
            { hosts: ["a.example.com", "c.example.com"], secretName: "b-cert" },
            { hosts: [], secretName: "wild" },
          ],
        }),
        ingress("a", {
          tls: [
            { hosts: ["a.example.com", "*.example.com"], secretName: "a-cert" },
            { hosts: ["b.example.com"], secretName: "a-cert" },
          ],
        }),
      ],
      services,
      tls,
    );
    expect(r.certificates.map((c) => [c.secret, c.hosts])).toEqual([
      ["default/wild", []],
      ["default/a-cert", ["a.example.com", "*.example.com", "b.example.com"]],
      ["default/b-cert", ["c.example.com"]],
    ]);
    expect(r.certificates[1]!.pem).toBe(`${pair("default/a-cert").cert.trimEnd()}\n${pair("default/a-cert").key}\n`);
    expect(r.outcomes[1]!.tls[0]!.problem).toMatch(/a\.example\.com \(Secret default\/a-cert\)/);
    expect(r.outcomes[0]!.tls.map((t) => t.problem)).toEqual([undefined, undefined]);
  });

  it("leaves out an entry whose Secret has no usable key pair, and says so", () => {
    const r = ingressRouting([ingress("x", { tls: [{ hosts: ["a.example.com"], secretName: "broken" }] })], services, tls);
    expect(r.certificates).toEqual([]);
    expect(r.outcomes[0]!.tls[0]!.problem).toMatch(/broken/);
  });
});

describe("proxyIngress", () => {
  const routing = ingressRouting([ingress("x", { rules: [{ paths: [p("/")] }], tls: [{ hosts: ["a.example.com"], secretName: "c" }] })], services, () => ({ cert: "-----BEGIN CERTIFICATE-----", key: "k" }));

  it("binds HTTP and HTTPS on the node's address, HTTPS only with a certificate the node's proxy can take", () => {
    expect(proxyIngress(routing, "10.0.0.1", { http: 80, https: 443 }, true)).toMatchObject({ http: [{ address: "10.0.0.1", port: 80 }], https: [{ address: "10.0.0.1", port: 443 }] });
    expect(proxyIngress(routing, "10.0.0.1", { http: 80, https: 443 }, false)).toMatchObject({ https: [], certificates: [] });
    expect(proxyIngress(ingressRouting([], services, noTls), "10.0.0.1", { https: 443 }, true)).toBeUndefined();
    expect(proxyIngress(routing, "10.0.0.1", {}, true)).toBeUndefined();
  });

  it("refuses the same port for HTTP and HTTPS", () => {
    expect(codeOf(() => proxyIngress(routing, "10.0.0.1", { http: 8080, https: 8080 }, true))).toBe("InvalidArgument");
  });
});

describe("ingressRouting as the frontend reads it", () => {
  const hosts = ["a.example.com", "b.example.com", "*.example.com", "*.a.example.com", undefined] as const;
  const segments = ["a", "b", "ab"] as const;
  const pathArb = fc.array(fc.constantFrom(...segments), { maxLength: 3 }).chain((segs) => fc.boolean().map((slash) => `/${segs.join("/")}${slash && segs.length > 0 ? "/" : ""}`));
  const backendArb = fc.constantFrom(
    { service: "web", port: 80 as number | string },
    { service: "web", port: "admin" as number | string },
    { service: "api", port: 8080 as number | string },
    { service: "db", port: 5432 as number | string },
  );
  const pathSpecArb = fc
    .record({ path: fc.option(pathArb, { nil: undefined }), pathType: fc.constantFrom("Exact" as const, "Prefix" as const, "ImplementationSpecific" as const), backend: backendArb })
    .map(
      (x): IngressPathSpec =>
        x.path === undefined && x.pathType !== "ImplementationSpecific"
          ? { ...x, path: "/" }
          : x.path === undefined
            ? { pathType: x.pathType, backend: x.backend }
            : { path: x.path, pathType: x.pathType, backend: x.backend },
    );
  const ingressArb = fc
    .record({
      name: fc.constantFrom("a", "b", "c"),
      namespace: fc.constantFrom("default"),
      defaultBackend: fc.option(backendArb, { nil: undefined }),
      rules: fc.array(fc.record({ host: fc.constantFrom(...hosts), paths: fc.array(pathSpecArb, { minLength: 1, maxLength: 4 }) }), { maxLength: 4 }),
    })
    .map(
      (x): IngressSpec => ({
        namespace: x.namespace,
        name: x.name,
        ...(x.defaultBackend ? { defaultBackend: x.defaultBackend } : {}),
        rules: x.rules.map((r) => (r.host === undefined ? { paths: r.paths } : { host: r.host, paths: r.paths })),
        tls: [],
      }),
    );
  const requestHost = fc.constantFrom("a.example.com", "A.EXAMPLE.com:8443", "b.example.com", "c.example.com", "x.a.example.com", "example.com", "other.org", undefined);

  it("sends every request where Kubernetes' rules say, for any Ingresses", () => {
    fc.assert(
      fc.property(fc.uniqueArray(ingressArb, { selector: (i) => i.name, maxLength: 3 }), requestHost, pathArb, (ingresses, host, path) => {
        const routing = ingressRouting(ingresses, services, noTls);
        expect(frontendRoute(routing, host, path)).toBe(kubernetesRoute(ingresses, services, host, path));
      }),
      { numRuns: 2000 },
    );
  });
});
