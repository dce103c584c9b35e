/**
 * Git as the whole interface, end to end: `coxswain run` (the real CLI) follows a bare repository served
 * over smart HTTP and drives a 2-node Docker fleet (two real dockerd engines). Nothing but Git and webhooks
 * talks to it — the poll is ten minutes:
 * - a signed webhook makes it fetch and start the rollout of a push within a second;
 * - a proposal branch gets a plan (a note on its head, plans/<name>.yaml) with a placement per new pod;
 * - the proposal runs as a preview in a namespace of its own beside the deploy branch's pods, and is
 *   removed when it is merged (the merge rolls out and its record names the plan);
 * - with --auto-revert, a commit whose pods never become ready is rolled back to the stable commit and a
 *   revert of it is pushed to the server as coxswain.
 */
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { sign } from "../../operator/src/server/index.js";
import type { WatchState } from "../../operator/src/source/types.js";
import { startFleet, requireDocker, type TestFleet } from "../support/docker-fleet.js";
import { createBareRepo, startGitServer, type GitServer } from "../support/git-server.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml } from "../support/manifests.js";
import { FleetObserver, httpGet } from "../support/observe.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e git interface");
const SECRET = "e2e-webhook-secret-0123456789abcdef";

const web = (image: string, extra: Parameters<typeof deploymentYaml>[0] = {}) => deploymentYaml({ name: "web", replicas: 2, image, probe: true, grace: 2, maxSurge: 1, maxUnavailable: 0, ...extra });

describe.skipIf(!HAS_DOCKER)("Git as the whole interface on a 2-node Docker fleet", () => {
  let fleet: TestFleet;
  let obs: FleetObserver;
  let work: TestRepo;
  let serverRoot: string;
  let bare: string;
  let server: GitServer;
  let stateDir: string;
  let operator: OperatorProcess;
  let hookUrl = "";
  let stable = "";

  const git = (...args: string[]) => runGit(["--git-dir", bare, ...args]);
  const status = (p: string) => git("show", `coxswain/status:${p}`).catch(() => "");
  const phase = async (oid: string) => /^phase: (\w+)$/m.exec(await status(`commits/${oid.slice(0, 2)}/${oid}.yaml`))?.[1];

  /** Sends a signed generic push webhook; resolves when it was answered 200. */
  /** The operator's fetch loop as its /healthz tells it. */
  async function source(): Promise<WatchState> {
    const health = (await (await fetch(hookUrl.replace(/\/api\/v1\/webhooks\/generic$/, "/healthz"))).json()) as { source: WatchState };
    return health.source;
  }

  async function hook(after?: string): Promise<void> {
    const body = JSON.stringify({ ref: "refs/heads/main", ...(after ? { after } : {}) });
    const res = await fetch(hookUrl, { method: "POST", headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(SECRET, body)}` }, body });
    expect(res.status).toBe(200);
  }

  /** Running containers of a namespace's web Deployment and what each serves. */
  async function serving(namespace: string): Promise<string[]> {
    const all = (await obs.containers()).filter((c) => c.workload === "web" && c.state === "running");
    const mine = [];
    for (const c of all) {
      const ns = await containerNamespace(c.id, c.node);
      if (ns === namespace) mine.push(c.port ? ((await httpGet(c.port, "/"))?.trim() ?? "") : "");
    }
    return mine.sort();
  }
  const namespaces = new Map<string, string>();
  async function containerNamespace(id: string, node: string): Promise<string> {
    const known = namespaces.get(id);
    if (known) return known;
    const n = fleet.nodes.find((x) => x.name === node)!;
    const { DockerRuntime } = await import("../../operator/src/runtime/docker/index.js");
    const { LABELS } = await import("../../operator/src/runtime/labels.js");
    const rt = new DockerRuntime({ endpoint: n.endpoint, owner: "coxswain", callTimeoutMs: 5_000 });
    try {
      for (const c of await rt.list()) namespaces.set(c.id, c.labels[LABELS.namespace] ?? "");
    } finally {
      await rt.close();
    }
    return namespaces.get(id) ?? "";
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "e2e-gitif" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    obs = new FleetObserver(fleet);
    work = await makeRepo();
    serverRoot = await tempDir("coxswain-e2e-gitif-");
    bare = await createBareRepo(serverRoot, "deploy.git");
    server = await startGitServer({ root: serverRoot });
    await work.git(["remote", "add", "origin", server.url("deploy.git")]);
    stateDir = await tempDir("coxswain-e2e-gitif-state-");
    const secretFile = path.join(stateDir, "webhook-secret");
    await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
    await work.write("fleet/nodes.yaml", fleet.nodeManifests());
    await work.write("apps/web.yaml", web(TEST_IMAGES.v1));
    stable = await work.commit("web v1");
    await work.push("origin", "main");
    operator = startOperatorProcess([
      "run",
      "--repo",
      server.url("deploy.git"),
      "--state-dir",
      stateDir,
      "--poll-interval",
      "10m",
      "--listen",
      "127.0.0.1:0",
      "--webhook-secret-file",
      secretFile,
      "--preview-envs",
      "pr/*",
      "--auto-revert",
    ]);
    const listening = await operator.waitForLine(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    hookUrl = `${/listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(listening)![1]}/api/v1/webhooks/generic`;
    await waitFor("v1 serving on both nodes", async () => (await serving("default")).join() === "v1,v1", 120_000, 250);
    await waitFor("v1 Succeeded", async () => (await phase(stable)) === "Succeeded", 60_000, 250);
  });

  afterAll(async () => {
    await operator?.stop();
    await obs?.close();
    await fleet?.stop();
    await server?.close();
    await work?.cleanup();
    if (serverRoot) await rm(serverRoot, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it("a webhook push starts the rollout at once, before the poll is due", async () => {
    await work.write("apps/web.yaml", web(TEST_IMAGES.v2));
    const v2 = await work.commit("web v2");
    await work.push("origin", "main");
    const pollDue = (await source()).nextAttemptAt!;
    await hook(v2);
    await operator.waitForLine(new RegExp(`commit ${v2.slice(0, 7)} "web v2": valid`));
    // The fetch that brought v2 was the hook's: it succeeded before the next poll (ten minutes away) was
    // due. How fast that is: `npm run bench:latency`.
    expect(Date.parse((await source()).lastSuccessAt!)).toBeLessThan(Date.parse(pollDue));
    await waitFor("v2 serving", async () => (await serving("default")).join() === "v2,v2", 120_000, 250);
    await waitFor("v2 Succeeded", async () => (await phase(v2)) === "Succeeded", 60_000, 250);
    stable = v2;
  });

  it("a proposal gets a plan note with placements, runs as a preview in its own namespace, and is removed on merge", async () => {
    await work.git(["checkout", "--quiet", "-b", "pr/back-to-v1"]);
    await work.write("apps/web.yaml", web(TEST_IMAGES.v1, { replicas: 3 }));
    const head = await work.commit("three replicas of v1");
    await work.git(["push", "--quiet", "origin", "pr/back-to-v1:pr/back-to-v1"]);
    await hook();
    const note = await waitFor("the plan note", async () => git("notes", "--ref=coxswain", "show", head).catch(() => undefined), 60_000, 250);
    const [summary, ...changes] = note!.split("\n");
    expect(summary).toBe(`coxswain plan: valid against ${stable.slice(0, 7)} — 0 to create, 1 to update, 0 to delete; 3 new pod(s): 3 fit (plans/pr-back-to-v1.yaml)`);
    expect(changes).toEqual([expect.stringMatching(/^update Deployment\/default\/web: replicas 2 → 3; \S+ image \S+ → \S+; 3 new pod\(s\) → \S/)]);
    const plan = parse(await status("plans/pr-back-to-v1.yaml"));
    const placements = plan.changes.find((c: { key: string }) => c.key === "Deployment/default/web").placements as { node: string; fits: boolean }[];
    expect(placements.map((p) => p.fits)).toEqual([true, true, true]);
    expect(new Set(placements.map((p) => p.node))).toEqual(new Set(fleet.nodes.map((n) => n.name)));

    // The preview: the branch's pods in their own namespace, beside the deploy branch's untouched ones.
    await waitFor("preview serving v1 ×3", async () => (await serving("pv-pr-back-to-v1-default")).join() === "v1,v1,v1", 120_000, 250);
    expect(await serving("default")).toEqual(["v2", "v2"]);
    await waitFor("preview Running in the plan", async () => parse(await status("plans/pr-back-to-v1.yaml"))?.preview?.state === "Running", 60_000, 250);

    // Merge: the merged commit rolls out and names the plan; the preview goes.
    await work.git(["checkout", "--quiet", "main"]);
    await work.git(["merge", "--quiet", "--ff-only", "pr/back-to-v1"]);
    await work.push("origin", "main");
    await hook(head);
    await waitFor("merged: main serves v1 ×3, no preview left", async () => (await serving("default")).join() === "v1,v1,v1" && (await serving("pv-pr-back-to-v1-default")).length === 0, 120_000, 250);
    await waitFor("the merged commit's record names the plan", async () => /^plan: plans\/pr-back-to-v1\.yaml$/m.test(await status(`commits/${head.slice(0, 2)}/${head}.yaml`)), 60_000, 250);
    await waitFor("merge Succeeded", async () => (await phase(head)) === "Succeeded", 60_000, 250);
    stable = head;
  });

  it("auto-revert: a commit that never gets ready is rolled back and a revert of it is pushed to the server", async () => {
    await work.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: 3, image: TEST_IMAGES.neverReady, probe: true, grace: 2, progressDeadlineSeconds: 5 }));
    const bad = await work.commit("web that never gets ready");
    await work.push("origin", "main");
    await hook(bad);
    await waitFor("RolledBack", async () => (await phase(bad)) === "RolledBack", 120_000, 250);
    const revert = await waitFor(
      "a revert on the server's main",
      async () => {
        const head = await git("rev-parse", "main");
        return head !== bad ? head : undefined;
      },
      60_000,
      250,
    );
    expect(await git("rev-parse", `${revert}^`)).toBe(bad);
    expect(await git("rev-parse", `${revert}^{tree}`)).toBe(await git("rev-parse", `${stable}^{tree}`));
    const log = await git("log", "-1", "--format=%an <%ae>|%s|%b", revert);
    expect(log).toMatch(/^coxswain <coxswain@localhost>\|Revert "web that never gets ready"\|/);
    expect(log).toContain("reverted automatically by coxswain");
    await waitFor("the failed commit's record says Pushed", async () => new RegExp(`revert:\\n  state: Pushed\\n  commit: ${revert}`).test(await status(`commits/${bad.slice(0, 2)}/${bad}.yaml`)), 60_000, 250);
    await waitFor("the revert Succeeded", async () => (await phase(revert)) === "Succeeded", 120_000, 250);
    expect(await serving("default")).toEqual(["v1", "v1", "v1"]);
  });
});
