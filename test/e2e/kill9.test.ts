/**
 * kill -9 of the operator at random points on a Docker engine (a real dockerd of a test fleet), through the
 * real CLI: the same seeded trials as the process runtime's suite (test/integration/reliability) — a kill
 * during a rolling update, during a failing revision's rollback, during the recovery of an operator started
 * again, or on a ref lock of a status write — and after every start again:
 * - every container on the engine, of any owner and in any state, is one of exactly `replicas` running pods
 *   of the expected revision, answering with its image's body: no duplicate, nothing left behind;
 * - the commit's rollout completed (Succeeded, or RolledBack with the stable revision back);
 * - `git fsck --full --strict` passes, no ref lock is left, and the status branch reads back through the
 *   status reader with no problem and with the head processed.
 * 3 trials by default, 20 with COXSWAIN_LONG=1; COXSWAIN_KILL9_SEED replays a run. Figures are printed.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerClient, parseEndpoint } from "../../operator/src/runtime/docker/client.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import { startFleet, requireDocker, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { describeTrial, gitCaughtUp, gitFsck, Kill9Figures, kill9Seed, leftoverLocks, planTrials, readStatus, runTrial, trialCount, type Trial } from "../support/kill9.js";
import { deploymentYaml } from "../support/manifests.js";
import { httpGet } from "../support/observe.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e kill -9");
const REPLICAS = 3;
const SEED = kill9Seed();
const TRIALS = planTrials(SEED, trialCount(3, 20), ["rollout", "rollback", "restart", "status"], { rollout: 3000, rollback: 4000, restart: 2500, events: 6 });

/** The image of trial `n` (v1 and v2 in turn) and the body its pods answer with. */
const imageOf = (n: number) => (n % 2 === 0 ? { image: TEST_IMAGES.v1, body: "v1" } : { image: TEST_IMAGES.v2, body: "v2" });

/**
 * The Deployment of trial `n`: its env TRIAL makes every trial a revision of its own; `failing` runs the
 * image that never gets ready, rolled back after a 3 s progress deadline.
 */
function web(n: number, failing: boolean): string {
  return deploymentYaml({
    name: "web",
    replicas: REPLICAS,
    image: failing ? TEST_IMAGES.neverReady : imageOf(n).image,
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 1,
    ...(failing ? { progressDeadlineSeconds: 3 } : {}),
    env: [{ name: "TRIAL", value: String(n) }],
    probe: true,
    grace: 2,
  }).replace("  name: web\n", '  name: web\n  annotations:\n    coxswain.io/monitor-seconds: "1"\n');
}

/** One container on the engine, whoever made it. */
interface EngineContainer {
  id: string;
  state: string;
  owner?: string;
  pod?: string;
  revision?: string;
  commit?: string;
  port?: number;
}

describe.skipIf(!HAS_DOCKER)(`kill -9 of the operator on a Docker engine (seed ${SEED})`, () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let readDir: string;
  let operator: OperatorProcess | undefined;
  const figures = new Kill9Figures();
  /** The revision (pod-template hash) and body of the last trial that succeeded. */
  let stable = { revision: "", body: "" };

  const start = (): OperatorProcess => (operator = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", stateDir, "--poll-interval", "300ms"]));

  /** Every container on the node's engine (all owners, all states). */
  async function engineContainers(): Promise<EngineContainer[]> {
    const docker = createDockerClient(parseEndpoint(fleet.nodes[0]!.endpoint), undefined);
    const listed = await docker.listContainers({ all: true });
    return listed.map((c) => {
      const ports = JSON.parse(c.Labels[LABELS.ports] ?? "[]") as { hostPort: number }[];
      return {
        id: c.Id,
        state: c.State,
        ...(c.Labels[LABELS.owner] !== undefined ? { owner: c.Labels[LABELS.owner] } : {}),
        ...(c.Labels[LABELS.pod] !== undefined ? { pod: c.Labels[LABELS.pod] } : {}),
        ...(c.Labels[LABELS.revision] !== undefined ? { revision: c.Labels[LABELS.revision] } : {}),
        ...(c.Labels[LABELS.commit] !== undefined ? { commit: c.Labels[LABELS.commit] } : {}),
        ...(ports[0] ? { port: ports[0].hostPort } : {}),
      };
    });
  }

  async function phaseOf(oid: string): Promise<string | undefined> {
    const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
    return /^phase: (\w+)$/m.exec(text)?.[1];
  }

  /** The commit's phase and the engine's revisions: none of the commit's yet, both, or only its own. */
  async function landed(oid: string): Promise<string> {
    const running = (await engineContainers()).filter((c) => c.state === "running");
    const fresh = running.filter((c) => c.commit === oid).length;
    const where = fresh === 0 ? "no new pod" : fresh === running.length ? "only new pods" : "mid-rollout";
    return `${(await phaseOf(oid)) ?? "unrecorded"}/${where}`;
  }

  /**
   * Waits until `oid` is recorded as `phase` and the engine holds exactly REPLICAS containers, all ours,
   * running one revision (the stable one after a rollback, a new one otherwise) and answering `body`; then
   * checks Git. Returns the time since `since`.
   */
  async function converged(oid: string, phase: string, body: string, since: number, back: boolean): Promise<number> {
    let last = "";
    const pods = await waitFor(
      `${oid.slice(0, 7)} ${phase} with ${REPLICAS} pods answering ${body} and nothing else on the engine`,
      async () => {
        const all = await engineContainers();
        const recorded = await phaseOf(oid);
        last = `phase ${recorded}; containers ${JSON.stringify(all.map((c) => [c.pod, c.owner, c.state, c.revision]))}`;
        if (recorded !== phase || !(await gitCaughtUp(repo.dir, repo.gitdir, oid, phase)) || all.length !== REPLICAS || !all.every((c) => c.owner === "coxswain" && c.state === "running")) return false;
        const revisions = new Set(all.map((c) => c.revision));
        if (revisions.size !== 1 || (back ? !revisions.has(stable.revision) : revisions.has(stable.revision))) return false;
        const bodies = await Promise.all(all.map((c) => (c.port ? httpGet(c.port, "/") : undefined)));
        if (!bodies.every((b) => b?.trim() === body)) return false;
        // Started again, the operator probes the pods it adopts afresh: the workload record says they are
        // available after their first probes and the next status write (kill9-process.test.ts says more).
        const replicas = (await readStatus(repo.dir, readDir)).workloads.find((w) => w.name === "web")?.replicas;
        last = `${last}; workload record ${JSON.stringify(replicas)}`;
        return replicas?.available === REPLICAS ? all : false;
      },
      180_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast seen: ${last}\noperator (last 40 lines):\n${operator?.lines.slice(-40).join("\n")}`);
    });
    const took = Date.now() - since;
    const duplicates = pods.length - new Set(pods.map((p) => p.pod)).size;
    figures.found(duplicates, 0);
    expect(duplicates).toBe(0);
    await gitFsck(repo.dir);
    expect(await leftoverLocks(repo.gitdir)).toEqual([]);
    const status = await readStatus(repo.dir, readDir);
    expect(status.problems).toEqual([]);
    expect(status.branchHead).toMatchObject({ commit: oid, processed: true, phase });
    expect(status.workloads.find((w) => w.name === "web")).toMatchObject({ revision: pods[0]!.revision, replicas: { desired: REPLICAS, available: REPLICAS } });
    if (!back) stable = { revision: pods[0]!.revision!, body };
    return took;
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "e2e-kill9" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-e2e-kill9-");
    readDir = await tempDir("coxswain-e2e-kill9-read-");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/web.yaml", web(0, false));
    const first = await repo.commit("web, trial 0");
    const since = Date.now();
    start();
    await converged(first, "Succeeded", imageOf(0).body, since, false);
  });

  afterAll(async () => {
    console.log(figures.lines("kill -9 on a Docker engine", SEED).join("\n"));
    await operator?.stop();
    await fleet?.stop();
    await repo?.cleanup();
    for (const dir of [stateDir, readDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(TRIALS.map((t) => [describeTrial(t, TRIALS.length), t] as const))(
    "%s",
    async (_name, trial: Trial) => {
      const failing = trial.phase === "rollback";
      let oid = "";
      const { landed: where, convergeMs } = await runTrial(trial, {
        operator: () => operator!,
        start,
        gitdir: repo.gitdir,
        async commit() {
          await repo.write("apps/web.yaml", web(trial.index, failing));
          oid = await repo.commit(failing ? `web, trial ${trial.index}, never ready` : `web, trial ${trial.index}`);
          return oid;
        },
        newPodSeen: async () => (await engineContainers()).some((c) => c.commit === oid),
        landed: (o) => landed(o),
        converged: (o, _t, since) => converged(o, failing ? "RolledBack" : "Succeeded", failing ? stable.body : imageOf(trial.index).body, since, failing),
      });
      figures.add(trial.phase, where, convergeMs);
    },
    600_000,
  );
});
