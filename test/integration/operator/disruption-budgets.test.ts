/**
 * PodDisruptionBudgets and drains through the whole operator (real Git repository, manifests, graph,
 * controllers, status branch) on a fleet of two real Docker engines. A Deployment of 2 (maxSurge 0,
 * maxUnavailable 2: its own rules would move both pods at once) runs on node 1 (node 2 cordoned); then node 1
 * is drained and node 2 opened:
 * - with a PodDisruptionBudget minAvailable 2, the drain is blocked: no pod is removed, and the workload's
 *   DrainBlocked condition and DisruptionBudget event, the summary's node line and the budget's status file
 *   name the budget and its figures;
 * - with minAvailable 1 the drain proceeds one pod at a time: every removal event names one pod, and the
 *   operator's own view of the pods (what the budget counts) never has fewer than 1 ready pod.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import type { SummaryRecord, WorkloadRecord } from "../../../operator/src/status/types.js";
import type { BudgetRecord } from "../../../operator/src/status/disruption-budgets.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { statusFile } from "../../support/in-process-operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { fleetNodes, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-pdb-test";
const OWNER = "Deployment/default/web";
const enabled = requireDocker("operator disruption budgets");

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 0, maxUnavailable: 2}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
`;

function budget(minAvailable: number): string {
  return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: ${minAvailable}
  selector:
    matchLabels: {app: web}
`;
}

describe.skipIf(!enabled)("PodDisruptionBudgets hold a drain on two Docker engines", () => {
  let fleet: TestFleet;
  let repo: TestRepo;
  let stateDir: string;
  let op: RunningOperator | undefined;
  const lines: string[] = [];
  let first = "";
  let second = "";

  /** The fleet's Node manifests with node 1 drained (or not) and node 2 cordoned (or not). */
  const nodes = (drainFirst: boolean, cordonSecond: boolean): string => fleetNodes(fleet, { drain: drainFirst ? first : undefined, cordon: cordonSecond ? second : undefined });

  const withLog = withLogOf(lines);
  const record = () => statusFile<WorkloadRecord>(op!, repo, "workloads/default/deployment-web.yaml");

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-pdb" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    first = fleet.nodes[0]!.name;
    second = fleet.nodes[1]!.name;
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-pdb-");
    await repo.write("fleet/nodes.yaml", nodes(false, true));
    await repo.write("apps/web.yaml", DEPLOYMENT);
    await repo.write("apps/web-budget.yaml", budget(2));
    await repo.commit("web on node 1, guarded by a budget of 2");
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    await fleet?.stop();
  });

  it("blocks the drain while the budget allows no disruption, and says which budget holds it", async () => {
    const ready = () => op!.fleet.pods(OWNER).filter((p) => p.ready && p.phase === "Running");
    await withLog(waitFor("2 ready pods on node 1", () => ready().length === 2 && ready().every((p) => p.node === first), 90_000));
    const before = ready()
      .map((p) => p.name)
      .sort();

    await repo.write("fleet/nodes.yaml", nodes(true, false));
    await repo.commit("drain node 1, open node 2");
    op!.trigger();

    const line = `drain of node ${first} waits: PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)`;
    const summary = await withLog(
      waitFor(
        "the summary's node line names the budget",
        async () => {
          const s = await statusFile<SummaryRecord>(op!, repo, "summary.yaml");
          return s?.nodes.find((n) => n.name === first && n.message === line) ? s : undefined;
        },
        60_000,
      ),
    );
    expect(summary.nodes.find((n) => n.name === first)).toMatchObject({ draining: true });
    const rec = (await record())!;
    expect(rec.conditions.find((c) => c.type === "DrainBlocked")).toMatchObject({ status: "True", reason: "DisruptionBudget", message: line });
    expect(rec.events.filter((e) => e.reason === "DisruptionBudget").map((e) => e.message)).toContain(line);
    // Nothing was moved: the same two pods, still on node 1, and no removal for the drain.
    expect(rec.events.some((e) => e.reason === "ScalingDown")).toBe(false);
    expect(
      op!.fleet
        .pods(OWNER)
        .map((p) => [p.name, p.node, p.phase])
        .sort(),
    ).toEqual(before.map((name) => [name, first, "Running"]));
    const pdb = (await statusFile<BudgetRecord>(op!, repo, "disruptionbudgets/default/web.yaml"))!;
    expect(pdb).toMatchObject({
      budget: "default/web",
      minAvailable: 2,
      status: { currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2, conditions: [{ type: "DisruptionAllowed", status: "False", reason: "InsufficientPods" }] },
      pods: before,
    });
  }, 180_000);

  it("with minAvailable 1, drains one pod at a time and never has fewer than 1 ready", async () => {
    // The operator's view of the web pods (what the budget counts), sampled on every change until the drain ends.
    const seen: { ready: number; pods: string }[] = [];
    const sample = () => {
      const pods = op!.fleet.pods(OWNER);
      const ready = pods.filter((p) => p.ready && p.phase !== "Terminating").length;
      const state = pods
        .map((p) => `${p.name}@${p.node}:${p.phase}${p.ready ? "+ready" : ""}`)
        .sort()
        .join(" ");
      if (seen[seen.length - 1]?.pods !== state) seen.push({ ready, pods: state });
    };
    const sampler = setInterval(sample, 10);
    try {
      await repo.write("apps/web-budget.yaml", budget(1));
      await repo.commit("budget of 1");
      op!.trigger();
      await withLog(
        waitFor(
          "both pods ready on node 2",
          () => {
            const pods = op!.fleet.pods(OWNER);
            return pods.length === 2 && pods.every((p) => p.node === second && p.ready && p.phase === "Running");
          },
          120_000,
        ),
      );
    } finally {
      clearInterval(sampler);
    }
    sample();
    expect(Math.min(...seen.map((s) => s.ready)), seen.map((s) => `${s.ready} ready: ${s.pods}`).join("\n")).toBeGreaterThanOrEqual(1);
    const rec = (await record())!;
    const moves = rec.events.filter((e) => e.reason === "ScalingDown").map((e) => e.message);
    expect(moves).toHaveLength(2);
    for (const m of moves) expect(m).toMatch(/^moving off a draining node: removing 1 pod\(s\): web-/);
    await withLog(
      waitFor(
        "the drain is no longer blocked",
        async () => {
          const r = await record();
          return r && !r.conditions.some((c) => c.type === "DrainBlocked") ? r : undefined;
        },
        30_000,
      ),
    );
    const summary = (await statusFile<SummaryRecord>(op!, repo, "summary.yaml"))!;
    expect(summary.nodes.find((n) => n.name === first)?.message).toBeUndefined();
    const pdb = await waitFor(
      "the budget's status after the drain",
      async () => {
        const b = await statusFile<BudgetRecord>(op!, repo, "disruptionbudgets/default/web.yaml");
        return b?.status.currentHealthy === 2 && b.pods.length === 2 ? b : undefined;
      },
      30_000,
    );
    expect(pdb.status).toMatchObject({ currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2 });
  }, 240_000);
});
