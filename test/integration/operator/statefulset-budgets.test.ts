/**
 * A StatefulSet's drain held by a PodDisruptionBudget, through the whole operator (real Git repository,
 * manifests, graph, controllers, status branch) on a fleet of two real Docker engines. A StatefulSet of 2
 * (Parallel, no claims: its pods may move) runs on node 1 (node 2 cordoned); then node 1 is drained and
 * node 2 opened:
 * - with a PodDisruptionBudget minAvailable 2 the drain is held: no pod is removed, and the set's
 *   DrainBlocked condition and DisruptionBudget event and the summary's node line name the budget;
 * - with maxUnavailable 1 the drain goes one ordinal at a time, highest first (db-1, then db-0), each
 *   created again on node 2, and the operator's own view of the pods (what the budget counts) never has
 *   fewer than 1 ready pod.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProxy } from "../../../operator/src/runtime/fake/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import type { SummaryRecord, WorkloadRecord } from "../../../operator/src/status/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { statusFile } from "../../support/in-process-operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";
import { fleetNodes, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const INSTANCE = "cx-pdb-sts-test";
const OWNER = "StatefulSet/default/db";
const enabled = requireDocker("operator StatefulSet drain under a budget");

const STATEFUL_SET = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 2
  serviceName: db
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: ${TEST_IMAGES.v1}
          command: [sleep, "3600"]
`;

function budget(rule: string): string {
  return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: db
spec:
  ${rule}
  selector:
    matchLabels: {app: db}
`;
}

describe.skipIf(!enabled)("a PodDisruptionBudget holds a StatefulSet's drain on two Docker engines", () => {
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
  const record = () => statusFile<WorkloadRecord>(op!, repo, "workloads/default/statefulset-db.yaml");

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "op-pdb-sts" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    first = fleet.nodes[0]!.name;
    second = fleet.nodes[1]!.name;
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-pdb-sts-");
    await repo.write("fleet/nodes.yaml", nodes(false, true));
    await repo.write("apps/db.yaml", STATEFUL_SET);
    await repo.write("apps/db-budget.yaml", budget("minAvailable: 2"));
    await repo.commit("db on node 1, guarded by a budget of 2");
    op = await startTestOperator(repo, stateDir, lines, { instance: INSTANCE, proxyFactory: () => new FakeProxy() });
  }, 180_000);

  afterAll(async () => {
    await stopTestOperator(op, repo, stateDir);
    await fleet?.stop();
  });

  it("holds the drain while the budget allows no disruption, and says which budget holds it", async () => {
    const ready = () => op!.fleet.pods(OWNER).filter((p) => p.ready && p.phase === "Running");
    await withLog(waitFor("db-0 and db-1 ready on node 1", () => ready().length === 2 && ready().every((p) => p.node === first), 90_000));

    await repo.write("fleet/nodes.yaml", nodes(true, false));
    await repo.commit("drain node 1, open node 2");
    op!.trigger();

    const line = `drain of node ${first} waits: PodDisruptionBudget default/db allows 0 disruptions (2 healthy, 2 desired)`;
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
    const rec = await withLog(
      waitFor(
        "the set's DrainBlocked condition",
        async () => {
          const r = await record();
          return r?.conditions.some((c) => c.type === "DrainBlocked") ? r : undefined;
        },
        30_000,
      ),
    );
    expect(rec.conditions.find((c) => c.type === "DrainBlocked")).toMatchObject({ status: "True", reason: "DisruptionBudget", message: line });
    expect(rec.events.filter((e) => e.reason === "DisruptionBudget").map((e) => e.message)).toContain(line);
    // Nothing was moved: both pods still on node 1, and no deletion.
    expect(rec.events.some((e) => e.reason === "SuccessfulDelete")).toBe(false);
    expect(op!.fleet.pods(OWNER).map((p) => [p.name, p.node, p.phase])).toEqual([
      ["db-0", first, "Running"],
      ["db-1", first, "Running"],
    ]);
  }, 180_000);

  it("with maxUnavailable 1, moves the highest ordinal first, one at a time, never below 1 ready", async () => {
    // The operator's view of the db pods (what the budget counts), sampled on every change until the drain ends.
    const seen: { ready: number; pods: string }[] = [];
    const sample = () => {
      const pods = op!.fleet.pods(OWNER);
      const ready = pods.filter((p) => p.ready && p.phase !== "Terminating").length;
      const state = pods.map((p) => `${p.name}@${p.node}:${p.phase}${p.ready ? "+ready" : ""}`).join(" ");
      if (seen[seen.length - 1]?.pods !== state) seen.push({ ready, pods: state });
    };
    const sampler = setInterval(sample, 10);
    try {
      await repo.write("apps/db-budget.yaml", budget("maxUnavailable: 1"));
      await repo.commit("a budget of maxUnavailable 1");
      op!.trigger();
      await withLog(
        waitFor(
          "db-0 and db-1 ready on node 2",
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
    const rec = await withLog(
      waitFor(
        "the drain is no longer blocked",
        async () => {
          const r = await record();
          return r && !r.conditions.some((c) => c.type === "DrainBlocked") ? r : undefined;
        },
        30_000,
      ),
    );
    const deletions = rec.events.filter((e) => e.reason === "SuccessfulDelete").map((e) => e.message);
    expect(deletions).toEqual(["delete Pod db-1 in StatefulSet db", "delete Pod db-0 in StatefulSet db"]);
    const summary = (await statusFile<SummaryRecord>(op!, repo, "summary.yaml"))!;
    expect(summary.nodes.find((n) => n.name === first)?.message).toBeUndefined();
  }, 240_000);
});
