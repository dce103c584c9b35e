/**
 * Ingresses through the real HAProxy. The pure pipeline — IngressSpecs and Services → ingressRouting →
 * proxyIngress → renderHaproxy / proxyEdits — applied by the real node proxy manager (HaproxyProcess, which
 * writes the certificate files) to a real haproxy, with small Node HTTP backends on 127.0.0.1:
 * - every rendered ingress configuration passes `haproxy -c` without a warning;
 * - requests are routed by host and path with Kubernetes' precedence: the examples table of the Ingress
 *   documentation, exact before wildcard hosts, the longest Prefix, Exact before Prefix, the Host header's
 *   port and case, a path with characters HAProxy's parser would read otherwise; and a sample of random
 *   requests goes exactly where the model of the frontend (test/unit/traffic/ingress-model.ts, itself
 *   checked against Kubernetes' rules) says;
 * - HTTPS presents the certificate of the server name asked for (exact, wildcard, the default one),
 *   with X-Forwarded-Proto https; certificate files go when TLS does;
 * - endpoint churn reaches the ingress backends by runtime edits alone, a leaving pod drained there too;
 * - without a default backend, what no route takes gets 404.
 * Everything listens on 127.0.0.1; nothing waits a fixed time or asserts how long anything took.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HaproxyProcess } from "../../../operator/src/runtime/proxy/haproxy-process.js";
import { serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import { proxyEdits, renderHaproxy, type RenderedState } from "../../../operator/src/traffic/haproxy.js";
import { ingressRouting, proxyIngress, type TlsKeyPair } from "../../../operator/src/traffic/ingress.js";
import { proxyConfig } from "../../../operator/src/traffic/proxy.js";
import type { IngressPathSpec, IngressSpec, ProxyConfig, ServiceSpec, TrafficPod } from "../../../operator/src/traffic/types.js";
import { issueCertificate, type TestCertificate } from "../../support/tls.js";
import { waitFor } from "../../support/wait.js";
import { frontendRoute } from "../../unit/traffic/ingress-model.js";
import { pod, podPort, port, service } from "../../unit/traffic/builders.js";
import { requireHaproxy } from "./haproxy-binary.js";

const haproxy = requireHaproxy("Ingress through haproxy");

/** What a backend answers: its name and what it was sent. */
interface Answer {
  status: number;
  name?: string;
  path?: string;
  proto?: string;
  forwardedFor?: string;
  /** HTTPS: the common name of the certificate the proxy presented. */
  certificate?: string;
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port: p } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return p;
}

function read(res: import("node:http").IncomingMessage, extra: Partial<Answer> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.on("data", (c: Buffer) => (body += c.toString()));
    res.on("error", reject);
    res.on("end", () => {
      if (res.statusCode !== 200) return resolve({ status: res.statusCode ?? 0, ...extra });
      const j = JSON.parse(body) as Omit<Answer, "status">;
      resolve({ status: 200, ...j, ...extra });
    });
  });
}

/** One HTTP/1.1 request on a new connection to 127.0.0.1:listenPort with this Host header (HAProxy answers 400 without one). */
function get(listenPort: number, host: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: listenPort, path, agent: false, setHost: false, headers: { host } }, (res) => read(res).then(resolve, reject));
    req.on("error", reject);
    req.end();
  });
}

/** One HTTPS request asking for `servername` (SNI; undefined: none), trusting `ca`. Does not check the name: the test looks at the certificate. */
function getTls(listenPort: number, servername: string | undefined, host: string, path: string, ca: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: "127.0.0.1", port: listenPort, path, agent: false, setHost: false, headers: { host }, ca, ...(servername !== undefined ? { servername } : {}), checkServerIdentity: () => undefined },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        read(res, { certificate: cert.subject.CN as string }).then(resolve, reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe.skipIf(haproxy === undefined)("Ingress through haproxy", () => {
  const backends = new Map<string, { server: Server; port: number }>();
  const checkDir = mkdtempSync(join(tmpdir(), "cx-ing-check-"));
  let stateDir = "";
  let proxy: HaproxyProcess;
  let state: RenderedState | undefined;
  let httpPort = 0;
  let httpsPort = 0;
  let servicePorts = new Map<string, number>();
  let ca: TestCertificate;
  const certs = new Map<string, TestCertificate>();

  const NAMES = ["web", "web2", "api", "admin", "p0", "p1", "p2"];
  /** One Service per backend name but web2 (a second pod of web); HTTP mode for web, TCP for the others. */
  let services: ServiceSpec[] = [];

  beforeAll(async () => {
    for (const name of NAMES) {
      const server = createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ name, path: req.url, proto: req.headers["x-forwarded-proto"], forwardedFor: req.headers["x-forwarded-for"] }));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      backends.set(name, { server, port: (server.address() as AddressInfo).port });
    }
    httpPort = await freePort();
    httpsPort = await freePort();
    servicePorts = new Map(await Promise.all(NAMES.filter((n) => n !== "web2").map(async (n) => [n, await freePort()] as const)));
    services = [...servicePorts].map(([name, p]) =>
      service(name, { selector: { app: name === "web2" ? "web" : name }, ports: [port({ name: name === "web" ? "http" : "main", port: p, targetPort: 8080, mode: name === "web" ? "http" : "tcp" })] }),
    );
    ca = issueCertificate({ commonName: "coxswain ingress test CA", usage: "ca" });
    for (const [name, hosts] of [
      ["a", ["a.example.com"]],
      ["w", ["*.w.example.com"]],
      ["default", ["default.example.com"]],
    ] as const) {
      certs.set(name, issueCertificate({ commonName: hosts[0]!, hosts, usage: "server" }, ca));
    }
    stateDir = mkdtempSync(join(tmpdir(), "cx-ing-"));
    proxy = new HaproxyProcess({ stateDir, binary: haproxy! });
  });

  afterAll(async () => {
    await proxy?.close();
    for (const { server } of backends.values()) await new Promise((r) => server.close(r));
    rmSync(checkDir, { recursive: true, force: true });
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  /** A ready pod answering on backend `name`'s port, labelled for its Service. */
  const backendPod = (name: string, over: Partial<TrafficPod> = {}): TrafficPod =>
    pod(name, { address: "127.0.0.1", labels: { app: name === "web2" ? "web" : name }, ports: [podPort({ hostPort: backends.get(name)!.port })], ...over });

  const path = (p: string | undefined, pathType: IngressPathSpec["pathType"], to: string): IngressPathSpec => ({
    ...(p !== undefined ? { path: p } : {}),
    pathType,
    backend: { service: to, port: servicePorts.get(to)! },
  });

  // The examples table of Kubernetes' Ingress documentation: each on a host of its own, its paths to api,
  // everything else to the default backend (web).
  const examples: { paths: [string, IngressPathSpec["pathType"]][]; request: string; matches: boolean }[] = [
    { paths: [["/", "Prefix"]], request: "/anything", matches: true },
    { paths: [["/foo", "Exact"]], request: "/foo", matches: true },
    { paths: [["/foo", "Exact"]], request: "/bar", matches: false },
    { paths: [["/foo", "Exact"]], request: "/foo/", matches: false },
    { paths: [["/foo/", "Exact"]], request: "/foo", matches: false },
    { paths: [["/foo", "Prefix"]], request: "/foo/", matches: true },
    { paths: [["/foo/", "Prefix"]], request: "/foo", matches: true },
    { paths: [["/aaa/bb", "Prefix"]], request: "/aaa/bbb", matches: false },
    { paths: [["/aaa/bbb/", "Prefix"]], request: "/aaa/bbb", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbb/", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbb/ccc?x=/aaa", matches: true },
    { paths: [["/aaa/bbb", "Prefix"]], request: "/aaa/bbbxyz", matches: false },
    { paths: [["/aaa", "Prefix"]], request: "/ccc", matches: false },
    {
      paths: [
        ["/foo", "Prefix"],
        ["/foo", "Exact"],
      ],
      request: "/foo",
      matches: true,
    },
  ];

  /** The Ingresses of the main configuration; `withDefault` false drops the default backend. */
  function ingresses(withDefault = true, withTls = true): IngressSpec[] {
    const ing = (name: string, over: Partial<IngressSpec>): IngressSpec => ({ namespace: "default", name, rules: [], tls: [], ...over });
    return [
      ...(withDefault ? [ing("default", { defaultBackend: { service: "web", port: servicePorts.get("web")! } })] : []),
      ...examples.map((e, i) =>
        // In the example with two paths, the Prefix one goes to admin: api answers only if Exact wins.
        ing(`example-${i}`, { rules: [{ host: `ex${i}.example.com`, paths: e.paths.map(([p, t]) => path(p, t, t === "Prefix" && e.paths.length > 1 ? "admin" : "api")) }] }),
      ),
      ing("shop", {
        rules: [
          { host: "a.example.com", paths: [path("/api", "Prefix", "api"), path("/it's$HOME(1)", "Exact", "admin")] },
          { host: "*.example.com", paths: [path("/", "Prefix", "admin")] },
          { host: "*.w.example.com", paths: [path(undefined, "ImplementationSpecific", "api")] },
          { paths: [path("/", "Prefix", "p0"), path("/aaa", "Prefix", "p1"), path("/aaa/bbb", "Prefix", "p2")] },
        ],
        tls: withTls
          ? [
              { hosts: ["a.example.com"], secretName: "a" },
              { hosts: ["*.w.example.com"], secretName: "w" },
              { hosts: [], secretName: "default" },
            ]
          : [],
      }),
    ];
  }

  const keyPair = (_ns: string, name: string): TlsKeyPair | undefined => {
    const c = certs.get(name);
    return c ? { cert: c.cert, key: c.key } : undefined;
  };

  function configFor(pods: TrafficPod[], ings: IngressSpec[], filesDir: string | undefined): ProxyConfig {
    const node = { name: "n1", address: "127.0.0.1", serviceNetworkAddresses: new Map(services.map((s) => [`default/${s.name}`, "127.0.0.1"])) };
    const base = proxyConfig(
      node,
      services,
      services.map((s) => serviceEndpoints(s, pods)),
    );
    const ingress = proxyIngress(ingressRouting(ings, services, keyPair), "127.0.0.1", { http: httpPort, https: httpsPort }, filesDir !== undefined);
    return { ...base, ...(ingress ? { ingress } : {}) };
  }

  const allPods = (): TrafficPod[] => NAMES.filter((n) => n !== "web2").map((n) => backendPod(n));

  /** Takes the proxy to `config`: the first time and for any ingress change a reload with files, else runtime edits. */
  async function apply(config: ProxyConfig, expectReload: boolean): Promise<void> {
    const edits = proxyEdits(state, config, { filesDir: proxy.filesDir });
    expect(edits.reload).toBe(expectReload);
    if (edits.reload) await proxy.apply({ reload: true, text: edits.text, files: edits.files });
    else await proxy.apply({ reload: false, commands: edits.commands });
    state = edits.state;
  }

  it("accepts every rendered ingress configuration with haproxy -c, without a warning", () => {
    const check = (name: string, config: ProxyConfig): void => {
      const { text, files } = renderHaproxy(config, { statsSocket: join(checkDir, "admin.sock"), filesDir: checkDir });
      for (const f of files) writeFileSync(join(checkDir, f.name), f.content);
      const file = join(checkDir, `${name}.cfg`);
      writeFileSync(file, text);
      const run = spawnSync(haproxy!, ["-c", "-f", file], { encoding: "utf8" });
      const output = `${run.stdout}${run.stderr}`;
      expect(run.status, `${name}: ${output}`).toBe(0);
      expect(output, name).not.toMatch(/\[(WARNING|ALERT)\]/);
    };
    check("full", configFor(allPods(), ingresses(), checkDir));
    check("no-default-no-tls", configFor(allPods(), ingresses(false, false), checkDir));
    check("no-pods", configFor([], ingresses(), checkDir));
    check("default-backend-only", configFor(allPods(), [{ namespace: "default", name: "d", defaultBackend: { service: "api", port: servicePorts.get("api")! }, rules: [], tls: [] }], checkDir));
    const many: IngressSpec[] = Array.from({ length: 200 }, (_, i) => ({
      namespace: "default",
      name: `many-${i}`,
      rules: [{ host: i % 2 ? `h${i}.example.com` : `*.h${i}.example.com`, paths: [path(`/p${i}`, "Prefix", "web"), path(`/e${i}/`, "Exact", "api")] }],
      tls: [],
    }));
    check("two-hundred-ingresses", configFor(allPods(), many, checkDir));
  });

  it("routes by host and path with Kubernetes' precedence, through a Service listener of either mode", async () => {
    await apply(configFor(allPods(), ingresses(), proxy.filesDir), true);

    for (const [i, e] of examples.entries()) {
      const want = e.matches ? "api" : "web";
      expect((await get(httpPort, `ex${i}.example.com`, e.request)).name, `${e.paths.map((p) => p.join(" ")).join(", ")} for ${e.request}`).toBe(want);
    }
    const cases: { host: string; path: string; want: string; why: string }[] = [
      { host: "a.example.com", path: "/api/v1", want: "api", why: "an exact host's Prefix path" },
      { host: "A.EXAMPLE.com:8080", path: "/api", want: "api", why: "the Host header without its port, ignoring case" },
      { host: "a.example.com", path: "/other", want: "web", why: "an exact host's other paths go to the default backend, not to *.example.com's /" },
      { host: "a.example.com", path: "/it's$HOME(1)", want: "admin", why: "an Exact path with characters HAProxy's parser reads otherwise" },
      { host: "b.example.com", path: "/other", want: "admin", why: "the wildcard host, one label" },
      { host: "x.b.example.com", path: "/aaa/bbb/c", want: "p2", why: "two labels: not *.example.com; the rules without a host, longest Prefix" },
      { host: "x.w.example.com", path: "/z", want: "api", why: "*.w.example.com, the more specific wildcard for this host" },
      { host: "example.com", path: "/aaa/x", want: "p1", why: "the bare domain: the rules without a host, /aaa" },
      { host: "other.org", path: "/aaab", want: "p0", why: "a host no rule names: the rules without a host, / (not /aaa: whole elements)" },
    ];
    for (const c of cases) expect((await get(httpPort, c.host, c.path)).name, `${c.host} ${c.path}: ${c.why}`).toBe(c.want);
    const answer = await get(httpPort, "a.example.com", "/api");
    expect(answer).toMatchObject({ proto: "http", forwardedFor: "127.0.0.1", path: "/api" });
  });

  it("sends a random sample of requests exactly where the model of the frontend says", async () => {
    const routing = ingressRouting(ingresses(), services, keyPair);
    const host = fc.constantFrom(...examples.map((_, i) => `ex${i}.example.com`), "a.example.com", "B.example.com:80", "x.w.example.com", "w.example.com", "example.com", "other.org");
    const segment = fc.constantFrom("aaa", "bbb", "bb", "foo", "api", "it's$HOME(1)", "x");
    const reqPath = fc.array(segment, { maxLength: 4 }).chain((s) => fc.boolean().map((slash) => `/${s.join("/")}${slash && s.length > 0 ? "/" : ""}`));
    const sample = fc.sample(fc.tuple(host, reqPath), { numRuns: 150, seed: 42 });
    for (const [h, p] of sample) {
      const want = frontendRoute(routing, h, p);
      const got = await get(httpPort, h, p);
      expect(got.status === 404 ? "404" : `default/${got.name}:${servicePorts.get(got.name!)}`, `${h} ${p}`).toBe(want);
    }
  });

  it("presents the certificate of the server name asked for over HTTPS, the first without hosts to anyone else", async () => {
    const cases: { servername: string | undefined; host: string; want: string; backend: string }[] = [
      { servername: "a.example.com", host: "a.example.com", want: "a.example.com", backend: "api" },
      { servername: "x.w.example.com", host: "x.w.example.com", want: "*.w.example.com", backend: "api" },
      { servername: "b.example.com", host: "b.example.com", want: "default.example.com", backend: "admin" },
      { servername: undefined, host: "b.example.com", want: "default.example.com", backend: "admin" },
    ];
    for (const c of cases) {
      const answer = await getTls(httpsPort, c.servername, c.host, "/api", ca.cert);
      expect(answer, `${c.servername}`).toMatchObject({ status: 200, certificate: c.want, name: c.backend, proto: "https" });
    }
    expect((await readdir(proxy.filesDir)).filter((f) => f.endsWith(".pem"))).toHaveLength(3);
  });

  it("reaches a new pod and drains a leaving one on the ingress by runtime edits alone", async () => {
    const names = async (n = 12): Promise<string[]> => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) seen.add((await get(httpPort, "a.example.com", "/elsewhere")).name ?? "?");
      return [...seen].sort();
    };
    await apply(configFor([...allPods(), backendPod("web2")], ingresses(), proxy.filesDir), false);
    await waitFor("both pods of web behind the ingress", async () => JSON.stringify(await names()) === JSON.stringify(["web", "web2"]));
    await apply(configFor([...allPods().map((p) => (p.name === "web" ? { ...p, terminating: true } : p)), backendPod("web2")], ingresses(), proxy.filesDir), false);
    await waitFor("only web2 behind the ingress", async () => JSON.stringify(await names()) === JSON.stringify(["web2"]));
  });

  it("answers 404 for what no route takes without a default backend, and removes the certificate files without TLS", async () => {
    await apply(configFor(allPods(), ingresses(false, false), proxy.filesDir), true);
    expect((await get(httpPort, "a.example.com", "/other")).status).toBe(404);
    expect((await get(httpPort, "ex2.example.com", "/bar")).status).toBe(404);
    expect((await get(httpPort, "a.example.com", "/api")).name).toBe("api");
    expect((await get(httpPort, "other.org", "/aaa")).name).toBe("p1");
    expect(await readdir(proxy.filesDir)).toEqual([]);
  });
});
