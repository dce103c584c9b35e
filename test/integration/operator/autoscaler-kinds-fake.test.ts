/**
 * HorizontalPodAutoscalers of a StatefulSet and a ReplicaSet through the whole operator in-process (real Git
 * repository, manifests, graph, controllers, status) on the fake runtime, whose containers use the CPU the
 * test sets (FakeRuntime.setUsage):
 * - pods that burn their whole request against a 50 % target are scaled from 1 up to maxReplicas (3): the
 *   StatefulSet by its OrderedReady rule (db-1 made once db-0 is ready, db-2 once db-1 is), the ReplicaSet
 *   at once; each workload's record has the autoscaler's count as desired;
 * - a change of spec.replicas alone in Git of both is not a rollout: the commit succeeds and the counts stay;
 * - once the pods idle, both go back to minReplicas (1), the StatefulSet from its highest ordinal down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;

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
      terminationGracePeriodSeconds: 0
      containers: [{name: db, image: "db:1", resources: {requests: {cpu: 100m}}}]
`;
}

function replicaSet(replicas: number): string {
  return `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: web, image: "web:1", resources: {requests: {cpu: 100m}}}]
`;
}

function hpa(kind: string, name: string): string {
  return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${name}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ${kind}, name: ${name}}
  minReplicas: 1
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
  behavior:
    scaleDown: {stabilizationWindowSeconds: 1}
`;
}

interface AutoscalerDoc {
  target: string;
  desiredReplicas: number;
  gitReplicas: number;
  message: string;
}

describe("autoscaled StatefulSets and ReplicaSets with the fake runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;
  const lines: string[] = [];
  /** Millicores each running container of the two workloads burns (applied to new containers as they start). */
  let burn = 100;
  const burning = new Map<string, number>();

  beforeAll(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-hpa-kinds-");
    rt = new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * GiB });
    await repo.write("db.yaml", statefulSet(1));
    await repo.write("web.yaml", replicaSet(1));
    await repo.write("hpa.yaml", `${hpa("StatefulSet", "db")}---\n${hpa("ReplicaSet", "web")}`);
    await repo.commit("a StatefulSet, a ReplicaSet and their autoscalers");
    op = await startTestOperator(repo, stateDir, lines, {
      autoscalerSyncMs: 500,
      seed: 1,
      runtimeFactory: () => rt,
    });
  }, 60_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
  });

  /** The running containers of a workload, each made to burn `burn` millicores (set again when it changes). */
  async function running(workload: string): Promise<ObservedContainer[]> {
    const cs = (await rt.list()).filter((c) => c.state === "running" && c.labels[LABELS.workload] === workload);
    for (const c of cs) {
      if (burning.get(c.id) === burn) continue;
      rt.setUsage(c.id, burn, 1 << 20);
      burning.set(c.id, burn);
    }
    return cs;
  }

  const autoscaler = (name: string): AutoscalerDoc | undefined => {
    const text = op!.store.getFile(`autoscalers/default/${name}.yaml`);
    return text ? (parse(text) as AutoscalerDoc) : undefined;
  };
  const withLog = withLogOf(lines);

  /** Waits until each workload runs `n` containers (burning as told) and its record says so. */
  async function scaledTo(n: number): Promise<void> {
    await withLog(
      waitFor(
        `db and web at ${n}`,
        async () => {
          const db = await running("db");
          const web = await running("web");
          const dbRecord = op!.store.getWorkload("StatefulSet", "default", "db");
          const webRecord = op!.store.getWorkload("ReplicaSet", "default", "web");
          return db.length === n && web.length === n && dbRecord?.replicas.desired === n && dbRecord.replicas.ready === n && webRecord?.replicas.desired === n ? true : undefined;
        },
        60_000,
        100,
      ),
    );
  }

  it("scales both up to maxReplicas, the StatefulSet one ordinal at a time", async () => {
    await scaledTo(3);
    expect(autoscaler("db")).toMatchObject({ target: "StatefulSet/default/db", desiredReplicas: 3, gitReplicas: 1 });
    expect(autoscaler("web")).toMatchObject({ target: "ReplicaSet/default/web", desiredReplicas: 3, gitReplicas: 1 });
    // OrderedReady: each ordinal was created after the one below it was running.
    const db = (await running("db")).sort((a, b) => a.createdAt - b.createdAt);
    expect(db.map((c) => c.labels[LABELS.pod])).toEqual(["db-0", "db-1", "db-2"]);
    for (let i = 1; i < db.length; i++) expect(db[i]!.createdAt).toBeGreaterThanOrEqual(db[i - 1]!.startedAt!);
  }, 90_000);

  it("a change of spec.replicas alone in Git is not a rollout and leaves the counts", async () => {
    const before = [...(await running("db")), ...(await running("web"))].map((c) => c.id).sort();
    await repo.write("db.yaml", statefulSet(2));
    await repo.write("web.yaml", replicaSet(2));
    const commit = await repo.commit("replicas 2 in Git");
    await withLog(waitFor("the commit applied", () => op!.store.getCommit(commit)?.phase === "Succeeded", 30_000, 100));
    await withLog(waitFor("the autoscalers seeing the count in Git", () => autoscaler("db")?.gitReplicas === 2 && autoscaler("web")?.gitReplicas === 2, 30_000, 100));
    expect(autoscaler("db")!.desiredReplicas).toBe(3);
    // The same pods run: nothing was rolled, created or removed.
    expect([...(await running("db")), ...(await running("web"))].map((c) => c.id).sort()).toEqual(before);
  }, 60_000);

  it("scales both down to minReplicas once the pods idle, the StatefulSet from its highest ordinal", async () => {
    burn = 0;
    await scaledTo(1);
    expect((await running("db")).map((c) => c.labels[LABELS.pod])).toEqual(["db-0"]);
    expect(autoscaler("db")!.desiredReplicas).toBe(1);
  }, 90_000);
});
