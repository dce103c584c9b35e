/**
 * PR plans and previews through the whole operator (fake runtime, real Git): proposal branches matching
 * --preview-branches are validated and planned on every new head — plans/<name>.yaml on the status branch
 * with placements, a one-line note on the head — removed when deleted, and linked from the merged commit's
 * record when merged; pull request heads over the smart-HTTP server are planned as pr-<n>; --preview-envs
 * also runs a proposal in namespaces of its own beside the deploy branch, follows its pushes, keeps it
 * across a restart, and removes it when merged, deleted or past its TTL.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parsePlan } from "../../../operator/src/status/store.js";
import type { PlanRecord } from "../../../operator/src/status/types.js";
import { runGit } from "../../support/git-repo.js";
import { configMapYaml, deploymentYaml } from "../../support/manifests.js";
import { Reconciles } from "../../support/reconciles.js";
import { waitFor } from "../../support/wait.js";
import { note, operator, Scope, statusFile, type RecordingRuntime, type TestOperator } from "./harness.js";

const scope = new Scope();
afterEach(() => scope.cleanup());

const web = (image: string, extra: Parameters<typeof deploymentYaml>[0] = {}) => deploymentYaml({ name: "web", replicas: 2, image, cpu: "500m", ...extra });

/** Waits until plans/<name>.yaml on the status branch is the plan of `commit`, and returns it. */
async function planOf(t: TestOperator, gitdir: string, name: string, commit: string, also: (p: PlanRecord) => boolean = () => true): Promise<PlanRecord> {
  return waitFor(
    `plan ${name} of ${commit.slice(0, 7)}`,
    async () => {
      await t.op.flushStatus();
      const text = await statusFile(gitdir, `plans/${name}.yaml`);
      const plan = text ? parsePlan(text) : undefined;
      return plan && plan.commit === commit && also(plan) ? plan : undefined;
    },
    30_000,
    100,
  );
}

async function pushBranch(work: Awaited<ReturnType<Scope["work"]>>, branch: string): Promise<void> {
  await work.git(["push", "--quiet", "--force", "origin", `${branch}:${branch}`]);
}

/** A bare deploy repository on disk with web v1 on main, and the operator following it. */
async function deployed(opts: Parameters<typeof operator>[1] extends infer O ? Partial<O> : never = {}) {
  const work = await scope.work();
  const { gitdir } = await scope.bare(work);
  await work.write("config.yaml", configMapYaml("web-config", { GREETING: "hello" }));
  await work.write("web.yaml", web("app:v1", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
  const v1 = await work.commit("web v1");
  await work.push("origin", "main");
  const t = await operator(scope, { repo: gitdir, ...opts });
  await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
  return { work, gitdir, v1, t };
}

describe("PR plans", () => {
  it("plans a proposal branch against the applied commit, with where each new pod goes, and notes it on the head", async () => {
    const { work, gitdir, v1, t } = await deployed({ previewBranches: ["pr/*"] });
    await work.git(["checkout", "--quiet", "-b", "pr/login"]);
    await work.write("web.yaml", web("app:v2", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    await work.write("login.yaml", deploymentYaml({ name: "login", replicas: 1, image: "login:v1", cpu: "250m" }));
    const head = await work.commit("login form");
    await pushBranch(work, "pr/login");
    const plan = await planOf(t, gitdir, "pr-login", head);
    expect(plan).toMatchObject({ ref: "refs/heads/pr/login", commit: head, base: v1, valid: true, errors: [] });
    const webChange = plan.changes.find((c) => c.key === "Deployment/default/web")!;
    expect(webChange).toMatchObject({ action: "update", fields: ["spec.template"], rollsTo: { replicas: 2 } });
    expect(webChange.placements).toEqual([1, 2].map((n) => expect.objectContaining({ pod: `web-${webChange.rollsTo!.revision}-${n}`, node: "local", fits: true })));
    const login = plan.changes.find((c) => c.key === "Deployment/default/login")!;
    expect(login).toMatchObject({ action: "create", placements: [{ pod: `login-${login.rollsTo!.revision}-1`, node: "local", fits: true }] });
    // The note names each object, what changes in it and where its new pods go.
    expect((await note(gitdir, head)).split("\n")).toEqual([
      `coxswain plan: valid against ${v1.slice(0, 7)} — 1 to create, 1 to update, 0 to delete; 3 new pod(s): 3 fit (plans/pr-login.yaml)`,
      "create Deployment/default/login: 1 new pod(s) → local",
      "update Deployment/default/web: app image app:v1 → app:v2; 2 new pod(s) → local (2)",
    ]);
    // Planning runs nothing.
    expect((await t.containers()).map((c) => c.image)).toEqual(["app:v1", "app:v1"]);
  });

  it("records an invalid proposal's errors with file and line, and explains a pod that fits nowhere", async () => {
    const { work, gitdir, t } = await deployed({ previewBranches: ["pr/*"] });
    await work.git(["checkout", "--quiet", "-b", "pr/broken"]);
    await work.write("web.yaml", web("app:v2").replace("replicas: 2", "replicas: two"));
    const broken = await work.commit("broken replicas");
    await pushBranch(work, "pr/broken");
    await work.git(["checkout", "--quiet", "-b", "pr/huge", "main"]);
    await work.write("big.yaml", deploymentYaml({ name: "big", replicas: 1, image: "big:v1", cpu: "64" }));
    const huge = await work.commit("a pod bigger than any node");
    await pushBranch(work, "pr/huge");
    const invalid = await planOf(t, gitdir, "pr-broken", broken);
    expect(invalid.valid).toBe(false);
    expect(invalid.errors).toEqual([expect.objectContaining({ code: "SchemaViolation", file: "web.yaml", line: 6, field: "spec.replicas" })]);
    expect((await note(gitdir, broken)).split("\n")).toEqual([
      expect.stringMatching(/^coxswain plan: invalid — 1 error\(s\), first web\.yaml:6:\d+ SchemaViolation \(plans\/pr-broken\.yaml\)$/),
      expect.stringMatching(/^web\.yaml:6:\d+ SchemaViolation Deployment\/default\/web spec\.replicas: must be an integer/),
    ]);
    const big = await planOf(t, gitdir, "pr-huge", huge);
    expect(big.changes.find((c) => c.key === "Deployment/default/big")!.placements).toEqual([
      // Kubernetes' FitError, with the preemption part the scheduler adds when no victim would help.
      { pod: expect.stringMatching(/^big-[0-9a-f]{10}-1$/), fits: false, message: expect.stringMatching(/^0\/1 nodes are available: 1 Insufficient cpu\. preemption: /) },
    ]);
    expect(await note(gitdir, huge)).toMatch(/1 new pod\(s\): 0 fit, 1 do not fit/);
  });

  it("plans every new head, and removes the plan when the branch is deleted", async () => {
    const { work, gitdir, t } = await deployed({ previewBranches: ["pr/*"] });
    await work.git(["checkout", "--quiet", "-b", "pr/scale"]);
    await work.write("web.yaml", web("app:v1", { replicas: 3, env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const first = await work.commit("three replicas");
    await pushBranch(work, "pr/scale");
    const p1 = await planOf(t, gitdir, "pr-scale", first);
    // A scale-up rolls nothing and places only the additional pod.
    expect(p1.changes).toEqual([{ action: "update", key: "Deployment/default/web", fields: ["spec.replicas"], details: ["replicas 2 → 3"], placements: [expect.objectContaining({ fits: true, node: "local" })] }]);
    await work.write("web.yaml", web("app:v1", { replicas: 4, env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const second = await work.commit("four replicas");
    await pushBranch(work, "pr/scale");
    const p2 = await planOf(t, gitdir, "pr-scale", second);
    expect(p2.changes[0]!.placements).toHaveLength(2);
    expect(await note(gitdir, first)).toMatch(/^coxswain plan: valid/); // the old head keeps its note
    await work.git(["push", "--quiet", "origin", "--delete", "pr/scale"]);
    await waitFor(
      "plan removed",
      async () => {
        await t.op.flushStatus();
        return (await statusFile(gitdir, "plans/pr-scale.yaml")) === undefined;
      },
      30_000,
      100,
    );
    expect(t.lines).toContainEqual(expect.stringMatching(/^proposal pr-scale \(refs\/heads\/pr\/scale\) deleted: plan removed$/));
  });

  it("a merged proposal rolls out, the merged commit's record names the plan that was shown, and the plan goes", async () => {
    const { work, gitdir, t } = await deployed({ previewBranches: ["pr/*"] });
    await work.git(["checkout", "--quiet", "-b", "pr/v2"]);
    await work.write("web.yaml", web("app:v2", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const head = await work.commit("web v2");
    await pushBranch(work, "pr/v2");
    await planOf(t, gitdir, "pr-v2", head);
    await work.git(["checkout", "--quiet", "main"]);
    await work.git(["merge", "--quiet", "--no-ff", "-m", "Merge pr/v2", "pr/v2"]);
    const merge = await work.revParse("HEAD");
    await work.push("origin", "main");
    await waitFor("merge Succeeded", () => t.op.store.getCommit(merge)?.phase === "Succeeded", 30_000, 50);
    await waitFor(
      "record names the plan and the plan is gone",
      async () => {
        await t.op.flushStatus();
        const rec = await statusFile(gitdir, `commits/${merge.slice(0, 2)}/${merge}.yaml`);
        return /^plan: plans\/pr-v2\.yaml$/m.test(rec ?? "") && (await statusFile(gitdir, "plans/pr-v2.yaml")) === undefined;
      },
      30_000,
      100,
    );
    // The plan the record points at is in the status branch's history.
    const shown = await runGit(["--git-dir", gitdir, "log", "--format=%H", "coxswain/status", "--", "plans/pr-v2.yaml"]);
    expect(shown.split("\n").length).toBeGreaterThanOrEqual(2);
    expect((await t.containers()).map((c) => c.image)).toEqual(["app:v2", "app:v2"]);
  });

  it("plans pull request heads a remote advertises (refs/pull/<n>/head) as pr-<n>", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    await work.write("web.yaml", web("app:v1"));
    await work.commit("v1");
    await work.push("origin", "main");
    await work.git(["checkout", "--quiet", "-b", "feature"]);
    await work.write("web.yaml", web("app:v2"));
    const head = await work.commit("v2 as a pull request");
    await work.git(["push", "--quiet", "origin", "feature:refs/pull/7/head"]);
    const t = await operator(scope, { repo: url, previewBranches: ["pull/*"] });
    const plan = await planOf(t, gitdir, "pr-7", head);
    expect(plan.ref).toBe("refs/pull/7/head");
    expect(plan.changes.map((c) => c.key)).toEqual(["Deployment/default/web"]);
    expect(await note(gitdir, head)).toMatch(/^coxswain plan: valid .*\(plans\/pr-7\.yaml\)\n/);
  });
});

describe("previews", () => {
  const images = async (t: TestOperator, ns: string) => (await t.containers()).filter((c) => c.namespace === ns).map((c) => c.image);

  it("runs a proposal in its own namespace beside the deploy branch, follows its pushes, and is removed on merge", async () => {
    const { work, gitdir, t } = await deployed({ previewEnvs: ["pr/*"] });
    await work.git(["checkout", "--quiet", "-b", "pr/login"]);
    await work.write("web.yaml", web("app:v2", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const h1 = await work.commit("web v2");
    await pushBranch(work, "pr/login");
    await waitFor("preview pods", async () => (await images(t, "pv-pr-login-default")).join() === "app:v2,app:v2", 30_000, 100);
    expect(await images(t, "default")).toEqual(["app:v1", "app:v1"]);
    const plan = await planOf(t, gitdir, "pr-login", h1, (p) => p.preview?.state === "Running");
    expect(plan.preview).toEqual({ namespace: "pv-pr-login-default", state: "Running", expiresAt: expect.stringMatching(/^\d{4}-/) });
    await waitFor(
      "preview workload record",
      async () => {
        await t.op.flushStatus();
        return (await statusFile(gitdir, "workloads/pv-pr-login-default/deployment-web.yaml"))?.includes(`commit: ${h1}`);
      },
      30_000,
      100,
    );
    // The ConfigMap went with it: the preview pods read it from their own namespace.
    const launch = [...t.runtimes.get("local")!.launched].reverse().find((l) => l.labels["io.coxswain.namespace"] === "pv-pr-login-default");
    expect(launch?.env.GREETING).toBe("hello");
    expect(t.op.store.summary()!.workloads.total).toBe(1); // the deploy branch's counts do not include previews

    await work.write("web.yaml", web("app:v3", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const h2 = await work.commit("web v3");
    await pushBranch(work, "pr/login");
    await waitFor("preview follows the push", async () => (await images(t, "pv-pr-login-default")).join() === "app:v3,app:v3", 30_000, 100);
    await planOf(t, gitdir, "pr-login", h2);

    await work.git(["push", "--quiet", "origin", "pr/login:main"]); // a fast-forward merge
    await waitFor("merged: main runs v3, the preview is gone", async () => (await images(t, "default")).join() === "app:v3,app:v3" && (await images(t, "pv-pr-login-default")).length === 0, 30_000, 100);
    await waitFor(
      "merged commit Succeeded and names the plan",
      () => {
        const rec = t.op.store.getCommit(h2);
        return rec?.phase === "Succeeded" && rec.plan === "plans/pr-login.yaml";
      },
      30_000,
      50,
    );
    await waitFor(
      "preview workload record removed",
      async () => {
        await t.op.flushStatus();
        return (await statusFile(gitdir, "workloads/pv-pr-login-default/deployment-web.yaml")) === undefined;
      },
      30_000,
      100,
    );
  });

  it("removes a preview when its branch is deleted, and after its TTL; a new push starts it again", async () => {
    const { work, gitdir, t } = await deployed({ previewEnvs: ["pr/*"], previewTtlMs: 4_000 });
    await work.git(["checkout", "--quiet", "-b", "pr/a"]);
    await work.write("web.yaml", web("app:v2", { env: [{ name: "GREETING", configMap: { name: "web-config", key: "GREETING" } }] }));
    const a1 = await work.commit("a");
    await pushBranch(work, "pr/a");
    await waitFor("preview a", async () => (await images(t, "pv-pr-a-default")).length === 2, 30_000, 100);
    const expired = await planOf(t, gitdir, "pr-a", a1, (p) => p.preview?.state === "Expired");
    expect(expired.preview?.namespace).toBe("pv-pr-a-default");
    await waitFor("expired preview pods gone", async () => (await images(t, "pv-pr-a-default")).length === 0, 30_000, 100);
    expect(t.lines).toContainEqual(expect.stringMatching(/^preview of pr-a expired/));
    await work.write("README.md", "again\n");
    const a2 = await work.commit("push again");
    await pushBranch(work, "pr/a");
    await waitFor("started again", async () => (await images(t, "pv-pr-a-default")).length === 2, 30_000, 100);
    await planOf(t, gitdir, "pr-a", a2, (p) => p.preview?.state !== "Expired");
    await work.git(["push", "--quiet", "origin", "--delete", "pr/a"]);
    await waitFor(
      "deleted: pods and plan gone",
      async () => {
        await t.op.flushStatus();
        return (await images(t, "pv-pr-a-default")).length === 0 && (await statusFile(gitdir, "plans/pr-a.yaml")) === undefined;
      },
      30_000,
      100,
    );
  });

  it("keeps a preview's pods across an operator restart", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("v1");
    await work.push("origin", "main");
    await work.git(["checkout", "--quiet", "-b", "pr/keep"]);
    await work.write("web.yaml", web("app:v2"));
    await work.commit("v2");
    await pushBranch(work, "pr/keep");
    const stateDir = await scope.dir("coxswain-state-");
    const runtimes = new Map<string, RecordingRuntime>();
    const first = await operator(scope, { repo: gitdir, stateDir, runtimes, previewEnvs: ["pr/*"] });
    await waitFor("v1 Succeeded", () => first.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
    await waitFor("preview running", async () => (await images(first, "pv-pr-keep-default")).length === 2, 30_000, 100);
    const pods = (await first.containers()).map((c) => c.pod);
    await first.stop();
    const launched = runtimes.get("local")!.launched.length;
    const second = await operator(scope, { repo: gitdir, stateDir, runtimes, previewEnvs: ["pr/*"] });
    const reconciles = new Reconciles(second.op);
    await second.line(/^proposal pr\/keep at /);
    // The restarted controller has looked at the preview's Deployment (twice, from now on): pods it did
    // not recognise would have been removed as orphans or created again by now.
    for (let i = 0; i < 2; i++) await reconciles.fresh("Deployment/pv-pr-keep-default/web");
    expect((await second.containers()).map((c) => c.pod)).toEqual(pods);
    expect(runtimes.get("local")!.launched.length).toBe(launched);
  });
});
