/**
 * Ingresses end to end on a fleet of two real Docker engines through the real CLI, run with ingress ports:
 * each node's proxy (an HAProxy container on its engine) serves the Ingress on the node's own address —
 * HTTP by host and path, HTTPS with the certificate of a kubernetes.io/tls Secret, put into the container
 * as files — and a Deployment behind it rolls from v1 to v2 while steady keep-alive clients send requests
 * through both nodes' ingress ports: none fails.
 *
 * The apps are the busybox test images: web (coxswain-test/app, "v1" / "v2") and api (the probes image,
 * whose index says "probes"); both listen on all addresses (BIND=0.0.0.0), since each node has an
 * address of its own here (nodeManifests ownAddresses).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { fetchAnswer, startLoad, type Load } from "../support/http-load.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, ingressYaml, serviceYaml, tlsSecretYaml } from "../support/manifests.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { issueCertificate, type TestCertificate } from "../support/tls.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e ingress");

/** The ingress ports, on every node's own address (outside every fleet's port slots). */
const HTTP_PORT = 61080;
const HTTPS_PORT = 61443;
const WEB_REPLICAS = 4;

interface ServiceStatus {
  ports: { endpoints: { ready: { pod: string; node: string }[]; notReady: unknown[]; terminating: unknown[] } }[];
  nodes: { node: string; serving: boolean }[];
}

interface IngressStatus {
  served: boolean;
  nodes: { node: string; http?: string; https?: string; serving: boolean; error?: string }[];
}

describe.skipIf(!HAS_DOCKER)("Ingresses on a two-node Docker fleet", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess; ca: TestCertificate; addresses: string[] };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 2, name: "e2e-ing" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildTestImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-ing-");
    ctx.ca = issueCertificate({ commonName: "ingress e2e CA", usage: "ca" });
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests({ ownAddresses: true }));
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.fleet?.stop(); // the node proxies are containers on the fleet's engines
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  async function statusFile<T>(path: string): Promise<T | undefined> {
    const text = await runGit(["show", `coxswain/status:${path}`], { cwd: ctx.repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : (parse(text) as T);
  }

  /** Fails with the operator's last lines, which say why. */
  function withLog(err: Error): never {
    throw new Error(`${err.message}\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`);
  }

  /** A pod's revision: pods are named <workload>-<revision>-<suffix>. */
  const revisionOf = (pod: string) => pod.split("-")[1]!;

  /** web's Service once its endpoints are WEB_REPLICAS ready pods of one revision other than `not`, and every node serves it. */
  async function webSettled(what: string, not?: string): Promise<string> {
    return waitFor(
      what,
      async () => {
        const s = await statusFile<ServiceStatus>("services/default/web.yaml");
        const eps = s?.ports[0]?.endpoints;
        const revisions = new Set(eps?.ready.map((e) => revisionOf(e.pod)));
        const [revision] = [...revisions];
        const done = eps && eps.ready.length === WEB_REPLICAS && revisions.size === 1 && revision !== not && eps.terminating.length === 0 && eps.notReady.length === 0;
        return done && s.nodes.length === 2 && s.nodes.every((n) => n.serving) ? revision : undefined;
      },
      180_000,
      250,
    ).catch(withLog);
  }

  function web(image: string): string {
    return deploymentYaml({ name: "web", replicas: WEB_REPLICAS, image, probe: true, grace: 10, env: [{ name: "BIND", value: "0.0.0.0" }] });
  }

  it("serves HTTP by host and path and HTTPS with the Secret's certificate on both nodes' ingress ports", async () => {
    const shop = issueCertificate({ commonName: "shop.example.com", hosts: ["shop.example.com"], usage: "server" }, ctx.ca);
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    await ctx.repo.write("apps/api.yaml", deploymentYaml({ name: "api", replicas: 2, image: TEST_IMAGES.probes, probe: true, env: [{ name: "BIND", value: "0.0.0.0" }] }));
    for (const name of ["web", "api"]) await ctx.repo.write(`apps/${name}-svc.yaml`, serviceYaml({ name, ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await ctx.repo.write("apps/shop-tls.yaml", tlsSecretYaml("shop-tls", shop));
    await ctx.repo.write(
      "apps/shop.yaml",
      ingressYaml({
        name: "shop",
        defaultBackend: { service: "web", port: 8080 },
        tls: [{ hosts: ["shop.example.com"], secretName: "shop-tls" }],
        rules: [
          {
            host: "shop.example.com",
            paths: [
              { path: "/", service: "web", port: 8080 },
              { path: "/index.html", pathType: "Exact", service: "api", port: 8080 },
            ],
          },
          { host: "api.example.com", paths: [{ path: "/", service: "api", port: 8080 }] },
        ],
      }),
    );
    await ctx.repo.commit("web and api, their Services, the shop Ingress with TLS");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms", "--ingress-http-port", String(HTTP_PORT), "--ingress-https-port", String(HTTPS_PORT)]);
    await webSettled("web v1 served by both nodes");
    const status = await waitFor(
      "the shop Ingress served over HTTP and HTTPS by both nodes",
      async () => {
        const s = await statusFile<IngressStatus>("ingresses/default/shop.yaml");
        return s?.served && s.nodes.length === 2 && s.nodes.every((n) => n.serving && n.http && n.https) ? s : undefined;
      },
      120_000,
      250,
    ).catch(withLog);
    ctx.addresses = status.nodes.map((n) => n.http!.slice(0, n.http!.lastIndexOf(":")));
    expect(status.nodes.map((n) => [n.http, n.https])).toEqual(ctx.addresses.map((a) => [`${a}:${HTTP_PORT}`, `${a}:${HTTPS_PORT}`]));
    expect(new Set(ctx.addresses).size).toBe(2);

    for (const address of ctx.addresses) {
      const body = async (host: string, path: string): Promise<string> => {
        const a = await fetchAnswer(HTTP_PORT, { address, host, path });
        return a.status === 200 ? a.body : `HTTP ${a.status}`;
      };
      // The api pods may still be starting on one node's view: wait for the first answer, then assert.
      await waitFor(`${address}: api.example.com to reach the api`, async () => (await body("api.example.com", "/")) === "probes", 60_000);
      expect({ address, answers: [await body("shop.example.com", "/"), await body("shop.example.com", "/index.html"), await body("api.example.com", "/index.html"), await body("elsewhere.example.com", "/")] }).toEqual({
        address,
        answers: ["v1", "probes", "probes", "v1"],
      });
      const tls = await fetchAnswer(HTTPS_PORT, { address, host: "shop.example.com", tls: { ca: ctx.ca.cert, servername: "shop.example.com" } });
      expect({ address, status: tls.status, body: tls.body, certificate: tls.certificate }).toEqual({ address, status: 200, body: "v1", certificate: "shop.example.com" });
    }
  });

  it("rolls web from v1 to v2 with no failed request through either node's ingress port", async () => {
    expect(ctx.addresses).toHaveLength(2); // set by the test before
    const revision = await webSettled("web v1 settled");
    const loads: Load[] = ctx.addresses.map((address) => startLoad(HTTP_PORT, 4, address, { host: "shop.example.com", path: "/" }));
    const sent = () => loads.reduce((n, l) => n + l.latencies.length + l.failures.length, 0);
    await waitFor("traffic flowing through both nodes", () => loads.every((l) => l.latencies.length > 50));
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v2));
    await ctx.repo.commit("web v2");
    await webSettled("web v2 rolled out", revision);
    const seen = sent();
    await waitFor("traffic after the rollout", () => sent() > seen + 100);
    await Promise.all(loads.map((l) => l.stop()));
    const latencies = loads.flatMap((l) => l.latencies).sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
    const failures = loads.flatMap((l) => l.failures);
    console.log(`rolling ${WEB_REPLICAS} replicas v1 → v2 on 2 Docker nodes through the ingress (both nodes): ${sent()} requests, ${failures.length} failed, p99 ${p99.toFixed(1)} ms`);
    expect(failures).toEqual([]);
    for (const l of loads) {
      expect(l.counts.get("v1")).toBeGreaterThan(0);
      expect(l.counts.get("v2")).toBeGreaterThan(0);
    }
  });
});
