/**
 * The operator schedules with the settings of its flags (fake runtime, real repository and pipeline):
 * LeastAllocated, the default, spreads a Deployment's pods over two empty nodes; MostAllocated, given
 * enough weight to outweigh the default spreading, packs them onto one.
 */
import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { parseSchedulerFlags } from "../../../operator/src/cli/args.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir } from "../../support/git-repo.js";
import { deploymentYaml, nodesYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs the operator on two nodes with the given flags; returns the node of each running pod, sorted. */
async function placements(flags: Parameters<typeof parseSchedulerFlags>[0]): Promise<string[]> {
  const repo = await makeRepo();
  cleanups.push(() => repo.cleanup());
  const stateDir = await tempDir("coxswain-state-");
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  await repo.write("nodes.yaml", nodesYaml([{ name: "node-1" }, { name: "node-2" }]));
  await repo.write("web.yaml", deploymentYaml({ replicas: 2, image: "app:v1", cpu: "500m", memory: "256Mi" }));
  await repo.commit("web");
  const runtimes = new Map<string, FakeRuntime>();
  const scheduler = parseSchedulerFlags(flags);
  const op: RunningOperator = await startOperator({
    repo: repo.dir,
    stateDir,
    pollMs: 200,
    fleetPollMs: 200,
    statusDebounceMs: 50,
    seed: 1,
    ...(scheduler ? { scheduler } : {}),
    runtimeFactory: (node) => {
      let rt = runtimes.get(node.name);
      if (!rt) runtimes.set(node.name, (rt = new FakeRuntime({ name: node.name, cpuMillis: 4000, memoryBytes: 8 * GiB })));
      return rt;
    },
  });
  cleanups.push(() => op.stop());
  const nodes = async () => {
    const out: string[] = [];
    for (const [name, rt] of runtimes) for (const c of await rt.list()) if (c.state === "running" && c.labels[LABELS.pod]) out.push(name);
    return out.sort();
  };
  await waitFor("two pods running", async () => (await nodes()).length === 2, 20_000, 50);
  return nodes();
}

describe("scheduler settings of the operator", () => {
  it("spreads two pods over two empty nodes by default (LeastAllocated)", async () => {
    expect(await placements({})).toEqual(["node-1", "node-2"]);
  });

  it("packs them onto one node with --scheduler-scoring MostAllocated and a weight that outweighs spreading", async () => {
    const nodes = await placements({ "scheduler-scoring": "MostAllocated", "scheduler-weight": ["NodeResourcesFit=10"] });
    expect(nodes).toHaveLength(2);
    expect(new Set(nodes).size).toBe(1);
  });
});
