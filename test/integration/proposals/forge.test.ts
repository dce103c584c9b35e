/**
 * PR plans where reviewers look, for each forge (GitHub, GitLab, Gitea) against a fake forge on 127.0.0.1
 * (test/support/forge-server.ts) and the operator in-process with the fake runtime on a real Git repository:
 * a pushed proposal gets one comment on its pull/merge request and a pending → success status on its head;
 * a new head edits that same comment and gets its own status; a broken manifest gets a failure status
 * naming file:line; the merge gets the rollout's result as a status on the merge commit (success, or
 * failure naming the commit it was rolled back to and why). The token is
 * never in the log nor on the status branch. A merge request head the remote advertises is commented on
 * its own request. A forge that fails every call blocks nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FORGE_KINDS, type ForgeKind } from "../../../operator/src/forge/client.js";
import { deploymentYaml } from "../../support/manifests.js";
import { startFakeForge, type FakeForge, type PostedStatus } from "../../support/forge-server.js";
import { findSecrets, gitWritten } from "../../support/secret-scan.js";
import { parseExposition, sampleValue } from "../../support/prometheus-text.js";
import { waitFor } from "../../support/wait.js";
import { operator, Scope, type TestOperator } from "./harness.js";

const scope = new Scope();
afterEach(() => scope.cleanup());

const TOKEN = "forge-token-9f2c1a7e5b3d";
const web = (replicas: number, image: string) => deploymentYaml({ name: "web", replicas, image, cpu: "250m" });
/** Short retry delays: the fake forge answers at once. */
const backoff = { initialMs: 20, maxMs: 200, jitter: 0.2 };

/** A deploy repository with web v1 (2 replicas) on main, a fake forge of `kind`, and the operator posting to it. */
async function setup(kind: ForgeKind) {
  const forge = await startFakeForge(kind, "acme/deploy", TOKEN);
  scope.defer(() => forge.close());
  const work = await scope.work();
  const { gitdir } = await scope.bare(work);
  await work.write("web.yaml", web(2, "app:v1"));
  const v1 = await work.commit("web v1");
  await work.push("origin", "main");
  const t = await operator(scope, { repo: gitdir, previewBranches: ["pr/*"], forge: { kind, url: forge.url, repo: "acme/deploy", token: TOKEN, backoff } });
  await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 30_000, 50);
  return { forge, work, gitdir, t };
}

/** Waits for the statuses of `context` on `sha` to end with state `last`; returns them all. */
async function statusesOf(forge: FakeForge, sha: string, context: string, last: string): Promise<PostedStatus[]> {
  return waitFor(
    `${context} ${last} on ${sha.slice(0, 7)}`,
    () => {
      const of = forge.statuses.filter((s) => s.sha === sha && s.context === context);
      return of.at(-1)?.state === last ? of : undefined;
    },
    30_000,
    50,
  );
}

describe.each(FORGE_KINDS)("PR plans on %s", (kind) => {
  it("one comment edited on each head, pending → success/failure statuses on heads, the rollout's result on the merge", async () => {
    const { forge, work, gitdir, t } = await setup(kind);
    forge.openRequest("pr/scale", 7);
    await work.git(["checkout", "--quiet", "-b", "pr/scale"]);
    const push = async (file: string, subject: string) => {
      await work.write("web.yaml", file);
      const head = await work.commit(subject);
      await work.git(["push", "--quiet", "--force", "origin", "pr/scale:pr/scale"]);
      return head;
    };

    // A proposal: pending while planned, then success; one comment naming the object and what changes.
    const first = await push(web(4, "app:v1"), "scale web to 4");
    expect((await statusesOf(forge, first, "coxswain/plan", "success")).map((s) => s.state)).toEqual(["pending", "success"]);
    const comment = await waitFor("the plan comment", () => forge.comments.get(7)?.find((c) => c.body.includes(first.slice(0, 7))), 30_000, 50);
    expect(comment.body).toContain("<!-- coxswain-plan pr-scale -->");
    expect(comment.body).toContain("update Deployment/default/web: replicas 2 → 4; 2 new pod(s) → local (2)");

    // A new head: the same comment is edited, the new head gets its own statuses.
    const second = await push(web(4, "app:v2"), "web v2");
    await statusesOf(forge, second, "coxswain/plan", "success");
    await waitFor("the comment shows the new head", () => forge.comments.get(7)?.[0]?.body.includes(second.slice(0, 7)), 30_000, 50);
    expect(forge.comments.get(7)).toHaveLength(1);
    expect(forge.comments.get(7)![0]!.id).toBe(comment.id);
    expect(forge.comments.get(7)![0]!.body).toMatch(/update Deployment\/default\/web: replicas 2 → 4; \w+ image app:v1 → app:v2; 4 new pod\(s\)/);

    // A broken manifest: a failure status naming file:line and the code.
    const broken = await push(web(4, "app:v2").replace("replicas: 4", "replicas: four"), "broken replicas");
    const failed = await statusesOf(forge, broken, "coxswain/plan", "failure");
    expect(failed.at(-1)!.description).toMatch(/^invalid: web\.yaml:\d+:\d+ SchemaViolation spec\.replicas/);
    await waitFor("the comment lists the error", () => forge.comments.get(7)?.[0]?.body.includes(broken.slice(0, 7)), 30_000, 50);
    expect(forge.comments.get(7)).toHaveLength(1);

    // Fixed and merged: the rollout's result as a status on the merge commit.
    const fixed = await push(web(3, "app:v2"), "web v2 at 3");
    await statusesOf(forge, fixed, "coxswain/plan", "success");
    await work.git(["checkout", "--quiet", "main"]);
    await work.git(["merge", "--quiet", "--no-ff", "-m", "Merge pr/scale", "pr/scale"]);
    const merge = await work.revParse("HEAD");
    await work.push("origin", "main");
    const rollout = await statusesOf(forge, merge, "coxswain/rollout", "success");
    expect(rollout).toHaveLength(1);
    expect(rollout[0]!.description).toMatch(/^Succeeded: /);

    // Every request carried the token in the forge's header, in the shapes of its API; one comment created.
    await t.op.forge!.idle();
    expect(forge.requests.every((r) => r.authorized)).toBe(true);
    const creates = forge.requests.filter((r) => r.method === "POST" && /\/(comments|notes)$/.test(r.path.split("?")[0]!));
    const edits = forge.requests.filter((r) => r.method === (kind === "gitlab" ? "PUT" : "PATCH"));
    expect(creates).toHaveLength(1);
    expect(edits.length).toBeGreaterThanOrEqual(3);
    const statusPath = kind === "gitlab" ? /^\/projects\/acme%2Fdeploy\/statuses\/[0-9a-f]{40}$/ : /^\/repos\/acme\/deploy\/statuses\/[0-9a-f]{40}$/;
    expect(forge.requests.filter((r) => r.method === "POST" && r.path.includes("/statuses/")).every((r) => statusPath.test(r.path))).toBe(true);

    // The token is nowhere in what coxswain printed or wrote to Git.
    await t.op.flushStatus();
    const texts = [{ where: "the operator's log", text: t.lines.join("\n") }, ...(await gitWritten(gitdir))];
    expect(texts.some((x) => x.text.includes("pr-scale"))).toBe(true);
    expect(findSecrets(texts, [TOKEN])).toEqual([]);
  });
});

describe("a merge request head the remote advertises", () => {
  it("is commented on its own request, without asking the forge which request it is", async () => {
    const forge = await startFakeForge("gitlab", "acme/deploy", TOKEN);
    scope.defer(() => forge.close());
    forge.openRequest("feature", 12);
    const work = await scope.work();
    const { url } = await scope.served(work);
    await work.write("web.yaml", web(2, "app:v1"));
    await work.commit("v1");
    await work.push("origin", "main");
    await work.git(["checkout", "--quiet", "-b", "feature"]);
    await work.write("web.yaml", web(2, "app:v2"));
    const head = await work.commit("v2 as a merge request");
    await work.git(["push", "--quiet", "origin", "feature:refs/merge-requests/12/head"]);
    await operator(scope, { repo: url, previewBranches: ["merge-requests/*"], forge: { kind: "gitlab", url: forge.url, repo: "acme/deploy", token: TOKEN, backoff } });
    await statusesOf(forge, head, "coxswain/plan", "success");
    const comment = await waitFor("the comment on !12", () => forge.comments.get(12)?.[0], 30_000, 50);
    expect(comment.body).toContain("<!-- coxswain-plan pr-12 -->");
    expect(forge.requests.filter((r) => r.path.includes("/merge_requests?"))).toEqual([]);
  });
});

describe("a merge that is rolled back", () => {
  it("gets a failure status on the merge commit, naming the commit it went back to and why", async () => {
    const { forge, work, t } = await setup("github");
    forge.openRequest("pr/bad", 5);
    await work.git(["checkout", "--quiet", "-b", "pr/bad"]);
    // Its pods never get ready (the probe fails on the fake runtime): the progress deadline rolls it back.
    await work.write("web.yaml", deploymentYaml({ name: "web", replicas: 2, image: "app:v2", cpu: "250m", maxSurge: 1, maxUnavailable: 0, probe: true, progressDeadlineSeconds: 2 }));
    const head = await work.commit("web v2 never gets ready");
    await work.git(["push", "--quiet", "origin", "pr/bad:pr/bad"]);
    await statusesOf(forge, head, "coxswain/plan", "success");
    await work.git(["checkout", "--quiet", "main"]);
    await work.git(["merge", "--quiet", "--no-ff", "-m", "Merge pr/bad", "pr/bad"]);
    const merge = await work.revParse("HEAD");
    await work.push("origin", "main");
    await waitFor("merge RolledBack", () => t.op.store.getCommit(merge)?.phase === "RolledBack", 60_000, 100);
    const [status] = await statusesOf(forge, merge, "coxswain/rollout", "failure");
    const rollback = t.op.store.getCommit(merge)!.rollback!;
    expect(rollback.code).toMatch(/DeadlineExceeded$/);
    expect(status!.description.startsWith(`rolled back to ${rollback.to.slice(0, 7)}: ${rollback.code} `)).toBe(true);
  });
});

describe("a failing forge", () => {
  it("blocks nothing: the proposal is planned and the merge rolls out; the failed posts are logged and counted", async () => {
    const { forge, work, t } = await setup("github");
    forge.openRequest("pr/down", 3);
    forge.failNext(1_000_000, 503);
    await work.git(["checkout", "--quiet", "-b", "pr/down"]);
    await work.write("web.yaml", web(3, "app:v1"));
    await work.commit("scale web to 3");
    await work.git(["push", "--quiet", "origin", "pr/down:pr/down"]);
    await line(t, /^proposal pr\/down at \w+: valid/);
    await work.git(["checkout", "--quiet", "main"]);
    await work.git(["merge", "--quiet", "--no-ff", "-m", "Merge pr/down", "pr/down"]);
    const merge = await work.revParse("HEAD");
    await work.push("origin", "main");
    await waitFor("merge Succeeded", () => t.op.store.getCommit(merge)?.phase === "Succeeded", 30_000, 50);
    await line(t, /^forge github: status coxswain\/plan \w+ on \w{7} not posted: github: POST \/repos\/acme\/deploy\/statuses\/\w+: HTTP 503/);
    await t.op.forge!.idle();
    expect(forge.statuses).toEqual([]);
    const metrics = parseExposition((await t.op.metrics.exposition()).text);
    expect(sampleValue(metrics, "coxswain_forge_posts_total", { forge: "github", result: "failed" })).toBeGreaterThanOrEqual(1);
    expect(findSecrets([{ where: "the operator's log", text: t.lines.join("\n") }], [TOKEN])).toEqual([]);
  });
});

function line(t: TestOperator, re: RegExp): Promise<string> {
  return t.line(re, 60_000);
}
