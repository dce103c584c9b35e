/**
 * The whole pipeline in-process — a real Git repository, the real manifest/graph/queue/controllers/
 * scheduler/rollout/status code — with the fake runtime standing in for the engines, so that the
 * controller logic is exercised fast and deterministically. The same flows run on real Docker engines in
 * test/e2e.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml, nodesYaml } from "../../support/manifests.js";
import { Reconciles } from "../../support/reconciles.js";
import { waitFor } from "../../support/wait.js";
import { fakeRuntimeFactory, startTestOperator, stopTestOperator } from "../../support/operator-fixture.js";

describe("operator with the fake runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let runtimes: Map<string, FakeRuntime>;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    runtimes = new Map();
    lines.length = 0;
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
    op = undefined;
  });

  async function start(): Promise<RunningOperator> {
    op = await startTestOperator(repo, stateDir, lines, { seed: 1, runtimeFactory: fakeRuntimeFactory(runtimes) });
    return op;
  }

  /** Running containers per node, with their revision label. */
  async function containers(): Promise<{ node: string; pod: string; revision: string; commit: string }[]> {
    const out = [];
    for (const [node, rt] of runtimes) {
      for (const c of await rt.list()) {
        if (c.state !== "running") continue;
        out.push({ node, pod: c.labels[LABELS.pod]!, revision: c.labels[LABELS.revision]!, commit: c.labels[LABELS.commit]! });
      }
    }
    return out;
  }

  async function statusFile(path: string): Promise<string | undefined> {
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => undefined);
  }

  async function commitPhase(oid: string): Promise<string | undefined> {
    await op!.flushStatus();
    const text = await statusFile(`commits/${oid.slice(0, 2)}/${oid}.yaml`);
    return /^phase: (\w+)/m.exec(text ?? "")?.[1];
  }

  it("runs a Deployment's replicas spread over the nodes and records the commit as Succeeded", async () => {
    await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }, { name: "node-2" }]));
    await repo.write("web.yaml", deploymentYaml({ replicas: 4, image: "app:v1" }));
    const c1 = await repo.commit("web v1");
    await start();
    await waitFor("Succeeded", async () => (await commitPhase(c1)) === "Succeeded");
    const running = await containers();
    expect(running).toHaveLength(4);
    expect(new Set(running.map((c) => c.revision)).size).toBe(1);
    expect(running.every((c) => c.commit === c1)).toBe(true);
    const perNode: Record<string, number> = {};
    for (const c of running) perNode[c.node] = (perNode[c.node] ?? 0) + 1;
    expect(perNode).toEqual({ "node-1": 2, "node-2": 2 });
    const workload = await statusFile("workloads/default/deployment-web.yaml");
    expect(workload).toMatch(/available: 4/);
    const note = await runGit(["notes", "--ref=coxswain", "show", c1], { cwd: repo.dir });
    expect(note).toMatch(/Succeeded/);
  });

  it("applies nothing from a commit with an error and records the error with file and line", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    const good = await repo.commit("good");
    await start();
    await waitFor("good Succeeded", async () => (await commitPhase(good)) === "Succeeded");
    const before = await containers();

    await repo.write("web.yaml", deploymentYaml({ replicas: 5, image: "app:v2" }).replace("replicas: 5", "replicas: five"));
    const bad = await repo.commit("bad replicas");
    await waitFor("bad Invalid", async () => (await commitPhase(bad)) === "Invalid");
    const record = (await statusFile(`commits/${bad.slice(0, 2)}/${bad}.yaml`))!;
    expect(record).toMatch(/code: SchemaViolation/);
    expect(record).toMatch(/file: web.yaml/);
    expect(record).toMatch(/line: 6\n/); // "  replicas: five" is the sixth line of web.yaml
    expect(record).toMatch(/field: spec.replicas/);
    expect(await containers()).toEqual(before);
  });

  it("scales without a new revision and rolls a new revision when a ConfigMap it reads changes", async () => {
    await repo.write("config.yaml", configMapYaml("web-config", { GREETING: "hello" }));
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1", env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const c1 = await repo.commit("v1");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    const [first] = await containers();

    await repo.write("web.yaml", deploymentYaml({ replicas: 3, image: "app:v1", env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const c2 = await repo.commit("scale to 3");
    await waitFor("c2", async () => (await commitPhase(c2)) === "Succeeded");
    const scaled = await containers();
    expect(scaled).toHaveLength(3);
    expect(new Set(scaled.map((c) => c.revision))).toEqual(new Set([first!.revision]));

    await repo.write("config.yaml", configMapYaml("web-config", { GREETING: "bonjour" }));
    const c3 = await repo.commit("new greeting");
    await waitFor("c3", async () => (await commitPhase(c3)) === "Succeeded");
    const rolled = await containers();
    expect(rolled).toHaveLength(3);
    expect(rolled.every((c) => c.revision !== first!.revision)).toBe(true);
  });

  it("removes the pods of a Deployment deleted from Git and its status file", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("api.yaml", deploymentYaml({ name: "api", replicas: 1, image: "api:v1" }));
    const c1 = await repo.commit("two apps");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    await repo.rm("api.yaml");
    const c2 = await repo.commit("drop api");
    await waitFor("c2", async () => (await commitPhase(c2)) === "Succeeded");
    const left = await containers();
    expect(left).toHaveLength(2);
    expect(left.every((c) => c.pod.startsWith("web-"))).toBe(true);
    expect(await statusFile("workloads/default/deployment-api.yaml")).toBeUndefined();
  });

  it("explains a pod that fits nowhere in Kubernetes' words", async () => {
    await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }, { name: "node-2", unschedulable: true }]));
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1", cpu: "3" }));
    await repo.commit("too big");
    await start();
    const text = await waitFor("FailedScheduling in status", async () => {
      await op!.flushStatus();
      const t = await statusFile("workloads/default/deployment-web.yaml");
      return t && /FailedScheduling/.test(t) ? t : undefined;
    });
    expect(text).toContain("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.");
    expect(await containers()).toHaveLength(0);
  });

  it("after a restart rebuilds state from the runtime: no duplicate pods, nothing orphaned", async () => {
    await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }, { name: "node-2" }]));
    await repo.write("web.yaml", deploymentYaml({ replicas: 3, image: "app:v1" }));
    const c1 = await repo.commit("v1");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    const before = (await containers()).map((c) => c.pod).sort();
    await op!.stop();
    op = undefined;
    const calls = () => [...runtimes.values()].reduce((n, rt) => n + rt.calls.run + rt.calls.stop + rt.calls.kill + rt.calls.remove, 0);
    const changesBefore = calls();
    await start();
    const reconciles = new Reconciles(op!);
    await waitFor("restarted operator reports the workload", () => op!.store.getWorkload("Deployment", "default", "web")?.replicas.available === 3);
    // The restarted controller has looked at the Deployment with every node listed (twice, from now on):
    // had it missed the running pods, it would have created or removed some by now.
    for (let i = 0; i < 2; i++) await reconciles.fresh("Deployment/default/web");
    expect(calls()).toBe(changesBefore);
    expect((await containers()).map((c) => c.pod).sort()).toEqual(before);
  });

  it("replaces a container removed behind its back", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    const c1 = await repo.commit("v1");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    const rt = runtimes.get("local")!;
    const [victim] = await rt.list();
    await rt.remove(victim!.id);
    await waitFor("two running again without the victim", async () => {
      const now = await containers();
      return now.length === 2 && !now.some((c) => c.pod === victim!.labels[LABELS.pod]);
    });
  });

  it("restarts a container that stopped behind its back, in place (same pod)", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1" }));
    const c1 = await repo.commit("v1");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    const rt = runtimes.get("local")!;
    const [victim] = await rt.list();
    rt.crash(victim!.id, 1);
    await waitFor("restarted in place", async () => {
      const [c] = await rt.list();
      return c?.id === victim!.id && c.state === "running" && (c.startedAt ?? 0) > (victim!.startedAt ?? 0);
    });
    expect(rt.calls.start).toBeGreaterThanOrEqual(1);
    expect((await rt.list()).length).toBe(1);
  });

  it("drains a node removed from Git onto the remaining nodes, then it leaves the fleet clean", async () => {
    await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }, { name: "node-2" }]));
    await repo.write("web.yaml", deploymentYaml({ replicas: 4, image: "app:v1" }));
    const c1 = await repo.commit("two nodes");
    await start();
    await waitFor("c1", async () => (await commitPhase(c1)) === "Succeeded");
    await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }]));
    const c2 = await repo.commit("drop node-2");
    await waitFor("c2", async () => (await commitPhase(c2)) === "Succeeded");
    await waitFor("node-2 empty", async () => (await runtimes.get("node-2")!.list()).length === 0);
    const running = await containers();
    expect(running.filter((c) => c.node === "node-1")).toHaveLength(4);
    // Drained as `drain: true` drains (its pods moved by the rolling rules), then gone from the fleet.
    await waitFor(
      "node-2 left the fleet",
      () =>
        op!.fleet
          .listNodes()
          .map((n) => n.config.name)
          .join() === "node-1",
    );
    expect(lines.some((l) => l.includes("node node-2 removed from Git: draining it before it leaves the fleet"))).toBe(true);
    expect(lines.some((l) => l.includes("node node-2 removed from Git is drained: it leaves the fleet"))).toBe(true);
  });
});
