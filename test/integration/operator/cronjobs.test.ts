/**
 * A CronJob through the whole pipeline on a real Docker engine: the operator's cron clock is moved to just
 * after a schedule time (cronClock: real time plus an offset), the run — a Job made from the jobTemplate — really
 * executes on the engine, and the CronJob's status file records the run and lastSuccessfulTime; the commit that
 * added the CronJob Succeeded on its own (the run is not its rollout).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readCronJobRecord } from "../../../operator/src/status/cronjobs.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const INSTANCE = "cx-cron-test";
const MINUTE = 60_000;
const enabled = requireDocker("operator CronJobs");

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "*/5 * * * *"
  timeZone: Etc/UTC
  startingDeadlineSeconds: 60
  jobTemplate:
    metadata:
      labels: {app: report}
    spec:
      template:
        metadata: {}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: main
              image: ${TEST_IMAGES.v1}
              command: [sh, -c, 'echo "report for $CRON_RUN"']
              env: [{name: CRON_RUN, value: nightly}]
`;

describe.skipIf(!enabled)("CronJobs through the operator on a real Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let rt: DockerRuntime;
  let op: RunningOperator | undefined;
  /** The cron clock is real time plus this. */
  let offset = 0;

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-cron" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    const endpoint = fleet.nodes[0]!.endpoint;
    rt = new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local" });
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from, to },
      runtimeFactory: () => new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local", callTimeoutMs: 30_000 }),
      proxyFactory: () => new FakeProxy(),
      cronClock: () => Date.now() + offset,
    });
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  it("runs the jobTemplate on the engine at the scheduled time and records lastSuccessfulTime", async () => {
    // A schedule time well ahead of real time; the cron clock a minute before it while the commit is applied.
    const at = Math.ceil((Date.now() + 10 * MINUTE) / (5 * MINUTE)) * 5 * MINUTE;
    offset = at - MINUTE - Date.now();
    await repo.write("cronjob.yaml", CRONJOB);
    const commit = await repo.commit("report CronJob");
    await waitFor(
      "the commit Succeeded with the CronJob recorded",
      async () => {
        await op!.flushStatus();
        return op!.store.getCommit(commit)?.phase === "Succeeded" && op!.store.getFile("cronjobs/default/report.yaml") !== undefined;
      },
      90_000,
    );
    expect((await rt.list()).filter((c) => c.labels[LABELS.kind] === "Job")).toEqual([]);

    // The clock reaches the schedule time: the run starts and runs to its end on the engine.
    offset = at + 1000 - Date.now();
    op!.sync.enqueueAll();
    const run = `report-${Math.floor(at / MINUTE)}`;
    const record = await waitFor(
      "lastSuccessfulTime recorded",
      async () => {
        await op!.flushStatus();
        const r = readCronJobRecord(op!.store.getFile("cronjobs/default/report.yaml") ?? "");
        return r?.lastSuccessfulTime !== undefined ? r : undefined;
      },
      120_000,
    );
    expect(record).toMatchObject({ lastScheduleTime: new Date(at).toISOString(), runs: [{ name: run, phase: "Complete" }], nextRunAt: new Date(at + 5 * MINUTE).toISOString() });
    const containers = (await rt.list()).filter((c) => c.labels[LABELS.workload] === run);
    expect(containers.map((c) => [c.labels[LABELS.kind], c.state, c.exitCode])).toEqual([["Job", "exited", 0]]);
    expect(await rt.logs(containers[0]!.id, { lines: 5, bytes: 1024 })).toContain("report for nightly");
    const job = readJobRecord(op!.store.getFile(`jobs/default/${run}.yaml`) ?? "");
    expect(job).toMatchObject({ phase: "Complete", succeeded: 1 });
    expect(record.lastSuccessfulTime).toBe(job!.completionTime);
  }, 240_000);
});
