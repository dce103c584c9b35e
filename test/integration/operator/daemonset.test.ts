/**
 * A DaemonSet through the whole operator (real Git repository, manifests, graph, scheduler, controllers,
 * status branch) on three real Docker engines, each step one commit:
 * - one pod on every node that fits: node-2, tainted NoSchedule without a toleration, gets none;
 * - a node added to the fleet (its Node manifest, its engine) gets a pod; so does node-2 once its taint goes;
 * - a template change rolls node by node with maxUnavailable 1: sampled as it goes, never more than one
 *   node lacks a ready pod, and the status record carries Kubernetes' DaemonSetStatus counts;
 * - a revision whose container crashes fails its commit, which is rolled back to the previous revision;
 * - a node whose label no longer matches the nodeSelector (its Node manifest changed) loses its pod;
 * - a node that fits but has no room for the pod gets none, with the scheduler's reason recorded;
 * - after an operator restart its pods are adopted: none replaced, none added.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { ObservedPod } from "../../../operator/src/runtime/fleet.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { startTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-daemonset-test";
const KEY = "DaemonSet/default/agent";
const enabled = requireDocker("operator daemonset");

/** The agent DaemonSet: on nodes labelled agent=yes, the command given (a version in its environment). */
function daemonSet(version: string, command = `["sleep", "3600"]`): string {
  return `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  annotations:
    coxswain.io/monitor-seconds: "1"
spec:
  selector:
    matchLabels: {app: agent}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {agent: "yes"}
      containers:
        - name: agent
          image: ${TEST_IMAGES.v1}
          command: ${command}
          env:
            - {name: VERSION, value: "${version}"}
`;
}

describe.skipIf(!enabled)("a DaemonSet through the operator on three Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];
  /** Each engine's Node manifest, by node name. */
  const manifests = new Map<string, Record<string, unknown>>();

  /** Node manifests of `names`, with labels and taints. */
  function nodes(spec: Record<string, { labels?: Record<string, string>; taints?: unknown[]; capacity?: Record<string, number> }>): string {
    return Object.entries(spec)
      .map(([name, extra]) => {
        const m = structuredClone(manifests.get(name)!) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
        if (extra.labels) m.metadata.labels = extra.labels;
        if (extra.taints) m.spec.taints = extra.taints;
        if (extra.capacity) m.spec.capacity = extra.capacity;
        return JSON.stringify(m);
      })
      .join("\n---\n");
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 3, name: "op-ds" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    for (const doc of fleet.nodeManifests().split(/^---$/m)) {
      const m = parse(doc) as { metadata: { name: string } };
      manifests.set(m.metadata.name, m);
    }
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-ds-");
  }, 240_000);

  afterAll(async () => {
    await op?.stop({ stopProxies: true });
    await repo?.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    await fleet?.stop();
  });

  const withLog = withLogOf(lines);

  async function statusFile(path: string): Promise<string> {
    await op!.flushStatus();
    return runGit(["show", `coxswain/status:${path}`], { cwd: repo.dir }).catch(() => "");
  }
  async function phase(oid: string): Promise<string | undefined> {
    return /^phase: (\w+)/m.exec(await statusFile(`commits/${oid.slice(0, 2)}/${oid}.yaml`))?.[1];
  }
  /** The agent's ready pods as the operator sees them: node → revision. */
  function placed(): Record<string, string> {
    return Object.fromEntries(
      op!.fleet
        .pods(KEY)
        .filter((p) => p.phase !== "Terminating" && p.ready)
        .map((p) => [p.node, p.revision]),
    );
  }
  /** Waits until the commit has `want` as its phase, and the agent runs, ready, on exactly `onNodes` (and nowhere else). */
  async function settle(oid: string, want: string, onNodes: string[]): Promise<Record<string, string>> {
    await withLog(waitFor(`commit ${want}`, async () => (await phase(oid)) === want, 120_000, 100));
    return withLog(
      waitFor(
        `agent on ${onNodes.join(", ")}`,
        () => {
          const p = placed();
          const live = op!.fleet.pods(KEY).filter((x) => x.phase !== "Terminating");
          return JSON.stringify(Object.keys(p).sort()) === JSON.stringify(onNodes) && live.length === onNodes.length ? p : undefined;
        },
        60_000,
      ),
    );
  }

  it("runs one pod on every node that fits, and none on a tainted node without a toleration", async () => {
    await repo.write("fleet/nodes.yaml", nodes({ "node-1": { labels: { agent: "yes" } }, "node-2": { labels: { agent: "yes" }, taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] } }));
    await repo.write("apps/agent.yaml", daemonSet("1"));
    const c1 = await repo.commit("agent on labelled nodes");
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
    await settle(c1, "Succeeded", ["node-1"]);
    const record = parse(await statusFile("workloads/default/daemonset-agent.yaml"));
    expect(record.daemonSet).toEqual({
      desiredNumberScheduled: 1,
      currentNumberScheduled: 1,
      numberMisscheduled: 0,
      numberReady: 1,
      updatedNumberScheduled: 1,
      numberAvailable: 1,
      numberUnavailable: 0,
      nodes: ["node-1"],
    });
  }, 300_000);

  it("gives a node added to the fleet a pod, and a node whose taint goes", async () => {
    const tainted = { labels: { agent: "yes" }, taints: [{ key: "dedicated", value: "db", effect: "NoSchedule" }] };
    await repo.write("fleet/nodes.yaml", nodes({ "node-1": { labels: { agent: "yes" } }, "node-2": tainted, "node-3": { labels: { agent: "yes" } } }));
    const c2 = await repo.commit("node-3 joins");
    await settle(c2, "Succeeded", ["node-1", "node-3"]);
    await repo.write("fleet/nodes.yaml", nodes({ "node-1": { labels: { agent: "yes" } }, "node-2": { labels: { agent: "yes" } }, "node-3": { labels: { agent: "yes" } } }));
    const c3 = await repo.commit("node-2 untainted");
    await settle(c3, "Succeeded", ["node-1", "node-2", "node-3"]);
  }, 300_000);

  it("rolls a template change node by node, never more than one node without a ready pod", async () => {
    const before = placed();
    const all = ["node-1", "node-2", "node-3"];
    let worst = 0;
    let worstSeen = "";
    let sampling = true;
    // The operator's view of the agent's pods, sampled all along the rollout.
    const sampler = (async () => {
      while (sampling) {
        const pods = op!.fleet.pods(KEY);
        const ready = new Set(pods.filter((p: ObservedPod) => p.phase !== "Terminating" && p.ready).map((p) => p.node));
        const lacking = all.filter((n) => !ready.has(n)).length;
        if (lacking > worst) {
          worst = lacking;
          worstSeen = JSON.stringify(pods.map((p) => ({ node: p.node, revision: p.revision, phase: p.phase, ready: p.ready, reason: p.reason })));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await repo.write("apps/agent.yaml", daemonSet("2"));
    const c4 = await repo.commit("agent v2");
    const after = await settle(c4, "Succeeded", all);
    sampling = false;
    await sampler;
    expect(new Set(Object.values(after)).size).toBe(1);
    expect(Object.values(after)[0]).not.toBe(Object.values(before)[0]);
    // An upper bound: the sampler may miss a short dip on a loaded machine; one replacement per step is asserted below.
    expect(worst, `${worstSeen}\n${lines.slice(-30).join("\n")}`).toBeLessThanOrEqual(1);
    // One pod replaced per step: the rolling update's events name one pod each.
    const record = parse(await statusFile("workloads/default/daemonset-agent.yaml"));
    const replacing = (record.events as { reason: string; message: string }[]).filter((e) => e.reason === "ReplacingPod");
    expect(replacing.length).toBe(3);
    for (const e of replacing) expect(e.message).toMatch(/^rolling update: removing [^,]+$/);
    expect(record.daemonSet).toMatchObject({ desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 });
  }, 300_000);

  it("rolls back a revision whose container crashes", async () => {
    const stable = placed();
    await repo.write("apps/agent.yaml", daemonSet("3", `["sh", "-c", "exit 1"]`));
    const c5 = await repo.commit("agent v3 crashes");
    await withLog(waitFor("v3 RolledBack", async () => (await phase(c5)) === "RolledBack", 120_000, 100));
    expect(await statusFile(`commits/${c5.slice(0, 2)}/${c5}.yaml`)).toMatch(/CrashLoopBackOff/);
    // Back to the stable revision on every node.
    const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    await withLog(waitFor("every node on the stable revision again", () => same(placed(), stable) || undefined, 90_000));
    // The repository is fixed the way a person would: the agent's file back to the revision that runs.
    await repo.write("apps/agent.yaml", daemonSet("2"));
  }, 300_000);

  it("removes the pod of a node whose labels no longer match the nodeSelector", async () => {
    await repo.write("fleet/nodes.yaml", nodes({ "node-1": {}, "node-2": { labels: { agent: "yes" } }, "node-3": { labels: { agent: "yes" } } }));
    const c6 = await repo.commit("node-1 unlabelled");
    await settle(c6, "Succeeded", ["node-2", "node-3"]);
    const record = parse(await statusFile("workloads/default/daemonset-agent.yaml"));
    expect(record.daemonSet).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0, nodes: ["node-2", "node-3"] });
  }, 300_000);

  it("reports a node that fits but has no room for the pod with the scheduler's reason, and leaves the other pods alone", async () => {
    // node-1 fits the pod again, but takes no pod at all.
    await repo.write("fleet/nodes.yaml", nodes({ "node-1": { labels: { agent: "yes" }, capacity: { pods: 0 } }, "node-2": { labels: { agent: "yes" } }, "node-3": { labels: { agent: "yes" } } }));
    await repo.commit("node-1 labelled again, without room");
    const record = await withLog(
      waitFor(
        "FailedScheduling recorded",
        async () => {
          const r = parse(await statusFile("workloads/default/daemonset-agent.yaml"));
          return (r?.events as { reason: string }[] | undefined)?.some((e) => e.reason === "FailedScheduling") ? r : undefined;
        },
        60_000,
      ),
    );
    const failed = (record.events as { reason: string; message: string }[]).filter((e) => e.reason === "FailedScheduling");
    expect(failed.at(-1)!.message).toMatch(/^0\/3 nodes are available: 1 Too many pods, /);
    expect(record.daemonSet).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 2, nodes: ["node-1", "node-2", "node-3"] });
    expect(Object.keys(placed()).sort()).toEqual(["node-2", "node-3"]);
  }, 300_000);

  it("adopts its pods after an operator restart: none replaced, none added", async () => {
    const before = op!.fleet
      .pods(KEY)
      .map((p) => p.name)
      .sort();
    await op!.stop();
    const from = lines.length;
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
    // The first reconcile after the restart says where the DaemonSet is (after any pod it would create).
    await withLog(waitFor("the DaemonSet reconciled after the restart", () => lines.slice(from).some((l) => l.startsWith(`${KEY} revision `)) || undefined, 60_000));
    expect(
      op.fleet
        .pods(KEY)
        .map((p) => p.name)
        .sort(),
    ).toEqual(before);
  }, 300_000);
});
