/**
 * Automatic rollback, quarantine and coordinated rollout, through the whole pipeline with a real Git
 * repository and the fake runtime. A revision fails by never becoming ready: its readiness probe points
 * at a port nothing listens on (the fleet's real prober), so the progress deadline passes.
 */
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { Reconciles } from "../../support/reconciles.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const GiB = 2 ** 30;

describe("automatic rollback and quarantine (fake runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * GiB });
    lines.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(): Promise<RunningOperator> {
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 30,
      defaultPortRange: { from: 63000, to: 63099 },
      log: lineLogger((l) => lines.push(l)),
      runtimeFactory: () => rt,
    });
    return op;
  }

  const good = (image: string, name = "web", extra: Parameters<typeof deploymentYaml>[0] = {}) => deploymentYaml({ name, replicas: 2, image, maxSurge: 1, maxUnavailable: 0, ...extra });
  /** A revision whose probe never passes (nothing listens on the assigned port). */
  const bad = (image: string, name = "web") => deploymentYaml({ name, replicas: 2, image, maxSurge: 1, maxUnavailable: 0, probe: true, progressDeadlineSeconds: 2 });

  async function record(oid: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
  }
  async function phase(oid: string): Promise<string | undefined> {
    return /^phase: (\w+)/m.exec(await record(oid))?.[1];
  }
  async function images(workload = "web"): Promise<string[]> {
    return (await rt.list())
      .filter((c) => c.state === "running" && c.labels[LABELS.workload] === workload)
      .map((c) => c.image)
      .sort();
  }

  it("a failed rollout goes back to the last commit that succeeded and quarantines the failed one", async () => {
    await repo.write("web.yaml", good("app:v1"));
    const v1 = await repo.commit("v1");
    await start();
    await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
    await repo.write("web.yaml", bad("app:v2"));
    const v2 = await repo.commit("v2 never gets ready");
    await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 30_000, 100);
    const rec = await record(v2);
    expect(rec).toMatch(/quarantined: true/);
    expect(rec).toMatch(new RegExp(`to: ${v1}`));
    // The new pod was not ready within min(300 s, progressDeadlineSeconds), and nothing progressed for that
    // long either: both deadlines are 2 s, and which one passes first depends on timing.
    expect(rec).toMatch(/code: (PodStartDeadlineExceeded|ProgressDeadlineExceeded)/);
    await waitFor("only v1 pods", async () => (await images()).join() === "app:v1,app:v1");
    const summary = await runGit(["show", "coxswain/status:summary.yaml"], { cwd: repo.dir });
    expect(summary).toContain(`stable: ${v1}`);
    expect(summary).toMatch(new RegExp(`quarantined:\\n\\s+- ${v2}`));
    expect(await runGit(["notes", "--ref=coxswain", "show", v2], { cwd: repo.dir })).toMatch(/^coxswain: RolledBack/);
  });

  it("a quarantined head is not applied again after a restart; a newer commit supersedes it", async () => {
    await repo.write("web.yaml", good("app:v1"));
    const v1 = await repo.commit("v1");
    await start();
    await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
    await repo.write("web.yaml", bad("app:v2"));
    const v2 = await repo.commit("v2 bad");
    await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 30_000, 100);
    await op!.stop();
    op = undefined;
    const runsBefore = rt.calls.run;
    const reconciles = new Reconciles(await start());
    await waitFor("restart noticed the quarantine", () => lines.some((l) => l.includes(`${v2.slice(0, 7)}`) && l.includes("quarantined")));
    // The restarted controller has looked at the Deployment after that (twice): a head applied again
    // would have created pods by now.
    for (let i = 0; i < 2; i++) await reconciles.fresh("Deployment/default/web");
    expect(rt.calls.run).toBe(runsBefore); // nothing re-created
    expect(await images()).toEqual(["app:v1", "app:v1"]);
    // The same manifests in a newer commit stay quarantined…
    await repo.write("README.md", "unrelated change\n");
    const twin = await repo.commit("touch the readme");
    await waitFor("twin Quarantined", async () => (await phase(twin)) === "Quarantined");
    // …a real change supersedes.
    await repo.write("web.yaml", good("app:v3"));
    const v3 = await repo.commit("v3 fix");
    await waitFor("v3 Succeeded", async () => (await phase(v3)) === "Succeeded", 30_000);
    expect(await images()).toEqual(["app:v3", "app:v3"]);
  });

  it("without a commit that ever succeeded there is nothing to roll back to: Failed, pods left as they are", async () => {
    await repo.write("web.yaml", bad("app:v1"));
    const v1 = await repo.commit("v1 never ready");
    await start();
    await waitFor("v1 Failed", async () => (await phase(v1)) === "Failed", 30_000, 100);
    expect(await record(v1)).toMatch(/nothing proven to roll back to/);
    expect((await images()).length).toBe(2);
  });

  it("rolls out dependent workloads in order, and rolls the whole commit back in reverse order", async () => {
    const api = (image: string, probe = false) => (probe ? bad(image, "api") : good(image, "api")).replace("metadata:\n  name: api", 'metadata:\n  name: api\n  annotations:\n    coxswain.io/depends-on: "db"');
    await repo.write("db.yaml", good("db:v1", "db"));
    await repo.write("api.yaml", api("api:v1"));
    const v1 = await repo.commit("v1");
    await start();
    await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
    await repo.write("db.yaml", good("db:v2", "db"));
    await repo.write("api.yaml", api("api:v2", true));
    const v2 = await repo.commit("db v2 and a bad api v2");
    await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 40_000, 100);
    expect(await images("db")).toEqual(["db:v1", "db:v1"]);
    expect(await images("api")).toEqual(["api:v1", "api:v1"]);
    const released = lines.filter((l) => l.includes("released"));
    const idx = (needle: string) => released.findIndex((l) => l.includes(needle));
    // Forward: db before api. Reverse: api before db.
    expect(idx("Deployment/default/db: released (rolling out")).toBeLessThan(idx("Deployment/default/api: released (rolling out"));
    expect(idx("Deployment/default/api: released (rolling back")).toBeLessThan(idx("Deployment/default/db: released (rolling back"));
  });
});
