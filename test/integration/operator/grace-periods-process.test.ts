/**
 * A Deployment removed from Git stops with its own terminationGracePeriodSeconds on a real runtime: its
 * process ignores SIGTERM, so only the SIGKILL at the end of the grace period ends it — after 1 s, as its
 * template says, not after the 30 s a pod without its own grace period gets. Whole pipeline in-process on a
 * real Git repository with the process runtime (real processes).
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

describe("a removed workload's own grace period (process runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-grace-");
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    for (const c of await rt.list()) await rt.remove(c.id);
    await rt.close();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("a process that ignores SIGTERM is killed when its 1 s are up, well before 30 s", async () => {
    const stubborn = ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"];
    await repo.write("web.yaml", deploymentYaml({ replicas: 1, command: stubborn, ports: false, grace: 1 }));
    await repo.commit("web");
    op = await startOperator({ repo: repo.dir, stateDir, runtime: "process", pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, defaultPortRange: { from: 64100, to: 64199 } });
    const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    try {
      await waitFor("the pod runs", async () => (await rt.list()).some((c) => c.labels[LABELS.workload] === "web" && c.state === "running"), 30_000);
    } finally {
      await rt.close();
    }
    await repo.rm("web.yaml");
    const removedAt = Date.now();
    await repo.commit("remove web");
    // 20 s is far more than 1 s of grace and a reconcile on a busy machine, and less than the 30 s default.
    await waitFor("the pod is gone", () => op!.fleet.pods("Deployment/default/web").length === 0, 20_000);
    const seconds = (Date.now() - removedAt) / 1000;
    console.log(`removed Deployment with a 1 s grace period and a process ignoring SIGTERM: gone after ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(20);
  }, 90_000);
});
