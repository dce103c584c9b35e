/**
 * A StatefulSet's per-pod names on bridge nodes, end to end: two real Docker engines whose Nodes say
 * `network: bridge`, the real CLI, a StatefulSet `web` (pinned to node-1) governed by its headless Service
 * `web`, and a client pod pinned to node-2. From inside the pods (busybox `wget`, `nslookup` through exec):
 * - web-1 reaches web-0 at `web-0.web`, `web-0.web.default`, `web-0.web.default.svc` and
 *   `web-0.web.default.svc.cluster.local` on its container port; the name resolves to web-0's container;
 * - web-0 reaches web-1, a pod created after it, and web-2, created when the set scaled up later;
 * - a pod on the other engine does not resolve them (Docker's DNS answers on its own engine only: the
 *   limit the README states).
 * The fleet setup is bridge-discovery.test.ts's (a fleet of its own, bridge Nodes, the operator as a process).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildProxyImage, buildTestImages, TEST_IMAGES } from "../support/images.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e StatefulSet DNS");

/** The StatefulSet `web` on node-1: busybox httpd on every address of the pod at container port 8080, ready once it answers. */
function statefulSetYaml(replicas: number): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 5
      nodeSelector:
        kubernetes.io/hostname: node-1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          env:
            - name: BIND
              value: "0.0.0.0"
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 1
            failureThreshold: 1
`;
}

/** Its governing Service: headless, selecting the set's pods. */
const HEADLESS_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
    - name: http
      port: 8080
      targetPort: http
`;

/** A client pod on node-2, the other engine. */
const CLIENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
spec:
  replicas: 1
  selector:
    matchLabels:
      app: client
  template:
    metadata:
      labels:
        app: client
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector:
        kubernetes.io/hostname: node-2
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: ["sleep", "100000"]
`;

describe.skipIf(!HAS_DOCKER)("a StatefulSet's per-pod names on bridge nodes", () => {
  const ctx = {} as { fleet: TestFleet; repo: TestRepo; stateDir: string; operator?: OperatorProcess; engines: DockerRuntime[] };

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 2, name: "e2e-stsdns" });
    await Promise.all(ctx.fleet.nodes.flatMap((n) => [buildTestImages(n.socketPath), buildProxyImage(n.socketPath)]));
    ctx.engines = ctx.fleet.nodes.map((n) => new DockerRuntime({ endpoint: n.endpoint, owner: "coxswain", nodeName: n.name }));
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-stsdns-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests({ network: "bridge" }));
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await Promise.all((ctx.engines ?? []).map((e) => e.close()));
    await ctx.fleet?.stop();
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  const output = () => `\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`;

  /** The running container of pod `pod` and its engine (index into the fleet). */
  async function running(pod: string): Promise<{ engine: DockerRuntime; index: number; id: string }> {
    return waitFor(
      `pod ${pod} running`,
      async () => {
        for (const [index, engine] of ctx.engines.entries()) {
          const c = (await engine.list()).find((x) => x.labels[LABELS.pod] === pod && x.state === "running");
          if (c) return { engine, index, id: c.id };
        }
        return undefined;
      },
      180_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
  }

  /** Runs `sh -c script` in the container of `pod`: its exit code and output. */
  async function inPod(pod: string, script: string): Promise<{ exitCode: number; output: string }> {
    const c = await running(pod);
    return c.engine.exec(c.id, ["sh", "-c", script], 60_000);
  }

  /** The address and aliases of the container of `pod` on the bridge network `coxswain`. */
  async function onNetwork(pod: string): Promise<{ address: string; aliases: string[] }> {
    const c = await running(pod);
    const info = JSON.parse(await fetchEngine(ctx.fleet.nodes[c.index]!.socketPath, `/containers/${c.id}/json`)) as {
      NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases?: string[] | null }> };
    };
    const net = info.NetworkSettings.Networks.coxswain!;
    return { address: net.IPAddress, aliases: net.Aliases ?? [] };
  }

  /** Waits until `pod` gets web's answer at `name`, then asks once more strictly. */
  async function answersAt(pod: string, name: string): Promise<void> {
    await waitFor(`${name} answering from ${pod}`, async () => (await inPod(pod, `wget -qO- http://${name}:8080/`)).output === "v1\n", 60_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}${output()}`);
    });
    expect(await inPod(pod, `wget -qO- http://${name}:8080/`), `${name} from ${pod}`).toEqual({ exitCode: 0, output: "v1\n" });
  }

  it("gives each pod its names under the headless Service, found by pods made before and after it on its engine", async () => {
    await ctx.repo.write("apps/web.yaml", statefulSetYaml(2));
    await ctx.repo.write("apps/web-svc.yaml", HEADLESS_SERVICE);
    await ctx.repo.write("apps/client.yaml", CLIENT);
    await ctx.repo.commit("a StatefulSet with its headless Service, and a client on the other node");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);

    // OrderedReady: web-1 is created once web-0 is ready, so web-0 was made before web-1 existed.
    const web0 = await running("web-0");
    const web1 = await running("web-1");
    expect([web0.index, web1.index]).toEqual([0, 0]);
    const zero = await onNetwork("web-0");
    expect(zero.aliases).toEqual(expect.arrayContaining(["web-0.web", "web-0.web.default", "web-0.web.default.svc", "web-0.web.default.svc.cluster.local"]));

    // web-1 (made after web-0) finds web-0 by every name, on its container port.
    for (const name of ["web-0.web.default.svc.cluster.local", "web-0.web.default.svc", "web-0.web.default", "web-0.web"]) await answersAt("web-1", name);
    const lookup = await inPod("web-1", "nslookup web-0.web.default.svc.cluster.local");
    expect(lookup.output).toContain(zero.address);

    // web-0 finds web-1, a pod created after it started: the network's DNS, not a file written at its start.
    await answersAt("web-0", "web-1.web.default.svc.cluster.local");
    expect((await inPod("web-0", "nslookup web-1.web.default.svc.cluster.local")).output).toContain((await onNetwork("web-1")).address);

    // Scaled up later: web-2 is found by web-0, and web-0 is still the same container.
    await ctx.repo.write("apps/web.yaml", statefulSetYaml(3));
    const committed = Date.now();
    await ctx.repo.commit("web scaled to 3");
    await running("web-2");
    await answersAt("web-0", "web-2.web.default.svc.cluster.local");
    console.log(`web-2, created by a commit after web-0 started, answers web-0 by name ${((Date.now() - committed) / 1000).toFixed(1)} s after the commit (2 bridge nodes, poll 300 ms)`);
    await answersAt("web-0", "web-2.web");
    expect((await running("web-0")).id).toBe(web0.id);

    // The other engine's network does not know them: Docker's DNS answers for its own engine only.
    const client = await waitFor(
      "the client pod running on node-2",
      async () => {
        const c = (await ctx.engines[1]!.list()).find((x) => x.labels[LABELS.workload] === "client" && x.state === "running");
        return c?.labels[LABELS.pod];
      },
      180_000,
      250,
    );
    const far = await inPod(client, "nslookup web-0.web.default.svc.cluster.local && wget -qO- -T 5 http://web-0.web.default.svc.cluster.local:8080/");
    expect(far.exitCode).not.toBe(0);
    expect(far.output).not.toContain("v1");
  });
});

/** A call on an engine's unix socket (GET); the answer as text (throws on a status other than 2xx). */
async function fetchEngine(socketPath: string, path: string): Promise<string> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: "GET" }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end();
  });
}
