/**
 * A HorizontalPodAutoscaler of a StatefulSet through the whole operator (real Git repository, manifests,
 * graph, controllers, status branch) on a real Docker engine, measured from the engine's own container
 * statistics:
 * - each pod burns CPU for its first 60 s (a shell loop under `timeout`, held to 100m by limits.cpu, against
 *   requests.cpu 50m: ~200 %), then idles; an autoscaler targeting 50 % scales the set from 1 to
 *   maxReplicas (3) by its OrderedReady rule: db-1 is created once db-0 runs, db-2 once db-1 runs;
 * - once they idle, and the scale-down stabilization window (5 s) has passed, it scales back to 1: db-2 and
 *   db-1 go, db-0 stays;
 * - a change of spec.replicas alone in Git is not a rollout: the commit succeeds and db-0 is the same
 *   container.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-hpa-sts-test";
const enabled = requireDocker("operator autoscaler of a StatefulSet");

function statefulSet(replicas: number): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: ${replicas}
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'timeout 60 sh -c "while :; do :; done"; exec sleep 3600']
          resources:
            requests: {cpu: 50m, memory: 16Mi}
            limits: {cpu: 100m}
`;
}

const HPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: db}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 5}
`;

interface StatusDoc {
  target: string;
  desiredReplicas: number;
  gitReplicas: number;
  lastScaleReason?: string;
  message: string;
}

describe.skipIf(!enabled)("a HorizontalPodAutoscaler of a StatefulSet on a Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let engine: DockerRuntime;
  const lines: string[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-hpa-sts" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    engine = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE, nodeName: fleet.nodes[0]!.name });
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-hpa-sts-");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/db.yaml", statefulSet(1));
    await repo.write("apps/hpa.yaml", HPA);
    await repo.commit("a CPU-burning StatefulSet and its autoscaler");
    op = await startTestOperator(repo, stateDir, lines, {
      instance: INSTANCE,
      autoscalerSyncMs: 1_000,
      proxyFactory: () => new FakeProxy(),
    });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    await engine?.close();
    await fleet?.stop();
  });

  async function running(): Promise<ObservedContainer[]> {
    return (await engine.list()).filter((c) => c.state === "running" && c.labels[LABELS.workload] === "db");
  }

  function status(): StatusDoc | undefined {
    const text = op!.store.getFile("autoscalers/default/db.yaml");
    return text ? (parse(text) as StatusDoc) : undefined;
  }

  const withLog = withLogOf(lines);

  it("scales the set up to maxReplicas one ordinal at a time, each once the one below runs", async () => {
    const up = await withLog(waitFor("the autoscaler at 3 replicas", () => (status()?.desiredReplicas === 3 ? status() : undefined), 120_000, 250));
    expect(up).toMatchObject({ target: "StatefulSet/default/db", gitReplicas: 1, lastScaleReason: "cpu resource utilization (percentage of request) above target" });
    const pods = await withLog(
      waitFor(
        "db-0, db-1 and db-2 running",
        async () => {
          const r = await running();
          return r.length === 3 ? r : undefined;
        },
        90_000,
        250,
      ),
    );
    const byName = new Map(pods.map((c) => [c.labels[LABELS.pod]!, c]));
    expect([...byName.keys()].sort()).toEqual(["db-0", "db-1", "db-2"]);
    // OrderedReady: an ordinal's container is made only after the one below it started.
    expect(byName.get("db-1")!.createdAt).toBeGreaterThanOrEqual(byName.get("db-0")!.startedAt!);
    expect(byName.get("db-2")!.createdAt).toBeGreaterThanOrEqual(byName.get("db-1")!.startedAt!);
    expect(op!.store.getWorkload("StatefulSet", "default", "db")?.replicas.desired).toBe(3);
  }, 300_000);

  it("scales back to minReplicas once the pods idle, from the highest ordinal", async () => {
    const down = await withLog(waitFor("the autoscaler back at 1", () => (status()?.desiredReplicas === 1 ? status() : undefined), 180_000, 250));
    expect(down.lastScaleReason).toBe("All metrics below target");
    const [left] = await withLog(
      waitFor(
        "only db-0 running",
        async () => {
          const r = await running();
          return r.length === 1 ? r : undefined;
        },
        90_000,
        250,
      ),
    );
    expect(left!.labels[LABELS.pod]).toBe("db-0");
  }, 300_000);

  it("a change of spec.replicas alone in Git is not a rollout", async () => {
    const [before] = await running();
    await repo.write("apps/db.yaml", statefulSet(3));
    const commit = await repo.commit("replicas 3 in Git");
    await withLog(waitFor("the commit applied", () => op!.store.getCommit(commit)?.phase === "Succeeded", 60_000, 250));
    await withLog(waitFor("the status showing the count in Git", () => status()?.gitReplicas === 3, 60_000, 250));
    expect(status()!.desiredReplicas).toBe(1);
    expect(status()!.message).toContain("spec.replicas in Git (3) is ignored");
    expect((await running()).map((c) => c.id)).toEqual([before!.id]);
    // The status branch has it too.
    await op!.flushStatus();
    const text = await runGit(["show", "coxswain/status:autoscalers/default/db.yaml"], { cwd: repo.dir });
    expect((parse(text) as StatusDoc).gitReplicas).toBe(3);
  }, 120_000);
});
