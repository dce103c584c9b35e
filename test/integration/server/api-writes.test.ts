/**
 * The API's writes through the whole operator (in-process, fake runtime) following a real remote over
 * smart HTTP (test/support/git-server.ts): each write is a commit by coxswain naming the token's user, in
 * the remote, editing only the field it changes, and the branch sync applies it like any pushed commit.
 * - promote: a canary Rollout waiting at `pause: {}` gets coxswain.io/promote: "1" and finishes on v2; the
 *   event stream tells the promoting commit's phases; promote on a Rollout that waits for nothing is 409; a
 *   blue/green Rollout with spec.paused gets spec.paused: false, then its preview is promoted.
 * - cordon / uncordon: the Node's spec.unschedulable in its file; a cordoned node gets no new pod; cordon
 *   twice is 409; a node written as a flow mapping is 422 with its file and line.
 * - retry: a commit whose rollout failed (its image could not be run) and was auto-reverted is retried — its
 *   changes put back with `Coxswain-Retry: <sha>` — and, the failure gone, rolls out and Succeeds; one still
 *   at the head is retried with an empty commit; retry of a commit not quarantined is 409.
 * - tokens: 401 without one, 403 with a read token, for every write.
 * Every answer (202 and each error) is validated against the OpenAPI document's schema for it.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterEach, describe, expect, it } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import { parseApiTokens } from "../../../operator/src/server/index.js";
import { runGit } from "../../support/git-repo.js";
import { deploymentYaml, nodesYaml, rolloutYaml } from "../../support/manifests.js";
import { openSse } from "../../support/sse.js";
import { waitFor } from "../../support/wait.js";
import { operator, RecordingRuntime, Scope, type TestOperator } from "../proposals/harness.js";

const scope = new Scope();
afterEach(() => scope.cleanup());

const RATE = 1_000;
const READ = "writes-read-token-0a1b2c3d4e";
const WRITE = "writes-write-token-5f6a7b8c9d";
const tokens = parseApiTokens(`read ${READ} viewer\nwrite ${WRITE} alice\n`, "tokens");

/** The default node ("local"), whose engine cannot run app:v2 while `broken` (a registry that is down, say). */
class FlakyRuntime extends RecordingRuntime {
  broken = true;
  override async run(launch: ContainerLaunch) {
    if (this.broken && launch.image === "app:v2") throw new CoxError("ImagePullFailed", "registry down (test)");
    return super.run(launch);
  }
}

/** The OpenAPI document's POST paths in ajv, per operator; every answer of `post` is checked against it. */
const documents = new WeakMap<TestOperator, { ajv: Ajv2020; paths: Record<string, { post?: { responses: Record<string, unknown> } }> }>();

/**
 * POST `path` with the token given (none: no header); the answer is validated against the OpenAPI
 * document's schema for that path and status (`pattern` names the path as the document does).
 */
async function post(t: TestOperator, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.op.server!.url}${path}`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} });
  const answer = { status: res.status, body: (await res.json()) as Record<string, unknown> };
  let doc = documents.get(t);
  if (!doc) {
    const d = (await (await fetch(`${t.op.server!.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${READ}` } })).json()) as { paths: Record<string, { post?: { responses: Record<string, unknown> } }> };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(d, "openapi.json");
    documents.set(t, (doc = { ajv, paths: d.paths }));
  }
  const pattern = Object.keys(doc.paths).find((p) => doc.paths[p]!.post && new RegExp(`^${p.replace(/\{[a-z]+\}/g, "[^/]+")}$`).test(path.split("?")[0]!));
  expect(pattern, `the document describes POST ${path}`).toBeDefined();
  expect(doc.paths[pattern!]!.post!.responses[String(answer.status)], `the document describes ${answer.status} of POST ${pattern}`).toBeDefined();
  const pointer = `openapi.json#/paths/${pattern!.replace(/~/g, "~0").replace(/\//g, "~1")}/post/responses/${answer.status}/content/application~1json/schema`;
  const validate = doc.ajv.getSchema(pointer)!;
  if (!validate(answer.body)) throw new Error(`${answer.status} of POST ${path}: ${doc.ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body)}`);
  return answer;
}

/** GET `path` with the read token. */
async function get<T>(t: TestOperator, path: string): Promise<T> {
  const res = await fetch(`${t.op.server!.url}${path}`, { headers: { authorization: `Bearer ${READ}` } });
  return (await res.json()) as T;
}

/** Author, subject, body of a commit of the remote. */
async function commitOf(gitdir: string, sha: string): Promise<{ author: string; message: string; diff: string[] }> {
  const author = await runGit(["--git-dir", gitdir, "log", "-1", "--format=%an <%ae>", sha]);
  const message = await runGit(["--git-dir", gitdir, "log", "-1", "--format=%B", sha]);
  const diff = (await runGit(["--git-dir", gitdir, "diff", "--unified=0", `${sha}^`, sha])).split("\n").filter((l) => /^[-+][^-+]/.test(l));
  return { author, message, diff };
}

/** Every write refuses a missing token (401) and a read token (403). */
async function refusesWithoutWriteToken(t: TestOperator, path: string): Promise<void> {
  const none = await post(t, path);
  expect([none.status, none.body.code]).toEqual([401, "ApiUnauthorized"]);
  const read = await post(t, path, READ);
  expect([read.status, read.body.code]).toEqual([403, "ApiForbidden"]);
}

describe("API writes", () => {
  it("promotes a canary Rollout paused at pause: {} with a commit in the remote, and it finishes", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const shop = (image: string) => `# the shop, by the web team\n${rolloutYaml({ name: "shop", replicas: 2, image, canary: [{ setWeight: 50 }, { pause: {} }] })}`;
    await work.write("shop.yaml", shop("app:v1"));
    const v1 = await work.commit("shop v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, apiTokens: tokens });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    const path = "/api/v1/workloads/Rollout/default/shop/promote";
    await refusesWithoutWriteToken(t, path);
    // Nothing waits for a promotion: 409, and nothing is committed.
    const early = await post(t, path, WRITE);
    expect([early.status, early.body.code]).toEqual([409, "ApiConflict"]);
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(v1);
    const notRollout = await post(t, "/api/v1/workloads/Deployment/default/shop/promote", WRITE);
    expect([notRollout.status, notRollout.body.code]).toEqual([400, "InvalidArgument"]);

    await work.write("shop.yaml", shop("app:v2"));
    const v2 = await work.commit("shop v2");
    await work.push("origin", "main");
    await waitFor("v2 waiting for promotion", () => t.op.store.getWorkload("Rollout", "default", "shop")?.canary?.waiting === "promotion", 60_000, 50);
    expect((await t.containers()).map((c) => c.image).sort()).toEqual(["app:v1", "app:v2"]);

    const stream = await openSse(`${t.op.server!.url}/api/v1/events`, { authorization: `Bearer ${READ}` });
    scope.defer(async () => stream.close());
    const promoted = await post(t, path, WRITE);
    expect(promoted.status).toBe(202);
    expect(promoted.body).toMatchObject({ action: "promote", target: "Rollout/default/shop", user: "alice", parent: v2, branch: "main", pushed: true, subject: "Promote Rollout default/shop" });
    const sha = promoted.body.commit as string;
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(sha);
    const c = await commitOf(gitdir, sha);
    expect(c.author).toBe("coxswain <coxswain@localhost>");
    expect(c.message).toContain("Requested by alice through the coxswain API.");
    expect(c.message).toMatch(/\n\nCoxswain-User: alice\n?$/);
    // Only the annotation was added; the comment and everything else are as they were.
    expect(c.diff).toEqual(["+  annotations:", '+    coxswain.io/promote: "1"']);
    expect(await runGit(["--git-dir", gitdir, "show", `${sha}:shop.yaml`])).toMatch(/^# the shop, by the web team\n/);

    await waitFor("the promoting commit Succeeded", () => t.op.store.getCommit(sha)?.phase === "Succeeded", 60_000, 50);
    expect((await t.containers()).map((x) => x.image)).toEqual(["app:v2", "app:v2"]);
    const phases = () => stream.events.filter((e) => e.event === "commit" && (e.data as { sha: string }).sha === sha).map((e) => (e.data as { phase: string }).phase);
    await waitFor("the promoting commit's Succeeded event", () => phases().includes("Succeeded"), 30_000, 20);
    expect(phases()).toEqual(["Progressing", "Succeeded"]);
    // Done: nothing waits any more.
    const again = await post(t, path, WRITE);
    expect([again.status, again.body.code]).toEqual([409, "ApiConflict"]);
  });

  it("promotes a blue/green Rollout's preview (autoPromotionEnabled: false) and clears spec.paused", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const shop = (image: string, paused = false) => rolloutYaml({ name: "shop", replicas: 2, image, blueGreen: { autoPromotionEnabled: false } }).replace("spec:\n", `spec:\n  paused: ${paused}\n`);
    await work.write("shop.yaml", shop("app:v1"));
    const v1 = await work.commit("shop v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, apiTokens: tokens });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    await work.write("shop.yaml", shop("app:v2", true));
    const v2 = await work.commit("shop v2, paused");
    await work.push("origin", "main");
    await waitFor("v2 applied, paused", () => t.op.store.getCommit(v2)?.phase === "Progressing" && t.op.store.getWorkload("Rollout", "default", "shop")?.paused, 60_000, 50);
    const promoted = await post(t, "/api/v1/workloads/rollout/default/shop/promote", WRITE);
    expect(promoted.status).toBe(202);
    const sha = promoted.body.commit as string;
    // Paused: only spec.paused changes; nothing waited for a promotion yet.
    expect((await commitOf(gitdir, sha)).diff).toEqual(["-  paused: true", "+  paused: false"]);
    await waitFor("v2's preview waiting for promotion", () => t.op.store.getWorkload("Rollout", "default", "shop")?.blueGreen?.waiting === "promotion", 60_000, 50);
    const again = await post(t, "/api/v1/workloads/Rollout/default/shop/promote", WRITE);
    expect(again.status).toBe(202);
    expect((await commitOf(gitdir, again.body.commit as string)).diff).toEqual(["+  annotations:", '+    coxswain.io/promote: "1"']);
    await waitFor("the promoting commit Succeeded", () => t.op.store.getCommit(again.body.commit as string)?.phase === "Succeeded", 60_000, 50);
    await waitFor("only v2 runs", async () => (await t.containers()).every((x) => x.image === "app:v2") && (await t.containers()).length === 2, 30_000, 50);
  });

  it("cordons and uncordons a node through its manifest: no new pod goes to a cordoned node", async () => {
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const flow = "apiVersion: coxswain.io/v1alpha1\nkind: Node\nmetadata: {name: n3}\nspec: {endpoint: unix:///fake/n3.sock, network: host, address: 127.0.0.1, portRange: 42000-42999}\n";
    await work.write("nodes.yaml", `${nodesYaml([{ name: "n1" }, { name: "n2" }])}---\n${flow}`);
    await work.write("web.yaml", deploymentYaml({ name: "web", replicas: 3, image: "app:v1" }));
    const v1 = await work.commit("web v1 on three nodes");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, apiTokens: tokens });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    await refusesWithoutWriteToken(t, "/api/v1/nodes/n2/cordon");

    const cordoned = await post(t, "/api/v1/nodes/n2/cordon", WRITE);
    expect(cordoned.status).toBe(202);
    expect(cordoned.body).toMatchObject({ action: "cordon", target: "Node/n2", user: "alice", parent: v1, subject: "Cordon node n2" });
    const sha = cordoned.body.commit as string;
    const c = await commitOf(gitdir, sha);
    expect(c.author).toBe("coxswain <coxswain@localhost>");
    expect(c.diff).toEqual(["+  unschedulable: true"]);
    expect(c.message).toContain("Sets spec.unschedulable: true in nodes.yaml.");
    const twice = await post(t, "/api/v1/nodes/n2/cordon", WRITE);
    expect([twice.status, twice.body.code]).toEqual([409, "ApiConflict"]);
    await waitFor("n2 cordoned", async () => (await get<{ nodes: { name: string; unschedulable: boolean }[] }>(t, "/api/v1/nodes")).nodes.find((n) => n.name === "n2")?.unschedulable, 60_000, 100);
    await waitFor("the cordon commit Succeeded", () => t.op.store.getCommit(sha)?.phase === "Succeeded", 60_000, 50);

    // A person scales up on top of the API's commit: the new pods go to n1 and n3 only.
    const onN2 = (await t.containers()).filter((x) => x.node === "n2").map((x) => x.pod);
    await work.git(["pull", "--quiet", "--ff-only", "origin", "main"]);
    await work.write("web.yaml", deploymentYaml({ name: "web", replicas: 9, image: "app:v1" }));
    const scaled = await work.commit("web to 9");
    await work.push("origin", "main");
    await waitFor("scaled Succeeded", () => t.op.store.getCommit(scaled)?.phase === "Succeeded", 60_000, 50);
    const after = await t.containers();
    expect(after).toHaveLength(9);
    expect(after.filter((x) => x.node === "n2").map((x) => x.pod)).toEqual(onN2);

    // A node written as a flow mapping cannot be edited in place: 422 with the file and line, nothing committed.
    const head = await runGit(["--git-dir", gitdir, "rev-parse", "main"]);
    const flowNode = await post(t, "/api/v1/nodes/n3/cordon", WRITE);
    expect(flowNode.status).toBe(422);
    expect(flowNode.body).toMatchObject({ code: "ManifestNotEditable", file: "nodes.yaml" });
    expect(flowNode.body.line).toBeGreaterThan(20);
    expect(await runGit(["--git-dir", gitdir, "rev-parse", "main"])).toBe(head);

    const uncordoned = await post(t, "/api/v1/nodes/n2/uncordon", WRITE);
    expect(uncordoned.status).toBe(202);
    expect((await commitOf(gitdir, uncordoned.body.commit as string)).diff).toEqual(["-  unschedulable: true", "+  unschedulable: false"]);
    await waitFor("n2 schedulable again", async () => (await get<{ nodes: { name: string; unschedulable: boolean }[] }>(t, "/api/v1/nodes")).nodes.find((n) => n.name === "n2")?.unschedulable === false, 60_000, 100);
    const uncordonTwice = await post(t, "/api/v1/nodes/n2/uncordon", WRITE);
    expect([uncordonTwice.status, uncordonTwice.body.code]).toEqual([409, "ApiConflict"]);
    const unknown = await post(t, "/api/v1/nodes/nope/cordon", WRITE);
    expect([unknown.status, unknown.body.code]).toEqual([404, "ApiNotFound"]);
  });

  it("retries a commit that failed, was rolled back and auto-reverted: its changes come back and roll out", async () => {
    const flaky = new FlakyRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 2 });
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, apiTokens: tokens, autoRevert: true, runtimes: new Map([["local", flaky]]) });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("web v2");
    await work.push("origin", "main");
    const revert = await waitFor("v2 reverted", () => t.op.store.getCommit(v2)?.revert?.commit, 60_000, 50);
    await waitFor("the revert Succeeded", () => t.op.store.getCommit(revert)?.phase === "Succeeded", 60_000, 50);
    expect(t.op.store.getCommit(v2)).toMatchObject({ phase: "RolledBack", quarantined: true });

    const path = `/api/v1/commits/${v2.slice(0, 8)}/retry`;
    await refusesWithoutWriteToken(t, path);
    const notQuarantined = await post(t, `/api/v1/commits/${v1}/retry`, WRITE);
    expect([notQuarantined.status, notQuarantined.body.code]).toEqual([409, "ApiConflict"]);

    flaky.broken = false;
    const retried = await post(t, path, WRITE);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ action: "retry", target: v2, user: "alice", parent: revert, subject: 'Retry "web v2"' });
    const sha = retried.body.commit as string;
    const c = await commitOf(gitdir, sha);
    expect(c.author).toBe("coxswain <coxswain@localhost>");
    expect(c.message).toContain(`Coxswain-Retry: ${v2}\nCoxswain-User: alice`);
    // The revert of the revert: v2's tree again.
    expect(await runGit(["--git-dir", gitdir, "rev-parse", `${sha}^{tree}`])).toBe(await runGit(["--git-dir", gitdir, "rev-parse", `${v2}^{tree}`]));
    await waitFor("the retry Succeeded", () => t.op.store.getCommit(sha)?.phase === "Succeeded", 60_000, 50);
    expect((await t.containers()).map((x) => x.image)).toEqual(["app:v2", "app:v2"]);
    expect(t.op.store.getCommit(v2)?.quarantined).toBe(false);
    const view = await get<{ quarantined: boolean }>(t, `/api/v1/commits/${v2}`);
    expect(view.quarantined).toBe(false);
  });

  it("retries a failed commit still at the head with an empty commit carrying Coxswain-Retry", async () => {
    const flaky = new FlakyRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });
    const work = await scope.work();
    const { url, gitdir } = await scope.served(work);
    const web = (image: string) => deploymentYaml({ name: "web", replicas: 2, image, maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 2 });
    await work.write("web.yaml", web("app:v1"));
    const v1 = await work.commit("web v1");
    await work.push("origin", "main");
    const t = await operator(scope, { repo: url, listen: "127.0.0.1:0", webhookRate: RATE, apiTokens: tokens, runtimes: new Map([["local", flaky]]) });
    await waitFor("v1 Succeeded", () => t.op.store.getCommit(v1)?.phase === "Succeeded", 60_000, 50);
    await work.write("web.yaml", web("app:v2"));
    const v2 = await work.commit("web v2");
    await work.push("origin", "main");
    await waitFor("v2 RolledBack", () => t.op.store.getCommit(v2)?.phase === "RolledBack", 60_000, 50);
    flaky.broken = false;
    const retried = await post(t, `/api/v1/commits/${v2}/retry`, WRITE);
    expect(retried.status).toBe(202);
    const sha = retried.body.commit as string;
    expect(retried.body.parent).toBe(v2);
    expect(await runGit(["--git-dir", gitdir, "rev-parse", `${sha}^{tree}`])).toBe(await runGit(["--git-dir", gitdir, "rev-parse", `${v2}^{tree}`]));
    expect((await commitOf(gitdir, sha)).message).toContain(`Coxswain-Retry: ${v2}`);
    await waitFor("the retry Succeeded", () => t.op.store.getCommit(sha)?.phase === "Succeeded", 60_000, 50);
    expect((await t.containers()).map((x) => x.image)).toEqual(["app:v2", "app:v2"]);
    const twice = await post(t, `/api/v1/commits/${v2}/retry`, WRITE);
    expect([twice.status, twice.body.code]).toEqual([409, "ApiConflict"]);
  });
});
