/**
 * Auto-revert through the whole operator (fake runtime, real Git): a commit whose rollout fails is rolled
 * back to the stable commit, and then — with --auto-revert, or the coxswain.io/auto-revert annotation on a
 * workload it changed — a revert of it is committed to the deploy branch (a bare repository on disk) or
 * pushed (a remote over smart HTTP). The revert is an ordinary new head: it applies the stable manifests and
 * succeeds, and the operator's metrics count the rollback and the revert. A revision fails by never
 * becoming ready (its readiness probe has nothing to answer).
 */
import { afterEach, describe, expect, it } from "vitest";
import { runGit } from "../../support/git-repo.js";
import { deploymentYaml } from "../../support/manifests.js";
import { parseExposition, sampleValue } from "../../support/prometheus-text.js";
import { waitFor } from "../../support/wait.js";
import { operator, Scope, statusFile, type TestOperator } from "../proposals/harness.js";

const scope = new Scope();
afterEach(() => scope.cleanup());

const good = (image: string, annotate?: string) => annotated(deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0 }), annotate);
const bad = (image: string, annotate?: string) => annotated(deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0, probe: true, progressDeadlineSeconds: 2 }), annotate);
function annotated(yaml: string, value?: string): string {
  return value === undefined ? yaml : yaml.replace("metadata:\n  name: web", `metadata:\n  name: web\n  annotations:\n    coxswain.io/auto-revert: "${value}"`);
}

async function images(t: TestOperator): Promise<string[]> {
  return (await t.containers()).map((c) => c.image).sort();
}

/** Commits v1 (good) and waits until it succeeded, then commits v2 (bad) and waits for its rollback. */
async function failOnce(t: TestOperator, work: Awaited<ReturnType<Scope["work"]>>, publish: () => Promise<void>, v1: string, badYaml: string): Promise<string> {
  await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
  await work.write("web.yaml", badYaml);
  const v2 = await work.commit("web v2 never gets ready");
  await publish();
  await waitFor("v2 RolledBack", () => t.op.store.getCommit(v2)?.phase === "RolledBack", 60_000, 100);
  return v2;
}

describe("auto-revert after an automatic rollback", () => {
  it("commits a revert to a bare repository's branch, and the revert rolls out the stable manifests", async () => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", good("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, autoRevert: true });
    const v2 = await failOnce(t, work, () => work.push("origin", "main"), v1, bad("app:v2"));
    const revert = await waitFor(
      "revert Committed",
      () => {
        const r = t.op.store.getCommit(v2)?.revert;
        return r?.state === "Committed" ? r : undefined;
      },
      30_000,
      50,
    );
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(revert.commit);
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main^"])).toBe(v2);
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main^{tree}"])).toBe(await runGit(["--git-dir", gitdir, "rev-parse", `${v1}^{tree}`]));
    const message = await runGit(["--git-dir", gitdir, "log", "-1", "--format=%an <%ae>%n%B", "main"]);
    expect(message).toMatch(/^coxswain <coxswain@localhost>\nRevert "web v2 never gets ready"\n/);
    expect(message).toContain(`This reverts commit ${v2}.`);
    const rollback = t.op.store.getCommit(v2)!.rollback!;
    expect(message).toContain(`Its rollout failed (${rollback.code}: ${rollback.reason}); coxswain rolled back to\n${v1} and quarantined it.`);
    expect(message).toContain("reverted automatically by coxswain");
    await waitFor("the revert Succeeded", () => t.op.store.getCommit(revert.commit!)?.phase === "Succeeded", 30_000, 50);
    expect(await images(t)).toEqual(["app:v1", "app:v1"]);
    await t.op.flushStatus();
    const rec = (await statusFile(gitdir, `commits/${v2.slice(0, 2)}/${v2}.yaml`))!;
    expect(rec).toMatch(new RegExp(`revert:\\n  state: Committed\\n  commit: ${revert.commit}\\n`));
    // The metrics count one rollback and one revert; v2's rollout ended other than Succeeded, v1's and the revert's Succeeded.
    const m = parseExposition((await t.op.metrics.exposition()).text);
    expect(sampleValue(m, "coxswain_rollbacks_total")).toBe(1);
    expect(sampleValue(m, "coxswain_reverts_total")).toBe(1);
    expect(sampleValue(m, "coxswain_commit_phase_transitions_total", { phase: "RolledBack" })).toBe(1);
    const outcomes = m.get("coxswain_rollouts_total")!.samples.map((x) => [x.labels.outcome, x.value]);
    expect(outcomes).toContainEqual(["Succeeded", 2]);
    expect(outcomes.filter(([o]) => o !== "Succeeded").reduce((n, [, v]) => n + Number(v), 0)).toBe(1);
  });

  it("pushes the revert to a remote over smart HTTP", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    await work.write("web.yaml", good("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, autoRevert: true });
    const v2 = await failOnce(t, work, () => work.push("origin", "main"), v1, bad("app:v2"));
    const revert = await waitFor(
      "revert Pushed",
      () => {
        const r = t.op.store.getCommit(v2)?.revert;
        return r?.state === "Pushed" ? r : undefined;
      },
      30_000,
      50,
    );
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(revert.commit);
    await waitFor("the revert Succeeded", () => t.op.store.getCommit(revert.commit!)?.phase === "Succeeded", 30_000, 50);
    // The pushed status branch records it too.
    await t.op.flushStatus();
    await waitFor("the remote's status branch has the revert", async () => /state: Pushed/.test((await statusFile(gitdir, `commits/${v2.slice(0, 2)}/${v2}.yaml`)) ?? ""), 30_000, 100);
  });

  it.each([
    { name: 'the annotation "true" on the failed workload asks for it without the flag', flag: false, annotation: "true", reverted: true },
    { name: 'the annotation "false" opts the workload out despite the flag', flag: true, annotation: "false", reverted: false },
    { name: "without the flag or the annotation nothing is reverted", flag: false, annotation: undefined, reverted: false },
  ])("$name", async ({ flag, annotation, reverted }) => {
    const work = await scope.work();
    const { gitdir } = await scope.bare(work);
    await work.write("web.yaml", good("app:v1", annotation));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: gitdir, autoRevert: flag });
    const v2 = await failOnce(t, work, () => work.push("origin", "main"), v1, bad("app:v2", annotation));
    if (reverted) {
      await waitFor("revert Committed", () => t.op.store.getCommit(v2)?.revert?.state === "Committed", 30_000, 50);
    } else {
      // The decision was queued when v2 was marked RolledBack; stop() waits for it (and for any revert it
      // started) before it returns.
      await t.stop();
      expect(t.op.store.getCommit(v2)?.revert).toBeUndefined();
      expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(v2);
    }
  });

  it("records Failed, and moves nothing, when the branch is checked out in the followed work tree", async () => {
    const work = await scope.work();
    await work.write("web.yaml", good("app:v1"));
    const v1 = await work.commit("web v1");
    const t = await operator(scope, { repo: work.dir, autoRevert: true });
    const v2 = await failOnce(t, work, async () => undefined, v1, bad("app:v2"));
    const outcome = await waitFor(
      "revert Failed",
      () => {
        const r = t.op.store.getCommit(v2)?.revert;
        return r?.state === "Failed" ? r : undefined;
      },
      30_000,
      50,
    );
    expect(outcome.message).toMatch(/checked out in the work tree .*bare repository or a remote/);
    expect(await work.revParse("main")).toBe(v2);
  });
});
