/**
 * Bare Pods with restartPolicy OnFailure and Never through the whole pipeline (real Git repository, manifests,
 * graph, gate, controllers, status branch) on one real Docker engine, one commit after another:
 * 1. an OnFailure Pod whose container exits 1 is restarted in place — the same container, its file system
 *    kept — and then exits 0: it ends Succeeded; the restart, seen while the commit was proven, fails that
 *    commit (CrashLoopBackOff; there is no stable commit, so what runs is left as it is);
 * 2. a Never Pod that exits 1 ends Failed, is not started again, and fails the commit that created it
 *    (PodFailed);
 * 3. a Never Pod that exits 0 ends Succeeded and its commit succeeds; a later commit does not create it again,
 *    and the ended pods of 1 and 2, which it does not change, stay as they ended.
 */
import { appendFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { CommitRecord } from "../../../operator/src/status/types.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const INSTANCE = "cx-podrp-test";
const enabled = requireDocker("bare Pods' restartPolicy");

function pod(name: string, policy: "Never" | "OnFailure", script: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: ${policy}
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGES.v1}
      command: [sh, -c, '${script}']
`;
}

describe.skipIf(!enabled)("bare Pods with restartPolicy OnFailure and Never on a real Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let rt: DockerRuntime;
  let op: RunningOperator | undefined;

  const containersOf = async (name: string): Promise<ObservedContainer[]> => (await rt.list()).filter((c) => c.labels[LABELS.kind] === "Pod" && c.labels[LABELS.workload] === name);
  const record = async (name: string) => {
    await op!.flushStatus();
    return op!.store.getWorkload("Pod", "default", name);
  };
  const verdict = (sha: string): Promise<CommitRecord> =>
    waitFor(
      `commit ${sha.slice(0, 7)} decided`,
      async () => {
        await op!.flushStatus();
        const c = op!.store.getCommit(sha);
        return c && c.phase !== "Pending" && c.phase !== "Progressing" ? c : undefined;
      },
      120_000,
    );

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-podrp" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    const endpoint = fleet.nodes[0]!.endpoint;
    rt = new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local" });
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
    // The first run lasts 5 s so that the operator sees it running before it fails (a restart it never saw
    // running would be one of a pod found already restarted, which does not count).
    // The first commit is the OnFailure Pod (no stable commit before it: a failed commit is reported, and what
    // runs is left as it is rather than rolled back).
    await repo.write("retry.yaml", pod("retry", "OnFailure", "if [ -f /tmp/mark ]; then echo second run; exit 0; fi; touch /tmp/mark; sleep 5; echo first run; exit 1"));
    retrySha = await repo.commit("retry");
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      instance: INSTANCE,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      defaultPortRange: { from, to },
      log: lineLogger(process.env.PODRP_TEST_LOG ? (l: string) => appendFileSync(process.env.PODRP_TEST_LOG!, `${new Date().toISOString()} ${l}\n`) : () => undefined),
      runtimeFactory: () => new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local", callTimeoutMs: 30_000 }),
      proxyFactory: () => new FakeProxy(),
    });
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  let retrySha = "";
  let retryId = "";
  let brokenId = "";

  it("OnFailure: exit 1 restarts the same container in place (its files kept), exit 0 then ends it Succeeded", async () => {
    // The first run leaves a mark and fails; the restarted run finds the mark (same container) and succeeds.
    const sha = retrySha;
    const rec = await waitFor(
      "retry Succeeded",
      async () => {
        const r = await record("retry");
        return r?.pod?.phase === "Succeeded" ? r : undefined;
      },
      120_000,
    );
    expect(rec.pod).toEqual({ phase: "Succeeded", restartPolicy: "OnFailure" });
    expect(rec.pods).toEqual([expect.objectContaining({ name: "retry", restarts: 1, state: "Succeeded" })]);
    const cs = await containersOf("retry");
    expect(cs).toHaveLength(1);
    expect(cs[0]).toMatchObject({ state: "exited", exitCode: 0 });
    retryId = cs[0]!.id;
    const c = await verdict(sha);
    expect(c.phase).toBe("Failed");
    expect(c.errors.map((e) => e.code)).toContain("CrashLoopBackOff");
  }, 150_000);

  it("Never: exit 1 ends the pod Failed, it is not started again, and the commit that created it fails (PodFailed)", async () => {
    await repo.write("broken.yaml", pod("broken", "Never", "sleep 1; echo broken >&2; exit 1"));
    const sha = await repo.commit("broken");
    const c = await verdict(sha);
    expect(c.phase).toBe("Failed");
    expect(c.errors.map((e) => e.code)).toContain("PodFailed");
    const rec = await record("broken");
    expect(rec?.pod).toEqual({ phase: "Failed", restartPolicy: "Never" });
    expect(rec?.conditions.find((x) => x.type === "Progressing")).toMatchObject({ status: "False", reason: "PodFailed" });
    const cs = await containersOf("broken");
    expect(cs.map((x) => [x.state, x.exitCode])).toEqual([["exited", 1]]);
    brokenId = cs[0]!.id;
  }, 150_000);

  it("Never: exit 0 ends the pod Succeeded, its commit succeeds, and no later commit runs it again", async () => {
    await repo.write("once.yaml", pod("once", "Never", "sleep 1; echo done"));
    const sha = await repo.commit("once");
    expect((await verdict(sha)).phase).toBe("Succeeded");
    const rec = await record("once");
    expect(rec?.pod).toEqual({ phase: "Succeeded", restartPolicy: "Never" });
    expect(rec?.placed).toMatchObject({ ended: "Succeeded" });
    const [once] = await containersOf("once");
    expect(once).toMatchObject({ state: "exited", exitCode: 0 });
    // A later commit that changes none of the three Pods.
    await repo.write("README", "bare Pods\n");
    const later = await repo.commit("another commit");
    expect((await verdict(later)).phase).toBe("Succeeded");
    const all = [...(await containersOf("retry")), ...(await containersOf("broken")), ...(await containersOf("once"))];
    expect(all.map((x) => [x.id, x.state, x.exitCode])).toEqual([
      [retryId, "exited", 0],
      [brokenId, "exited", 1],
      [once!.id, "exited", 0],
    ]);
    expect((await record("broken"))?.pod?.phase).toBe("Failed");
    expect((await record("retry"))?.pod?.phase).toBe("Succeeded");
  }, 150_000);
});
