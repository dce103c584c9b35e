/**
 * Whoever stops a pod, it stops with its own terminationGracePeriodSeconds (as Kubernetes deletes a pod with
 * the grace period of its own spec): a workload of each kind removed from Git, a preempted victim, and an old
 * revision's pod in a rolling update to a template with another grace period. Whole pipeline in-process with
 * the fake runtime, whose stop() calls are recorded with their grace period.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, nodesYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;

/** A FakeRuntime that records the grace period of every stop, by pod. */
class RecordingRuntime extends FakeRuntime {
  readonly stops: { pod: string; grace: number }[] = [];
  readonly #pods = new Map<string, string>();

  override async run(...args: Parameters<FakeRuntime["run"]>): ReturnType<FakeRuntime["run"]> {
    const c = await super.run(...args);
    this.#pods.set(c.id, c.labels[LABELS.pod] ?? "");
    return c;
  }

  override async stop(id: string, graceSeconds: number): Promise<void> {
    this.stops.push({ pod: this.#pods.get(id) ?? id, grace: graceSeconds });
    await super.stop(id, graceSeconds);
  }
}

const template = (name: string, grace: number, extra = "") => `  template:
    metadata: {labels: {app: ${name}}}
    spec:
${extra}      terminationGracePeriodSeconds: ${grace}
      containers: [{name: main, image: "app:v1"}]
`;

const KINDS: [string, (grace: number) => string][] = [
  ["Deployment", (grace) => deploymentYaml({ name: "gone", replicas: 2, image: "app:v1", grace })],
  ["StatefulSet", (grace) => `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: gone}\nspec:\n  replicas: 2\n  serviceName: gone\n  selector: {matchLabels: {app: gone}}\n${template("gone", grace)}`],
  ["DaemonSet", (grace) => `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: gone}\nspec:\n  selector: {matchLabels: {app: gone}}\n${template("gone", grace)}`],
  ["Job", (grace) => `apiVersion: batch/v1\nkind: Job\nmetadata: {name: gone}\nspec:\n${template("gone", grace, "      restartPolicy: Never\n")}`],
];

describe("pods stop with their own grace period", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: RecordingRuntime;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new RecordingRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 4 * GiB });
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    op = await startOperator({ repo: repo.dir, stateDir, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, seed: 1, runtimeFactory: () => rt });
  }
  const running = async (workload: string) => (await rt.list()).filter((c) => c.labels[LABELS.workload] === workload && c.state === "running");
  const podsOf = async (workload: string) => new Set((await rt.list()).filter((c) => c.labels[LABELS.workload] === workload).map((c) => c.labels[LABELS.pod]!));

  it.each(KINDS)(
    "a %s removed from Git",
    async (_, manifest) => {
      await repo.write("gone.yaml", manifest(7));
      await repo.commit("add");
      await start();
      await waitFor("its pods run", async () => (await running("gone")).length > 0, 20_000);
      const pods = await podsOf("gone");
      await repo.rm("gone.yaml");
      await repo.commit("remove");
      await waitFor("its pods are gone", async () => (await rt.list()).every((c) => c.labels[LABELS.workload] !== "gone"), 20_000);
      const stops = rt.stops.filter((s) => pods.has(s.pod));
      expect(stops.length).toBeGreaterThanOrEqual(pods.size);
      expect(new Set(stops.map((s) => s.grace))).toEqual(new Set([7]));
    },
    60_000,
  );

  it("a preempted victim", async () => {
    await repo.write("nodes.yaml", nodesYaml([{ name: "local", capacityPods: 1 }]));
    await repo.write("low.yaml", deploymentYaml({ name: "low", replicas: 1, image: "app:v1", grace: 4 }));
    await repo.commit("low");
    await start();
    await waitFor("the low-priority pod runs", async () => (await running("low")).length === 1, 20_000);
    const victims = await podsOf("low");
    const high = deploymentYaml({ name: "high", replicas: 1, image: "app:v1", grace: 9 }).replace("  name: high\n", '  name: high\n  annotations: {coxswain.io/priority: "1000"}\n');
    await repo.write("high.yaml", high);
    await repo.commit("high");
    await waitFor("the high-priority pod runs", async () => (await running("high")).length === 1, 30_000);
    const stops = rt.stops.filter((s) => victims.has(s.pod));
    expect(stops.length).toBeGreaterThanOrEqual(1);
    expect(new Set(stops.map((s) => s.grace))).toEqual(new Set([4]));
  }, 60_000);

  it("an old revision's pod in a rolling update to another grace period", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 2, image: "app:v1", grace: 7 }));
    await repo.commit("v1");
    await start();
    await waitFor("v1 runs", async () => (await running("web")).length === 2, 20_000);
    const old = await podsOf("web");
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 2, image: "app:v2", grace: 3 }));
    await repo.commit("v2");
    await waitFor(
      "v1's pods are gone",
      async () => {
        const now = await podsOf("web");
        return [...old].every((p) => !now.has(p)) && (await running("web")).length === 2;
      },
      30_000,
    );
    const stops = rt.stops.filter((s) => old.has(s.pod));
    expect(stops.length).toBeGreaterThanOrEqual(old.size);
    expect(new Set(stops.map((s) => s.grace))).toEqual(new Set([7]));
  }, 60_000);
});
