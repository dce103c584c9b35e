/**
 * Rollout strategies through the whole pipeline (real Git, fake runtime): Recreate never runs old and
 * new pods together; revision history re-uses a known revision as max+1; a canary Rollout stops at its
 * pause until the promote annotation changes in Git; blue/green runs the preview beside the active set and
 * switches on promotion, removing the old set after the scale-down delay.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, rolloutYaml } from "../../support/manifests.js";
import { Reconciles } from "../../support/reconciles.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;

describe("rollout strategies (fake runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    // Creating a container takes a little while, as on a real engine (so sampled gaps are visible).
    rt = new FakeRuntime({ name: "local", cpuMillis: 8000, memoryBytes: 16 * GiB, latencyMs: (op) => (op === "run" ? 40 : 0) });
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 100,
      fleetPollMs: 100,
      statusDebounceMs: 20,
      defaultPortRange: { from: 63100, to: 63299 },
      runtimeFactory: () => rt,
    });
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
  });

  async function show(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }
  const phase = async (oid: string) => /^phase: (\w+)/m.exec(await show(`commits/${oid.slice(0, 2)}/${oid}.yaml`))?.[1];
  async function images(): Promise<string[]> {
    return (await rt.list())
      .filter((c) => c.state === "running")
      .map((c) => c.image)
      .sort();
  }
  /** Samples running images until `until` resolves; returns every sample. */
  async function sampleWhile<T>(until: Promise<T>): Promise<string[][]> {
    const samples: string[][] = [];
    let done = false;
    void until.finally(() => (done = true));
    while (!done) {
      samples.push(await images());
      await new Promise((r) => setTimeout(r, 10));
    }
    await until;
    return samples;
  }

  it("Recreate stops every old pod before the first new one starts", async () => {
    const dep = (image: string) => deploymentYaml({ name: "web", replicas: 3, image }).replace("  selector:", "  strategy:\n    type: Recreate\n  selector:");
    await repo.write("web.yaml", dep("app:v1"));
    const v1 = await repo.commit("v1");
    await waitFor("v1", async () => (await phase(v1)) === "Succeeded", 30_000);
    await repo.write("web.yaml", dep("app:v2"));
    const v2 = await repo.commit("v2");
    const samples = await sampleWhile(waitFor("v2", async () => (await phase(v2)) === "Succeeded", 30_000));
    expect(samples.some((s) => s.includes("app:v1") && s.includes("app:v2"))).toBe(false);
    expect(samples.some((s) => s.length === 0)).toBe(true); // there was a moment with no pod at all
    expect(await images()).toEqual(["app:v2", "app:v2", "app:v2"]);
  });

  it("a revert re-uses the known revision, whose number moves to max+1", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1, image: "app:v1" }));
    const v1 = await repo.commit("v1");
    await waitFor("v1", async () => (await phase(v1)) === "Succeeded", 30_000);
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 1, image: "app:v2" }));
    const v2 = await repo.commit("v2");
    await waitFor("v2", async () => (await phase(v2)) === "Succeeded", 30_000);
    const revert = await repo.revert(v2);
    await waitFor("revert", async () => (await phase(revert)) === "Succeeded", 30_000);
    const text = await show("workloads/default/deployment-web.yaml");
    const numbers = [...text.matchAll(/- number: (\d+)\n\s+revision: (\w+)/g)].map((m) => [Number(m[1]), m[2]]);
    const v1Revision = (await rt.list())[0]!.labels[LABELS.revision]!;
    expect(numbers).toHaveLength(2);
    expect(numbers.find(([, r]) => r === v1Revision)?.[0]).toBe(3);
    expect(numbers.find(([, r]) => r !== v1Revision)?.[0]).toBe(2);
  });

  it("a canary Rollout holds at its pause until coxswain.io/promote changes in Git", async () => {
    const steps = [{ setWeight: 50 }, { pause: {} }];
    await repo.write("web.yaml", rolloutYaml({ image: "app:v1", canary: steps }));
    const v1 = await repo.commit("v1");
    await waitFor("v1", async () => (await phase(v1)) === "Succeeded", 30_000);
    const reconciles = new Reconciles(op!);
    await repo.write("web.yaml", rolloutYaml({ image: "app:v2", canary: steps }));
    const v2 = await repo.commit("v2 canary");
    await waitFor(
      "half on v2, waiting for promotion",
      async () => {
        const t = await show("workloads/default/rollout-web.yaml");
        return /waiting: promotion/.test(t) && (await images()).join() === "app:v1,app:v1,app:v2,app:v2";
      },
      30_000,
    );
    // It really holds: the controller looks at the Rollout again (twice, from after the hold was seen)
    // and leaves it where it is.
    for (let i = 0; i < 2; i++) await reconciles.fresh("Rollout/default/web");
    expect(await images()).toEqual(["app:v1", "app:v1", "app:v2", "app:v2"]);
    expect(await phase(v2)).toBe("Progressing");
    await repo.write("web.yaml", rolloutYaml({ image: "app:v2", canary: steps, promote: "1" }));
    const promote = await repo.commit("promote past the pause");
    await waitFor("all on v2", async () => (await images()).join() === "app:v2,app:v2,app:v2,app:v2", 30_000);
    await waitFor("promotion commit Succeeded", async () => (await phase(promote)) === "Succeeded", 30_000);
  });

  it("blue/green runs the preview beside the active set, switches on promotion and removes the old set after the delay", async () => {
    const bg = (image: string, promote?: string) => rolloutYaml({ image, replicas: 2, argo: true, blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 1 }, ...(promote ? { promote } : {}) });
    await repo.write("web.yaml", bg("app:v1"));
    const v1 = await repo.commit("v1");
    await waitFor("v1", async () => (await phase(v1)) === "Succeeded", 30_000);
    await repo.write("web.yaml", bg("app:v2"));
    await repo.commit("v2 preview");
    await waitFor("preview beside active", async () => (await images()).join() === "app:v1,app:v1,app:v2,app:v2", 30_000);
    // The preview's pods have no readiness probe: they are ready a second after they started, then it waits.
    await waitFor("the status says it waits for promotion", async () => /waiting: promotion/.test(await show("workloads/default/rollout-web.yaml")), 30_000);
    await repo.write("web.yaml", bg("app:v2", "1"));
    const promote = await repo.commit("promote v2");
    await waitFor("old set removed after the delay", async () => (await images()).join() === "app:v2,app:v2", 30_000);
    await waitFor("Succeeded", async () => (await phase(promote)) === "Succeeded", 30_000);
    const after = await show("workloads/default/rollout-web.yaml");
    const active = /active: (\w+)/.exec(after)?.[1];
    expect(active).toBe((await rt.list())[0]!.labels[LABELS.revision]);
  });
});
