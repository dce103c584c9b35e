/**
 * Every line of a commit's processing carries the commit (short sha), and a workload's lines its workload
 * (kind/ns/name) too — the fields a JSON log is filtered by. The whole pipeline in-process on a real Git
 * repository with the fake runtime, its log recorded with each line's level and fields.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { recordingLogger, type RecordedLine } from "../../support/log.js";
import { deploymentYaml } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";

const GiB = 2 ** 30;

describe("the commit and the workload of each line", () => {
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const logged: RecordedLine[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-log-fields-");
    logged.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function phase(oid: string): Promise<string | undefined> {
    await op!.flushStatus();
    const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => undefined);
    return /^phase: (\w+)/m.exec(text ?? "")?.[1];
  }

  it("names the commit on its lines, and the workload and the commit it drives on a workload's lines", async () => {
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 2, image: "app:v1" }));
    await repo.write("api.yaml", deploymentYaml({ name: "api", replicas: 1, image: "api:v1" }));
    const v1 = await repo.commit("v1");
    const runtimes = new Map<string, FakeRuntime>();
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 50,
      seed: 1,
      log: recordingLogger((l) => logged.push(l)),
      runtimeFactory: (node) => {
        if (!runtimes.has(node.name)) runtimes.set(node.name, new FakeRuntime({ name: node.name, cpuMillis: 2000, memoryBytes: 4 * GiB }));
        return runtimes.get(node.name)!;
      },
    });
    await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded", 60_000);
    await repo.write("web.yaml", deploymentYaml({ name: "web", replicas: 2, image: "app:v2" }));
    await repo.write("api.yaml", deploymentYaml({ name: "api", replicas: 2, image: "api:v1" }));
    const v2 = await repo.commit("v2: web on app:v2, api scaled");
    await waitFor("v2 Succeeded", async () => (await phase(v2)) === "Succeeded", 60_000);

    const short1 = v1.slice(0, 7);
    const short2 = v2.slice(0, 7);
    // The commit's own lines: read, valid, Succeeded — each with its sha as a field.
    for (const [sha, subject] of [
      [short1, "v1"],
      [short2, "v2: web on app:v2, api scaled"],
    ] as const) {
      const own = logged.filter((l) => l.msg.startsWith(`commit ${sha} `));
      expect(own.map((l) => l.msg)).toEqual(
        expect.arrayContaining([expect.stringMatching(new RegExp(`^commit ${sha} "${subject}": valid`)), expect.stringMatching(new RegExp(`^commit ${sha} "${subject}": Succeeded in`))]),
      );
      for (const l of own) expect(l.fields.commit, l.msg).toBe(sha);
    }
    // A workload's lines: its key and the commit its controller drove when it said it.
    const ofWorkload = logged.filter((l) => /^Deployment\/default\/(web|api)[ :]/.test(l.msg));
    expect(ofWorkload.length).toBeGreaterThan(3);
    for (const l of ofWorkload) {
      expect(l.fields.workload, l.msg).toBe(l.msg.split(/[ :]/, 1)[0]);
      expect([short1, short2], l.msg).toContain(l.fields.commit);
    }
    for (const w of ["Deployment/default/web", "Deployment/default/api"]) {
      const own = ofWorkload.filter((l) => l.fields.workload === w);
      expect(own.at(-1)!.fields, w).toEqual({ commit: short2, workload: w });
      expect(
        own.some((l) => l.fields.commit === short1),
        w,
      ).toBe(true);
    }
    // Nothing went wrong here: no line at warn or error but the warning that the default node runs processes.
    expect(logged.filter((l) => (l.level === "warn" || l.level === "error") && !l.msg.startsWith("default node runtime: process")).map((l) => l.msg)).toEqual([]);
  });
});
