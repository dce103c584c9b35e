/**
 * Trust first, end to end on a real Docker engine through the real CLI: automatic rollback fires for
 * commits seconds apart, for pods that cannot start or be placed, never for a healthy commit whose old
 * pods are slow to stop; a restart with an empty status branch adopts what runs; a wrong --path is an
 * error of the run. (The same behaviours, with more cases, run on the fake runtime in
 * test/integration/operator/trust.test.ts.)
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { requireDocker, startFleet, type TestFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, type DeploymentOptions } from "../support/manifests.js";
import { FleetObserver, httpGet } from "../support/observe.js";
import { startOperatorProcess, type OperatorProcess } from "../support/operator-process.js";
import { waitFor } from "../support/wait.js";

const HAS_DOCKER = requireDocker("e2e trust");

/** The test app as PID 1 with SIGTERM ignored: every stop takes the whole grace period, then SIGKILL. */
const IGNORES_SIGTERM = ["sh", "-c", `trap '' TERM; exec httpd -f -p "\${BIND:-127.0.0.1}:$PORT" -h /www`];

function web(image: string, extra: DeploymentOptions = {}): string {
  return deploymentYaml({ name: "web", replicas: 2, image, probe: true, maxSurge: 1, maxUnavailable: 0, grace: 5, ...extra });
}

describe.skipIf(!HAS_DOCKER)("trust on a Docker engine", () => {
  const ctx = {} as { fleet: TestFleet; obs: FleetObserver; repo: TestRepo; stateDir: string; operator?: OperatorProcess };
  const args = () => ["run", "--repo", ctx.repo.dir, "--state-dir", ctx.stateDir, "--poll-interval", "300ms"];

  beforeAll(async () => {
    ctx.fleet = await startFleet({ nodes: 1, name: "e2e-trust" });
    await buildTestImages(ctx.fleet.nodes[0]!.socketPath);
    ctx.obs = new FleetObserver(ctx.fleet);
    ctx.repo = await makeRepo();
    ctx.stateDir = await tempDir("coxswain-e2e-trust-");
    await ctx.repo.write("fleet/nodes.yaml", ctx.fleet.nodeManifests());
  });
  afterAll(async () => {
    await ctx.operator?.stop();
    await ctx.obs?.close();
    await ctx.fleet?.stop();
    await ctx.repo?.cleanup();
    if (ctx.stateDir) await rm(ctx.stateDir, { recursive: true, force: true });
  });

  async function record(oid: string): Promise<Record<string, unknown> | undefined> {
    const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: ctx.repo.dir }).catch(() => "");
    return text ? (parse(text) as Record<string, unknown>) : undefined;
  }
  async function waitPhase(oid: string, phase: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
    return waitFor(
      `${oid.slice(0, 7)} ${phase}`,
      async () => {
        const r = await record(oid);
        return r?.phase === phase ? r : undefined;
      },
      timeoutMs,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\noperator output (last 40 lines):\n${ctx.operator?.lines.slice(-40).join("\n")}`);
    });
  }
  /** Waits until exactly `n` pods of web run and all serve `body`; returns their container ids. */
  async function serving(body: string, n = 2): Promise<string[]> {
    return waitFor(
      `${n} web pods serving ${body}`,
      async () => {
        const run = (await ctx.obs.containers()).filter((c) => c.workload === "web");
        if (run.length !== n || run.some((c) => c.state !== "running")) return undefined;
        const bodies = await Promise.all(run.map((c) => (c.port ? httpGet(c.port, "/") : undefined)));
        return bodies.every((b) => b?.trim() === body) ? run.map((c) => c.id).sort() : undefined;
      },
      90_000,
      200,
    );
  }

  it("a commit replaced during its monitor window is what the next failed commit rolls back to", async () => {
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1).replace("metadata:\n  name: web", 'metadata:\n  name: web\n  annotations:\n    coxswain.io/monitor-seconds: "600"'));
    const v1 = await ctx.repo.commit("web v1, watched for 10 minutes");
    ctx.operator = startOperatorProcess(args());
    await ctx.operator.waitForLine(/Deployment\/default\/web .* — complete, watching it stay healthy/, 90_000);
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.neverReady, { progressDeadlineSeconds: 4 }));
    const v2 = await ctx.repo.commit("web that never gets ready, seconds later");
    const rec = await waitPhase(v2, "RolledBack");
    expect(rec).toMatchObject({ quarantined: true, rollback: { to: v1 } });
    expect(await record(v1)).toMatchObject({ phase: "Succeeded", supersededBy: v2 });
    await serving("v1");
  });

  it("a revision whose command does not exist makes no progress and is rolled back", async () => {
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v2, { progressDeadlineSeconds: 4, command: ["/no/such/program"] }));
    const v3 = await ctx.repo.commit("web v2 with a command that does not exist");
    await waitPhase(v3, "RolledBack");
    await serving("v1");
  });

  it("a revision that fits on no node makes no progress and is rolled back", async () => {
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v2, { progressDeadlineSeconds: 4, cpu: "64" }));
    const v4 = await ctx.repo.commit("web v2 asking for 64 CPUs");
    const rec = await waitPhase(v4, "RolledBack");
    expect(rec).toMatchObject({ rollback: { code: "ProgressDeadlineExceeded" } });
    expect(ctx.operator!.lines.some((l) => /0\/1 nodes are available: 1 Insufficient cpu/.test(l))).toBe(true);
    await serving("v1");
  });

  it("a healthy commit whose old pods take their whole grace period to stop is never rolled back, also when it waits for them (TerminationComplete)", async () => {
    // TerminationComplete: new pods wait for the old ones to stop, and that wait is progress. (By default a
    // replacement starts beside a stopping pod and there is no wait: test/integration/operator/trust.test.ts.)
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v1, { command: IGNORES_SIGTERM, grace: 12, podReplacementPolicy: "TerminationComplete" }));
    const v5 = await ctx.repo.commit("web v1 as an app that ignores SIGTERM");
    await waitPhase(v5, "Succeeded");
    // Each old pod now takes 12 s to stop, longer than the 5 s deadline; maxSurge 1 waits for each. (5 s, not
    // less: a new pod must still pass its readiness probe within the deadline on a loaded machine.)
    await ctx.repo.write("apps/web.yaml", web(TEST_IMAGES.v2, { command: IGNORES_SIGTERM, grace: 12, progressDeadlineSeconds: 5, podReplacementPolicy: "TerminationComplete" }));
    const v6 = await ctx.repo.commit("web v2, old pods slow to stop");
    const rec = await waitPhase(v6, "Succeeded", 120_000);
    expect(rec.rollback).toBeUndefined();
    expect(ctx.operator!.lines.some((l) => l.includes("terminating pod(s) to stop"))).toBe(true);
    await serving("v2");
  });

  it("a restart with the status branch deleted adopts the running pods: none removed, replaced or added", async () => {
    const head = (await runGit(["rev-parse", "HEAD"], { cwd: ctx.repo.dir })).trim();
    const before = await serving("v2");
    await ctx.operator!.stop();
    await runGit(["branch", "-D", "coxswain/status"], { cwd: ctx.repo.dir });
    ctx.operator = startOperatorProcess(args());
    await waitPhase(head, "Succeeded");
    expect(await serving("v2")).toEqual(before);
    const workload = await runGit(["show", "coxswain/status:workloads/default/deployment-web.yaml"], { cwd: ctx.repo.dir });
    expect(workload).not.toMatch(/reason: (Created|ScalingDown|FailedCreate)/);
    expect(ctx.operator.lines.filter((l) => l.includes("scaling up"))).toEqual([]);
  });

  it("a --path that does not exist is an error of the run: it exits, and no record or pod changes", async () => {
    const before = await serving("v2");
    await ctx.operator!.stop();
    ctx.operator = undefined;
    const tip = await runGit(["rev-parse", "coxswain/status"], { cwd: ctx.repo.dir });
    const wrong = startOperatorProcess([...args(), "--path", "no/such/dir"]);
    expect(await wrong.exited).not.toBe(0);
    expect(wrong.lines.join("\n")).toMatch(/PathNotFound/);
    expect(await runGit(["rev-parse", "coxswain/status"], { cwd: ctx.repo.dir })).toBe(tip);
    expect(await serving("v2")).toEqual(before);
  });
});
