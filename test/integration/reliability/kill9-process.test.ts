/**
 * kill -9 of the operator at random points, on the process runtime (real local processes that outlive the
 * operator, adopted by the next one from its state directory): the operator runs as a child process
 * (`coxswain run --runtime process`), a seeded plan says where each trial's SIGKILL lands — during a
 * rolling update, during a failing revision's rollback, during the recovery of an operator started again,
 * or on a ref lock of a status write — and after every start again the suite proves:
 * - the pods are exactly the desired set: `replicas` containers of the expected revision, each running and
 *   serving it, no two for one pod, no other container (created, exited) of the operator left;
 * - nothing is orphaned: every live process under the state directory is in the process group of a
 *   running container's record;
 * - the commit's rollout completed (Succeeded, or RolledBack with the stable revision back);
 * - Git is whole: `git fsck --full --strict` passes, no ref lock is left, and the status branch reads back
 *   through the status reader with no problem and with the head processed.
 * 10 trials by default, 200 with COXSWAIN_LONG=1; COXSWAIN_KILL9_SEED replays a run. Figures are printed.
 */
import { readFile, readdir, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import { readProcStat } from "../../../operator/src/runtime/process/proc.js";
import type { LaunchPort, ObservedContainer } from "../../../operator/src/runtime/types.js";
import { runCli } from "../../support/cli.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { describeTrial, gitCaughtUp, gitFsck, Kill9Figures, kill9Seed, leftoverLocks, planTrials, readStatus, runTrial, trialCount, type Trial } from "../../support/kill9.js";
import { deploymentYaml } from "../../support/manifests.js";
import { httpGet } from "../../support/observe.js";
import { startOperatorProcess, stopNodeProxies, type OperatorProcess } from "../../support/operator-process.js";
import { waitFor } from "../../support/wait.js";

const REPLICAS = 2;
const PORTS = "61300-61399";
const SEED = kill9Seed();
const TRIALS = planTrials(SEED, trialCount(10, 200), ["rollout", "rollback", "restart", "status", "record"], { rollout: 2500, rollback: 3500, restart: 2500, events: 6 });

/**
 * A pod of revision `version`: busybox httpd serving /version and, when `ready`, /healthz (its readiness
 * probe); without it the pod never gets ready and its rollout fails after a 2 s progress deadline.
 */
function web(version: string, ready = true): string {
  const files = `mkdir -p www && echo "$VERSION" > www/version${ready ? " && echo ok > www/healthz" : ""}`;
  // A 1 s monitor window (the default is 5 s) keeps each trial short; the kill still lands in it at times.
  return deploymentYaml({
    name: "web",
    replicas: REPLICAS,
    maxSurge: 1,
    maxUnavailable: 0,
    minReadySeconds: 1,
    ...(ready ? {} : { progressDeadlineSeconds: 2 }),
    command: ["/bin/sh", "-c", `${files} && exec busybox httpd -f -p "127.0.0.1:$PORT" -h www`],
    env: [{ name: "VERSION", value: version }],
    probe: true,
    grace: 2,
  }).replace("  name: web\n", '  name: web\n  annotations:\n    coxswain.io/monitor-seconds: "1"\n');
}

/** The record fields the suite reads from `<stateDir>/process/<id>.json` (the runtime's own layout). */
interface RecordFile {
  pid?: number;
  env: { [name: string]: string };
}

describe.skipIf(process.platform !== "linux")(`kill -9 of the operator on the process runtime (seed ${SEED})`, () => {
  let repo: TestRepo;
  let stateDir: string;
  let readDir: string;
  let rt: ProcessRuntime;
  let operator: OperatorProcess | undefined;
  const figures = new Kill9Figures();
  /** The revision that runs when nothing fails, and the last commit the operator must have recorded. */
  let stable = "v0";

  const start = (): OperatorProcess => (operator = startOperatorProcess(["run", "--repo", repo.dir, "--state-dir", stateDir, "--runtime", "process", "--port-range", PORTS, "--poll-interval", "200ms"]));

  async function record(id: string): Promise<RecordFile | undefined> {
    return JSON.parse(await readFile(join(stateDir, "process", `${id}.json`), "utf8").catch(() => "null")) as RecordFile | undefined;
  }

  /** Every container of the operator, with the revision (VERSION) it runs. */
  async function containers(): Promise<(ObservedContainer & { version: string; pid?: number })[]> {
    return Promise.all(
      (await rt.list()).map(async (c) => {
        const r = await record(c.id);
        return { ...c, version: r?.env.VERSION ?? "", ...(r?.pid !== undefined ? { pid: r.pid } : {}) };
      }),
    );
  }

  /**
   * Where the kill landed, as the operator left things: the commit's recorded phase, and the fleet — no pod
   * of the new revision running, both revisions, or only the new one.
   */
  async function landed(oid: string, version: string): Promise<string> {
    const running = (await containers()).filter((c) => c.state === "running");
    const fresh = running.filter((c) => c.version === version).length;
    const fleet = fresh === 0 ? "no new pod" : fresh === running.length ? "only new pods" : "mid-rollout";
    return `${(await phaseOf(oid)) ?? "unrecorded"}/${fleet}`;
  }

  async function phaseOf(oid: string): Promise<string | undefined> {
    const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => "");
    return /^phase: (\w+)$/m.exec(text)?.[1];
  }

  /**
   * Waits until `oid` is recorded as `phase` and exactly REPLICAS containers exist, all running `version`
   * and answering with it; then checks what must hold after every recovery. Returns the time it took.
   */
  async function converged(oid: string, phase: string, version: string, since: number): Promise<number> {
    let last = "";
    await waitFor(
      `${oid.slice(0, 7)} ${phase} with ${REPLICAS} pods of ${version} and nothing else`,
      async () => {
        const all = await containers();
        const recorded = await phaseOf(oid);
        last = `phase ${recorded}; containers ${JSON.stringify(all.map((c) => [c.runtimeName, c.state, c.version]))}`;
        if (recorded !== phase || !(await gitCaughtUp(repo.dir, repo.gitdir, oid, phase)) || all.length !== REPLICAS || !all.every((c) => c.state === "running" && c.version === version)) return false;
        const bodies = await Promise.all(all.map((c) => httpGet((JSON.parse(c.labels[LABELS.ports] ?? "[]") as LaunchPort[])[0]?.hostPort ?? 0, "/version")));
        if (!bodies.every((b) => b?.trim() === version)) return false;
        // Started again, the operator probes the pods it adopts afresh: the workload record says they are
        // available after their first probes and the next status write, which may come after all the above
        // (200 trials: 2 read it at available 0 right after a kill that landed once RolledBack was recorded).
        const replicas = (await readStatus(repo.dir, readDir)).workloads.find((w) => w.name === "web")?.replicas;
        last = `${last}; workload record ${JSON.stringify(replicas)}`;
        return replicas?.available === REPLICAS;
      },
      120_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast seen: ${last}\noperator (last 40 lines):\n${operator?.lines.slice(-40).join("\n")}`);
    });
    const took = Date.now() - since;
    const all = await containers();
    const pods = all.map((c) => c.labels[LABELS.pod]);
    const duplicates = pods.length - new Set(pods).size;
    const orphans = await orphanProcesses(all.flatMap((c) => (c.pid !== undefined ? [c.pid] : [])));
    figures.found(duplicates, orphans.length);
    expect(duplicates).toBe(0);
    expect(orphans).toEqual([]);
    await gitFsck(repo.dir);
    expect(await leftoverLocks(repo.gitdir)).toEqual([]);
    const status = await readStatus(repo.dir, readDir);
    expect(status.problems).toEqual([]);
    expect(status.branchHead).toMatchObject({ commit: oid, processed: true, phase });
    expect(status.workloads.find((w) => w.name === "web")?.replicas).toMatchObject({ desired: REPLICAS, available: REPLICAS });
    return took;
  }

  /**
   * Live processes that belong to the state directory (their command line names it, or they run in a
   * directory below it) but to no running container: a process group whose leader is a recorded pid.
   */
  async function orphanProcesses(leaders: number[]): Promise<string[]> {
    const under = join(stateDir, "process") + "/";
    const out: string[] = [];
    for (const name of await readdir("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "")).split("\0").join(" ").trim();
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
      if (!cmdline.includes(under) && !cwd.startsWith(under)) continue;
      const stat = readProcStat(pid);
      if (stat === undefined || stat.state === "Z") continue;
      if (!leaders.includes(stat.pgrp)) out.push(`${pid} (group ${stat.pgrp}): ${cmdline}`);
    }
    return out.sort();
  }

  beforeAll(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-kill9-state-");
    readDir = await tempDir("coxswain-kill9-read-");
    rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
    await repo.write("apps/web.yaml", web(stable));
    const v0 = await repo.commit("web v0");
    const since = Date.now();
    start();
    await converged(v0, "Succeeded", stable, since);
  });

  afterAll(async () => {
    console.log(figures.lines("kill -9 on the process runtime", SEED).join("\n"));
    await operator?.stop();
    if (stateDir) {
      await stopNodeProxies(stateDir);
      for (const c of await rt.list()) await rt.remove(c.id);
      await rt.close();
      await rm(stateDir, { recursive: true, force: true });
    }
    if (readDir) await rm(readDir, { recursive: true, force: true });
    await repo?.cleanup();
  });

  it.each(TRIALS.map((t) => [describeTrial(t, TRIALS.length), t] as const))(
    "%s",
    async (_name, trial: Trial) => {
      const version = `v${trial.index}`;
      const failing = trial.phase === "rollback";
      const { landed: where, convergeMs } = await runTrial(trial, {
        operator: () => operator!,
        start,
        gitdir: repo.gitdir,
        recordDir: join(stateDir, "process"),
        async commit() {
          await repo.write("apps/web.yaml", web(version, !failing));
          return repo.commit(failing ? `web ${version}, never ready` : `web ${version}`);
        },
        newPodSeen: async () => (await containers()).some((c) => c.version === version),
        landed: (oid) => landed(oid, version),
        converged: (oid, _t, since) => converged(oid, failing ? "RolledBack" : "Succeeded", failing ? stable : version, since),
      });
      if (!failing) stable = version;
      figures.add(trial.phase, where, convergeMs);
    },
    300_000,
  );

  it("the status branch reads back through `coxswain status` after every kill", async () => {
    const res = await runCli(["status", "--repo", repo.dir, "--state-dir", readDir, "--output", "json"]);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { problems: unknown[]; branchHead: { processed: boolean } };
    expect(report.problems).toEqual([]);
    expect(report.branchHead.processed).toBe(true);
  });
});
