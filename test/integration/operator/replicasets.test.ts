/**
 * ReplicaSets, ReplicationControllers and bare Pods through the whole operator (real Git repository,
 * manifests, graph, scheduler, controllers, status branch) on a fleet of two real Docker engines:
 * - a ReplicaSet of 3 comes up; a container removed behind coxswain's back is replaced; a template change
 *   leaves the 3 running pods on their revision (the status says so) and a scale-up to 4 adds one pod of the
 *   new template; a scale-down removes the not-ready pod first (Kubernetes' ranking: not ready before ready);
 * - a new ReplicaSet whose pods crash fails its commit, which is rolled back (as a Deployment's);
 * - a ReplicationController without a selector (defaulted from its template's labels) does the same;
 * - a bare Pod runs under its own name, survives an operator restart (the same container), is created again on
 *   its node (only there) when its container is removed behind coxswain's back, is replaced when
 *   its spec changes (its status says so), and when its node's engine stops it is not recreated on the other
 *   node: its status says NodeLost.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-replicasets-test";
const enabled = requireDocker("operator replicasets");

/** A pod spec that is ready while /tmp/ready exists (made at start), so a test can make one pod not ready. */
function podSpec(version: string, indent: string): string {
  return `terminationGracePeriodSeconds: 1
containers:
  - name: app
    image: ${TEST_IMAGES.v1}
    command: [sh, -c, "touch /tmp/ready; exec sleep 3600"]
    env:
      - {name: VERSION, value: "${version}"}
    readinessProbe:
      exec: {command: [test, -f, /tmp/ready]}
      periodSeconds: 1
`
    .split("\n")
    .map((l) => (l ? indent + l : l))
    .join("\n");
}

function replicaSet(replicas: number, version: string): string {
  return `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {tier: frontend}
  template:
    metadata:
      labels: {tier: frontend}
    spec:
${podSpec(version, "      ")}`;
}

/** A ReplicaSet whose containers exit at once. */
const BROKEN = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: broken
spec:
  replicas: 2
  selector:
    matchLabels: {tier: broken}
  template:
    metadata:
      labels: {tier: broken}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.exits}
`;

function replicationController(replicas: number): string {
  return `apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy
spec:
  replicas: ${replicas}
  template:
    metadata:
      labels: {app: legacy}
    spec:
${podSpec("1", "      ")}`;
}

function pod(version: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: toolbox
  labels: {app: toolbox}
spec:
${podSpec(version, "  ")}`;
}

describe.skipIf(!enabled)("ReplicaSets, ReplicationControllers and bare Pods through the operator on two Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const engines = new Map<string, DockerRuntime>();
  const lines: string[] = [];
  const start = () =>
    startTestOperator(repo, stateDir, lines, {
      instance: INSTANCE,
      proxyFactory: () => new FakeProxy(),
      // A stopped engine is NotReady after 1 s and its pods are lost after 2 s more (the last test).
      nodeGraceMs: 1_000,
      evictionTimeoutMs: 2_000,
    });

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-rs" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    for (const n of fleet.nodes) engines.set(n.name, new DockerRuntime({ endpoint: n.endpoint, owner: INSTANCE, nodeName: n.name }));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-rs-");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/frontend.yaml", replicaSet(3, "1"));
    await repo.commit("a ReplicaSet of 3");
    op = await start();
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    for (const e of engines.values()) await e.close();
    await fleet?.stop();
  });

  /** Running containers of `workload` on every engine (answering ones), with their node. */
  async function running(workload: string): Promise<(ObservedContainer & { node: string })[]> {
    const out: (ObservedContainer & { node: string })[] = [];
    for (const [node, e] of engines) {
      const list = await e.list().catch(() => []);
      for (const c of list) if (c.state === "running" && c.labels[LABELS.workload] === workload) out.push({ ...c, node });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async function statusFile(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }

  async function record(path: string): Promise<Partial<WorkloadRecord>> {
    return (parse(await statusFile(path)) as Partial<WorkloadRecord> | null) ?? {};
  }

  const removeContainer = (c: ObservedContainer & { node: string }) => new Docker({ socketPath: fleet.nodes.find((n) => n.name === c.node)!.socketPath }).getContainer(c.id).remove({ force: true });

  const withLog = withLogOf(lines);

  const count = (n: number, workload: string, ready?: (c: (ObservedContainer & { node: string })[]) => boolean) =>
    withLog(
      waitFor(
        `${n} ${workload} pod(s) running`,
        async () => {
          const r = await running(workload);
          return r.length === n && (ready?.(r) ?? true) ? r : undefined;
        },
        120_000,
      ),
    );

  /** Waits until the commit is Succeeded: its pods ready past the monitor window (a node lost before then fails it, rightly). */
  const succeeded = (commit: string) => withLog(waitFor(`commit ${commit.slice(0, 7)} Succeeded`, async () => /^phase: Succeeded/m.test(await statusFile(`commits/${commit.slice(0, 2)}/${commit}.yaml`)), 90_000));

  const readyRecord = (path: string, ready: number) =>
    withLog(
      waitFor(
        `${path}: ${ready} ready`,
        async () => {
          const r = await record(path);
          return r.replicas?.ready === ready && r.replicas?.current === ready ? r : undefined;
        },
        120_000,
      ),
    );

  it("keeps 3 pods, replaces a removed one, gives a new template to new pods only, and scales down the not-ready pod first", async () => {
    const path = "workloads/default/replicaset-frontend.yaml";
    const first = await count(3, "frontend");
    const firstRecord = await readyRecord(path, 3);
    expect(firstRecord).toMatchObject({ kind: "ReplicaSet", strategy: "ReplicaSet", replicas: { desired: 3, current: 3, updated: 3, ready: 3, available: 3 } });
    const v1 = firstRecord.revision!;

    // A container removed behind coxswain's back: its pod is replaced.
    await removeContainer(first[0]!);
    const replaced = await withLog(
      waitFor(
        "a replacement pod",
        async () => {
          const r = await running("frontend");
          return r.length === 3 && !r.some((c) => c.id === first[0]!.id) ? r : undefined;
        },
        120_000,
      ),
    );
    await readyRecord(path, 3);

    // A template change: the running pods keep their revision; the status says why.
    await repo.write("apps/frontend.yaml", replicaSet(3, "2"));
    await repo.commit("frontend template v2");
    const changed = await withLog(
      waitFor(
        "the new revision recorded",
        async () => {
          const r = await record(path);
          return r.revision !== v1 && (r.events ?? []).some((e) => e.reason === "TemplateChanged") ? r : undefined;
        },
        60_000,
      ),
    );
    expect(changed.replicas).toMatchObject({ desired: 3, current: 3, updated: 0 });
    expect((await running("frontend")).map((c) => c.id)).toEqual(replaced.map((c) => c.id));
    const v2 = changed.revision!;

    // A scale-up to 4 adds one pod of the new template.
    await repo.write("apps/frontend.yaml", replicaSet(4, "2"));
    await repo.commit("frontend to 4");
    const four = await count(4, "frontend");
    expect(four.filter((c) => c.labels[LABELS.revision] === v2)).toHaveLength(1);
    expect(four.filter((c) => c.labels[LABELS.revision] === v1)).toHaveLength(3);
    await readyRecord(path, 4);

    // One old pod stops being ready: a scale-down to 3 removes it, not the newest one (not ready before ready).
    const victim = four.find((c) => c.labels[LABELS.revision] === v1)!;
    await engines.get(victim.node)!.exec(victim.id, ["rm", "/tmp/ready"], 10_000);
    await withLog(waitFor("the victim not ready", async () => ((await record(path)).replicas?.ready === 3 ? true : undefined), 60_000));
    await repo.write("apps/frontend.yaml", replicaSet(3, "2"));
    await repo.commit("frontend to 3");
    const three = await count(3, "frontend");
    expect(three.map((c) => c.id)).toEqual(four.filter((c) => c.id !== victim.id).map((c) => c.id));
  }, 420_000);

  it("runs a ReplicationController the same way, its selector defaulted from the template's labels", async () => {
    await repo.write("apps/legacy.yaml", replicationController(2));
    await repo.commit("a ReplicationController of 2");
    const two = await count(2, "legacy");
    const path = "workloads/default/replicationcontroller-legacy.yaml";
    expect(await readyRecord(path, 2)).toMatchObject({ kind: "ReplicationController", strategy: "ReplicaSet" });
    await removeContainer(two[0]!);
    await withLog(
      waitFor(
        "a replacement legacy pod",
        async () => {
          const r = await running("legacy");
          return r.length === 2 && !r.some((c) => c.id === two[0]!.id) ? r : undefined;
        },
        120_000,
      ),
    );
    await readyRecord(path, 2);
  }, 300_000);

  it("fails the commit of a new ReplicaSet whose pods crash, and rolls it back", async () => {
    await repo.write("apps/broken.yaml", BROKEN);
    const bad = await repo.commit("a ReplicaSet whose pods exit");
    const phase = async () => (parse(await statusFile(`commits/${bad.slice(0, 2)}/${bad}.yaml`)) as { phase?: string; errors?: { code: string }[] } | null) ?? {};
    const rolledBack = await withLog(
      waitFor(
        "the commit RolledBack",
        async () => {
          const p = await phase();
          return p.phase === "RolledBack" ? p : undefined;
        },
        120_000,
      ),
    );
    expect(JSON.stringify(rolledBack)).toMatch(/CrashLoopBackOff|PodStartDeadlineExceeded/);
    await withLog(waitFor("the broken set's pods gone", async () => ((await running("broken")).length === 0 ? true : undefined), 60_000));
    await repo.rm("apps/broken.yaml");
    await succeeded(await repo.commit("without the broken set"));
  }, 300_000);

  it("runs a bare Pod under its own name, keeps it across an operator restart, replaces it on a spec change and never reschedules it off a lost node", async () => {
    const path = "workloads/default/pod-toolbox.yaml";
    await repo.write("apps/toolbox.yaml", pod("1"));
    const v1 = await repo.commit("a bare Pod");
    const [first] = await count(1, "toolbox");
    expect(first!.labels[LABELS.pod]).toBe("toolbox");
    const rec = await readyRecord(path, 1);
    expect(rec).toMatchObject({ kind: "Pod", strategy: "Pod", placed: { node: first!.node }, pods: [{ name: "toolbox", node: first!.node }] });
    await succeeded(v1);

    // An operator restart adopts the pod: the same container, nothing recreated.
    await op!.stop();
    op = undefined;
    op = await start();
    await withLog(
      waitFor(
        "the Pod recorded after the restart",
        async () => {
          const r = await record(path);
          return r.pods?.[0]?.ready === true ? r : undefined;
        },
        60_000,
      ),
    );
    expect((await running("toolbox")).map((c) => c.id)).toEqual([first!.id]);

    // Its container removed behind coxswain's back (its node Ready): created again, on the same node only.
    await removeContainer(first!);
    const [again] = await withLog(
      waitFor(
        "the Pod created again",
        async () => {
          const r = await running("toolbox");
          return r.length === 1 && r[0]!.id !== first!.id ? r : undefined;
        },
        120_000,
      ),
    );
    expect(again).toMatchObject({ node: first!.node, labels: expect.objectContaining({ [LABELS.pod]: "toolbox" }) });
    await readyRecord(path, 1);

    // A spec change replaces the pod (same name), and the status says so.
    await repo.write("apps/toolbox.yaml", pod("2"));
    const v2 = await repo.commit("toolbox v2");
    const [second] = await withLog(
      waitFor(
        "the Pod replaced",
        async () => {
          const r = await running("toolbox");
          return r.length === 1 && r[0]!.id !== again!.id ? r : undefined;
        },
        120_000,
      ),
    );
    expect(second!.labels[LABELS.pod]).toBe("toolbox");
    const replaced = await readyRecord(path, 1);
    expect(replaced.events!.map((e) => e.reason)).toContain("Replacing");
    await succeeded(v2);

    // Its node's engine stops: the pod is lost, not recreated on the other node; the status says why.
    const index = fleet.nodes.findIndex((n) => n.name === second!.node);
    const other = fleet.nodes[1 - index]!.name;
    await fleet.stopNode(index);
    const lost = await withLog(
      waitFor(
        "the Pod NodeLost",
        async () => {
          const r = await record(path);
          return (r.conditions ?? []).some((c) => c.reason === "NodeLost") ? r : undefined;
        },
        120_000,
      ),
    );
    expect(lost.pods).toEqual([]);
    expect(lost.events!.map((e) => e.reason)).toContain("NodeLost");
    // Looked at again after the eviction: still nothing of it on the other node.
    await withLog(waitFor("another reconcile", async () => ((await record(path)).replicas ? true : undefined)));
    expect((await engines.get(other)!.list()).filter((c) => c.labels[LABELS.workload] === "toolbox")).toEqual([]);
    await fleet.startNode(index);
  }, 420_000);
});
