/**
 * CronJobs through the whole pipeline in-process with the fake runtime (each container exits when the test
 * says) and a clock the test moves (cronClock: real time plus an offset, so a schedule time comes a moment
 * after the test moves there). A run starts at its scheduled minute and is run as a Job; concurrencyPolicy
 * Forbid waits for the active run, Replace stops it; suspend starts nothing; history limits remove old runs, as
 * does a CronJob leaving Git; after an operator restart the missed times start exactly one catch-up run within startingDeadlineSeconds and
 * none past it (lastScheduleTime is read back from the status branch).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readCronJobRecord } from "../../../operator/src/status/cronjobs.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;
const MINUTE = 60_000;

function cronJob(name: string, schedule: string, extra = ""): string {
  return `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ${name}
spec:
  schedule: "${schedule}"
  timeZone: Etc/UTC
${extra}  jobTemplate:
    spec:
      template:
        metadata: {}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          containers:
            - name: main
              image: app:v1
`;
}

describe("CronJobs with the fake runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;
  /** The operator's cron clock is real time plus this. */
  let offset = 0;
  /** A schedule time (a multiple of `every`) a few minutes ahead of real time: the test's time zero. */
  let base = 0;

  const start = async () => {
    op = await startOperator({ repo: repo.dir, stateDir, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, seed: 1, runtimeFactory: () => rt, cronClock: () => Date.now() + offset });
  };
  /** Moves the cron clock to `at` (epoch ms, forward only) and has the operator look. */
  const moveTo = (at: number) => {
    offset = at - Date.now();
    op?.sync.enqueueAll();
  };

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 4 * GiB });
    base = Math.ceil((Date.now() + 10 * MINUTE) / (60 * MINUTE)) * 60 * MINUTE;
    offset = base - 30_000 - Date.now();
    await start();
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
  });

  const run = (cj: string, at: number) => `${cj}-${Math.floor(at / MINUTE)}`;
  const record = (name: string) => readCronJobRecord(op!.store.getFile(`cronjobs/default/${name}.yaml`) ?? "");
  const jobRecord = (name: string) => readJobRecord(op!.store.getFile(`jobs/default/${name}.yaml`) ?? "");
  const ofRun = async (name: string) => (await rt.list()).filter((c) => c.labels[LABELS.workload] === name);
  const runsOf = async (cj: string) => [...new Set((await rt.list()).map((c) => c.labels[LABELS.workload] ?? "").filter((w) => w.startsWith(`${cj}-`)))].sort();
  const running = async (name: string) => (await ofRun(name)).some((c) => c.state === "running");
  async function exitRun(name: string, code: number): Promise<void> {
    const cs = await waitFor(
      `a running pod of ${name}`,
      async () => {
        const r = (await ofRun(name)).filter((c) => c.state === "running");
        return r.length > 0 ? r : undefined;
      },
      15_000,
    );
    for (const c of cs) rt.crash(c.id, code);
  }
  async function commitAndSee(yaml: string, name: string): Promise<string> {
    await repo.write("cronjob.yaml", yaml);
    const commit = await repo.commit(`cronjob ${name}`);
    await waitFor(`${name} recorded`, () => record(name) !== undefined, 15_000);
    return commit;
  }

  it("starts a run at its scheduled minute; Forbid waits for the active run; the history keeps successfulJobsHistoryLimit", async () => {
    const commit = await commitAndSee(cronJob("tick", "* * * * *", "  concurrencyPolicy: Forbid\n  successfulJobsHistoryLimit: 1\n"), "tick");
    expect(record("tick")!.runs).toEqual([]);
    expect(await runsOf("tick")).toEqual([]);
    expect(record("tick")!.nextRunAt).toBe(new Date(base).toISOString());

    moveTo(base + 1000);
    await waitFor("the first run runs", () => running(run("tick", base)), 15_000);
    expect(record("tick")).toMatchObject({ lastScheduleTime: new Date(base).toISOString() });

    // The next minute while the first run is active: Forbid starts nothing.
    moveTo(base + MINUTE + 1000);
    await waitFor("ConcurrencyForbidden", () => record("tick")?.skipped?.reason === "ConcurrencyForbidden", 15_000);
    expect(await runsOf("tick")).toEqual([run("tick", base)]);

    // The first run ends: the waiting time starts (it is still due), and the success is recorded.
    await exitRun(run("tick", base), 0);
    await waitFor("the second run runs", () => running(run("tick", base + MINUTE)), 15_000);
    await waitFor("lastSuccessfulTime", () => record("tick")?.lastSuccessfulTime !== undefined, 15_000);
    expect(jobRecord(run("tick", base))).toMatchObject({ phase: "Complete" });

    // The second one ends: only one Complete run is kept; the first one's pods and status file go.
    await exitRun(run("tick", base + MINUTE), 0);
    await waitFor("history limited to 1", async () => (await runsOf("tick")).join() === run("tick", base + MINUTE) && jobRecord(run("tick", base)) === undefined, 15_000);
    expect(record("tick")!.runs.map((r) => [r.name, r.phase])).toEqual([[run("tick", base + MINUTE), "Complete"]]);
    await waitFor("nothing left to remove", () => record("tick")?.removing.length === 0, 15_000);
    // A run's failure or success is no commit's: the commit succeeded when the CronJob was valid.
    expect(op!.store.getCommit(commit)?.phase).toBe("Succeeded");
  }, 120_000);

  it("Replace stops the active run for the new one; suspend starts nothing; a CronJob leaving Git removes its runs", async () => {
    await commitAndSee(cronJob("swap", "* * * * *", "  concurrencyPolicy: Replace\n"), "swap");
    moveTo(base + 1000);
    await waitFor("the first run runs", () => running(run("swap", base)), 15_000);
    moveTo(base + MINUTE + 1000);
    await waitFor("the second run runs, the first is gone", async () => (await running(run("swap", base + MINUTE))) && (await ofRun(run("swap", base))).length === 0, 15_000);
    expect(record("swap")!.runs.map((r) => r.name)).toEqual([run("swap", base + MINUTE)]);

    await repo.write("cronjob.yaml", cronJob("swap", "* * * * *", "  concurrencyPolicy: Replace\n  suspend: true\n"));
    await repo.commit("suspend");
    await waitFor("suspended", () => record("swap")?.suspend === true, 15_000);
    moveTo(base + 2 * MINUTE + 1000);
    await waitFor("Suspended", () => record("swap")?.skipped?.reason === "Suspended", 15_000);
    expect(await runsOf("swap")).toEqual([run("swap", base + MINUTE)]);

    // The CronJob leaves Git: its runs' pods go, then its record and its runs' status files.
    await repo.rm("cronjob.yaml");
    await repo.commit("no more swap");
    await waitFor(
      "runs and records gone",
      async () =>
        (await runsOf("swap")).length === 0 && record("swap") === undefined && jobRecord(run("swap", base + MINUTE)) === undefined && op!.store.getWorkload("Job", "default", run("swap", base + MINUTE)) === undefined,
      15_000,
    );
  }, 120_000);

  it("after a restart, missed times start one catch-up run within startingDeadlineSeconds and none past it", async () => {
    const every = 10 * MINUTE;
    await commitAndSee(cronJob("nightly", "*/10 * * * *", "  startingDeadlineSeconds: 60\n"), "nightly");
    await op!.flushStatus();
    await op!.stop();
    op = undefined;

    // Down over two schedule times; back 30 s after the second: only that one starts (the first is past the deadline).
    offset = base + every + 30_000 - Date.now();
    await start();
    await waitFor("one catch-up run", () => running(run("nightly", base + every)), 15_000);
    expect(await runsOf("nightly")).toEqual([run("nightly", base + every)]);
    expect(record("nightly")).toMatchObject({ lastScheduleTime: new Date(base + every).toISOString(), nextRunAt: new Date(base + 2 * every).toISOString() });
    await op!.flushStatus();
    await op!.stop();
    op = undefined;

    // Down again; back 90 s after a schedule time: past the deadline, nothing starts; the next time is awaited.
    offset = base + 3 * every + 90_000 - Date.now();
    await start();
    await waitFor("looked at again", () => record("nightly")?.nextRunAt === new Date(base + 4 * every).toISOString(), 15_000);
    expect(await runsOf("nightly")).toEqual([run("nightly", base + every)]);
    expect(record("nightly")!.lastScheduleTime).toBe(new Date(base + every).toISOString());
  }, 120_000);
});
