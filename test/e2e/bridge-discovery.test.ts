/**
 * Service discovery for bridge-network pods, end to end: two real Docker engines whose Nodes say `network:
 * bridge`, the real CLI, the node proxies and the Service forwarders as containers on the engines. From
 * inside a bridge pod (busybox `wget`, `nslookup`, `env` through exec):
 * - a Service answers by `name`, `name.namespace` and `name.namespace.svc.cluster.local` on its port, and
 *   at its Kubernetes variables; two Services on the same port each answer with their own pods;
 * - a Service made after the pod started answers by name (the network's DNS), without variables;
 * - a Service removed stops resolving, and its forwarder is gone;
 * - an operator that restarts adopts the forwarders (same containers);
 * - once the apps and Services are gone no forwarder is left, and the fleet leaves no bridge behind;
 * - a node whose network was made by hand (no Service range) says so and serves its Services all the same.
 */
import fs from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DockerRuntime } from "../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, serviceYaml } from "../support/manifests.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e bridge discovery");

interface ServiceStatus {
  ports: { port: number; endpoints: { ready: { pod: string; node: string }[] } }[];
  nodes: { node: string; serving: boolean; bridge?: { address?: string; serving: boolean; error?: string } }[];
}

/** busybox httpd answers on every address of the pod (bridge: the published port reaches its own interface). */
const BIND = [{ name: "BIND", value: "0.0.0.0" }];

describe.skipIf(!HAS_DOCKER)("Service discovery on bridge nodes", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess; engines: DockerRuntime[] };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 2, name: "e2e-bridge" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildTestImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.engines = ctx.fleet.nodes.map((n) => new DockerRuntime({ endpoint: n.endpoint, owner: "coxswain", nodeName: n.name }));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-bridge-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests({ network: "bridge" }));
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await Promise.all((ctx.engines ?? []).map((e) => e.close()));
    await ctx.fleet?.stop(); // proxies and forwarders are containers on the fleet's engines
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  const output = () => `\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`;

  async function status(name: string): Promise<ServiceStatus | undefined> {
    const text = await runGit(["show", `coxswain/status:services/default/${name}.yaml`], { cwd: ctx.repo.dir }).catch(() => undefined);
    return text === undefined ? undefined : (parse(text) as ServiceStatus);
  }

  /** The Service once it has ready endpoints and every node's bridge serves it; its forwarder address per node. */
  async function servedByName(name: string): Promise<Map<string, string>> {
    return waitFor(
      `${name} found by name on every bridge node`,
      async () => {
        const s = await status(name);
        const ok = s !== undefined && (s.ports[0]?.endpoints.ready.length ?? 0) > 0 && s.nodes.length === 2 && s.nodes.every((n) => n.serving && n.bridge?.serving === true);
        return ok ? new Map(s.nodes.map((n) => [n.node, n.bridge!.address!])) : undefined;
      },
      180_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
  }

  /** The running container of the (one-pod) client workload, and its engine. */
  async function client(): Promise<{ engine: DockerRuntime; id: string; node: string }> {
    return waitFor(
      "the client pod running",
      async () => {
        for (const [i, engine] of ctx.engines.entries()) {
          const c = (await engine.list()).find((x) => x.labels[LABELS.workload] === "client" && x.state === "running");
          if (c) return { engine, id: c.id, node: ctx.fleet.nodes[i]!.name };
        }
        return undefined;
      },
      120_000,
      250,
    );
  }

  /** Runs `sh -c script` in the client pod; its exit code and output. */
  async function inClient(script: string): Promise<{ exitCode: number; output: string }> {
    const c = await client();
    return c.engine.exec(c.id, ["sh", "-c", script], 60_000);
  }

  /** The forwarder containers on each engine: Service key → container id, per node. */
  async function forwarders(): Promise<Map<string, string>[]> {
    return Promise.all(
      ctx.fleet.nodes.map(async (n) => {
        const res = await fetchEngine(n.socketPath, `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [LABELS.serviceForwarder] }))}`);
        const list = JSON.parse(res) as { Id: string; Labels: Record<string, string> }[];
        return new Map(list.map((c) => [c.Labels[LABELS.serviceForwarder]!, c.Id]));
      }),
    );
  }

  it("serves Services to bridge pods by name, name.namespace, the cluster name and Kubernetes' variables; Services added later by name; removed ones no more", async () => {
    await ctx.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 2, image: TEST_IMAGES.v1, probe: true, env: BIND }));
    await ctx.repo.write("apps/api.yaml", deploymentYaml({ name: "api", replicas: 2, image: TEST_IMAGES.v2, probe: true, env: BIND }));
    // Two Services on the same port: each must reach its own pods.
    await ctx.repo.write("apps/web-svc.yaml", serviceYaml({ name: "web", ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    await ctx.repo.write("apps/api-svc.yaml", serviceYaml({ name: "api", ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    await ctx.repo.write("apps/client.yaml", deploymentYaml({ name: "client", replicas: 1, image: TEST_IMAGES.v1, command: ["sleep", "100000"], ports: false }));
    await ctx.repo.commit("web, api, their Services on port 80, and a client");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);

    const web = await servedByName("web");
    const api = await servedByName("api");
    const pod = await client();
    expect(web.get(pod.node)).not.toBe(api.get(pod.node));

    // The status says every proxy and forwarder runs the configuration; the first connection through a
    // forwarder that has just started can still find it (or the proxy's bridge frontend) a moment from
    // answering on a loaded machine (seen once: an empty response), so wait for one answer, then ask strictly.
    await waitFor("web to answer by name from the client", async () => (await inClient("wget -qO- http://web:80/")).output === "v1\n", 60_000, 250);
    await waitFor("api to answer by name from the client", async () => (await inClient("wget -qO- http://api:80/")).output === "v2\n", 60_000, 250);
    // By every name, on the Service's port; each Service reaches its own pods.
    for (const name of ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local"]) {
      expect(await inClient(`wget -qO- http://${name}:80/`), name).toEqual({ exitCode: 0, output: "v1\n" });
    }
    for (const name of ["api", "api.default.svc.cluster.local"]) {
      expect(await inClient(`wget -qO- http://${name}/`), name).toEqual({ exitCode: 0, output: "v2\n" });
    }
    // The names resolve to the forwarder's address the status file gives.
    const lookup = await inClient("nslookup web.default.svc.cluster.local");
    expect(lookup.output).toContain(web.get(pod.node)!);
    // Kubernetes' variables, with those addresses.
    const env = await inClient('echo "$WEB_SERVICE_HOST $WEB_SERVICE_PORT $WEB_SERVICE_PORT_HTTP $API_SERVICE_HOST $API_PORT"');
    expect(env.output.trim()).toBe(`${web.get(pod.node)} 80 80 ${api.get(pod.node)} tcp://${api.get(pod.node)}:80`);
    expect(await inClient('wget -qO- "http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT/" && wget -qO- "http://$API_SERVICE_HOST:$API_SERVICE_PORT_HTTP/"')).toEqual({ exitCode: 0, output: "v1\nv2\n" });

    // A Service made after the pod started: found by name, not in its environment (Kubernetes' rule).
    await ctx.repo.write("apps/late-svc.yaml", serviceYaml({ name: "late", selector: "api", ports: [{ port: 8081, targetPort: "http" }] }));
    const committed = Date.now();
    await ctx.repo.commit("a Service after the client started");
    await waitFor("late by name from the client", async () => (await inClient("wget -qO- http://late:8081/")).output === "v2\n", 120_000, 100).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
    console.log(`a Service committed after the pod started answers it by name ${((Date.now() - committed) / 1000).toFixed(1)} s after the commit (2 bridge nodes, poll 300 ms)`);
    const late = await servedByName("late");
    expect(await inClient("wget -qO- http://late:8081/ && wget -qO- http://late.default.svc.cluster.local:8081/")).toEqual({ exitCode: 0, output: "v2\nv2\n" });
    expect((await inClient('echo "[$LATE_SERVICE_HOST]"')).output.trim()).toBe("[]");
    expect(late.get(pod.node)).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // The same pod still reaches web: the client was not restarted by any of this.
    expect((await client()).id).toBe(pod.id);

    // An operator that restarts adopts the forwarders: the same containers.
    const before = await forwarders();
    expect(before.map((m) => [...m.keys()].sort())).toEqual([0, 1].map(() => ["default/api", "default/late", "default/web"]));
    await ctx.operator.stop();
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);
    // The new process has synced the forwarders once it says where each Service is found (it says it anew).
    for (const n of ctx.fleet.nodes) await ctx.operator.waitForLine(new RegExp(`Service default/late is found by name on node ${n.name}'s bridge network`), 120_000);
    expect(await forwarders()).toEqual(before);
    // A new operator judges readiness afresh: web answers again once its pods' probes passed.
    await waitFor("web through its forwarder after the restart", async () => (await inClient("wget -qO- http://web/")).output === "v1\n", 60_000, 250);

    // A Service removed: its forwarder goes, its names stop resolving, the others keep working.
    await ctx.repo.rm("apps/api-svc.yaml");
    await ctx.repo.commit("api's Service removed");
    await waitFor("api's forwarders gone", async () => (await forwarders()).every((m) => !m.has("default/api")), 120_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
    const gone = await inClient(`nslookup api.default.svc.cluster.local; wget -qO- http://api.default.svc.cluster.local/`);
    expect(gone.exitCode).not.toBe(0);
    expect(gone.output).not.toContain(api.get(pod.node)!);
    expect(await inClient("wget -qO- http://web.default/")).toEqual({ exitCode: 0, output: "v1\n" });

    // Everything removed: no forwarder is left on any engine.
    for (const f of ["apps/web.yaml", "apps/api.yaml", "apps/web-svc.yaml", "apps/late-svc.yaml", "apps/client.yaml"]) await ctx.repo.rm(f);
    await ctx.repo.commit("everything removed");
    await waitFor("no forwarder left", async () => (await forwarders()).every((m) => m.size === 0), 120_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
  });

  it("leaves no bridge network interface behind when the fleet stops", async () => {
    const bridges = await Promise.all(
      ctx.fleet.nodes.map(async (n) => {
        const net = JSON.parse(await fetchEngine(n.socketPath, "/networks/coxswain")) as { Id: string; Options?: Record<string, string> };
        return net.Options?.["com.docker.network.bridge.name"] ?? `br-${net.Id.slice(0, 12)}`;
      }),
    );
    for (const b of bridges) expect(fs.existsSync(`/sys/class/net/${b}`)).toBe(true);
    await ctx.operator?.stop();
    delete ctx.operator;
    await ctx.fleet.stop();
    for (const b of bridges) expect(fs.existsSync(`/sys/class/net/${b}`)).toBe(false);
  });
});

describe.skipIf(!HAS_DOCKER)("a bridge node whose network was made by hand", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 1, name: "e2e-bridge-hand" });
    const node = ctx.fleet.nodes[0]!;
    await Promise.all([buildTestImages(node.socketPath), buildProxyImage(node.socketPath)]);
    // As an older coxswain (or a person) would have made it: no room set aside for Service forwarders.
    await fetchEngine(node.socketPath, "/networks/create", { Name: "coxswain", Driver: "bridge", CheckDuplicate: true });
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-bridge-hand-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests({ network: "bridge" }));
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.fleet?.stop();
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  it("says so in the status file and the log, and keeps serving its Services and pods", async () => {
    await ctx.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 1, image: TEST_IMAGES.v1, probe: true, env: BIND }));
    await ctx.repo.write("apps/web-svc.yaml", serviceYaml({ name: "web", ports: [{ name: "http", port: 80, targetPort: "http" }] }));
    await ctx.repo.commit("web and its Service");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);
    await ctx.operator.waitForLine(/^.*bridge discovery on node node-1: BridgeNetworkUnusable: node node-1: its bridge network coxswain has no room for Service forwarders/, 120_000);
    const node = await waitFor(
      "web served, its bridge discovery reported",
      async () => {
        const text = await runGit(["show", "coxswain/status:services/default/web.yaml"], { cwd: ctx.repo.dir }).catch(() => undefined);
        const n = text === undefined ? undefined : (parse(text) as ServiceStatus & { nodes: { address?: string }[] }).nodes[0];
        return n?.serving === true && n.bridge?.error !== undefined ? n : undefined;
      },
      120_000,
      250,
    );
    expect(node.bridge).toEqual({ serving: false, error: expect.stringMatching(/^BridgeNetworkUnusable: /) });
    // The node's proxy serves the Service on its host address all the same (its pod on the bridge network).
    const address = (node as { address?: string }).address!;
    const body = await waitFor("web through the node proxy", () => httpGet(address, 80).catch(() => undefined), 60_000, 250);
    expect(body).toBe("v1\n");
    expect(JSON.parse(await fetchEngine(ctx.fleet.nodes[0]!.socketPath, `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [LABELS.serviceForwarder] }))}`))).toEqual([]);
  });
});

/** The body of GET http://address:port/ (rejects on a status other than 200). */
async function httpGet(address: string, port: number): Promise<string> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port, path: "/", agent: false, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** A call on an engine's unix socket (GET, or POST with a JSON body); the answer as text (throws on a status other than 2xx). */
async function fetchEngine(socketPath: string, path: string, body?: unknown): Promise<string> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: body === undefined ? "GET" : "POST", headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}
