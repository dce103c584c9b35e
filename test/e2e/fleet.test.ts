/**
 * The fleet in Git, on real dockerd engines through the CLI: node loss (a dockerd stopped) and return,
 * drain with availability sampled, taints, engines reached over TCP with TLS client certificates from a
 * Secret, capacity overrides and priority preemption.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml } from "../support/manifests.js";
import { FleetObserver, httpGet, type SeenContainer } from "../support/observe.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { sleep, waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e fleet");

/** Running containers of a workload and whether each answers HTTP. */
async function running(obs: FleetObserver, workload: string): Promise<(SeenContainer & { body?: string })[]> {
  const all = (await obs.containers()).filter((c) => c.workload === workload && c.state === "running");
  return Promise.all(all.map(async (c) => ({ ...c, body: c.port ? (await httpGet(c.port, "/"))?.trim() : undefined })));
}

/** The fleet's Node (and Secret) manifests, each Node object passed through `edit`. */
function nodes(fleet: TestFleet, edit: (node: Record<string, any>, index: number) => void = () => undefined, tls = false): string {
  const docs = YAML.parseAllDocuments(fleet.nodeManifests({ tls })).map((d) => d.toJS() as Record<string, any>);
  let i = 0;
  for (const d of docs) if (d.kind === "Node") edit(d, i++);
  return docs.map((d) => YAML.stringify(d)).join("---\n");
}

interface Suite {
  fleet: TestFleet;
  obs: FleetObserver;
  repo: TestRepo;
  stateDir: string;
  operator?: OperatorProcess;
  show(path: string): Promise<string>;
  recorded(oid: string, phase: string): Promise<string>;
}

function suite(name: string, count: number, tls: boolean, extraArgs: string[] = []): Suite {
  const s = {} as Suite;
  beforeAll(async () => {
    s.fleet = await startFleet({ nodes: count, name, tls });
    await Promise.all(s.fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    s.obs = new FleetObserver(s.fleet);
    s.repo = await makeRepo();
    s.stateDir = await tempDir(`coxswain-${name}-`);
    s.show = (p) => runGit(["show", `coxswain/status:${p}`], { cwd: s.repo.dir }).catch(() => "");
    s.recorded = (oid, phase) =>
      waitFor(
        `commit ${oid.slice(0, 7)} ${phase}`,
        async () => {
          const t = await s.show(`commits/${oid.slice(0, 2)}/${oid}.yaml`);
          return new RegExp(`^phase: ${phase}$`, "m").test(t) ? t : undefined;
        },
        90_000,
        250,
      );
    s.operator = startOperatorProcess(["run", "--repo", s.repo.dir, "--state-dir", s.stateDir, "--poll-interval", "300ms", ...extraArgs]);
  });
  afterAll(async () => {
    await s.operator?.stop();
    await s.obs?.close();
    await s.fleet?.stop();
    await s.repo?.cleanup();
    if (s.stateDir) await rm(s.stateDir, { recursive: true, force: true });
  });
  return s;
}

describe.skipIf(!HAS_DOCKER)("node loss and drain on a 3-node fleet", () => {
  const s = suite("e2e-nodes", 3, false, ["--node-grace", "2s", "--eviction-timeout", "3s"]);

  it("pods of a node whose engine stops are replaced elsewhere after the eviction timeout; its stale containers go when it returns", async () => {
    await s.repo.write("fleet/nodes.yaml", nodes(s.fleet));
    await s.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 3, image: TEST_IMAGES.v1, probe: true }));
    const c1 = await s.repo.commit("web on three nodes");
    await s.recorded(c1, "Succeeded");
    const before = await running(s.obs, "web");
    expect(new Set(before.map((c) => c.node)).size).toBe(3);
    const lost = before.find((c) => c.node === "node-3")!;
    const t0 = Date.now();
    await s.fleet.stopNode(2);
    // Not before grace (2 s) + eviction (3 s): 3 pods again, none on node-3.
    const after = await waitFor(
      "3 pods serving without node-3",
      async () => {
        const run = (await running(s.obs, "web")).filter((c) => c.node !== "node-3" && c.body === "v1");
        return run.length === 3 ? run : undefined;
      },
      60_000,
      250,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
    expect(after.map((c) => c.pod)).not.toContain(lost.pod);
    const summary = await waitFor(
      "node-3 NotReady in status",
      async () => {
        const t = await s.show("summary.yaml");
        return /name: node-3\n\s+ready: false/.test(t) ? t : undefined;
      },
      20_000,
      250,
    );
    expect(summary).toMatch(/NodeUnreachable/);
    await s.fleet.startNode(2);
    await waitFor("the stale pod removed from node-3", async () => (await s.obs.containers()).every((c) => c.pod !== lost.pod), 60_000, 250);
    expect((await running(s.obs, "web")).length).toBe(3);
  });

  it("draining a node moves its pods off without ever dropping below replicas − maxUnavailable available", async () => {
    // 4 replicas at 25%/25%: maxSurge 1, maxUnavailable 1 → at least 3 available at all times.
    // minReadySeconds makes each move wait, so the sampler sees the drain in progress.
    await s.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 4, image: TEST_IMAGES.v1, probe: true, minReadySeconds: 1 }));
    const c2 = await s.repo.commit("4 replicas");
    await s.recorded(c2, "Succeeded");
    const onNode1 = async () => (await running(s.obs, "web")).filter((c) => c.node === "node-1");
    await waitFor("some pod on node-1", async () => (await onNode1()).length > 0, 30_000, 250);
    let stop = false;
    let minAvailable = Infinity;
    let samples = 0;
    const sampler = (async () => {
      while (!stop) {
        const run = await running(s.obs, "web").catch(() => undefined);
        if (run) {
          samples++;
          minAvailable = Math.min(minAvailable, run.filter((c) => c.body === "v1").length);
        }
        await sleep(50);
      }
    })();
    await s.repo.write(
      "fleet/nodes.yaml",
      nodes(s.fleet, (n, i) => i === 0 && (n.spec.drain = true)),
    );
    await s.repo.commit("drain node-1");
    await waitFor(
      "node-1 empty and 4 pods elsewhere",
      async () => {
        const run = await running(s.obs, "web");
        return run.length === 4 && run.every((c) => c.node !== "node-1" && c.body === "v1");
      },
      90_000,
      250,
    );
    stop = true;
    await sampler;
    expect(samples).toBeGreaterThan(10);
    expect(minAvailable).toBeGreaterThanOrEqual(3);
    // A drained node stays cordoned: a scale-up does not land there.
    await s.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 5, image: TEST_IMAGES.v1, probe: true, minReadySeconds: 1 }));
    const c4 = await s.repo.commit("5 replicas");
    await s.recorded(c4, "Succeeded");
    expect((await running(s.obs, "web")).every((c) => c.node !== "node-1")).toBe(true);
  });
});

describe.skipIf(!HAS_DOCKER)("engines over TCP with TLS, taints, capacity and preemption on a 2-node fleet", () => {
  const s = suite("e2e-tls", 2, true);

  it("reaches the engines over tcp:// with the client certificate from a Secret and keeps pods off a tainted node", async () => {
    await s.repo.write(
      "fleet/nodes.yaml",
      nodes(
        s.fleet,
        (n, i) => {
          n.spec.capacity = { cpu: "1" };
          n.spec.reserved = { cpu: "0", memory: "0" };
          if (i === 1) n.spec.taints = [{ key: "dedicated", value: "db", effect: "NoSchedule" }];
        },
        true,
      ),
    );
    await s.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 2, image: TEST_IMAGES.v1, probe: true, cpu: "100m" }));
    const c1 = await s.repo.commit("web behind TLS");
    await s.recorded(c1, "Succeeded");
    const run = await running(s.obs, "web");
    expect(run.map((c) => c.node)).toEqual(["node-1", "node-1"]); // node-2 is tainted
    expect(run.every((c) => c.body === "v1")).toBe(true);
    const summary = await s.show("summary.yaml");
    expect(summary).toMatch(/name: node-2\n\s+ready: true/);
  });

  it("explains a pod that fits nowhere, then makes room for a higher-priority workload by preempting a lower one", async () => {
    // node-1 offers 1 CPU: the low-priority app takes 2 × 400m; the high-priority one needs 500m.
    await s.repo.write(
      "apps/web.yaml",
      deploymentYaml({ name: "low", replicas: 2, image: TEST_IMAGES.v1, probe: true, cpu: "400m" }).replace("name: low\n", 'name: low\n  annotations:\n    coxswain.io/priority: "10"\n'),
    );
    const c2 = await s.repo.commit("low priority app (web removed)");
    await s.recorded(c2, "Succeeded");
    await s.repo.write(
      "apps/high.yaml",
      deploymentYaml({ name: "high", replicas: 1, image: TEST_IMAGES.v2, probe: true, cpu: "500m" }).replace("name: high\n", 'name: high\n  annotations:\n    coxswain.io/priority: "1000"\n'),
    );
    const c3 = await s.repo.commit("high priority app");
    await waitFor("the high-priority pod serving", async () => (await running(s.obs, "high")).some((c) => c.body === "v2"), 90_000, 250);
    const low = await running(s.obs, "low");
    expect(low.length).toBe(1);
    const lowRecord = await waitFor(
      "the low app explains its pending pod",
      async () => {
        const t = await s.show("workloads/default/deployment-low.yaml");
        return /0\/2 nodes are available/.test(t) ? t : undefined;
      },
      30_000,
      250,
    );
    expect(lowRecord).toMatch(/1 Insufficient cpu/);
    expect(lowRecord).toMatch(/1 node\(s\) had untolerated taint \{dedicated: db\}/);
    const highRecord = await s.show("workloads/default/deployment-high.yaml");
    expect(highRecord).toMatch(/reason: Preempting/);
    void c3;
  });
});
