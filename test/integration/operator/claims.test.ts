/**
 * PersistentVolumeClaims and hostPath volumes through the whole operator (real Git repository, manifests,
 * graph, scheduler, controllers, status branch) on a fleet of two real Docker engines:
 * - a Deployment's pod writes into its claim; a template change replaces the pod, on the same node, and the
 *   new pod reads the file; scaled to three with two nodes, every pod runs on the claim's node;
 * - the claim's volume is on one engine only, labelled with the operator, the claim and the node, and
 *   claims/<ns>/<name>.yaml says Bound there;
 * - removing a claim from Git keeps its volume (Released, retained, with how to remove it by hand); a claim
 *   that carried coxswain.io/delete-data-on-removal: "true" has its volume removed;
 * - when the claim's node stops, its pod is not replaced on the other node: the replacement waits, Pending
 *   with the claim's node named; when the node is back, the pod runs there again with the data; the same
 *   after an operator restart while the node is down (the binding read back from the status branch);
 * - a hostPath volume in a namespace the policy file does not name is PolicyDenied at its file:line and
 *   nothing of the commit is applied; in the namespace the policy allows, the container reads the host's file.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePolicy } from "../../../operator/src/manifest/policy.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ObservedContainer } from "../../../operator/src/runtime/types.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-claims-test";
const enabled = requireDocker("operator claims");

function claim(name: string, deleteData = false): string {
  return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
${deleteData ? '  annotations:\n    coxswain.io/delete-data-on-removal: "true"\n' : ""}spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 64Mi}
`;
}

function deployment(name: string, claimName: string, replicas: number, version: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: ${claimName}}
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
          env:
            - {name: VERSION, value: "${version}"}
          volumeMounts:
            - {name: data, mountPath: /data}
`;
}

function hostPathDeployment(namespace: string, dir: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: ${namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
        - name: host
          hostPath: {path: ${dir}, type: Directory}
        - name: made
          hostPath: {path: ${dir}/made, type: DirectoryOrCreate}
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
          volumeMounts:
            - {name: host, mountPath: /host, readOnly: true}
            - {name: made, mountPath: /made}
`;
}

const NAMESPACE_OPS = `apiVersion: v1
kind: Namespace
metadata:
  name: ops
`;

describe.skipIf(!enabled)("claims and hostPath volumes through the operator on two Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let hostDir: string;
  let op: RunningOperator | undefined;
  const engines = new Map<string, DockerRuntime>();
  const lines: string[] = [];
  const start = () =>
    startTestOperator(repo, stateDir, lines, {
      instance: INSTANCE,
      proxyFactory: () => new FakeProxy(),
      // A stopped engine is NotReady after 1 s and its pods are replaced after 2 s more (the last tests).
      nodeGraceMs: 1_000,
      evictionTimeoutMs: 2_000,
      manifests: { policy: parsePolicy("namespaces:\n  ops: {allowHostPath: true}\n", "policy.yaml") },
    });

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-claims" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    for (const n of fleet.nodes) engines.set(n.name, new DockerRuntime({ endpoint: n.endpoint, owner: INSTANCE, nodeName: n.name }));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-claims-");
    hostDir = await tempDir("coxswain-hostpath-");
    await writeFile(join(hostDir, "greeting.txt"), "hello from the node\n");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/data.yaml", claim("data"));
    await repo.write("apps/db.yaml", deployment("db", "data", 1, "1"));
    await repo.commit("db with a claim");
    op = await start();
  }, 180_000);

  afterAll(async () => {
    await op?.stop();
    for (const e of engines.values()) await e.close();
    await repo?.cleanup();
    for (const d of [stateDir, hostDir]) if (d) await rm(d, { recursive: true, force: true });
    await fleet?.stop();
  });

  /** Running containers of `workload` on every engine, with their node. */
  async function running(workload: string): Promise<(ObservedContainer & { node: string })[]> {
    const out: (ObservedContainer & { node: string })[] = [];
    for (const [node, e] of engines) for (const c of await e.list()) if (c.state === "running" && c.labels[LABELS.workload] === workload) out.push({ ...c, node });
    return out;
  }

  /** The claim volumes of each engine: node → names. */
  async function claimVolumes(): Promise<Record<string, { name: string; labels: Record<string, string> }[]>> {
    const out: Record<string, { name: string; labels: Record<string, string> }[]> = {};
    for (const n of fleet.nodes) {
      const { Volumes } = await new Docker({ socketPath: n.socketPath }).listVolumes();
      out[n.name] = (Volumes ?? []).filter((v) => v.Name.startsWith("cxclaim_")).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
    }
    return out;
  }

  async function statusFile(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }

  const sh = async (c: ObservedContainer & { node: string }, script: string) => {
    const r = await engines.get(c.node)!.exec(c.id, ["sh", "-c", script], 10_000);
    return { exitCode: r.exitCode, output: r.output };
  };

  const withLog = withLogOf(lines);

  it("keeps a claim's data across a pod replacement on its node, pins every pod of it there, and records the binding", async () => {
    const [first] = await withLog(
      waitFor(
        "db running",
        async () => {
          const r = await running("db");
          return r.length === 1 ? r : undefined;
        },
        90_000,
      ),
    );
    expect(await sh(first!, "echo kept > /data/file && cat /data/file")).toEqual({ exitCode: 0, output: "kept\n" });
    const bound = first!.node;

    // The volume is on the pod's engine only, labelled with the operator, the claim and the node.
    const volumes = await claimVolumes();
    expect(Object.fromEntries(Object.entries(volumes).map(([n, vs]) => [n, vs.map((v) => v.name)]))).toEqual(
      Object.fromEntries(fleet.nodes.map((n) => [n.name, n.name === bound ? [`cxclaim_${INSTANCE}_default_data`] : []])),
    );
    expect(volumes[bound]![0]!.labels).toMatchObject({ [LABELS.owner]: INSTANCE, [LABELS.claim]: "default/data", [LABELS.namespace]: "default", [LABELS.node]: bound });
    expect(
      await waitFor("claim Bound in the status branch", async () => {
        const text = await statusFile("claims/default/data.yaml");
        return /phase: Bound/.test(text) && text.includes(`node: ${bound}`) ? text : undefined;
      }),
    ).toMatch(/volume: cxclaim_cx-claims-test_default_data/);

    // A template change replaces the pod (maxSurge 1: both pods share the claim on its node for a while).
    await repo.write("apps/db.yaml", deployment("db", "data", 1, "2"));
    await repo.commit("db v2");
    const [second] = await withLog(
      waitFor(
        "db v2 alone",
        async () => {
          const r = await running("db");
          return r.length === 1 && r[0]!.id !== first!.id ? r : undefined;
        },
        90_000,
      ),
    );
    expect(second!.node).toBe(bound);
    expect(await sh(second!, "cat /data/file; echo $VERSION")).toEqual({ exitCode: 0, output: "kept\n2\n" });

    // Three replicas on two nodes: spreading would split them, the claim keeps every one on its node.
    await repo.write("apps/db.yaml", deployment("db", "data", 3, "2"));
    await repo.commit("db x3");
    const three = await withLog(
      waitFor(
        "three db pods",
        async () => {
          const r = await running("db");
          return r.length === 3 ? r : undefined;
        },
        90_000,
      ),
    );
    expect(three.map((c) => c.node)).toEqual([bound, bound, bound]);
  }, 300_000);

  it('keeps a removed claim\'s volume unless it carried coxswain.io/delete-data-on-removal: "true"', async () => {
    await repo.write("apps/scratch.yaml", `${claim("scratch", true)}---\n${deployment("tmp", "scratch", 1, "1")}`);
    await repo.commit("tmp with a claim whose data goes with it");
    const [tmp] = await withLog(
      waitFor(
        "tmp running",
        async () => {
          const r = await running("tmp");
          return r.length === 1 ? r : undefined;
        },
        90_000,
      ),
    );
    expect(await sh(tmp!, "echo x > /data/x")).toEqual({ exitCode: 0, output: "" });
    const dbNode = (await running("db"))[0]!.node;

    await repo.rm("apps/data.yaml");
    await repo.rm("apps/db.yaml");
    await repo.rm("apps/scratch.yaml");
    await repo.commit("remove both claims and their Deployments");
    const after = await withLog(
      waitFor(
        "scratch's volume removed",
        async () => {
          const v = await claimVolumes();
          const all = Object.values(v)
            .flat()
            .map((x) => x.name);
          return all.includes(`cxclaim_${INSTANCE}_default_scratch`) ? undefined : v;
        },
        90_000,
      ),
    );
    // data's volume is kept on its node.
    expect(after[dbNode]!.map((v) => v.name)).toEqual([`cxclaim_${INSTANCE}_default_data`]);
    const released = await waitFor("data Released", async () => {
      const text = await statusFile("claims/default/data.yaml");
      return /phase: Released/.test(text) ? text : undefined;
    });
    expect(parse(released)).toMatchObject({
      phase: "Released",
      node: dbNode,
      deleteDataOnRemoval: false,
      removeByHand: `docker -H ${fleet.nodes.find((n) => n.name === dbNode)!.endpoint} volume rm cxclaim_${INSTANCE}_default_data`,
    });
    expect(await waitFor("scratch's status file gone", async () => ((await statusFile("claims/default/scratch.yaml")) === "" ? true : undefined))).toBe(true);
  }, 300_000);

  it("denies a hostPath volume where the policy does not allow it (PolicyDenied at file:line), and mounts the node's path where it does", async () => {
    await repo.write("apps/ops.yaml", NAMESPACE_OPS);
    await repo.write("apps/agent.yaml", hostPathDeployment("default", hostDir));
    const bad = await repo.commit("agent with a hostPath in default");
    const record = await waitFor(
      "commit Invalid",
      async () => {
        const text = await statusFile(`commits/${bad.slice(0, 2)}/${bad}.yaml`);
        return /^phase: Invalid/m.test(text) ? text : undefined;
      },
      60_000,
    );
    expect(record).toMatch(/code: PolicyDenied/);
    expect(record).toMatch(/file: apps\/agent.yaml/);
    expect(record).toMatch(/line: 17\n/);
    expect(await running("agent")).toEqual([]);

    await repo.write("apps/agent.yaml", hostPathDeployment("ops", hostDir));
    await repo.commit("agent in ops");
    const [agent] = await withLog(
      waitFor(
        "agent running",
        async () => {
          const r = await running("agent");
          return r.length === 1 ? r : undefined;
        },
        90_000,
      ),
    );
    expect(await sh(agent!, "cat /host/greeting.txt && echo made > /made/m")).toEqual({ exitCode: 0, output: "hello from the node\n" });
    expect(await sh(agent!, "echo no > /host/new")).toMatchObject({ output: expect.stringMatching(/Read-only file system/) });
    // DirectoryOrCreate made the directory on the node, and the container's file is there.
    expect(await readFile(join(hostDir, "made", "m"), "utf8")).toBe("made\n");
  }, 180_000);

  it("never moves a claim's pod to another node: with its node stopped the pod waits, and runs there again when it is back", async () => {
    await repo.write("apps/pin.yaml", `${claim("pinned")}---\n${deployment("pin", "pinned", 1, "1")}`);
    const commit = await repo.commit("pin with a claim");
    const [pin] = await withLog(
      waitFor(
        "pin running",
        async () => {
          const r = await running("pin");
          return r.length === 1 ? r : undefined;
        },
        90_000,
      ),
    );
    // Past its monitor window: a node lost during it fails the commit, which is then rolled back (and pin
    // deleted), rightly — this test is about a node lost afterwards.
    await withLog(waitFor("pin's commit Succeeded", async () => /^phase: Succeeded/m.test(await statusFile(`commits/${commit.slice(0, 2)}/${commit}.yaml`)), 60_000));
    expect(await sh(pin!, "echo still-here > /data/f")).toEqual({ exitCode: 0, output: "" });
    const index = fleet.nodes.findIndex((n) => n.name === pin!.node);
    const other = fleet.nodes[1 - index]!.name;
    await fleet.stopNode(index);
    const record = await withLog(
      waitFor(
        "pin Pending for its claim's node",
        async () => {
          const text = await statusFile("workloads/default/deployment-pin.yaml");
          return text.includes(`claim default/pinned is bound to node ${pin!.node}, which is NotReady`) ? text : undefined;
        },
        90_000,
      ),
    );
    expect(record).toMatch(/volume node affinity conflict/);
    expect((await engines.get(other)!.list()).filter((c) => c.labels[LABELS.workload] === "pin")).toEqual([]);
    expect(
      await waitFor("claim still Bound to its node", async () => {
        const text = parse(await statusFile("claims/default/pinned.yaml")) as Record<string, unknown> | null;
        return text?.nodeState === "NotReady" ? text : undefined;
      }),
    ).toMatchObject({ phase: "Bound", node: pin!.node });

    await fleet.startNode(index);
    const [back] = await withLog(
      waitFor(
        "pin running again",
        async () => {
          const r = (await running("pin")).filter((c) => c.id !== pin!.id);
          return r.length === 1 ? r : undefined;
        },
        120_000,
      ),
    );
    expect(back!.node).toBe(pin!.node);
    expect(await sh(back!, "cat /data/f")).toEqual({ exitCode: 0, output: "still-here\n" });
  }, 300_000);

  it("keeps a claim on its node across an operator restart while that node is down (the status branch's record)", async () => {
    const [pin] = await running("pin");
    const index = fleet.nodes.findIndex((n) => n.name === pin!.node);
    await op!.stop();
    op = undefined;
    await fleet.stopNode(index);
    lines.length = 0;
    op = await start();
    // The engine that holds the volume does not answer: only the status branch knows where the claim is.
    const record = await withLog(
      waitFor(
        "pin Pending for its claim's node after the restart",
        async () => {
          const text = await statusFile("workloads/default/deployment-pin.yaml");
          return text.includes(`claim default/pinned is bound to node ${pin!.node}`) ? text : undefined;
        },
        90_000,
      ),
    );
    expect(record).toMatch(/volume node affinity conflict/);
    const other = fleet.nodes[1 - index]!.name;
    expect((await engines.get(other)!.list()).filter((c) => c.labels[LABELS.workload] === "pin")).toEqual([]);
    await fleet.startNode(index);
    // The node was never listed before it was evicted, so its pod is not known as replaced: it is adopted
    // and started again in place (or replaced there), on the claim's node either way.
    const [back] = await withLog(
      waitFor(
        "pin running on its node again",
        async () => {
          const r = await running("pin");
          return r.length === 1 ? r : undefined;
        },
        120_000,
      ),
    );
    expect(back!.node).toBe(pin!.node);
    expect(await sh(back!, "cat /data/f")).toEqual({ exitCode: 0, output: "still-here\n" });
  }, 300_000);
});
