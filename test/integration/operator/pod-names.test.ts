/**
 * Pod names at scale, through the whole operator on the fake runtime: a 10,000-replica Deployment ends with
 * 10,000 pods of distinct names. Random suffixes alone collide at this size (with 20 random bits, about 48
 * times per 10,000 names, which made the scheduler refuse the whole batch); names are drawn until they are
 * free of every name the fleet knows.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, nodesYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const GiB = 2 ** 30;
const REPLICAS = 10_000;
const NODES = 20;

describe("pod names through the operator", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const runtimes = new Map<string, FakeRuntime>();
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    runtimes.clear();
    lines.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  /** Pod names of the running containers on every node. */
  async function runningPods(): Promise<string[]> {
    const out: string[] = [];
    for (const rt of runtimes.values()) for (const c of await rt.list()) if (c.state === "running") out.push(c.labels[LABELS.pod]!);
    return out;
  }

  it("a 10,000-replica Deployment ends with 10,000 running pods, every name distinct", async () => {
    // 20 nodes × 600 pods (the default is 110 per node); no ports, so the port ranges do not count.
    const nodes = Array.from({ length: NODES }, (_, i) => ({ name: `node-${String(i + 1).padStart(2, "0")}`, capacityPods: 600 }));
    await repo.write("nodes.yaml", nodesYaml(nodes));
    await repo.write("web.yaml", deploymentYaml({ replicas: REPLICAS, image: "app:v1", ports: false }));
    const c1 = await repo.commit("10,000 replicas");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 1_000,
      statusDebounceMs: 200,
      seed: 1,
      log: lineLogger((l) => lines.push(l)),
      runtimeFactory: (node) => {
        let rt = runtimes.get(node.name);
        if (!rt) {
          rt = new FakeRuntime({ name: node.name, cpuMillis: 64_000, memoryBytes: 256 * GiB });
          runtimes.set(node.name, rt);
        }
        return rt;
      },
    });
    // A stalled workload is reported at once (the scheduler refused a batch with a name twice): stop there.
    const outcome = await waitFor(
      "the commit to succeed, or an InvalidArgument error",
      () => lines.find((l) => l.includes("InvalidArgument")) ?? (op!.store.getCommit(c1)?.phase === "Succeeded" && "Succeeded"),
      300_000,
      200,
    );
    expect(outcome).toBe("Succeeded");
    const pods = await runningPods();
    expect(pods).toHaveLength(REPLICAS);
    expect(new Set(pods).size).toBe(REPLICAS);
    expect(pods.filter((p) => !/^web-[0-9a-f]+-[bcdfghjklmnpqrstvwxz2456789]{5}$/.test(p))).toEqual([]);
    expect(lines.filter((l) => l.includes("InvalidArgument"))).toEqual([]);
  }, 360_000); // 10,000 pods through the scheduler and the fake runtime: minutes on a loaded 2-core machine
});
