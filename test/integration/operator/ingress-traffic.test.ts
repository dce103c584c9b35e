/**
 * Ingresses through the whole pipeline: the operator in-process on a real Git repository with the process
 * runtime (real processes) and a real HAProxy (Debian's) as the node proxy, run with ingress ports. A
 * commit holds two Deployments with their Services, an Ingress with host and path rules, a default backend
 * and TLS from kubernetes.io/tls Secrets, and an Ingress of another class. Requests by Host and path reach
 * the pods the rules say (each answers "<app> <pod> <path>"); HTTPS presents the certificate of the name
 * asked for; the other class is not served; the status files say so. A later commit that changes a path
 * routes the new way without failing a request of a steady load, and one that removes the Ingress stops
 * serving it. (Setup shared with the Services suite: test/support/in-process-operator.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { fetchAnswer, startLoad, type Answer } from "../../support/http-load.js";
import { appDeployment, requireHaproxyAndRoot, startProcessOperator, statusFile, stopProcessOperator, writeTestApp } from "../../support/in-process-operator.js";
import { ingressYaml, serviceYaml, tlsSecretYaml } from "../../support/manifests.js";
import { issueCertificate, type TestCertificate } from "../../support/tls.js";
import { waitFor } from "../../support/wait.js";

const enabled = requireHaproxyAndRoot("ingress-traffic");

/** The default node's host ports, and the ingress ports just above them (one band per suite). */
const PORT_RANGE = { from: 62800, to: 62889 };
const HTTP_PORT = 62890;
const HTTPS_PORT = 62891;

interface IngressStatus {
  class: string;
  served: boolean;
  reason?: string;
  paths: { host?: string; path: string; listener?: string; problem?: string }[];
  nodes: { node: string; http?: string; https?: string; serving: boolean; error?: string }[];
}

describe.skipIf(!enabled)("Ingresses through the operator and a real HAProxy (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let app: Awaited<ReturnType<typeof writeTestApp>>;
  let op: RunningOperator | undefined;
  let ca: TestCertificate;
  const certs = new Map<string, TestCertificate>();
  const lines: string[] = [];

  beforeAll(async () => {
    app = await writeTestApp();
    ca = issueCertificate({ commonName: "ingress test CA", usage: "ca" });
    for (const host of ["shop.example.com", "api.example.com"]) certs.set(host, issueCertificate({ commonName: host, hosts: [host], usage: "server" }, ca));
  });

  afterAll(async () => {
    await app?.remove();
  });

  afterEach(async () => {
    await stopProcessOperator(op, stateDir);
    op = undefined;
    await repo.cleanup();
    lines.length = 0;
  });

  /** The shop Ingress: shop.example.com "/" → web and `apiPath` → api, api.example.com → api, the rest → web; TLS for both hosts. */
  function shopIngress(apiPath = "/api"): string {
    return ingressYaml({
      name: "shop",
      defaultBackend: { service: "web", port: 8080 },
      tls: [
        { hosts: ["shop.example.com"], secretName: "shop-tls" },
        { hosts: ["api.example.com"], secretName: "api-tls" },
      ],
      rules: [
        {
          host: "shop.example.com",
          paths: [
            { path: "/", service: "web", port: 8080 },
            { path: apiPath, service: "api", port: 8080 },
          ],
        },
        { host: "api.example.com", paths: [{ path: "/", service: "api", port: 8080 }] },
      ],
    });
  }

  /** Commits both apps, their Services, the TLS Secrets, the shop Ingress and one of class nginx; starts the operator. */
  async function startWithShop(): Promise<void> {
    stateDir = await tempDir("coxswain-ing-");
    repo = await makeRepo();
    await repo.write("web.yaml", appDeployment(app.file, { name: "web", version: "web", replicas: 2 }));
    await repo.write("api.yaml", appDeployment(app.file, { name: "api", version: "api", replicas: 1 }));
    for (const name of ["web", "api"]) await repo.write(`${name}-svc.yaml`, serviceYaml({ name, ports: [{ name: "http", port: 8080, targetPort: "http" }] }));
    await repo.write("shop-tls.yaml", tlsSecretYaml("shop-tls", certs.get("shop.example.com")!));
    await repo.write("api-tls.yaml", tlsSecretYaml("api-tls", certs.get("api.example.com")!));
    await repo.write("shop.yaml", shopIngress());
    await repo.write("other.yaml", ingressYaml({ name: "other", className: "nginx", rules: [{ host: "other.example.com", paths: [{ path: "/", service: "api", port: 8080 }] }] }));
    await repo.commit("web and api, their Services, the shop Ingress with TLS, an Ingress of class nginx");
    op = await startProcessOperator(repo, stateDir, PORT_RANGE, lines, { ingress: { httpPort: HTTP_PORT, httpsPort: HTTPS_PORT } });
    await waitFor(
      "the shop Ingress served over HTTP and HTTPS with every pod ready",
      async () => {
        const s = await status("shop");
        if (!s?.served || !s.nodes.every((n) => n.serving && n.https !== undefined)) return undefined;
        const apps = await Promise.all(["shop.example.com", "api.example.com"].map((host) => http(host, "/")));
        return apps[0]!.body.startsWith("web ") && apps[1]!.body.startsWith("api ");
      },
      90_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log (last 30 lines):\n${lines.slice(-30).join("\n")}`);
    });
  }

  function status(name: string): Promise<IngressStatus | undefined> {
    return statusFile<IngressStatus>(op!, repo, `ingresses/default/${name}.yaml`);
  }

  const http = (host: string, path: string): Promise<Answer> => fetchAnswer(HTTP_PORT, { host, path });
  /** Which app answered (the first word of the body), or the status when it is not 200. */
  const appOf = (a: Answer): string => (a.status === 200 ? a.body.split(" ")[0]! : `HTTP ${a.status}`);

  it("routes by host and path with the default backend for the rest, presents each host's certificate, ignores another class, and says so in the status files", async () => {
    await startWithShop();
    const routes: [host: string, path: string, app: string][] = [
      ["shop.example.com", "/", "web"],
      ["shop.example.com", "/cart", "web"],
      ["shop.example.com", "/api", "api"],
      ["shop.example.com", "/api/items?id=1", "api"],
      ["shop.example.com", "/apis", "web"], // Prefix matches whole path elements
      ["SHOP.example.com:62890", "/api/x", "api"], // the Host header's case and port do not count
      ["api.example.com", "/anything", "api"],
      ["unknown.example.com", "/api", "web"], // no rule for this host: the default backend
      ["other.example.com", "/", "web"], // class nginx: its rule is not ours, so the default backend
    ];
    for (const [host, path, want] of routes) {
      const a = await http(host, path);
      expect({ host, path, app: appOf(a) }).toEqual({ host, path, app: want });
      expect(a.body.split(" ")[2]).toBe(path); // the path reaches the pod unchanged
    }
    // Both web pods take requests through the ingress.
    const pods = new Set<string>();
    await waitFor("both web pods to answer through the ingress", async () => {
      pods.add((await http("shop.example.com", "/")).body.split(" ")[1]!);
      return pods.size === 2;
    });

    for (const host of ["shop.example.com", "api.example.com"]) {
      const a = await fetchAnswer(HTTPS_PORT, { host, path: "/", tls: { ca: ca.cert, servername: host } });
      expect({ certificate: a.certificate, app: appOf(a) }).toEqual({ certificate: host, app: host.split(".")[0] === "shop" ? "web" : "api" });
    }

    const shop = (await status("shop"))!;
    expect(shop).toMatchObject({
      served: true,
      paths: [
        { host: "shop.example.com", path: "/", listener: "default/web:8080" },
        { host: "shop.example.com", path: "/api", listener: "default/api:8080" },
        { host: "api.example.com", path: "/", listener: "default/api:8080" },
      ],
      nodes: [{ node: "local", http: `127.0.0.1:${HTTP_PORT}`, https: `127.0.0.1:${HTTPS_PORT}`, serving: true }],
    });
    expect(shop.nodes[0]!.error).toBeUndefined();
    expect(await status("other")).toMatchObject({ class: "nginx", served: false, reason: expect.stringMatching(/another controller/) });
  });

  it("a commit that changes a path routes the new way under steady load with no failed request; removing the Ingress stops serving it", async () => {
    await startWithShop();
    const load = startLoad(HTTP_PORT, 2, "127.0.0.1", { host: "shop.example.com", path: "/" });
    await waitFor("traffic through the ingress", () => load.latencies.length >= 20);

    await repo.write("shop.yaml", shopIngress("/v2"));
    await repo.commit("the api moves from /api to /v2");
    await waitFor("/v2 to reach the api", async () => appOf(await http("shop.example.com", "/v2/items")) === "api");
    expect(appOf(await http("shop.example.com", "/api/items"))).toBe("web");
    expect((await status("shop"))!.paths[1]).toMatchObject({ path: "/v2", listener: "default/api:8080" });
    const seen = load.latencies.length;
    await waitFor("traffic after the change", () => load.latencies.length >= seen + 20);
    await load.stop();
    console.log(`a path change through the ingress: ${load.latencies.length + load.failures.length} requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    expect([...load.counts.keys()].every((body) => body.startsWith("web "))).toBe(true);

    await repo.rm("shop.yaml");
    await repo.commit("no shop Ingress");
    await waitFor("the shop status file gone", async () => (await status("shop")) === undefined);
    // The Ingress of class nginx is all that is left, and it is not ours: nothing is served on the ports.
    await waitFor("the ingress port to refuse connections", () =>
      http("shop.example.com", "/").then(
        () => false,
        (err: Error) => /ECONNREFUSED/.test(err.message),
      ),
    );
    await expect(fetchAnswer(HTTPS_PORT, { host: "shop.example.com", tls: { ca: ca.cert, servername: "shop.example.com" } })).rejects.toThrow(/ECONNREFUSED/);
  });
});
