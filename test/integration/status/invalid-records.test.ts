/**
 * An operator that starts on a status branch with broken records (a Job's file that is a YAML alias bomb, a
 * summary whose nodes are not a list) reports each as StatusRecordInvalid naming the file, keeps running and
 * treats the records as absent: the Job runs (no run of it is known) and its file, like the summary, is
 * written anew. Whole pipeline in-process on a real Git repository, with the fake runtime.
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import { parseStatusTree } from "../../../operator/src/status/store.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { lineLogger } from "../../support/log.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;
const fixture = (p: string) => readFileSync(fileURLToPath(new URL(`../../fixtures/status/invalid/${p}`, import.meta.url)), "utf8");

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: nightly}
spec:
  template:
    metadata: {}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers: [{name: main, image: "app:v1"}]
`;

describe("broken records on the status branch", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("are reported by name, count as absent, and are written anew", async () => {
    await repo.write("job.yaml", JOB);
    await repo.commit("nightly");
    await repo.git(["checkout", "--quiet", "--orphan", "coxswain/status"]);
    await repo.git(["rm", "-r", "--quiet", "--cached", "."]);
    await rm(`${repo.dir}/job.yaml`);
    await repo.write("jobs/default/nightly.yaml", fixture("job-alias-bomb/jobs/default/nightly.yaml"));
    await repo.write("summary.yaml", fixture("summary-nodes-not-a-list/summary.yaml"));
    await repo.commit("broken records");
    await repo.git(["checkout", "--quiet", "--force", "main"]);

    const rt = new FakeRuntime({ name: "local", cpuMillis: 2000, memoryBytes: 4 * GiB });
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      seed: 1,
      log: lineLogger((l) => lines.push(l)),
      runtimeFactory: () => rt,
    });
    const invalid = lines.filter((l) => l.includes("StatusRecordInvalid"));
    expect(invalid.some((l) => l.includes("jobs/default/nightly.yaml"))).toBe(true);
    expect(invalid.some((l) => l.includes("summary.yaml"))).toBe(true);

    // No run of the Job is known: it runs.
    await waitFor("the Job's pod runs", async () => (await rt.list()).some((c) => c.labels[LABELS.workload] === "nightly"), 20_000);
    // Both files are written anew, readable.
    await waitFor("a readable Job record", () => readJobRecord(op!.store.getFile("jobs/default/nightly.yaml") ?? "")?.phase === "Running", 20_000);
    await op.flushStatus();
    const tree = await Promise.all(["summary.yaml", "jobs/default/nightly.yaml"].map(async (path) => ({ path, content: await repo.git(["show", `coxswain/status:${path}`]) })));
    expect(parseStatusTree(tree).problems).toEqual([]);
  }, 60_000);
});
