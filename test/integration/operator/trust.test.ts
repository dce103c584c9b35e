/**
 * Trust first, through the whole pipeline (a real Git repository, the real queue, controllers, scheduler,
 * rollout and status code; the fake runtime for the engines — the same behaviours run on real Docker
 * engines in test/e2e/trust.test.ts):
 * - automatic rollback always fires: a commit replaced during its monitor window is still a rollback
 *   target; pods that cannot be created or placed are no progress; waiting for old pods to stop is;
 *   a rollback that fails pauses, once;
 * - a restart never kills what runs: an empty or hand-edited status branch leads to adopting the pods;
 *   a wrong --path or --branch is an error of the run that rewrites nothing;
 * - Git faults show in summary.yaml, /healthz and `coxswain status`, not only in the log.
 */
import { spawn } from "node:child_process";
import { readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { startOperator, type OperatorOptions, type RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { deploymentYaml, type DeploymentOptions } from "../../support/manifests.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const GiB = 2 ** 30;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("trust: rollback always fires, restarts never kill (fake runtime)", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: FakeRuntime;
  /** Latency of the fake's stop(): an app that ignores SIGTERM takes its whole grace period to stop. */
  let stopMs = 0;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    stopMs = 0;
    rt = new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * GiB, latencyMs: (o) => (o === "stop" ? stopMs : 0) });
    lines.length = 0;
  });

  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  });

  async function start(extra: Partial<OperatorOptions> = {}): Promise<RunningOperator> {
    op = await startOperator({
      repo: repo.dir,
      stateDir,
      pollMs: 200,
      fleetPollMs: 200,
      statusDebounceMs: 30,
      defaultPortRange: { from: 63100, to: 63199 },
      log: lineLogger((l) => lines.push(l)),
      runtimeFactory: () => rt,
      ...extra,
    });
    return op;
  }

  const web = (image: string, extra: DeploymentOptions = {}) => deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0, ...extra });
  /** A revision whose readiness probe never passes (nothing listens on the assigned port). */
  const neverReady = (image: string) => web(image, { probe: true, progressDeadlineSeconds: 2 });
  /** Adds annotations to a Deployment manifest. */
  const annotate = (yaml: string, annotations: Record<string, string>) =>
    yaml.replace(
      /^metadata:\n {2}name: (.+)$/m,
      (_m, name: string) =>
        `metadata:\n  name: ${name}\n  annotations:\n${Object.entries(annotations)
          .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
          .join("\n")}`,
    );

  async function record(oid: string): Promise<Record<string, unknown> | undefined> {
    await op?.flushStatus();
    const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
    return text ? (parse(text) as Record<string, unknown>) : undefined;
  }
  async function phase(oid: string): Promise<unknown> {
    return (await record(oid))?.phase;
  }
  async function summary(): Promise<Record<string, unknown>> {
    await op?.flushStatus();
    return parse(await runGit(["show", "coxswain/status:summary.yaml"], { cwd: repo.dir })) as Record<string, unknown>;
  }
  async function running(workload = "web"): Promise<{ id: string; image: string }[]> {
    return (await rt.list())
      .filter((c) => c.state === "running" && c.labels[LABELS.workload] === workload)
      .map((c) => ({ id: c.id, image: c.image }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  const images = async (workload = "web") => (await running(workload)).map((c) => c.image).sort();
  /** Waits until the fleet listed the node `n` more times: time for several reconciles to have happened. */
  async function listings(n: number): Promise<void> {
    const target = rt.calls.list + n;
    await waitFor(`${n} more listings of the node`, () => rt.calls.list >= target, 30_000, 20);
  }

  describe("automatic rollback always fires", () => {
    it("a commit replaced during its monitor window is the rollback target when the next one fails", async () => {
      // v1's monitor window is long: it can only count as proven because it had rolled out when v2 came.
      await repo.write("web.yaml", annotate(web("app:v1"), { "coxswain.io/monitor-seconds": "600" }));
      const v1 = await repo.commit("v1, watched for 10 minutes");
      await start();
      await waitFor("v1 rolled out (in its monitor window)", () => lines.some((l) => l.includes("— complete, watching it stay healthy")));
      expect(await phase(v1)).toBe("Progressing");
      await repo.write("web.yaml", neverReady("app:v2"));
      const v2 = await repo.commit("v2 never gets ready");
      await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 30_000, 100);
      expect(await record(v1)).toMatchObject({ phase: "Succeeded", supersededBy: v2 });
      expect(await record(v2)).toMatchObject({ rollback: { to: v1 } });
      expect((await summary()).stable).toBe(v1);
      await waitFor("only v1 pods", async () => (await images()).join() === "app:v1,app:v1");
    });

    it("a commit replaced before its rollout completed is not a rollback target", async () => {
      await repo.write("web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      // v2 cannot complete (its pods never get ready); v3 arrives while it rolls and fails too.
      await repo.write("web.yaml", web("app:v2", { probe: true }));
      const v2 = await repo.commit("v2 never gets ready, long deadline");
      await waitFor("v2 rolling", () => lines.some((l) => l.includes(`commit ${v2.slice(0, 7)}`) && l.includes("valid")));
      await repo.write("web.yaml", neverReady("app:v3"));
      const v3 = await repo.commit("v3 never gets ready");
      await waitFor("v3 RolledBack", async () => (await phase(v3)) === "RolledBack", 30_000, 100);
      expect(await record(v2)).toMatchObject({ phase: "Superseded", supersededBy: v3 });
      expect(await record(v3)).toMatchObject({ rollback: { to: v1 } });
    });

    it("pods that cannot be created are no progress: the deadline passes and the commit is rolled back", async () => {
      await repo.write("web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      rt.failNext("run", "CommandNotFound", 1_000_000);
      await repo.write("web.yaml", web("app:v2", { progressDeadlineSeconds: 2 }));
      const v2 = await repo.commit("v2 cannot be started");
      await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 30_000, 100);
      expect(await record(v2)).toMatchObject({ rollback: { to: v1, code: "ProgressDeadlineExceeded" } });
      expect(lines.filter((l) => l.includes("cannot create pods: CommandNotFound"))).toHaveLength(1);
      expect(await images()).toEqual(["app:v1", "app:v1"]);
    });

    it("pods that fit on no node are no progress: the deadline passes and the commit is rolled back", async () => {
      await repo.write("web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await repo.write("web.yaml", web("app:v2", { progressDeadlineSeconds: 2, cpu: "64" }));
      const v2 = await repo.commit("v2 asks for 64 CPUs");
      await waitFor("v2 RolledBack", async () => (await phase(v2)) === "RolledBack", 30_000, 100);
      expect(await record(v2)).toMatchObject({ rollback: { to: v1, code: "ProgressDeadlineExceeded" } });
      expect(lines.some((l) => /0\/1 nodes are available: 1 Insufficient cpu/.test(l))).toBe(true);
      expect(await images()).toEqual(["app:v1", "app:v1"]);
    });

    it("old pods slow to stop do not hold a rollout up (podReplacementPolicy TerminationStarted, the default): the new pods start beside them", async () => {
      await repo.write("web.yaml", web("app:v1", { grace: 30 }));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      // Each old pod takes 8 s to stop: both v2 pods must be running before the first old one is gone.
      stopMs = 8_000;
      await repo.write("web.yaml", web("app:v2", { grace: 30 }));
      await repo.commit("v2, old pods slow to stop");
      await waitFor(
        "two v2 pods running while v1 pods still stop",
        async () => {
          const all = await images();
          return all.filter((i) => i === "app:v2").length === 2 && all.includes("app:v1");
        },
        30_000,
        50,
      );
      expect(lines.some((l) => l.includes("terminating pod(s) to stop"))).toBe(false);
    });

    it("waiting for old pods to stop is progress (TerminationComplete): a commit whose new pods all get ready is never rolled back", async () => {
      await repo.write("web.yaml", web("app:v1", { grace: 30, podReplacementPolicy: "TerminationComplete" }));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      // Each old pod takes 8 s to stop (longer than v2's 3 s deadline); maxSurge 1 waits for each. (A pod
      // without probes is ready a second after it started: the deadline leaves room for that.)
      stopMs = 8_000;
      await repo.write("web.yaml", web("app:v2", { grace: 30, progressDeadlineSeconds: 3, podReplacementPolicy: "TerminationComplete" }));
      const v2 = await repo.commit("v2, old pods slow to stop");
      await waitFor("v2 Succeeded", async () => (await phase(v2)) === "Succeeded", 60_000, 100);
      expect(lines.some((l) => l.includes("terminating pod(s) to stop"))).toBe(true);
      expect(await record(v2)).not.toHaveProperty("rollback");
      // The last old pod may still be stopping: the commit is done when the new pods are ready.
      await waitFor("only v2 pods", async () => (await images()).join() === "app:v2,app:v2", 30_000, 100);
    });

    it("with no commit to go back to, the failure is recorded and said once, and what runs is left as it is", async () => {
      await repo.write("web.yaml", neverReady("app:v1"));
      const v1 = await repo.commit("v1 never gets ready");
      await start();
      await waitFor("v1 Failed", async () => (await phase(v1)) === "Failed", 30_000, 100);
      await listings(20);
      expect(lines.filter((l) => l.includes("no stable commit to roll back to"))).toHaveLength(1);
      // One of the two deadlines (both 2 s) is reported, once, and keeps being the reason.
      expect(lines.filter((l) => /PodStartDeadlineExceeded|ProgressDeadlineExceeded/.test(l) && l.startsWith("Deployment/"))).toHaveLength(1);
      expect(await images()).toEqual(["app:v1", "app:v1"]);
    });

    it("a rollback that fails too pauses the workloads until a new commit, and is never rolled back", async () => {
      // maxSurge 0: v2 replaces a v1 pod; going back needs a new v1 pod, and creating it fails.
      // v2 fails fast (2 s); v1's deadline, which the rollback to it is held to, leaves a loaded machine time
      // to start good pods (a pod without probes is ready a second after it started).
      const strict = (image: string, probe = false) => deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 0, maxUnavailable: 1, progressDeadlineSeconds: probe ? 2 : 8, probe });
      await repo.write("web.yaml", strict("app:v1"));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await repo.write("web.yaml", strict("app:v2", true));
      const v2 = await repo.commit("v2 never gets ready");
      // Once v2's pod exists, every creation fails: going back to v1 cannot make its second pod.
      await waitFor("a v2 pod", async () => (await images()).includes("app:v2"));
      rt.failNext("run", "RuntimeCallFailed", 1_000_000);
      await waitFor("the rollback failed", async () => JSON.stringify((await record(v2))?.errors ?? []).includes("RollbackFailed"), 30_000, 100);
      expect(await record(v2)).toMatchObject({ phase: "Failed", quarantined: true, rollback: { to: v1 } });
      await listings(10);
      expect(lines.filter((l) => l.includes("workloads paused until a new commit"))).toHaveLength(1);
      const workload = parse(await runGit(["show", "coxswain/status:workloads/default/deployment-web.yaml"], { cwd: repo.dir })) as Record<string, unknown>;
      expect(workload.paused).toBe(true);
      // Paused: nothing is tried any more, nothing rolled back again.
      expect(lines.some((l) => l.includes(`rolling back to ${v2.slice(0, 7)}`))).toBe(false);
      // A new commit ends the pause.
      rt.clearFailures();
      await repo.write("web.yaml", strict("app:v3"));
      const v3 = await repo.commit("v3");
      await waitFor("v3 Succeeded", async () => (await phase(v3)) === "Succeeded", 30_000, 100);
      expect(await images()).toEqual(["app:v3", "app:v3"]);
    });
  });

  describe("restarts never kill what runs", () => {
    /** Two workloads, api depending on db, so the coordinated rollout holds api back at first. */
    async function twoWorkloads(): Promise<string> {
      await repo.write("db.yaml", deploymentYaml({ name: "db", replicas: 1, image: "db:v1" }));
      await repo.write("api.yaml", annotate(deploymentYaml({ name: "api", replicas: 2, image: "api:v1" }), { "coxswain.io/depends-on": "db" }));
      return repo.commit("db and api");
    }
    const ids = async () => (await rt.list()).map((c) => c.id).sort();

    it("adopts the pods when the status branch is gone: nothing created, stopped or removed", async () => {
      const v1 = await twoWorkloads();
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      const before = await ids();
      await op!.stop();
      op = undefined;
      await runGit(["branch", "-D", "coxswain/status"], { cwd: repo.dir });
      const calls = { ...rt.calls };
      await start();
      await waitFor("v1 Succeeded again", async () => (await phase(v1)) === "Succeeded", 30_000, 100);
      expect(await ids()).toEqual(before);
      expect([rt.calls.run, rt.calls.stop, rt.calls.remove]).toEqual([calls.run, calls.stop, calls.remove]);
    });

    it("adopts the pods of the head when a hand-edited status branch names an older commit as applied", async () => {
      await repo.write("db.yaml", deploymentYaml({ name: "db", replicas: 1, image: "db:v1" }));
      const v1 = await repo.commit("db");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await repo.write("api.yaml", deploymentYaml({ name: "api", replicas: 2, image: "api:v1" }));
      const v2 = await repo.commit("and api");
      await waitFor("v2 Succeeded", async () => (await phase(v2)) === "Succeeded");
      const before = await ids();
      await op!.stop();
      op = undefined;
      // The status write of v2 was "lost": summary.yaml names v1 as applied.
      const text = await runGit(["show", "coxswain/status:summary.yaml"], { cwd: repo.dir });
      await handEditStatus(repo, "summary.yaml", text.replaceAll(v2, v1));
      const calls = { ...rt.calls };
      await start();
      await waitFor("v2 Succeeded again", async () => (await phase(v2)) === "Succeeded" && (await summary()).applied === v2, 30_000, 100);
      expect(await ids()).toEqual(before);
      expect([rt.calls.run, rt.calls.stop, rt.calls.remove]).toEqual([calls.run, calls.stop, calls.remove]);
    });

    it.each([
      { what: "a --path that does not exist", opts: { path: "no/such/dir" }, code: "PathNotFound" as const },
      { what: "a --branch that does not exist", opts: { branch: "mian" }, code: "BranchNotFound" as const },
    ])("$what is an error of the run that rewrites no record and touches no pod", async ({ opts, code }) => {
      await repo.write("apps/web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start({ path: "apps" });
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await op!.stop();
      op = undefined;
      const tip = await runGit(["rev-parse", "coxswain/status", "refs/notes/coxswain"], { cwd: repo.dir });
      const calls = { ...rt.calls };
      const err = await start({ path: "apps", ...opts }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCoxError(err, code)).toBe(true);
      expect(await runGit(["rev-parse", "coxswain/status", "refs/notes/coxswain"], { cwd: repo.dir })).toBe(tip);
      expect([rt.calls.run, rt.calls.stop, rt.calls.remove]).toEqual([calls.run, calls.stop, calls.remove]);
      // The right flags again: the record is as it was, the pods adopted.
      await start({ path: "apps" });
      await waitFor("v1 still Succeeded, head read", async () => (await phase(v1)) === "Succeeded" && lines.some((l) => l.includes("restored applied commit")));
      expect(rt.calls.run).toBe(calls.run);
    });
  });

  describe("Git faults are visible", () => {
    it("a deleted deploy branch shows in summary.yaml, /healthz, /readyz (503) and coxswain status; what runs stays; its return clears it", async () => {
      await repo.write("web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start({ listen: "127.0.0.1:0" });
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await runGit(["checkout", "-q", "--detach"], { cwd: repo.dir });
      await runGit(["branch", "-D", "main"], { cwd: repo.dir });
      op!.trigger();
      const s = await waitFor("the fault in summary.yaml", async () => {
        const sum = await summary();
        return Array.isArray(sum.faults) && sum.faults.length > 0 ? sum : undefined;
      });
      expect(s).toMatchObject({ applied: v1, faults: [{ where: "read", code: "BranchNotFound" }], workloads: { total: 1 } });
      // Alive all the same (the faults are information there); not ready, with the code.
      const health = await fetch(`${op!.server!.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, faults: [{ where: "read", code: "BranchNotFound" }] });
      const readyz = await fetch(`${op!.server!.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(await readyz.json()).toMatchObject({ ready: false, checks: { git: { ok: false, code: "BranchNotFound" } } });
      const status = await cli(["status", "--repo", repo.dir]);
      expect(status.stdout).toMatch(/^fault\s+read: BranchNotFound: /m);
      expect(lines.filter((l) => l.includes("BranchNotFound"))).toHaveLength(1);
      expect(await images()).toEqual(["app:v1", "app:v1"]);
      // The branch comes back: the fault is gone.
      await runGit(["branch", "main", v1], { cwd: repo.dir });
      op!.trigger();
      await waitFor("the fault cleared", async () => (await summary()).faults === undefined);
      expect((await fetch(`${op!.server!.url}/readyz`)).status).toBe(200);
    });

    it("a commit whose blob is missing is a fault of the source: nothing applied, nothing recorded as Invalid", async () => {
      await repo.write("web.yaml", web("app:v1"));
      const v1 = await repo.commit("v1");
      await start();
      await waitFor("v1 Succeeded", async () => (await phase(v1)) === "Succeeded");
      await op!.stop();
      op = undefined;
      const yaml = web("app:v2");
      await repo.write("web.yaml", yaml);
      const v2 = await repo.commit("v2 with a blob that goes missing");
      const blob = (await runGit(["rev-parse", `${v2}:web.yaml`], { cwd: repo.dir })).trim();
      const object = path.join(repo.dir, ".git", "objects", blob.slice(0, 2), blob.slice(2));
      await rename(object, `${object}.away`);
      await start();
      await waitFor("the fault in summary.yaml", async () => JSON.stringify((await summary()).faults ?? []).includes('"where":"read"'));
      expect(await record(v2)).toBeUndefined();
      expect((await summary()).applied).toBe(v1);
      expect(await images()).toEqual(["app:v1", "app:v1"]);
      await rename(`${object}.away`, object);
      op!.trigger();
      await waitFor("v2 Succeeded", async () => (await phase(v2)) === "Succeeded", 30_000, 100);
      expect((await summary()).faults).toBeUndefined();
      expect(await readdir(path.dirname(object))).toContain(blob.slice(2));
    });
  });
});

/** Commits `content` as `file` on the status branch with the git CLI, as a person editing it by hand would. */
async function handEditStatus(repo: TestRepo, file: string, content: string): Promise<void> {
  const blob = (await runGit(["hash-object", "-w", "--stdin"], { cwd: repo.dir, input: content })).trim();
  const tree = await runGit(["ls-tree", "coxswain/status"], { cwd: repo.dir });
  const lines = tree
    .split("\n")
    .filter(Boolean)
    .map((l) => (l.endsWith(`\t${file}`) ? `100644 blob ${blob}\t${file}` : l));
  const newTree = (await runGit(["mktree"], { cwd: repo.dir, input: lines.join("\n") + "\n" })).trim();
  const commit = (await runGit(["commit-tree", newTree, "-p", "coxswain/status", "-m", "edit by hand"], { cwd: repo.dir })).trim();
  await runGit(["update-ref", "refs/heads/coxswain/status", commit], { cwd: repo.dir });
}

/** Runs the real CLI (from source) and collects its output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "operator/src/cli/main.ts"), ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: "0" } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
