/**
 * A HorizontalPodAutoscaler through the whole operator (real Git repository, manifests, graph, controllers,
 * status branch) on a real Docker engine, measured from the engine's own container statistics:
 * - a Deployment whose pods burn CPU (a shell loop, held to 100m by limits.cpu, against requests.cpu 50m:
 *   ~200 % utilization) and an autoscaler targeting 50 % scale it from 1 up to maxReplicas (3), and the
 *   status file says so (counts, the metric, the reason, ScalingLimited TooManyReplicas);
 * - a second revision that idles is rolled out; once the scale-down stabilization window (shortened to 5 s)
 *   has passed, the autoscaler scales it down to minReplicas (1): "All metrics below target";
 * - a change of spec.replicas alone in Git is not a rollout and does not change the count: the status file
 *   shows the count in Git as ignored.
 * It also prints how long one Docker statistics reading of a container takes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { statusCommand } from "../../../operator/src/cli/status.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-hpa-test";
const enabled = requireDocker("operator autoscaler");

function deployment(burn: boolean, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: burn
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: burn}
  template:
    metadata:
      labels: {app: burn}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'if [ "$BURN" = 1 ]; then while :; do :; done; else exec sleep 3600; fi']
          env:
            - {name: BURN, value: "${burn ? 1 : 0}"}
          resources:
            requests: {cpu: 50m, memory: 16Mi}
            limits: {cpu: 100m}
`;
}

const HPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: burn
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: burn}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 5}
`;

interface StatusDoc {
  currentReplicas: number;
  desiredReplicas: number;
  gitReplicas: number;
  currentMetrics: { resource: string; target: string; averageUtilization?: number; averageValue?: string }[];
  lastScaleTime?: string;
  lastScaleReason?: string;
  conditions: { type: string; status: string; reason: string }[];
  message: string;
}

describe.skipIf(!enabled)("a HorizontalPodAutoscaler through the operator on a Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  let engine: DockerRuntime;
  const lines: string[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "op-hpa" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    engine = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE, nodeName: fleet.nodes[0]!.name });
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-hpa-");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/burn.yaml", deployment(true, 1));
    await repo.write("apps/hpa.yaml", HPA);
    await repo.commit("a CPU burner and its autoscaler");
    op = await startTestOperator(repo, stateDir, lines, {
      instance: INSTANCE,
      autoscalerSyncMs: 1_000,
      proxyFactory: () => new FakeProxy(),
    });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    await engine?.close();
    await fleet?.stop();
  });

  async function running(): Promise<ObservedContainer[]> {
    return (await engine.list()).filter((c) => c.state === "running" && c.labels[LABELS.workload] === "burn");
  }

  async function status(): Promise<StatusDoc | undefined> {
    await op!.flushStatus();
    const text = await runGit(["show", "coxswain/status:autoscalers/default/burn.yaml"], { cwd: repo.dir }).catch(() => "");
    return text ? (parse(text) as StatusDoc) : undefined;
  }

  const withLog = withLogOf(lines);

  it("scales a CPU-burning Deployment up to maxReplicas from Docker's statistics", async () => {
    const up = await withLog(
      waitFor(
        "the autoscaler at 3 replicas",
        async () => {
          const s = await status();
          return s?.desiredReplicas === 3 ? s : undefined;
        },
        120_000,
        250,
      ),
    );
    expect(up.lastScaleReason).toBe("cpu resource utilization (percentage of request) above target");
    expect(up.lastScaleTime).toBeDefined();
    expect(up.gitReplicas).toBe(1);
    expect(up.currentMetrics[0]).toMatchObject({ resource: "cpu", target: "Utilization 50%" });
    expect(up.currentMetrics[0]!.averageUtilization).toBeGreaterThan(55);
    expect(up.conditions.find((c) => c.type === "ScalingActive")).toMatchObject({ status: "True", reason: "ValidMetricFound" });
    await withLog(waitFor("three burning pods", async () => ((await running()).length === 3 ? true : undefined), 90_000));
    const s = await withLog(
      waitFor(
        "the status counting three pods",
        async () => {
          const st = await status();
          return st?.currentReplicas === 3 ? st : undefined;
        },
        60_000,
        250,
      ),
    );
    expect(s.desiredReplicas).toBe(3);

    // How long statistics readings take: one container after another (each waits for the engine's
    // collector, which runs once a second), all at once, and without one-shot (two collector rounds).
    const ids = (await running()).map((c) => c.id);
    const sequential: number[] = [];
    const parallel: number[] = [];
    const twoRounds: number[] = [];
    for (let i = 0; i < 5; i++) {
      for (const id of ids) {
        const t = performance.now();
        const u = await engine.usage(id);
        sequential.push(performance.now() - t);
        expect(u?.cpuNanos).toBeGreaterThan(0);
      }
      const t = performance.now();
      await Promise.all(ids.map((id) => engine.usage(id)));
      parallel.push(performance.now() - t);
      const t2 = performance.now();
      await engine.request("stats without one-shot", { method: "GET", path: `/containers/${ids[0]}/stats`, query: { stream: false } });
      twoRounds.push(performance.now() - t2);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
    console.log(
      `docker stats: one-shot reading of one container, one after another: median ${median(sequential)} ms (${sequential.length} readings); ` +
        `${ids.length} containers at once: median ${median(parallel)} ms; without one-shot: median ${median(twoRounds)} ms`,
    );
  }, 300_000);

  it("scales down to minReplicas after the stabilization window once the pods idle", async () => {
    await repo.write("apps/burn.yaml", deployment(false, 1));
    await repo.commit("stop burning");
    const down = await withLog(
      waitFor(
        "the autoscaler back at 1 replica",
        async () => {
          const s = await status();
          return s?.desiredReplicas === 1 ? s : undefined;
        },
        180_000,
        250,
      ),
    );
    expect(down.lastScaleReason).toBe("All metrics below target");
    await withLog(waitFor("one idle pod", async () => ((await running()).length === 1 ? true : undefined), 90_000));
    const [pod] = await running();
    expect(pod!.labels[LABELS.revision]).toBeDefined();
  }, 300_000);

  it("ignores a change of spec.replicas in Git while the autoscaler owns the count", async () => {
    await repo.write("apps/burn.yaml", deployment(false, 2));
    const commit = await repo.commit("replicas 2 in Git");
    const s = await withLog(
      waitFor(
        "the status showing the count in Git",
        async () => {
          const st = await status();
          return st?.gitReplicas === 2 ? st : undefined;
        },
        60_000,
        250,
      ),
    );
    expect(s.desiredReplicas).toBe(1);
    expect(s.message).toContain("spec.replicas in Git (2) is ignored");
    // The commit is applied with no rollout, and still one pod runs.
    await withLog(
      waitFor(
        "the commit applied",
        async () => {
          await op!.flushStatus();
          const text = await runGit(["show", `coxswain/status:commits/${commit.slice(0, 2)}/${commit}.yaml`], { cwd: repo.dir }).catch(() => "");
          return text.includes("phase: Succeeded") ? text : undefined;
        },
        60_000,
        250,
      ),
    );
    expect((await running()).length).toBe(1);

    // coxswain status shows the autoscaler's row.
    const out: string[] = [];
    expect(await statusCommand(["--repo", repo.dir, "--state-dir", `${stateDir}/cli`], (l) => out.push(l))).toBe(0);
    const header = out.find((l) => l.startsWith("AUTOSCALER"));
    expect(header).toMatch(/^AUTOSCALER\s+TARGET\s+MIN\s+MAX\s+CURRENT\s+DESIRED\s+METRICS\s+LAST SCALE\s+CONDITIONS$/);
    expect(out.find((l) => l.startsWith("default/burn"))).toMatch(/^default\/burn\s+Deployment\/default\/burn\s+1\s+3\s+1\s+1\s+cpu \d+%\/50%\s+\S+Z All metrics below target\s+AbleToScale=True ScalingActive=True/);
  }, 120_000);
});
