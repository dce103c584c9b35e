/**
 * A Job's running pod on a draining node, through the whole operator (real Git repository, manifests,
 * graph, controllers, status branch) on a fleet of two real Docker engines. The Job's pod runs on node 1
 * (node 2 cordoned); then node 1 is drained and node 2 opened:
 * - a PodDisruptionBudget of minAvailable 1 over the pod holds its eviction, as the eviction API holds
 *   `kubectl drain`: the pod stays, the Job's DrainBlocked condition and the summary's node line name the
 *   budget;
 * - without the budget the pod is evicted: its container leaves node 1, the Job's status file records the
 *   eviction and counts it as failed (Kubernetes' DisruptionTarget without a podFailurePolicy), and after
 *   the pod-failure back-off the replacement runs on node 2.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import type { SummaryRecord } from "../../../operator/src/status/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { statusFile } from "../../support/in-process-operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { fleetNodes, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-job-drain-test";
const enabled = requireDocker("operator Job drain");

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  backoffLimit: 2
  template:
    metadata: {labels: {app: work}}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
`;

const BUDGET = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: work}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: work}}
`;

describe.skipIf(!enabled)("a Job's pod on a draining Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let engines: DockerRuntime[] = [];
  const lines: string[] = [];
  let first = "";
  let second = "";

  /** The fleet's Node manifests with node 1 drained (or not) and node 2 cordoned (or not). */
  const nodes = (drainFirst: boolean): string => fleetNodes(fleet, { drain: drainFirst ? first : undefined, cordon: drainFirst ? undefined : second });

  const withLog = withLogOf(lines);
  const record = () => readJobRecord(op!.store.getFile("jobs/default/work.yaml") ?? "");
  const workload = () => op!.store.getWorkload("Job", "default", "work");

  /** The Job's running containers, by node. */
  async function running(): Promise<{ node: string; pod: string }[]> {
    const out = [];
    for (const [i, engine] of engines.entries()) {
      for (const c of await engine.list()) if (c.state === "running" && c.labels[LABELS.workload] === "work") out.push({ node: fleet.nodes[i]!.name, pod: c.labels[LABELS.pod]! });
    }
    return out;
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-job-drain" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    engines = fleet.nodes.map((n) => new DockerRuntime({ endpoint: n.endpoint, owner: INSTANCE, nodeName: n.name }));
    first = fleet.nodes[0]!.name;
    second = fleet.nodes[1]!.name;
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-job-drain-");
    await repo.write("fleet/nodes.yaml", nodes(false));
    await repo.write("apps/job.yaml", JOB);
    await repo.write("apps/budget.yaml", BUDGET);
    await repo.commit("a Job on node 1, guarded by a budget of 1");
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    for (const e of engines) await e.close();
    await fleet?.stop();
  });

  it("a budget holds the eviction and the drain says which", async () => {
    const [pod] = await withLog(
      waitFor(
        "the Job's pod running on node 1",
        async () => {
          const r = await running();
          return r.length === 1 && r[0]!.node === first ? r : undefined;
        },
        90_000,
        250,
      ),
    );
    await repo.write("fleet/nodes.yaml", nodes(true));
    await repo.commit("drain node 1, open node 2");
    op!.trigger();
    const line = `drain of node ${first} waits: PodDisruptionBudget default/work allows 0 disruptions (1 healthy, 1 desired)`;
    await withLog(
      waitFor(
        "the summary's node line names the budget",
        async () => {
          const s = await statusFile<SummaryRecord>(op!, repo, "summary.yaml");
          return s?.nodes.some((n) => n.name === first && n.message === line);
        },
        60_000,
        250,
      ),
    );
    expect(workload()!.conditions.find((c) => c.type === "DrainBlocked")).toMatchObject({ status: "True", reason: "DisruptionBudget", message: line });
    expect(await running()).toEqual([pod]);
    expect(record()?.evicted).toBeUndefined();
  }, 180_000);

  it("without the budget the pod is evicted, counted as failed, and replaced on node 2", async () => {
    const [before] = await running();
    await repo.rm("apps/budget.yaml");
    await repo.commit("no budget");
    op!.trigger();
    const evicted = await withLog(waitFor("the eviction recorded", () => (record()?.evicted?.length === 1 ? record() : undefined), 60_000, 250));
    expect(evicted.evicted![0]).toMatchObject({ pod: before!.pod, node: first });
    await withLog(waitFor("counted as failed", () => record()?.failed === 1, 30_000, 250));
    // After the back-off (10 s) the replacement runs on node 2, and nothing of the Job runs on node 1.
    const [replacement] = await withLog(
      waitFor(
        "the replacement on node 2",
        async () => {
          const r = await running();
          return r.length === 1 && r[0]!.node === second ? r : undefined;
        },
        90_000,
        250,
      ),
    );
    expect(replacement!.pod).not.toBe(before!.pod);
    // The status file counts it once the Job looks again after the creation.
    await withLog(waitFor("the record counting the replacement active", () => record()?.active === 1, 30_000, 250));
    expect(record()).toMatchObject({ phase: "Running", failed: 1 });
    expect(workload()!.conditions.some((c) => c.type === "DrainBlocked")).toBe(false);
    expect(workload()!.events.map((e) => e.reason)).toContain("Evicted");
  }, 180_000);
});
