/**
 * Bare Pods with restartPolicy Never and OnFailure through the whole pipeline in-process with the fake runtime
 * (each container exits when the test says): a Never pod that exits 0 ends Succeeded, its commit succeeds and
 * it is never created again — until its spec changes; not after an operator restart either, even with its
 * container removed meanwhile; one that exits 1 ends Failed and fails the commit that created it (PodFailed),
 * while a later commit that leaves it as it is succeeds; an OnFailure pod whose container exits 1 is restarted
 * in place (same pod, same container) and then ends Succeeded (the crash, while its commit was proven,
 * fails that commit as any pod's crash does: CrashLoopBackOff).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { stopTestOperator } from "../../support/operator-fixture.js";

const GiB = 2 ** 30;

/** A bare Pod with `policy`; `monitor` holds its revision in its monitor window that long (coxswain.io/monitor-seconds). */
function pod(name: string, image: string, policy: "Never" | "OnFailure", monitor?: number): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
${monitor !== undefined ? `  annotations:\n    coxswain.io/monitor-seconds: "${monitor}"\n` : ""}spec:
  restartPolicy: ${policy}
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: ${image}
`;
}

describe("bare Pods with restartPolicy Never and OnFailure (fake runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;

  const start = async () => {
    op = await startOperator({ repo: repo.dir, stateDir, pollMs: 200, fleetPollMs: 200, statusDebounceMs: 50, seed: 1, runtimeFactory: () => rt });
  };

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new FakeRuntime({ name: "local", cpuMillis: 2000, memoryBytes: 4 * GiB });
    await start();
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
  });

  const containersOf = async (name: string) => (await rt.list()).filter((c) => c.labels[LABELS.workload] === name);
  const record = (name: string) => op!.store.getWorkload("Pod", "default", name);
  /** Waits for the pod's container to run, then makes it exit with `code`; returns the container's id. */
  async function exit(name: string, code: number): Promise<string> {
    const running = await waitFor(`${name} running`, async () => (await containersOf(name)).find((c) => c.state === "running"), 20_000);
    rt.crash(running.id, code);
    return running.id;
  }
  /** The commit's record once it is decided. */
  async function verdict(sha: string) {
    return waitFor(
      `commit ${sha.slice(0, 7)} decided`,
      async () => {
        await op!.flushStatus();
        const c = op!.store.getCommit(sha);
        return c && c.phase !== "Pending" && c.phase !== "Progressing" ? c : undefined;
      },
      60_000,
    );
  }

  it("Never, exit 0: Succeeded, the commit succeeds, and the pod is never created again", async () => {
    await repo.write("once.yaml", pod("once", "job:1", "Never"));
    const sha = await repo.commit("once");
    const id = await exit("once", 0);
    await waitFor("once Succeeded", () => record("once")?.pod?.phase === "Succeeded", 20_000);
    expect((await verdict(sha)).phase).toBe("Succeeded");
    const r = record("once")!;
    expect(r.pod).toEqual({ phase: "Succeeded", restartPolicy: "Never" });
    expect(r.placed).toMatchObject({ node: "local", ended: "Succeeded" });
    expect(r.conditions.find((c) => c.type === "Progressing")).toMatchObject({ status: "True", reason: "PodCompleted" });
    expect(r.pods).toEqual([expect.objectContaining({ name: "once", state: "Succeeded" })]);
    // Another commit that leaves the Pod as it is: it is not run again; its ended container stays on the node.
    await repo.write("other.yaml", pod("other", "job:1", "Never"));
    await repo.commit("another Pod");
    await waitFor("the other Pod runs", async () => (await containersOf("other")).length === 1, 20_000);
    const left = await containersOf("once");
    expect(left.map((c) => [c.id, c.state])).toEqual([[id, "exited"]]);
    expect(rt.calls.run).toBe(2);
    expect(record("once")?.pod?.phase).toBe("Succeeded");
    // A changed spec runs it again: the ended pod is replaced by one of the new spec, under the same name.
    await repo.write("once.yaml", pod("once", "job:2", "Never"));
    await repo.commit("once v2");
    const v2 = await waitFor("once v2 running", async () => (await containersOf("once")).find((c) => c.image === "job:2" && c.state === "running"), 20_000);
    await waitFor("the ended v1 pod removed", async () => (await containersOf("once")).every((c) => c.id === v2.id), 20_000);
    await waitFor("once Running again", () => record("once")?.pod?.phase === "Running" && record("once")?.placed?.ended === undefined, 20_000);
  }, 90_000);

  it("Never, exit 1: Failed and the commit that created it fails (PodFailed); a later commit that does not change it succeeds", async () => {
    await repo.write("broken.yaml", pod("broken", "job:1", "Never", 300));
    const sha = await repo.commit("broken");
    const id = await exit("broken", 1);
    await waitFor("broken Failed", () => record("broken")?.pod?.phase === "Failed", 20_000);
    const c = await verdict(sha);
    expect(c.phase).toBe("Failed");
    expect(c.errors.map((e) => e.code)).toContain("PodFailed");
    expect(record("broken")?.conditions.find((x) => x.type === "Progressing")).toMatchObject({ status: "False", reason: "PodFailed" });
    // No stable commit to roll back to: what runs is left as it is, and the Failed pod is not started again.
    const later = await repo.write("other.yaml", pod("other", "job:1", "Never")).then(() => repo.commit("another Pod"));
    const otherId = await exit("other", 0);
    expect((await verdict(later)).phase).toBe("Succeeded");
    const left = await containersOf("broken");
    expect(left.map((x) => [x.id, x.state, x.exitCode])).toEqual([[id, "exited", 1]]);
    expect(left[0]!.restartCount).toBe(0);
    expect((await containersOf("other")).map((x) => x.id)).toEqual([otherId]);
    expect(record("broken")?.pod?.phase).toBe("Failed");
  }, 90_000);

  it("after an operator restart, a Pod that Succeeded and whose container was removed meanwhile is not created again", async () => {
    await repo.write("once.yaml", pod("once", "job:1", "Never"));
    await repo.commit("once");
    const id = await exit("once", 0);
    await waitFor("once Succeeded", () => record("once")?.placed?.ended === "Succeeded", 20_000);
    await op!.flushStatus();
    await op!.stop();
    op = undefined;
    // Its ended container removed behind coxswain's back while it was down: the status branch remembers the end.
    await rt.remove(id);
    await start();
    await repo.write("other.yaml", pod("other", "job:1", "Never"));
    await repo.commit("another Pod");
    await waitFor("the other Pod runs", async () => (await containersOf("other")).length === 1, 20_000);
    await waitFor("once looked at again", () => record("once")?.pod?.phase === "Succeeded" && record("once")?.pods.length === 0, 20_000);
    expect(await containersOf("once")).toHaveLength(0);
    expect(rt.calls.run).toBe(2);
  }, 90_000);

  it("OnFailure: a container that exits 1 is restarted in place (same pod, same container), then ends Succeeded", async () => {
    await repo.write("retry.yaml", pod("retry", "job:1", "OnFailure"));
    const sha = await repo.commit("retry");
    // The operator has seen it running (a restart before that would be one of a pod found already restarted).
    await waitFor("retry seen running", () => record("retry")?.pods.length === 1 && record("retry")?.pod?.phase === "Running", 20_000);
    const id = await exit("retry", 1);
    const again = await waitFor("retry restarted in place", async () => (await containersOf("retry")).find((c) => c.state === "running" && c.restartCount === 1), 30_000);
    expect(again.id).toBe(id);
    expect(record("retry")?.pod?.phase).toBe("Running");
    rt.crash(id, 0);
    await waitFor("retry Succeeded", () => record("retry")?.pod?.phase === "Succeeded", 20_000);
    const left = await containersOf("retry");
    expect(left.map((c) => [c.id, c.state, c.exitCode])).toEqual([[id, "exited", 0]]);
    expect(rt.calls.run).toBe(1);
    expect(record("retry")).toMatchObject({ pod: { phase: "Succeeded", restartPolicy: "OnFailure" } });
    expect(record("retry")?.pods[0]).toMatchObject({ name: "retry", restarts: 1, state: "Succeeded" });
    // A crash while the commit is proven fails it, as for any pod (failure policy maxFailureRatio 0): the
    // restart in place is the kubelet's, the verdict coxswain's.
    const c = await verdict(sha);
    expect(c.phase).toBe("Failed");
    expect(c.errors.map((e) => e.code)).toContain("CrashLoopBackOff");
  }, 90_000);
});
