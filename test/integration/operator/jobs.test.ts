/**
 * Jobs through the whole pipeline (real Git repository, manifests, graph, gate, controllers, status branch) on
 * a real Docker engine:
 * - a Job with completions 3 and parallelism 2 completes, never more than 2 of its pods at a time, and an
 *   operator restart in the middle of it reruns no pod that succeeded;
 * - an Indexed Job's pods see JOB_COMPLETION_INDEX, one per index;
 * - a migration Job in sync wave -1 that fails exhausts backoffLimit (two pods, the back-off between them), the
 *   commit fails with BackoffLimitExceeded and is rolled back, the Deployment of wave 0 the commit changed is
 *   never rolled, and the status branch has each failed pod's exit code and the end of its log — without the
 *   value of the Secret the pod printed.
 */
import { appendFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const INSTANCE = "cx-jobs-test";
const SECRET_VALUE = "s3cret-db-password";
const enabled = requireDocker("operator Jobs");

function web(version: string, wave?: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
${wave !== undefined ? `  annotations:\n    argocd.argoproj.io/sync-wave: "${wave}"\n` : ""}spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'exec sleep 3600']
          env: [{name: VERSION, value: "${version}"}]
`;
}

const WORK = `apiVersion: batch/v1
kind: Job
metadata:
  name: work
spec:
  completions: 3
  parallelism: 2
  template:
    metadata: {}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'sleep 3; echo done']
---
apiVersion: batch/v1
kind: Job
metadata:
  name: indexed
spec:
  completions: 2
  parallelism: 2
  completionMode: Indexed
  template:
    metadata: {}
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'echo "index=$JOB_COMPLETION_INDEX"']
`;

const MIGRATE = `apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
stringData:
  password: ${SECRET_VALUE}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
spec:
  backoffLimit: 1
  template:
    metadata: {}
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'echo "connecting with $PASSWORD"; echo "migration 42 failed: table users is locked" >&2; exit 3']
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
`;

describe.skipIf(!enabled)("Jobs through the operator on a real Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let rt: DockerRuntime;
  let op: RunningOperator | undefined;
  let options: () => OperatorOptions;

  const containersOf = async (job: string): Promise<ObservedContainer[]> => (await rt.list()).filter((c) => c.labels[LABELS.kind] === "Job" && c.labels[LABELS.workload] === job);
  const jobFile = async (name: string) => {
    await op!.flushStatus();
    return readJobRecord(op!.store.getFile(`jobs/default/${name}.yaml`) ?? "");
  };

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-jobs" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    const endpoint = fleet.nodes[0]!.endpoint;
    rt = new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local" });
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
    options = () => ({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from, to },
      log: lineLogger(process.env.JOBS_TEST_LOG ? (l: string) => appendFileSync(process.env.JOBS_TEST_LOG!, `${new Date().toISOString()} ${l}\n`) : () => undefined),
      runtimeFactory: () => new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local", callTimeoutMs: 30_000 }),
      proxyFactory: () => new FakeProxy(),
    });
    await repo.write("web.yaml", web("1"));
    await repo.commit("web");
    op = await startOperator(options());
    await waitFor(
      "the first commit Succeeded",
      async () => {
        await op!.flushStatus();
        return op!.store.commits().some((c) => c.subject === "web" && c.phase === "Succeeded");
      },
      90_000,
    );
    await repo.write("work.yaml", WORK);
    await repo.commit("two Jobs");
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  it("completions 3 / parallelism 2 completes with at most 2 pods at a time; an operator restart mid-Job reruns no succeeded pod", async () => {
    const first = await waitFor(
      "a pod of work succeeded",
      async () => {
        const done = (await containersOf("work")).filter((c) => c.state === "exited" && c.exitCode === 0);
        return done.length >= 1 && done.length < 3 ? done : undefined;
      },
      90_000,
    );
    await op!.stop();
    op = await startOperator(options());
    const record = await waitFor(
      "work Complete",
      async () => {
        const r = await jobFile("work");
        return r?.phase === "Complete" ? r : undefined;
      },
      120_000,
    );
    expect(record).toMatchObject({ succeeded: 3, failed: 0, active: 0, completions: 3, parallelism: 2 });
    const all = await containersOf("work");
    expect(all.map((c) => [c.state, c.exitCode, c.restartCount])).toEqual([
      ["exited", 0, 0],
      ["exited", 0, 0],
      ["exited", 0, 0],
    ]);
    // The pods that succeeded before the restart are the same containers, not run again.
    for (const c of first) expect(all.find((x) => x.id === c.id)).toMatchObject({ startedAt: c.startedAt, finishedAt: c.finishedAt });
    // Never more than parallelism at once: at each start, fewer than 2 others were running.
    for (const c of all) {
      const overlapping = all.filter((o) => o !== c && o.startedAt! <= c.startedAt! && o.finishedAt! > c.startedAt!);
      expect(overlapping.length, `pods running when ${c.runtimeName} started`).toBeLessThan(2);
    }
    const w = op!.store.getWorkload("Job", "default", "work");
    expect(w?.job).toMatchObject({ phase: "Complete", completions: "3/3", active: 0, failed: 0 });
    expect(w?.conditions.find((c) => c.type === "Complete")?.status).toBe("True");
  }, 300_000);

  it("an Indexed Job's pods see JOB_COMPLETION_INDEX, one per index", async () => {
    const record = await waitFor(
      "indexed Complete",
      async () => {
        const r = await jobFile("indexed");
        return r?.phase === "Complete" ? r : undefined;
      },
      90_000,
    );
    expect(record).toMatchObject({ succeeded: 2, completedIndexes: "0-1" });
    const pods = await containersOf("indexed");
    const seen = await Promise.all(pods.map(async (c) => [c.labels[LABELS.completionIndex], await rt.logs(c.id, { lines: 5, bytes: 200 })]));
    expect(seen.sort()).toEqual([
      ["0", "index=0"],
      ["1", "index=1"],
    ]);
    // The commit completed with its Jobs (also across the operator restart in the middle of it).
    await waitFor(
      "the Jobs' commit Succeeded",
      async () => {
        await op!.flushStatus();
        return op!.store.commits().some((c) => c.subject === "two Jobs" && c.phase === "Succeeded");
      },
      90_000,
    );
  }, 120_000);

  it("a failing migration Job in an earlier wave exhausts backoffLimit, fails the commit, and the Deployment it gates is never rolled; exit code and log tail are in the status branch, the Secret's value is not", async () => {
    const before = (await rt.list()).filter((c) => c.labels[LABELS.workload] === "web");
    expect(before).toHaveLength(1);
    await repo.write("migrate.yaml", MIGRATE);
    await repo.write("web.yaml", web("2", 0));
    const failing = await repo.commit("migrate, then web 2");
    let webRolled = false;
    const record = await waitFor(
      "migrate Failed",
      async () => {
        const webNow = (await rt.list()).filter((c) => c.labels[LABELS.workload] === "web");
        if (webNow.some((c) => c.id !== before[0]!.id)) webRolled = true;
        const r = await jobFile("migrate");
        return r?.phase === "Failed" ? r : undefined;
      },
      120_000,
    );
    expect(webRolled).toBe(false);
    expect(record).toMatchObject({ reason: "BackoffLimitExceeded", failed: 2, succeeded: 0 });
    expect(record.failures).toHaveLength(2);
    for (const f of record.failures) {
      expect(f).toMatchObject({ container: "migrate", exitCode: 3 });
      expect(f.log).toContain("migration 42 failed: table users is locked");
      expect(f.log).toContain("connecting with <value of PASSWORD>");
    }
    // The second pod waited the back-off (10 s) after the first failed.
    const [a, b] = record.failures.map((f) => Date.parse(f.finishedAt!));
    expect(b! - a!).toBeGreaterThanOrEqual(10_000);
    const c = await waitFor(
      "the commit failed",
      async () => {
        await op!.flushStatus();
        const rec = op!.store.getCommit(failing);
        return rec && rec.phase !== "Progressing" && rec.phase !== "Pending" ? rec : undefined;
      },
      60_000,
    );
    expect(["Failed", "RolledBack"]).toContain(c.phase);
    expect(c.errors.map((e) => e.code)).toContain("BackoffLimitExceeded");
    // Rolled back to the first commit: the Job (not in it) is gone, its failed run's record stays; web was never touched.
    await waitFor("migrate's pods removed", async () => (await containersOf("migrate")).length === 0, 60_000);
    expect((await jobFile("migrate"))?.phase).toBe("Failed");
    const webAfter = (await rt.list()).filter((x) => x.labels[LABELS.workload] === "web");
    expect(webAfter.map((x) => x.id)).toEqual([before[0]!.id]);
    await op!.flushStatus();
    for (const path of op!.store.filePaths("jobs/")) expect(op!.store.getFile(path)).not.toContain(SECRET_VALUE);
  }, 240_000);
});
