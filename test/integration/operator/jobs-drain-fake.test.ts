/**
 * A Job's pods on a draining node, through the whole pipeline in-process with the fake runtime (each
 * container exits when the test says). As `kubectl drain` does, the running pod is evicted — only while the
 * PodDisruptionBudgets over it allow — and, as Kubernetes counts a pod with the DisruptionTarget condition
 * when the Job has no podFailurePolicy, the eviction is a failed pod: it counts toward backoffLimit (and the
 * back-off before the replacement), and the replacement runs on another node. The status file keeps the
 * eviction (the pod itself is gone).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { readJobRecord } from "../../../operator/src/status/jobs.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { fakeRuntimeFactory, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

/** Nodes a and b on fake engines: `drainA` drains a; until then b is cordoned, so the Job's pod goes to a. */
function nodes(drainA: boolean): string {
  return ["a", "b"]
    .map((name, i) =>
      [
        "apiVersion: coxswain.io/v1alpha1",
        "kind: Node",
        `metadata: {name: ${name}}`,
        "spec:",
        `  endpoint: unix:///fake/${name}.sock`,
        "  network: host",
        "  address: 127.0.0.1",
        `  portRange: ${41000 + i * 1000}-${41999 + i * 1000}`,
        ...(name === "a" && drainA ? ["  drain: true"] : []),
        ...(name === "b" && !drainA ? ["  unschedulable: true"] : []),
      ].join("\n"),
    )
    .join("\n---\n");
}

function job(backoffLimit: number): string {
  return `apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  backoffLimit: ${backoffLimit}
  template:
    metadata: {labels: {app: work}}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers: [{name: main, image: "work:1"}]
`;
}

const BUDGET = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: work}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: work}}
`;

describe("a Job's pod on a draining node, with the fake runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let runtimes: Map<string, FakeRuntime>;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-job-drain-");
    runtimes = new Map();
    lines.length = 0;
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
    op = undefined;
  });

  /** The Job (and `extra` files) committed with a cordoned, the operator started, the pod running on a. */
  async function start(backoffLimit: number, extra: Record<string, string> = {}): Promise<void> {
    await repo.write("nodes.yaml", nodes(false));
    await repo.write("job.yaml", job(backoffLimit));
    for (const [path, content] of Object.entries(extra)) await repo.write(path, content);
    await repo.commit("the Job");
    op = await startTestOperator(repo, stateDir, lines, { seed: 1, runtimeFactory: fakeRuntimeFactory(runtimes) });
    await withLog(waitFor("the Job's pod running on a", async () => (await running()).map((c) => c.node).join() === "a", 20_000, 100));
  }

  /** The Job's running containers and their nodes. */
  async function running(): Promise<{ node: string; id: string; pod: string }[]> {
    const out = [];
    for (const [node, rt] of runtimes) {
      for (const c of await rt.list()) if (c.state === "running" && c.labels[LABELS.workload] === "work") out.push({ node, id: c.id, pod: c.labels[LABELS.pod]! });
    }
    return out;
  }

  const record = () => readJobRecord(op!.store.getFile("jobs/default/work.yaml") ?? "");
  const workload = () => op!.store.getWorkload("Job", "default", "work");
  const withLog = withLogOf(lines);

  async function drainA(): Promise<void> {
    await repo.write("nodes.yaml", nodes(true));
    await repo.commit("drain a");
  }

  it("evicts the pod, counts it as failed, and runs the replacement on another node", async () => {
    await start(2);
    const [first] = await running();
    await drainA();
    const evicted = await withLog(waitFor("the eviction recorded", () => (record()?.evicted?.length === 1 ? record() : undefined), 20_000, 100));
    expect(evicted.evicted![0]).toMatchObject({ pod: first!.pod, node: "a" });
    expect(workload()!.events.map((e) => e.reason)).toContain("Evicted");
    await withLog(waitFor("failed 1", () => record()?.failed === 1, 10_000, 100));
    // The replacement waits the pod-failure back-off (10 s), then runs on b.
    const [replacement] = await withLog(
      waitFor(
        "the replacement running on b",
        async () => {
          const r = await running();
          return r.length === 1 && r[0]!.node === "b" ? r : undefined;
        },
        40_000,
        100,
      ),
    );
    expect(replacement!.pod).not.toBe(first!.pod);
    runtimes.get("b")!.crash(replacement!.id, 0);
    const done = await withLog(waitFor("Complete", () => (record()?.phase === "Complete" ? record() : undefined), 20_000, 100));
    expect(done).toMatchObject({ succeeded: 1, failed: 1 });
    expect(done.evicted).toHaveLength(1);
  }, 90_000);

  it("an eviction beyond backoffLimit fails the Job (BackoffLimitExceeded), as without a podFailurePolicy in Kubernetes", async () => {
    await start(0);
    await drainA();
    const failed = await withLog(waitFor("Failed", () => (record()?.phase === "Failed" ? record() : undefined), 20_000, 100));
    expect(failed).toMatchObject({ reason: "BackoffLimitExceeded", failed: 1 });
    expect(failed.evicted).toHaveLength(1);
    expect(await running()).toEqual([]);
    expect(workload()!.conditions.find((c) => c.type === "Failed")?.reason).toBe("BackoffLimitExceeded");
  }, 60_000);

  it("a PodDisruptionBudget holds the eviction (DrainBlocked) until it allows it", async () => {
    await start(2, { "budget.yaml": BUDGET });
    await drainA();
    const blocked = await withLog(waitFor("DrainBlocked", () => workload()?.conditions.find((c) => c.type === "DrainBlocked"), 20_000, 100));
    expect(blocked).toMatchObject({ status: "True", reason: "DisruptionBudget" });
    expect(workload()!.events.map((e) => e.reason)).toContain("DisruptionBudget");
    expect((await running()).map((c) => c.node)).toEqual(["a"]);
    expect(record()?.evicted).toBeUndefined();
    // The budget goes: the eviction proceeds and the condition clears.
    await repo.rm("budget.yaml");
    await repo.commit("no budget");
    await withLog(waitFor("evicted", () => record()?.evicted?.length === 1, 20_000, 100));
    await withLog(waitFor("DrainBlocked cleared", () => workload()?.conditions.every((c) => c.type !== "DrainBlocked"), 20_000, 100));
  }, 60_000);
});
