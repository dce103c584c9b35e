/**
 * Jobs through the whole pipeline in-process with the fake runtime (each container exits when the test says):
 * ttlSecondsAfterFinished removes the pods of a Job that ended and keeps its record, and the Job is not run
 * again; a changed template is a new run (the earlier run's pods go); activeDeadlineSeconds fails a Job whose
 * pod keeps running (DeadlineExceeded) and stops the pod.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;

function job(name: string, image: string, extra = ""): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
spec:
${extra}  template:
    metadata: {}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers:
        - name: main
          image: ${image}
`;
}

describe("Jobs with the fake runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new FakeRuntime({ name: "local", cpuMillis: 2000, memoryBytes: 4 * GiB });
    op = await startOperator({ repo: repo.dir, stateDir, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, seed: 1, runtimeFactory: () => rt });
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
  });

  const ofJob = async (name: string) => (await rt.list()).filter((c) => c.labels[LABELS.workload] === name);
  const record = (name: string) => readJobRecord(op!.store.getFile(`jobs/default/${name}.yaml`) ?? "");
  /** Makes the Job's running containers exit with `code`. */
  async function exitAll(name: string, code: number): Promise<void> {
    const running = await waitFor(
      `a running pod of ${name}`,
      async () => {
        const r = (await ofJob(name)).filter((c) => c.state === "running");
        return r.length > 0 ? r : undefined;
      },
      10_000,
    );
    for (const c of running) rt.crash(c.id, code);
  }

  it("ttlSecondsAfterFinished removes the ended Job's pods, keeps its record, and does not run it again", async () => {
    await repo.write("job.yaml", job("once", "app:v1", "  ttlSecondsAfterFinished: 1\n"));
    await repo.commit("once");
    await exitAll("once", 0);
    await waitFor("Complete", () => record("once")?.phase === "Complete", 10_000);
    await waitFor("pods removed after the TTL", async () => (await ofJob("once")).length === 0 && record("once")?.podsRemovedAt !== undefined, 15_000);
    expect(record("once")).toMatchObject({ phase: "Complete", succeeded: 1 });
    // Another commit that leaves the Job as it is: no new run.
    await repo.write("other.yaml", job("other", "app:v1"));
    await repo.commit("another Job");
    await waitFor("the other Job runs", async () => (await ofJob("other")).length === 1, 10_000);
    expect(await ofJob("once")).toHaveLength(0);
    expect(rt.calls.run).toBe(2);
  }, 60_000);

  it("a changed template is a new run: the earlier run's pods go and the Job runs from zero", async () => {
    await repo.write("job.yaml", job("migrate", "app:v1"));
    await repo.commit("migrate v1");
    await exitAll("migrate", 0);
    await waitFor("v1 Complete", () => record("migrate")?.phase === "Complete", 10_000);
    const first = record("migrate")!.revision;
    await repo.write("job.yaml", job("migrate", "app:v2"));
    await repo.commit("migrate v2");
    await waitFor(
      "v2 running, v1 pod gone",
      async () => {
        const cs = await ofJob("migrate");
        return cs.length === 1 && cs[0]!.image === "app:v2" && cs[0]!.state === "running";
      },
      10_000,
    );
    expect(record("migrate")).toMatchObject({ phase: "Running", succeeded: 0 });
    expect(record("migrate")!.revision).not.toBe(first);
    await exitAll("migrate", 0);
    await waitFor("v2 Complete", () => record("migrate")?.phase === "Complete" && record("migrate")?.revision !== first, 10_000);
  }, 60_000);

  it("activeDeadlineSeconds fails the Job (DeadlineExceeded) and stops its running pod", async () => {
    await repo.write("job.yaml", job("slow", "app:v1", "  activeDeadlineSeconds: 2\n"));
    await repo.commit("slow");
    await waitFor("running", async () => (await ofJob("slow")).some((c) => c.state === "running"), 10_000);
    await waitFor("Failed DeadlineExceeded", () => record("slow")?.reason === "DeadlineExceeded", 15_000);
    await waitFor("the pod stopped", async () => (await ofJob("slow")).every((c) => c.state !== "running"), 10_000);
    expect(op!.store.getWorkload("Job", "default", "slow")?.conditions.find((c) => c.type === "Failed")?.reason).toBe("DeadlineExceeded");
  }, 60_000);
});
