/**
 * End to end on a 2-node Docker fleet (two real dockerd engines), through the real CLI:
 * commit v1 → 3 ready pods over both nodes; commit v2 → a rolling update sampled against
 * maxSurge/maxUnavailable; git revert → v1 again (the known revision is re-used); kill -9 mid-rollout
 * and restart → the rollout completes with no duplicates and no leftovers; the status branch and the
 * notes describe every commit. The same flow runs with the repository served by the smart-HTTP Git
 * server on 127.0.0.1.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFleet, requireDocker, type TestFleet } from "../support/docker-fleet.js";
import { createBareRepo, startGitServer, type GitServer } from "../support/git-server.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, rolloutYaml } from "../support/manifests.js";
import { FleetObserver, httpGet, type SeenContainer } from "../support/observe.js";
import { DockerRuntime } from "../../operator/src/runtime/docker/index.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { sleep, waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e rollout");

/** 3 replicas at the default 25%/25%: surge 1, unavailable 0 (Kubernetes' rounding). */
const REPLICAS = 3;
const MAX_TOTAL = REPLICAS + 1;
const MIN_AVAILABLE = REPLICAS - 0;

function web(image: string, extra: { minReadySeconds?: number; podReplacementPolicy?: "TerminationComplete" } = {}): string {
  return deploymentYaml({ name: "web", replicas: REPLICAS, image, probe: true, grace: 5, ...extra });
}

/** Running containers of the web Deployment, and what each serves. */
async function running(obs: FleetObserver): Promise<(SeenContainer & { body?: string })[]> {
  const all = (await obs.containers()).filter((c) => c.workload === "web" && c.state === "running");
  return Promise.all(all.map(async (c) => ({ ...c, body: c.port ? (await httpGet(c.port, "/"))?.trim() : undefined })));
}

/** Waits until exactly REPLICAS containers run, all serving `version`, and nothing else of ours exists. */
async function settledOn(obs: FleetObserver, version: string, timeoutMs = 90_000): Promise<SeenContainer[]> {
  return waitFor(
    `${REPLICAS} pods serving ${version} and nothing else`,
    async () => {
      const all = await obs.containers();
      const run = await running(obs);
      return all.length === REPLICAS && run.length === REPLICAS && run.every((c) => c.body === version) ? run : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Samples the fleet until stopped: the most pods running at once and the fewest answering. */
function sampler(obs: FleetObserver) {
  let stop = false;
  const stats = { samples: 0, maxRunning: 0, minAvailable: Number.POSITIVE_INFINITY, revisions: new Set<string>() };
  const done = (async () => {
    while (!stop) {
      const run = await running(obs).catch(() => undefined);
      if (run) {
        stats.samples++;
        stats.maxRunning = Math.max(stats.maxRunning, run.length);
        stats.minAvailable = Math.min(stats.minAvailable, run.filter((c) => c.body !== undefined).length);
        for (const c of run) stats.revisions.add(c.revision);
      }
      await sleep(50);
    }
  })();
  return {
    stats,
    async finish() {
      stop = true;
      await done;
      return stats;
    },
  };
}

async function notes(gitdirOrRepo: { cwd?: string; gitDir?: string }): Promise<Map<string, string>> {
  const args = gitdirOrRepo.gitDir ? ["--git-dir", gitdirOrRepo.gitDir] : [];
  const out = await runGit([...args, "log", "--notes=coxswain", "--format=%H %N", "main"], gitdirOrRepo.cwd ? { cwd: gitdirOrRepo.cwd } : {});
  const m = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [oid, ...rest] = line.split(" ");
    if (oid && rest.join(" ").trim()) m.set(oid, rest.join(" ").trim());
  }
  return m;
}

async function statusRecord(where: { cwd?: string; gitDir?: string }, oid: string): Promise<string> {
  const args = where.gitDir ? ["--git-dir", where.gitDir] : [];
  return runGit([...args, "show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], where.cwd ? { cwd: where.cwd } : {});
}

/**
 * A 1-node fleet with the operator running on web v1 (settled), for suites about one behaviour.
 * Call in a describe body; the returned object is filled in beforeAll.
 */
function singleNodeOperator(name: string) {
  const ctx = {} as { fleet: TestFleet; obs: FleetObserver; repo: TestRepo; stateDir: string; operator?: OperatorProcess };
  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 1, name });
    await buildTestImages(ctx.fleet.nodes[0]!.socketPath);
    ctx.obs = new FleetObserver(ctx.fleet);
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir(`coxswain-${name}-`);
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests());
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    const v1 = await ctx.repo.commit("web v1");
    ctx.operator = startOperatorProcess(["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"]);
    await settledOn(ctx.obs, "v1");
    // v1 must be recorded as Succeeded (the stable commit a rollback goes back to) before a test moves on.
    await waitFor(
      "web v1 Succeeded",
      async () => {
        const text = await runGit(["show", `coxswain/status:commits/${v1.slice(0, 2)}/${v1}.yaml`], { cwd: ctx.repo.dir }).catch(() => "");
        return /^phase: Succeeded$/m.test(text);
      },
      60_000,
      200,
    );
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.obs?.close();
    await ctx.fleet?.stop();
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });
  return ctx;
}

describe.skipIf(!HAS_DOCKER)("containers changed behind coxswain's back on a Docker engine", () => {
  const ctx = singleNodeOperator("e2e-drift");

  it("a stopped container is started again in place", async () => {
    const [victim] = await ctx.obs.containers();
    const engine = new DockerRuntime({ endpoint: ctx.fleet.nodes[0]!.endpoint, owner: "coxswain" });
    await engine.stop(victim!.id, 1);
    await engine.close();
    const pods = await settledOn(ctx.obs, "v1");
    expect(pods.map((p) => p.id)).toContain(victim!.id);
  });

  it("a removed container is replaced by a new pod", async () => {
    const [victim] = await ctx.obs.containers();
    const engine = new DockerRuntime({ endpoint: ctx.fleet.nodes[0]!.endpoint, owner: "coxswain" });
    await engine.remove(victim!.id);
    await engine.close();
    const pods = await settledOn(ctx.obs, "v1");
    expect(pods.map((p) => p.pod)).not.toContain(victim!.pod);
  });
});

describe.skipIf(!HAS_DOCKER)("rollouts that cannot complete on a Docker engine", () => {
  const ctx = singleNodeOperator("e2e-stuck");
  const show = (p: string) => runGit(["show", `coxswain/status:${p}`], { cwd: ctx.repo.dir }).catch(() => "");

  it("a revision whose pods never become ready hits the progress deadline and is rolled back and quarantined", async () => {
    await ctx.repo.write("apps/web.yaml", deploymentYaml({ name: "web", replicas: REPLICAS, image: TEST_IMAGES.neverReady, probe: true, progressDeadlineSeconds: 3 }));
    const oid = await ctx.repo.commit("web that never gets ready");
    const record = await waitFor(
      "commit recorded as RolledBack",
      async () => {
        const text = await show(`commits/${oid.slice(0, 2)}/${oid}.yaml`);
        return /^phase: RolledBack$/m.test(text) ? text : undefined;
      },
      60_000,
      250,
    );
    expect(record).toMatch(/quarantined: true/);
    // With progressDeadlineSeconds 3 both deadlines are 3 s; which one fires first depends on timing.
    expect(record).toMatch(/code: (PodStartDeadlineExceeded|ProgressDeadlineExceeded)/);
    await waitFor("the note says RolledBack", async () => /^coxswain: RolledBack/.test(await runGit(["notes", "--ref=coxswain", "show", oid], { cwd: ctx.repo.dir }).catch(() => "")), 30_000, 200);
    // Back on v1: the stuck new pod is gone, three v1 pods serve.
    await settledOn(ctx.obs, "v1");
  });

  it("after the rollback the failed commit stays quarantined: the branch head is not applied again", async () => {
    const before = (await ctx.obs.containers()).map((c) => c.id).sort();
    // Evidence that the operator read the branch again: a later commit with the same manifests (only a
    // README changes) is recorded as Quarantined too, and nothing on the engine has moved meanwhile.
    await ctx.repo.write("README.md", "unrelated change\n");
    const twin = await ctx.repo.commit("touch the readme");
    await waitFor("the same manifests in a newer commit recorded as Quarantined", async () => /^phase: Quarantined$/m.test(await show(`commits/${twin.slice(0, 2)}/${twin}.yaml`)), 60_000, 250);
    expect((await ctx.obs.containers()).map((c) => c.id).sort()).toEqual(before);
    const summary = await show("summary.yaml");
    expect(summary).toMatch(/quarantined:\n\s+- [0-9a-f]{40}/);
  });

  it("a new workload whose container keeps crashing fails its rollout (CrashLoopBackOff) and the commit is rolled back", async () => {
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    await ctx.repo.write("apps/crash.yaml", deploymentYaml({ name: "crash", replicas: 1, image: TEST_IMAGES.exits }));
    const oid = await ctx.repo.commit("web back to v1, and a crashing app");
    let last = "";
    const record = await waitFor(
      "commit recorded as RolledBack",
      async () => {
        last = await show(`commits/${oid.slice(0, 2)}/${oid}.yaml`);
        return /^phase: RolledBack$/m.test(last) ? last : undefined;
      },
      60_000,
      250,
    ).catch((err: Error) => {
      // What the operator saw, so that a failure here can be understood from the CI log alone.
      throw new Error(`${err.message}\nlast record:\n${last}\noperator output (last 60 lines):\n${ctx.operator!.lines.slice(-60).join("\n")}`);
    });
    expect(record).toMatch(/code: CrashLoopBackOff/);
    await waitFor("the crashing app removed", async () => (await ctx.obs.containers()).every((c) => c.workload !== "crash"), 30_000, 200);
    await settledOn(ctx.obs, "v1");
  });
});

describe.skipIf(!HAS_DOCKER)("liveness on a Docker engine", () => {
  const ctx = singleNodeOperator("e2e-liveness");
  const show = (p: string) => runGit(["show", `coxswain/status:${p}`], { cwd: ctx.repo.dir }).catch(() => "");

  it("a container failing its liveness probe is restarted in place by coxswain, and the restart shows in status", async () => {
    const manifest = deploymentYaml({ name: "live", replicas: 1, image: TEST_IMAGES.probes, env: [{ name: "HEALTHZ_FOR", value: "8" }] }).replace(
      "          ports:",
      ["          livenessProbe:", "            exec:", '              command: ["cat", "/www/healthz"]', "            periodSeconds: 1", "            failureThreshold: 2", "          ports:"].join("\n"),
    );
    await ctx.repo.write("apps/live.yaml", manifest);
    await ctx.repo.commit("a workload whose health comes and goes");
    const first = await waitFor("the live pod", async () => (await ctx.obs.containers()).find((c) => c.workload === "live" && c.state === "running"), 30_000, 200);
    const text = await waitFor(
      "a restart recorded",
      async () => {
        const t = await show("workloads/default/deployment-live.yaml");
        return /restarts: [1-9]/.test(t) ? t : undefined;
      },
      60_000,
      250,
    );
    expect(text).toMatch(new RegExp(`name: ${first.pod}`));
    const now = (await ctx.obs.containers()).filter((c) => c.workload === "live");
    expect(now.map((c) => c.id)).toEqual([first.id]); // the same container, started again: not a new pod
  });
});

describe.skipIf(!HAS_DOCKER)("a canary Rollout on a Docker engine", () => {
  const ctx = singleNodeOperator("e2e-canary");
  const steps = [{ setWeight: 25 }, { pause: { duration: "2s" } }, { setWeight: 50 }, { pause: {} }];
  const canaryPods = async () => {
    const all = (await ctx.obs.containers()).filter((c) => c.workload === "shop" && c.state === "running");
    return Promise.all(all.map(async (c) => (c.port ? (await httpGet(c.port, "/"))?.trim() : undefined)));
  };

  it("walks the steps (25%, a timed pause, 50%), holds at the open pause, and finishes when promoted in Git", async () => {
    await ctx.repo.write("apps/shop.yaml", rolloutYaml({ name: "shop", image: TEST_IMAGES.v1, canary: steps }));
    const v1 = await ctx.repo.commit("shop v1");
    await waitFor("4 shop pods on v1", async () => (await canaryPods()).join() === "v1,v1,v1,v1", 60_000, 250);
    // A first rollout has no steps; the canary needs v1 to be the stable revision (recorded Succeeded).
    await waitFor("shop v1 Succeeded", async () => /^phase: Succeeded$/m.test(await runGit(["show", `coxswain/status:commits/${v1.slice(0, 2)}/${v1}.yaml`], { cwd: ctx.repo.dir }).catch(() => "")), 60_000, 250);
    await ctx.repo.write("apps/shop.yaml", rolloutYaml({ name: "shop", image: TEST_IMAGES.v2, canary: steps }));
    await ctx.repo.commit("shop v2 as a canary");
    const seen = new Set<string>();
    await waitFor(
      "2 of 4 on v2, held",
      async () => {
        const bodies = (await canaryPods()).sort();
        seen.add(bodies.filter((b) => b === "v2").length + "/" + bodies.length);
        return bodies.join() === "v1,v1,v2,v2";
      },
      60_000,
      100,
    );
    expect([...seen].some((x) => x.startsWith("1/"))).toBe(true); // the 25% step was there
    // The open pause holds: made to act on the Rollout again (a pod removed behind its back must be
    // replaced, and only a reconcile creates pods), the operator replaces it and stays at 2 of 4.
    const [victim] = (await ctx.obs.containers()).filter((c) => c.workload === "shop" && c.state === "running");
    const engine = new DockerRuntime({ endpoint: ctx.fleet.nodes[0]!.endpoint, owner: "coxswain" });
    await engine.remove(victim!.id);
    await engine.close();
    await waitFor(
      "the removed pod replaced, 4 answering",
      async () => {
        const run = (await ctx.obs.containers()).filter((c) => c.workload === "shop" && c.state === "running");
        return run.length === 4 && !run.some((c) => c.pod === victim!.pod) && (await canaryPods()).every((b) => b !== undefined);
      },
      60_000,
      250,
    );
    expect((await canaryPods()).sort().join()).toBe("v1,v1,v2,v2");
    await ctx.repo.write("apps/shop.yaml", rolloutYaml({ name: "shop", image: TEST_IMAGES.v2, canary: steps, promote: "1" }));
    await ctx.repo.commit("promote shop v2");
    await waitFor("4 shop pods on v2", async () => (await canaryPods()).join() === "v2,v2,v2,v2", 60_000, 250);
  });
});

describe.skipIf(!HAS_DOCKER).each([{ transport: "a repository on disk" as const }, { transport: "the smart-HTTP Git server" as const }])("rollouts on a 2-node Docker fleet from $transport", ({ transport }) => {
  let fleet: TestFleet;
  let obs: FleetObserver;
  let repo: TestRepo;
  let stateDir: string;
  let server: GitServer | undefined;
  let serverRoot: string | undefined;
  let bare: string | undefined;
  let operator: OperatorProcess | undefined;
  const commits: { oid: string; expect: string }[] = [];
  let v1Revision = "";

  /** Where the status branch and notes end up: the repository itself, or the server's bare repository. */
  const statusWhere = () => (bare ? { gitDir: bare } : { cwd: repo.dir });

  /** Waits until the operator has recorded the commit's phase in the status branch. */
  async function recorded(oid: string, phase: string): Promise<void> {
    await waitFor(
      `commit ${oid.slice(0, 7)} recorded as ${phase}`,
      async () => {
        const text = await statusRecord(statusWhere(), oid).catch(() => "");
        return new RegExp(`^phase: ${phase}$`, "m").test(text);
      },
      60_000,
      200,
    );
  }

  async function publish(message: string): Promise<string> {
    const oid = await repo.commit(message);
    if (bare) await repo.push("origin", "main");
    return oid;
  }

  function startOperator(): OperatorProcess {
    const repoArg = server ? server.url("deploy.git") : repo.dir;
    operator = startOperatorProcess(["run", "--repo", repoArg, "--state-dir", stateDir, "--poll-interval", "300ms"]);
    return operator;
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: transport.includes("HTTP") ? "e2e-http" : "e2e-local" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    obs = new FleetObserver(fleet);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-e2e-state-");
    if (transport.includes("HTTP")) {
      serverRoot = await tempDir("coxswain-e2e-git-");
      bare = await createBareRepo(serverRoot, "deploy.git");
      server = await startGitServer({ root: serverRoot });
      await repo.git(["remote", "add", "origin", server.url("deploy.git")]);
    }
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
  });

  afterAll(async () => {
    await operator?.stop();
    await obs?.close();
    await fleet?.stop();
    await server?.close();
    await repo?.cleanup();
    if (serverRoot) await rm(serverRoot, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it("commit v1 → 3 ready pods spread over both nodes", async () => {
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    commits.push({ oid: await publish("web v1"), expect: "Succeeded" });
    startOperator();
    const pods = await settledOn(obs, "v1");
    v1Revision = pods[0]!.revision;
    expect(new Set(pods.map((p) => p.node)).size).toBe(2);
    await recorded(commits[0]!.oid, "Succeeded");
    expect(pods.every((p) => p.commit === commits[0]!.oid)).toBe(true);
  });

  it("commit v2 → a rolling update that never runs more than replicas + maxSurge containers (TerminationComplete) nor goes below replicas − maxUnavailable", async () => {
    const sample = sampler(obs);
    // minReadySeconds (not part of the pod template) makes each step wait, so the sampler sees more.
    // TerminationComplete: a stopping container counts against maxSurge, so the sampler, which sees every
    // running container, can hold the rollout to replicas + maxSurge (the default lets a replacement start
    // beside a stopping pod, as Kubernetes does).
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v2, { minReadySeconds: 1, podReplacementPolicy: "TerminationComplete" }));
    commits.push({ oid: await publish("web v2"), expect: "Succeeded" });
    await settledOn(obs, "v2");
    await recorded(commits[1]!.oid, "Succeeded");
    const stats = await sample.finish();
    expect(stats.samples).toBeGreaterThan(20);
    expect(stats.revisions.size).toBe(2); // the samples did see the rollout in progress
    expect(stats.maxRunning).toBeLessThanOrEqual(MAX_TOTAL);
    expect(stats.minAvailable).toBeGreaterThanOrEqual(MIN_AVAILABLE);
  });

  it("git revert → 3 pods of the known v1 revision again", async () => {
    const v2 = commits[1]!.oid;
    await repo.revert(v2);
    const oid = await repo.revParse("HEAD");
    if (bare) await repo.push("origin", "main");
    commits.push({ oid, expect: "Succeeded" });
    const pods = await settledOn(obs, "v1");
    expect(pods.every((p) => p.revision === v1Revision)).toBe(true);
    await recorded(oid, "Succeeded");
  });

  it("kill -9 mid-rollout, start again → the rollout completes with no duplicates and no leftovers", async () => {
    // minReadySeconds slows each step so that the kill lands mid-rollout.
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v2, { minReadySeconds: 2 }));
    commits.push({ oid: await publish("web v2, slower"), expect: "Succeeded" });
    await waitFor(
      "a v2 pod running beside v1 pods",
      async () => {
        const run = await running(obs);
        return run.some((c) => c.body === "v2") && run.some((c) => c.body === "v1");
      },
      60_000,
      100,
    );
    operator!.kill("SIGKILL");
    expect(await operator!.exited).toBe("SIGKILL");
    const during = await obs.containers();
    startOperator();
    const pods = await settledOn(obs, "v2");
    expect(new Set(pods.map((p) => p.pod)).size).toBe(REPLICAS);
    // No container of ours in any other state anywhere: nothing orphaned, nothing duplicated.
    const all = await obs.containers();
    expect(all.map((c) => c.state)).toEqual(["running", "running", "running"]);
    // The pods that existed at the kill and were v2 are still there (adopted, not recreated).
    const survivors = during.filter((c) => c.state === "running" && c.revision === pods[0]!.revision).map((c) => c.pod);
    for (const p of survivors) expect(pods.map((x) => x.pod)).toContain(p);
  });

  it("the status branch and the notes describe every commit", async () => {
    const where = statusWhere();
    let last = new Map<string, string>();
    await waitFor(
      "a note on every commit",
      async () => {
        last = await notes(where);
        return commits.every((c) => last.get(c.oid)?.includes(c.expect)) ? last : undefined;
      },
      30_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nnotes: ${JSON.stringify([...last])}\ncommits: ${JSON.stringify(commits)}\noperator:\n${operator?.lines.join("\n")}`);
    });
    for (const c of commits) {
      const record = await statusRecord(where, c.oid);
      expect(record).toMatch(new RegExp(`^phase: ${c.expect}$`, "m"));
      expect(record).toMatch(/^ {2}finished: /m);
    }
    const summary = await runGit([...(bare ? ["--git-dir", bare] : []), "show", "coxswain/status:summary.yaml"], bare ? {} : { cwd: repo.dir });
    expect(summary).toContain(`applied: ${commits.at(-1)!.oid}`);
    const workload = await runGit([...(bare ? ["--git-dir", bare] : []), "show", "coxswain/status:workloads/default/deployment-web.yaml"], bare ? {} : { cwd: repo.dir });
    expect(workload).toMatch(/available: 3/);
    // Nothing was written to the deploy branch.
    const log = await runGit([...(bare ? ["--git-dir", bare] : []), "log", "--format=%H", "main"], bare ? {} : { cwd: repo.dir });
    expect(log.split("\n").filter(Boolean)).toHaveLength(commits.length);
  });
});
