/**
 * A StatefulSet through the whole operator (real Git repository, manifests, graph, scheduler, controllers,
 * status branch) on a fleet of two real Docker engines:
 * - three replicas, OrderedReady: web-0, web-1, web-2 are created in that order, each only once the one
 *   before is Running and Ready (checked on every version of the set's status record on the status branch,
 *   and on the order of its events, never on timing); each pod writes into its own claim data-web-<n>, bound
 *   to the node of its pod and recorded in claims/default/data-web-<n>.yaml;
 * - a template change rolls from the highest ordinal down, and every pod reads what it wrote before;
 * - partition 2: only web-2 takes the next revision, web-0 and web-1 keep their containers;
 * - scaled 3 → 1: web-2 goes, then web-1; their claims' volumes and records are kept;
 * - an operator restart adopts web-0: the same container, the same name;
 * - a revision that crash-loops is rolled back and its commit quarantined, as for Deployments: web-0 is
 *   created again with the revision it had before (the set's current revision, which the partition kept),
 *   on its node, with its data.
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

const INSTANCE = "cx-sts-test";
const RECORD = "workloads/default/statefulset-web.yaml";
const enabled = requireDocker("operator statefulset");

/** The set; `crash`: its container writes its line and exits 1 (a revision that crash-loops). */
function statefulSet(o: { replicas: number; version: string; partition?: number; crash?: boolean }): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  annotations:
    coxswain.io/monitor-seconds: "0"
spec:
  replicas: ${o.replicas}
  serviceName: web
  selector:
    matchLabels: {app: web}
${o.partition !== undefined ? `  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {partition: ${o.partition}}\n` : ""}  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sh, -c, 'echo "$COXSWAIN_POD $VERSION" >> /data/log; ${o.crash ? "exit 1" : "exec sleep 3600"}']
          env:
            - {name: VERSION, value: "${o.version}"}
          readinessProbe:
            exec: {command: [sh, -c, 'grep -q "$COXSWAIN_POD $VERSION" /data/log']}
            periodSeconds: 1
          volumeMounts:
            - {name: data, mountPath: /data}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests: {storage: 64Mi}
`;
}

describe.skipIf(!enabled)("a StatefulSet through the operator on two Docker engines", () => {
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
    });

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-sts" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    for (const n of fleet.nodes) engines.set(n.name, new DockerRuntime({ endpoint: n.endpoint, owner: INSTANCE, nodeName: n.name }));
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-sts-");
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/web.yaml", statefulSet({ replicas: 3, version: "1" }));
    await repo.commit("web: a StatefulSet of three");
    op = await start();
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    for (const e of engines.values()) await e.close();
    await fleet?.stop();
  });

  /** Running containers of the set by pod name, with their node. */
  async function running(): Promise<Map<string, ObservedContainer & { node: string }>> {
    const out = new Map<string, ObservedContainer & { node: string }>();
    for (const [node, e] of engines) for (const c of await e.list()) if (c.state === "running" && c.labels[LABELS.workload] === "web") out.set(c.labels[LABELS.pod]!, { ...c, node });
    return out;
  }

  async function claimVolumes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const n of fleet.nodes) {
      const { Volumes } = await new Docker({ socketPath: n.socketPath }).listVolumes();
      for (const v of Volumes ?? []) if (v.Name.startsWith(`cxclaim_${INSTANCE}_`)) out.set(v.Labels?.[LABELS.claim] ?? v.Name, n.name);
    }
    return out;
  }

  async function statusFile(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }

  async function record(): Promise<WorkloadRecord | undefined> {
    const text = await statusFile(RECORD);
    return text === "" ? undefined : (parse(text) as WorkloadRecord);
  }

  /** Every version of the set's record written to the status branch, oldest first. */
  async function history(): Promise<WorkloadRecord[]> {
    await op!.flushStatus();
    const commits = (await runGit(["log", "--format=%H", "--reverse", "coxswain/status", "--", RECORD], { cwd: repo.dir })).split("\n").filter(Boolean);
    const out: WorkloadRecord[] = [];
    for (const c of commits) {
      const text = await runGit(["show", `${c}:${RECORD}`], { cwd: repo.dir }).catch(() => "");
      if (text) out.push(parse(text) as WorkloadRecord);
    }
    return out;
  }

  const sh = async (c: ObservedContainer & { node: string }, script: string) => {
    const r = await engines.get(c.node)!.exec(c.id, ["sh", "-c", script], 10_000);
    return { exitCode: r.exitCode, output: r.output };
  };

  /** The set's record once every pod is ready and complete at the revision of the commit, with the running containers. */
  async function settled(what: string, check: (r: WorkloadRecord) => boolean) {
    return withLog(
      waitFor(
        what,
        async () => {
          const r = await record();
          return r && check(r) && r.conditions.some((c) => c.type === "Progressing" && c.reason === "NewReplicaSetAvailable") ? r : undefined;
        },
        120_000,
        200,
      ),
    );
  }

  const messages = (r: WorkloadRecord, reason: string) => r.events.filter((e) => e.reason === reason).map((e) => e.message);
  const withLog = withLogOf(lines);

  let nodes: Map<string, string>;

  it("creates web-0, web-1, web-2 in order, each after the one before is ready, each with its own claim on its node", async () => {
    const r = await settled("three ready pods", (x) => x.replicas.ready === 3 && x.pods.length === 3);
    expect(r.pods.map((p) => p.name)).toEqual(["web-0", "web-1", "web-2"]);
    // Created in ordinal order…
    expect(messages(r, "Created").map((m) => m.split(" ")[2])).toEqual(["web-0", "web-1", "web-2"]);
    // …and no version of the record shows ordinal n before ordinal n-1 was ready.
    const versions = await history();
    // Several versions were written on the way up (the check below is not vacuous).
    expect(versions.filter((v) => v.pods.length > 0 && v.pods.length < 3).length).toBeGreaterThan(0);
    for (const version of versions) {
      for (const p of version.pods) {
        const n = Number(p.name.slice(4));
        if (n === 0) continue;
        const before = version.pods.find((q) => q.name === `web-${n - 1}`);
        expect(before?.ready, `${p.name} exists in a record where web-${n - 1} is ${before ? "not ready" : "missing"}`).toBe(true);
      }
    }
    const pods = await running();
    nodes = new Map([...pods].map(([name, c]) => [name, c.node]));
    for (const [name, c] of pods) expect(await sh(c, "cat /data/log")).toEqual({ exitCode: 0, output: `${name} 1\n` });
    // Each claim's volume is on its pod's node, and recorded Bound there.
    const volumes = await claimVolumes();
    for (const [name, node] of nodes) {
      expect(volumes.get(`default/data-${name}`)).toBe(node);
      const text = await withLog(
        waitFor(
          `claim data-${name} Bound`,
          async () => {
            const t = await statusFile(`claims/default/data-${name}.yaml`);
            return /phase: Bound/.test(t) ? t : undefined;
          },
          30_000,
        ),
      );
      expect(parse(text)).toMatchObject({ phase: "Bound", node });
    }
    expect(r.statefulSet).toMatchObject({ podManagementPolicy: "OrderedReady", partition: 0, serviceName: "web", claims: ["data-web-0", "data-web-1", "data-web-2"] });
  }, 300_000);

  it("rolls a template change from the highest ordinal down, and every pod keeps its data", async () => {
    const before = (await record())!.revision;
    await repo.write("apps/web.yaml", statefulSet({ replicas: 3, version: "2" }));
    await repo.commit("web v2");
    const r = await settled("three pods of v2", (x) => x.revision !== before && x.replicas.updated === 3 && x.replicas.ready === 3);
    expect(messages(r, "SuccessfulDelete")).toEqual(["delete Pod web-2 in StatefulSet web", "delete Pod web-1 in StatefulSet web", "delete Pod web-0 in StatefulSet web"]);
    const pods = await running();
    for (const [name, c] of pods) {
      expect(c.node).toBe(nodes.get(name));
      expect(await sh(c, "cat /data/log")).toEqual({ exitCode: 0, output: `${name} 1\n${name} 2\n` });
    }
  }, 300_000);

  it("with partition 2 updates web-2 only", async () => {
    const before = await running();
    const old = (await record())!.revision;
    await repo.write("apps/web.yaml", statefulSet({ replicas: 3, version: "3", partition: 2 }));
    await repo.commit("web v3, partition 2");
    const r = await settled("web-2 on v3", (x) => x.revision !== old && x.replicas.updated === 1 && x.replicas.ready === 3);
    expect(r.pods.map((p) => [p.name, p.revision === r.revision])).toEqual([
      ["web-0", false],
      ["web-1", false],
      ["web-2", true],
    ]);
    const after = await running();
    expect(after.get("web-0")!.id).toBe(before.get("web-0")!.id);
    expect(after.get("web-1")!.id).toBe(before.get("web-1")!.id);
    expect(await sh(after.get("web-2")!, "cat /data/log")).toEqual({ exitCode: 0, output: "web-2 1\nweb-2 2\nweb-2 3\n" });
  }, 300_000);

  it("scales 3 → 1 removing web-2 then web-1, and keeps their claims", async () => {
    await repo.write("apps/web.yaml", statefulSet({ replicas: 1, version: "3", partition: 2 }));
    await repo.commit("web x1");
    const r = await settled("one pod", (x) => x.replicas.desired === 1 && x.pods.length === 1);
    expect(messages(r, "SuccessfulDelete").slice(-2)).toEqual(["delete Pod web-2 in StatefulSet web", "delete Pod web-1 in StatefulSet web"]);
    expect([...(await running()).keys()]).toEqual(["web-0"]);
    const volumes = await claimVolumes();
    for (const name of ["web-1", "web-2"]) {
      expect(volumes.get(`default/data-${name}`)).toBe(nodes.get(name));
      expect(parse(await statusFile(`claims/default/data-${name}.yaml`))).toMatchObject({ phase: "Bound", node: nodes.get(name) });
    }
  }, 300_000);

  it("adopts its pod after an operator restart: the same container under the same name", async () => {
    const before = (await running()).get("web-0")!;
    await op!.stop();
    op = await start();
    const r = await settled("web-0 adopted", (x) => x.pods.length === 1 && x.replicas.ready === 1);
    expect(r.pods.map((p) => p.name)).toEqual(["web-0"]);
    const after = await running();
    expect([...after.keys()]).toEqual(["web-0"]);
    expect(after.get("web-0")!.id).toBe(before.id);
  }, 300_000);

  it("rolls a crashing revision back and quarantines its commit; web-0 comes back on the revision before, with its data", async () => {
    // web-0 runs v2's revision: partition 2 kept it when v3 came (the set's current revision).
    const good = (await record())!.pods[0]!.revision;
    await repo.write("apps/web.yaml", statefulSet({ replicas: 1, version: "4", crash: true }));
    const bad = await repo.commit("web v4 crashes");
    await withLog(
      waitFor(
        "v4 RolledBack",
        async () => {
          await op!.flushStatus();
          const text = await runGit(["show", `coxswain/status:commits/${bad.slice(0, 2)}/${bad}.yaml`], { cwd: repo.dir }).catch(() => "");
          return /^phase: RolledBack/m.test(text) && /quarantined: true/.test(text) ? text : undefined;
        },
        120_000,
        200,
      ),
    );
    const r = await settled("web-0 back on the revision before", (x) => x.pods.length === 1 && x.pods[0]!.revision === good && x.replicas.ready === 1);
    expect(r.events.some((e) => e.reason === "CrashLoopBackOff")).toBe(true);
    const pod = (await running()).get("web-0")!;
    expect(pod.node).toBe(nodes.get("web-0"));
    expect(await sh(pod, "cat /data/log")).toMatchObject({ exitCode: 0, output: expect.stringMatching(/^web-0 1\nweb-0 2\n(web-0 4\n)+web-0 2\n$/) });
  }, 300_000);
});
