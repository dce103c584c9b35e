/**
 * A Node removed from Git is drained before it leaves, through the whole operator on two real Docker
 * engines. A Deployment of 2 (maxSurge 0, maxUnavailable 2: its own rules would move both pods at once) runs
 * on node 1 (node 2 cordoned) under a PodDisruptionBudget of minAvailable 1, beside a DaemonSet's pod on each
 * node. Node 1 is removed from Git and node 2 opened: node 1 stays in the fleet, leaving, while the web pods
 * move one at a time (never fewer than 1 ready in the operator's view, what the budget counts); then it
 * leaves — its DaemonSet pod does not hold it — and its engine is left without a pod of the operator's.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import type { WorkloadRecord } from "../../../operator/src/status/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { statusFile } from "../../support/in-process-operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { fleetNodes, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-node-removal-test";
const OWNER = "Deployment/default/web";
const enabled = requireDocker("operator node removal");

const APPS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 0, maxUnavailable: 2}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: app, image: ${TEST_IMAGES.v1}, command: [sleep, "3600"]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {name: agent, image: ${TEST_IMAGES.v1}, command: [sleep, "3600"]}
`;

describe.skipIf(!enabled)("a Node removed from Git on two Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];
  let first = "";
  let second = "";

  /** The fleet's Node manifests: node 1 (unless removed), node 2 cordoned (or not). */
  const nodes = (withFirst: boolean, cordonSecond: boolean): string => fleetNodes(fleet, { without: withFirst ? undefined : first, cordon: cordonSecond ? second : undefined });

  const withLog = withLogOf(lines);

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-noderm" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    first = fleet.nodes[0]!.name;
    second = fleet.nodes[1]!.name;
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-noderm-");
    await repo.write("fleet/nodes.yaml", nodes(true, true));
    await repo.write("apps/web.yaml", APPS);
    await repo.commit("web on node 1 under a budget of 1, an agent on every node");
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
  }, 240_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    await fleet?.stop();
  });

  it("drains the removed node one pod at a time under the budget, then it leaves with its daemon pod", async () => {
    const ready = () => op!.fleet.pods(OWNER).filter((p) => p.ready && p.phase === "Running");
    await withLog(
      waitFor(
        "2 ready web pods on node 1 and an agent on each node",
        () => ready().length === 2 && ready().every((p) => p.node === first) && op!.fleet.pods("DaemonSet/default/agent").filter((p) => p.ready).length === 2,
        120_000,
      ),
    );
    const before = ready()
      .map((p) => p.name)
      .sort();

    const seen: { ready: number; state: string }[] = [];
    let leaving = false;
    let leftWith: string | undefined;
    const sample = () => {
      const pods = op!.fleet.pods(OWNER);
      const n = pods.filter((p) => p.ready && p.phase !== "Terminating").length;
      const state = pods
        .map((p) => `${p.name}@${p.node}:${p.phase}${p.ready ? "+ready" : ""}`)
        .sort()
        .join(" ");
      if (seen[seen.length - 1]?.state !== state) seen.push({ ready: n, state });
      const node = op!.fleet.listNodes().find((x) => x.config.name === first);
      if (node?.leaving) leaving = true;
      if (!node && leftWith === undefined) leftWith = state;
    };
    const sampler = setInterval(sample, 10);
    const started = Date.now();
    let leftAfterMs = 0;
    try {
      await repo.write("fleet/nodes.yaml", nodes(false, false));
      await repo.commit("remove node 1, open node 2");
      op!.trigger();
      await withLog(waitFor("node 1 left the fleet", () => !op!.fleet.listNodes().some((x) => x.config.name === first), 120_000, 20));
      leftAfterMs = Date.now() - started;
      await withLog(waitFor("both web pods ready on node 2", () => ready().length === 2 && ready().every((p) => p.node === second), 60_000));
    } finally {
      clearInterval(sampler);
    }
    sample();
    const trace = seen.map((s) => `${s.ready} ready: ${s.state}`).join("\n");
    console.log(`node 1 left ${leftAfterMs} ms after the commit; the operator's view of the web pods:\n${trace}`);
    expect(leaving, trace).toBe(true);
    expect(Math.min(...seen.map((s) => s.ready)), trace).toBeGreaterThanOrEqual(1);
    expect(leftWith, trace).not.toContain(`@${first}:`);
    const rec = (await statusFile<WorkloadRecord>(op!, repo, "workloads/default/deployment-web.yaml"))!;
    const moves = rec.events.filter((e) => e.reason === "ScalingDown").map((e) => e.message);
    expect(moves).toHaveLength(2);
    expect(moves.map((m) => /^moving off a draining node: removing 1 pod\(s\): (web-\S+)$/.exec(m)?.[1]).sort()).toEqual(before);
    // Node 1's engine keeps no pod of the operator's: its agent went with it.
    const docker = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    await withLog(
      waitFor(
        "no pod container left on node 1",
        async () => {
          const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.owner}=${INSTANCE}`] } });
          return left.filter((c) => c.Labels[LABELS.pod] !== undefined).length === 0;
        },
        60_000,
      ),
    );
    expect(op!.fleet.pods("DaemonSet/default/agent").map((p) => p.node)).toEqual([second]);
  }, 300_000);
});
