/**
 * The service controller's Ingress hook, on in-memory fakes (a desired graph built from manifests, a
 * stand-in fleet, FakeProxy): with ingress ports every node's proxy gets the ingress frontend on its own
 * address, HTTPS with the Ingresses' certificates as files; the ports are kept from node ports and host
 * ports; a node that cannot serve the ingress (a nodePort on its port, a proxy that takes no files) keeps
 * serving its Services and says why; each Ingress gets ingresses/<ns>/<name>.yaml, removed with it.
 * (Real traffic through a real HAProxy: test/integration/traffic/ingress.test.ts.)
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CoxError } from "../../../operator/src/api/errors.js";
import type { ServiceControllerOptions } from "../../../operator/src/controllers/service/controller.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { proxySection, readyPod, serviceHarness } from "../../support/service-harness.js";

const TLS = fileURLToPath(new URL("../../fixtures/manifests/tls/", import.meta.url));
const indent = (text: string): string =>
  text
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "web:1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls}
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(readFileSync(`${TLS}/tls.crt`, "utf8"))}
  tls.key: |
${indent(readFileSync(`${TLS}/tls.key`, "utf8"))}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  tls:
    - {hosts: [shop.example.com], secretName: shop-tls}
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
          - {path: /gone, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: elsewhere}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {number: 80}}}
`;

function harness(opts: { ingress?: ServiceControllerOptions["ingress"]; proxy?: (n: NodeConfig) => FakeProxy; manifests?: string } = {}) {
  return serviceHarness({
    manifests: opts.manifests ?? MANIFESTS,
    pods: [readyPod({ name: "web-a", node: "n1", labels: { app: "web" }, hostPort: 30500 }), readyPod({ name: "web-b", node: "n2", labels: { app: "web" }, hostPort: 30500 })],
    ...(opts.proxy ? { proxy: opts.proxy } : {}),
    options: () => (opts.ingress ? { ingress: opts.ingress } : {}),
  });
}

const section = proxySection;

describe("the service controller with Ingresses", () => {
  it("serves no Ingress without ingress ports, and says so in each Ingress's status file", async () => {
    const h = harness();
    await h.run();
    expect(h.proxies.get("n1")!.reloads.at(-1)).not.toContain("frontend ingress");
    expect(h.reserved).toEqual([]);
    expect(parse(h.status.get("ingresses/default/shop.yaml")!)).toMatchObject({ ingress: "default/shop", served: false, reason: expect.stringMatching(/--ingress-http-port/) });
  });

  it("gives every node's proxy the ingress frontend on its own address, HTTPS with the certificate as files", async () => {
    const h = harness({ ingress: { httpPort: 30000, httpsPort: 8443 } });
    await h.run();
    for (const [name, address] of [
      ["n1", "10.0.0.1"],
      ["n2", "10.0.0.2"],
    ] as const) {
      const proxy = h.proxies.get(name)!;
      const binds = section(proxy, "frontend ingress").filter((l) => l.startsWith("bind "));
      const crtList = [...proxy.files.keys()].find((f) => f.endsWith(".crt-list"))!;
      expect(binds).toEqual([`bind ${address}:30000`, `bind ${address}:8443 ssl crt-list ${proxy.filesDir}/${crtList}`]);
      const pem = [...proxy.files.entries()].find(([f]) => f.endsWith(".pem"))![1];
      expect(pem).toContain("BEGIN CERTIFICATE");
      expect(pem).toContain("BEGIN PRIVATE KEY");
      expect(proxy.files.get(crtList)).toMatch(/\.pem shop\.example\.com\n$/);
      // Every node's ingress sends to the pods of every node, as its Services do.
      expect(section(proxy, "backend default.web:80:ingress").filter((l) => l.startsWith("server s"))).toEqual(["server s1 10.0.0.1:30500 weight 1", "server s2 10.0.0.2:30500 weight 1"]);
    }
    expect(h.logs).toContain("Ingresses are served on node n1 at http://10.0.0.1:30000/ and https://10.0.0.1:8443/");
  });

  it("keeps the ingress ports from node ports and pods' host ports", async () => {
    const nodePort = MANIFESTS.replace("spec:\n  selector: {app: web}\n  ports:", "spec:\n  type: NodePort\n  selector: {app: web}\n  ports:");
    const h = harness({ ingress: { httpPort: 30000, httpsPort: 8443 }, manifests: nodePort });
    await h.run();
    expect(h.reserved).toEqual([8443, 30000, 30001]);
    expect(section(h.proxies.get("n1")!, "listen default.web:80")).toContain("bind 10.0.0.1:30001");
  });

  it("writes what each path resolved to, the certificate and where each node serves it in the Ingress's status file", async () => {
    const h = harness({ ingress: { httpPort: 30000, httpsPort: 8443 } });
    await h.run();
    expect(parse(h.status.get("ingresses/default/shop.yaml")!)).toEqual({
      ingress: "default/shop",
      class: "(none: coxswain)",
      served: true,
      paths: [
        { host: "shop.example.com", path: "/", pathType: "Prefix", service: "web", port: "http", listener: "default/web:80" },
        { host: "shop.example.com", path: "/gone", pathType: "Prefix", service: "web", port: 80, listener: "default/web:80" },
      ],
      tls: [{ hosts: ["shop.example.com"], secretName: "shop-tls" }],
      nodes: [
        { node: "n1", http: "10.0.0.1:30000", https: "10.0.0.1:8443", serving: true },
        { node: "n2", http: "10.0.0.2:30000", https: "10.0.0.2:8443", serving: true },
      ],
    });
    expect(parse(h.status.get("ingresses/default/elsewhere.yaml")!)).toMatchObject({ class: "nginx", served: false, reason: expect.stringMatching(/another controller/) });
  });

  it("serves HTTP only on a node whose proxy takes no certificate files, and says why", async () => {
    const noFiles = (): FakeProxy => Object.defineProperty(new FakeProxy(), "filesDir", { value: undefined });
    const h = harness({ ingress: { httpPort: 30000, httpsPort: 8443 }, proxy: (n) => (n.name === "n2" ? noFiles() : new FakeProxy()) });
    await h.run();
    expect(section(h.proxies.get("n2")!, "frontend ingress").filter((l) => l.startsWith("bind "))).toEqual(["bind 10.0.0.2:30000"]);
    expect(h.proxies.get("n2")!.files.size).toBe(0);
    const n2 = (parse(h.status.get("ingresses/default/shop.yaml")!) as { nodes: Record<string, unknown>[] }).nodes[1];
    expect(n2).toMatchObject({ node: "n2", http: "10.0.0.2:30000", serving: true, error: expect.stringMatching(/no certificate files/) });
    expect(n2).not.toHaveProperty("https");
  });

  it("leaves the ingress out where its port is a Service's nodePort, keeps serving the Service there, and says why", async () => {
    const taken = MANIFESTS.replace("    - {name: http, port: 80, targetPort: http}", "    - {name: http, port: 80, targetPort: http, nodePort: 30000}").replace(
      "spec:\n  selector: {app: web}\n  ports:",
      "spec:\n  type: NodePort\n  selector: {app: web}\n  ports:",
    );
    const h = harness({ ingress: { httpPort: 30000 }, manifests: taken });
    await h.run();
    const proxy = h.proxies.get("n1")!;
    expect(proxy.reloads.at(-1)).not.toContain("frontend ingress");
    expect(section(proxy, "listen default.web:80")).toContain("bind 10.0.0.1:30000");
    expect(parse(h.status.get("ingresses/default/shop.yaml")!)).toMatchObject({
      served: true,
      nodes: [
        { node: "n1", serving: false, error: expect.stringMatching(/^InvalidArgument: .*10\.0\.0\.1:30000/) },
        { node: "n2", serving: false },
      ],
    });
  });

  it("serves a node's Services without the ingress when its proxy refuses the ingress (its port is in use), and says why", async () => {
    const busy = (): FakeProxy => {
      const p = new FakeProxy();
      const apply = p.apply.bind(p);
      p.apply = (change) =>
        change.reload && change.text.includes("frontend ingress") ? Promise.reject(new CoxError("ProxyBindFailed", "the node proxy cannot listen on 10.0.0.2:30000 (Address already in use)")) : apply(change);
      return p;
    };
    const h = harness({ ingress: { httpPort: 30000 }, proxy: (n) => (n.name === "n2" ? busy() : new FakeProxy()) });
    await h.run();
    expect(h.proxies.get("n2")!.reloads.at(-1)).toContain("listen default.web:80");
    expect(h.proxies.get("n2")!.reloads.at(-1)).not.toContain("frontend ingress");
    expect(h.proxies.get("n1")!.reloads.at(-1)).toContain("frontend ingress");
    expect(parse(h.status.get("services/default/web.yaml")!)).toMatchObject({
      nodes: [
        { node: "n1", serving: true },
        { node: "n2", serving: true },
      ],
    });
    expect(parse(h.status.get("ingresses/default/shop.yaml")!)).toMatchObject({
      nodes: [
        { node: "n1", serving: true },
        { node: "n2", serving: false, error: expect.stringMatching(/^ProxyBindFailed: /) },
      ],
    });
    expect(h.logs).toContain("Ingresses are not served on node n2 (ProxyBindFailed: the node proxy cannot listen on 10.0.0.2:30000 (Address already in use))");
  });

  it("reloads when an Ingress changes and removes the status file of one that is gone", async () => {
    const h = harness({ ingress: { httpPort: 30000 } });
    await h.run();
    const proxy = h.proxies.get("n1")!;
    const before = proxy.reloads.length;
    h.setManifests(MANIFESTS.replace("path: /gone", "path: /moved").replace(/---\napiVersion: networking.k8s.io\/v1\nkind: Ingress\nmetadata: \{name: elsewhere\}[\s\S]*$/, ""));
    await h.run();
    expect(proxy.reloads.length).toBe(before + 1);
    expect(section(proxy, "frontend ingress")).toContain("acl path_1 path -m str /moved");
    expect([...h.status.keys()].filter((k) => k.startsWith("ingresses/"))).toEqual(["ingresses/default/shop.yaml"]);
  });
});
