/**
 * Init containers through the whole pipeline (real Git repository, manifests, graph, controllers, status), on a
 * real Docker engine and on the process runtime: two init containers run in order, each to completion, writing
 * to the pod's emptyDir, and the app starts only after them and reads both lines in order. A failing init
 * container is restarted with the back-off while the app is never started (status: Init:CrashLoopBackOff);
 * an operator restart meanwhile runs the succeeded init container no more; a commit fixing it makes a pod that
 * runs, and an operator restart after the init phase leaves the running app and the finished init containers
 * as they are.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { ProcessRuntime } from "../../../operator/src/runtime/process/index.js";
import type { NodeRuntime, ObservedContainer } from "../../../operator/src/runtime/types.js";
import { startOperator, type RunningOperator, type OperatorOptions } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const INSTANCE = "cx-init-test";
const enabled = requireDocker("operator init containers");

/**
 * The Deployment: init containers first and second append their names to shared/log, the app copies the log
 * to shared/seen when it starts. `second` fails (exit 3) after writing while `broken`. `dir` is where the
 * emptyDir is seen: /shared in a Docker container, $COXSWAIN_MOUNT_ROOT/shared for a local process.
 */
function manifests(image: string, dir: string, broken: boolean): string {
  const second = broken ? `echo second >> ${dir}/log; exit 3` : `echo second >> ${dir}/log`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
        - name: shared
          emptyDir: {}
      initContainers:
        - name: first
          image: ${image}
          command: [sh, -c, 'echo first >> ${dir}/log']
          volumeMounts: [{name: shared, mountPath: /shared}]
        - name: second
          image: ${image}
          command: [sh, -c, '${second}']
          volumeMounts: [{name: shared, mountPath: /shared}]
      containers:
        - name: app
          image: ${image}
          command: [sh, -c, 'cat ${dir}/log > ${dir}/seen; exec sleep 3600']
          volumeMounts: [{name: shared, mountPath: /shared}]
`;
}

type Pod = Map<string, ObservedContainer>;

/** The containers of the one pod of `revision` (any when absent) by container name, once it is the only pod. */
async function thePod(rt: NodeRuntime, ready: (pod: Pod) => boolean, notRevision?: string): Promise<Pod> {
  return waitFor(
    "the pod",
    async () => {
      const all = await rt.list();
      const pods = new Set(all.map((c) => c.labels[LABELS.pod]));
      if (pods.size !== 1 || all[0]!.labels[LABELS.revision] === notRevision) return undefined;
      const pod: Pod = new Map(all.map((c) => [c.labels[LABELS.container]!, c]));
      return ready(pod) ? pod : undefined;
    },
    90_000,
  );
}

const stateOf = (pod: Pod) => Object.fromEntries([...pod].map(([n, c]) => [n, c.state]));

function scenario(name: string, setup: () => Promise<{ rt: NodeRuntime; image: string; dir: string; options: () => OperatorOptions; repo: TestRepo; read: (app: ObservedContainer) => Promise<string> }>) {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let op: RunningOperator | undefined;

  beforeAll(async () => {
    ctx = await setup();
    await ctx.repo.write("web.yaml", manifests(ctx.image, ctx.dir, true));
    await ctx.repo.commit("web whose second init container fails");
    op = await startOperator(ctx.options());
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
  });

  const podState = () => op!.store.getWorkload("Deployment", "default", "web")?.pods[0]?.state;

  it(`${name}: a failing init container is retried with the back-off and the app never starts; an operator restart does not rerun the succeeded one`, async () => {
    await waitFor(
      "Init:CrashLoopBackOff in status",
      async () => {
        await op!.flushStatus();
        return podState() === "Init:CrashLoopBackOff";
      },
      90_000,
    );
    const pod = await thePod(ctx.rt, (p) => (p.get("second")?.restartCount ?? 0) >= 1);
    expect(pod.get("first")).toMatchObject({ state: "exited", exitCode: 0, restartCount: 0 });
    expect(pod.get("app")!.state).toBe("created");
    expect(pod.get("app")!.startedAt).toBeUndefined();

    await op!.stop();
    op = await startOperator(ctx.options());
    // The new operator restarts second again (its back-off over), never first.
    const later = await thePod(ctx.rt, (p) => p.get("second")!.restartCount > pod.get("second")!.restartCount);
    expect(later.get("first")).toMatchObject({ id: pod.get("first")!.id, state: "exited", exitCode: 0, restartCount: 0, startedAt: pod.get("first")!.startedAt });
    expect(later.get("app")!.state).toBe("created");
  }, 240_000);

  it(`${name}: after a commit fixing it the init containers run in order, then the app, which reads both lines; an operator restart reruns nothing`, async () => {
    const broken = (await ctx.rt.list())[0]!.labels[LABELS.revision];
    await ctx.repo.write("web.yaml", manifests(ctx.image, ctx.dir, false));
    await ctx.repo.commit("second init container fixed");
    const pod = await thePod(ctx.rt, (p) => p.get("app")?.state === "running", broken);
    expect(stateOf(pod)).toEqual({ app: "running", first: "exited", second: "exited" });
    for (const init of ["first", "second"]) expect(pod.get(init)).toMatchObject({ exitCode: 0, restartCount: 0 });
    // Each init container ended before the next one started, the last before the app.
    expect(pod.get("first")!.finishedAt!).toBeLessThanOrEqual(pod.get("second")!.startedAt! + 5);
    expect(pod.get("second")!.finishedAt!).toBeLessThanOrEqual(pod.get("app")!.startedAt! + 5);
    expect(await waitFor("the app's copy of the log", async () => (await ctx.read(pod.get("app")!)) || undefined)).toBe("first\nsecond\n");
    await waitFor(
      "the pod ready in status",
      async () => {
        await op!.flushStatus();
        const p = op!.store.getWorkload("Deployment", "default", "web")?.pods;
        return p?.length === 1 && p[0]!.ready;
      },
      60_000,
    );

    await op!.stop();
    op = await startOperator(ctx.options());
    await waitFor("the restarted operator sees the pod ready", () => op!.fleet.pods().length === 1 && op!.fleet.pods()[0]!.ready, 60_000);
    const after = await thePod(ctx.rt, () => true);
    for (const c of ["app", "first", "second"]) {
      expect(after.get(c), c).toMatchObject({ id: pod.get(c)!.id, state: pod.get(c)!.state, startedAt: pod.get(c)!.startedAt, restartCount: 0 });
    }
  }, 240_000);
}

describe.skipIf(!enabled)("init containers through the operator on a real Docker engine", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let rt: DockerRuntime;

  afterAll(async () => {
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  scenario("Docker", async () => {
    fleet = await startFleet({ nodes: 1, name: "op-init" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: INSTANCE, nodeName: "local" });
    const [from, to] = fleet.nodes[0]!.portRange.split("-").map(Number) as [number, number];
    const endpoint = fleet.nodes[0]!.endpoint;
    return {
      rt,
      repo,
      image: TEST_IMAGES.v1,
      dir: "/shared",
      read: async (app) => (await rt.exec(app.id, ["cat", "/shared/seen"], 10_000)).output,
      options: () => ({
        repo: repo.dir,
        stateDir,
        instance: INSTANCE,
        pollMs: 200,
        fleetPollMs: 200,
        statusDebounceMs: 50,
        defaultPortRange: { from, to },
        runtimeFactory: () => new DockerRuntime({ endpoint, owner: INSTANCE, nodeName: "local", callTimeoutMs: 30_000 }),
        proxyFactory: () => new FakeProxy(),
      }),
    };
  });
});

describe("init containers through the operator on the process runtime", () => {
  let repo: TestRepo;
  let stateDir: string;
  let rt: ProcessRuntime;

  afterAll(async () => {
    for (const c of (await rt?.list()) ?? []) await rt.remove(c.id);
    await rt?.close();
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  scenario("process", async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-state-");
    rt = new ProcessRuntime({ stateDir, owner: INSTANCE });
    return {
      rt,
      repo,
      image: "ignored:v1",
      dir: "$COXSWAIN_MOUNT_ROOT/shared",
      read: async (app) => (await rt.exec(app.id, ["sh", "-c", 'cat "$COXSWAIN_MOUNT_ROOT/shared/seen"'], 10_000)).output,
      options: () => ({
        repo: repo.dir,
        stateDir,
        instance: INSTANCE,
        pollMs: 200,
        fleetPollMs: 200,
        statusDebounceMs: 50,
        defaultPortRange: { from: 63900, to: 63999 },
        runtimeFactory: () => new ProcessRuntime({ stateDir, owner: INSTANCE }),
        proxyFactory: () => new FakeProxy(),
      }),
    };
  });
});
