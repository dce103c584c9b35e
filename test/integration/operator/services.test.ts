/**
 * Services in a followed branch, through the whole pipeline in-process (real Git repository, manifest,
 * graph, diff, controllers, status; the fake runtime for the engines): they are accepted desired objects
 * that no controller acts on yet — commits with them apply, record their changes and succeed, they start
 * nothing, and an invalid Service makes its commit Invalid like any other manifest error.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, serviceYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;

describe("operator with Services in the repository", () => {
  let repo: TestRepo;
  let stateDir: string;
  let runtime: FakeRuntime | undefined;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    runtime = undefined;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      seed: 1,
      log: () => undefined,
      runtimeFactory: (node) => (runtime ??= new FakeRuntime({ name: node.name, cpuMillis: 2000, memoryBytes: 4 * GiB })),
    });
  }

  async function commitRecord(oid: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
  }

  const phase = async (oid: string): Promise<string | undefined> => /^phase: (\w+)/m.exec(await commitRecord(oid))?.[1];

  async function running(): Promise<number> {
    return (await runtime?.list() ?? []).filter((c) => c.state === "running").length;
  }

  it("applies commits that create, change and delete Services, starting pods for the Deployment only", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ type: "NodePort", ports: [{ name: "http", port: 80, targetPort: "http", nodePort: 30080 }] }));
    const c1 = await repo.commit("web and its Service");
    await start();
    await waitFor("c1 Succeeded", async () => (await phase(c1)) === "Succeeded");
    expect(await running()).toBe(2);
    expect(await commitRecord(c1)).toContain("create Service/default/web");

    await repo.write("svc.yaml", serviceYaml({ type: "NodePort", ports: [{ name: "http", port: 8080, targetPort: "http", nodePort: 30080 }] }));
    const c2 = await repo.commit("Service port 8080");
    await waitFor("c2 Succeeded", async () => (await phase(c2)) === "Succeeded");
    expect(await commitRecord(c2)).toMatch(/update Service\/default\/web \(spec\.ports\)/);

    await repo.rm("svc.yaml");
    const c3 = await repo.commit("no Service");
    await waitFor("c3 Succeeded", async () => (await phase(c3)) === "Succeeded");
    expect(await commitRecord(c3)).toContain("delete Service/default/web");
    expect(await running()).toBe(2);
    // The Service's status file goes with it.
    await waitFor("services/default/web.yaml removed", async () => {
      await op!.flushStatus();
      return !/^services\//m.test(await runGit(["ls-tree", "-r", "--name-only", "coxswain/status"], { cwd: repo.dir }));
    });
  });

  it("records a commit with an invalid Service as Invalid, with file and line, and applies nothing of it", async () => {
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, image: "app:v1" }));
    const good = await repo.commit("web");
    await start();
    await waitFor("good Succeeded", async () => (await phase(good)) === "Succeeded");

    await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1" }));
    await repo.write("svc.yaml", serviceYaml({ ports: [{ port: 80, nodePort: 30080 }] }));
    const bad = await repo.commit("nodePort on a ClusterIP Service");
    await waitFor("bad Invalid", async () => (await phase(bad)) === "Invalid");
    const record = await commitRecord(bad);
    expect(record).toMatch(/code: InvalidField/);
    expect(record).toMatch(/file: svc.yaml/);
    expect(record).toMatch(/field: spec.ports\[0\].nodePort/);
    expect(await running()).toBe(1);
  });
});
