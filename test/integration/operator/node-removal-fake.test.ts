/**
 * A Node removed from Git leaves gracefully, through the whole pipeline in-process (a real Git repository,
 * manifests, graph, controllers, status store) with fake runtimes for the engines. A Deployment of 2 (maxSurge
 * 0, maxUnavailable 2: its own rules would move both pods at once) runs on node a (b cordoned), under a
 * PodDisruptionBudget; then a is removed from Git and b opened:
 * - with minAvailable 1 the removed node is drained as `drain: true` drains it — one pod at a time, never
 *   fewer than 1 ready in the operator's view (what the budget counts) — and leaves the fleet after;
 * - with minAvailable 2 its drain is held: the summary's node line says it is leaving and which budget holds
 *   it; adding the node back to Git cancels the leaving, its pods stay;
 * - a removed node that does not answer leaves at once (long before its grace period would make it NotReady).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import type { RunningOperator } from "../../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../../support/git-repo.js";
import { waitFor } from "../../support/wait.js";
import { fakeRuntimeFactory, startTestOperator, stopTestOperator, withLogOf } from "../../support/operator-fixture.js";

const OWNER = "Deployment/default/web";

/** The Node manifests: a (unless `withoutA`), and b (cordoned while `cordonB`). */
function nodes(opts: { withoutA?: boolean; cordonB?: boolean }): string {
  return ["a", "b"]
    .filter((name) => !(name === "a" && opts.withoutA))
    .map((name) =>
      [
        "apiVersion: coxswain.io/v1alpha1",
        "kind: Node",
        `metadata: {name: ${name}}`,
        "spec:",
        `  endpoint: unix:///fake/${name}.sock`,
        "  network: host",
        "  address: 127.0.0.1",
        `  portRange: ${name === "a" ? "43000-43999" : "44000-44999"}`,
        ...(name === "b" && opts.cordonB ? ["  unschedulable: true"] : []),
      ].join("\n"),
    )
    .join("\n---\n");
}

const DEPLOYMENT = `apiVersion: apps/v1
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
      terminationGracePeriodSeconds: 0
      containers: [{name: app, image: "web:1"}]
`;

function budget(minAvailable: number): string {
  return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: ${minAvailable}
  selector: {matchLabels: {app: web}}
`;
}

describe("a Node removed from Git, with fake runtimes", () => {
  let repo: TestRepo;
  let stateDir: string;
  let runtimes: Map<string, FakeRuntime>;
  let op: RunningOperator | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    repo = await makeRepo();
    stateDir = await tempDir("coxswain-node-removal-");
    runtimes = new Map();
    lines.length = 0;
  });

  afterEach(async () => {
    await stopTestOperator(op, repo, stateDir);
    op = undefined;
  });

  const withLog = withLogOf(lines);
  const pods = () => op!.fleet.pods(OWNER);
  const node = (name: string) => op!.fleet.listNodes().find((n) => n.config.name === name);
  const summaryLine = (name: string) => op!.store.summary()?.nodes.find((n) => n.name === name);

  /** The operator on the test's repository, state directory and fake engines (which outlive a restart). */
  function launch(): Promise<RunningOperator> {
    return startTestOperator(repo, stateDir, lines, {
      // Long: a node that does not answer stays Ready (its condition) through every test.
      nodeGraceMs: 120_000,
      seed: 1,
      runtimeFactory: fakeRuntimeFactory(runtimes),
    });
  }

  /** Web and its budget committed with b cordoned, the operator started, both pods ready on a. */
  async function start(minAvailable: number): Promise<string[]> {
    await repo.write("nodes.yaml", nodes({ cordonB: true }));
    await repo.write("web.yaml", DEPLOYMENT);
    await repo.write("budget.yaml", budget(minAvailable));
    await repo.commit("web on a, guarded by a budget");
    op = await launch();
    const ready = await withLog(
      waitFor(
        "2 ready pods on a",
        () => {
          const p = pods();
          return p.length === 2 && p.every((x) => x.node === "a" && x.ready && x.phase === "Running") ? p : undefined;
        },
        30_000,
        50,
      ),
    );
    return ready.map((p) => p.name).sort();
  }

  async function removeA(): Promise<void> {
    await repo.write("nodes.yaml", nodes({ withoutA: true }));
    await repo.commit("remove node a, open b");
    op!.trigger();
  }

  it("drains the removed node one pod at a time under the budget, never below minAvailable ready, then it leaves", async () => {
    const before = await start(1);
    // The operator's view (what the budget counts), sampled until the node has left.
    const seen: { ready: number; state: string }[] = [];
    let sawLeaving = false;
    let leftWith: string | undefined;
    const sample = () => {
      const p = pods();
      const ready = p.filter((x) => x.ready && x.phase !== "Terminating").length;
      const state = p
        .map((x) => `${x.name}@${x.node}:${x.phase}${x.ready ? "+ready" : ""}`)
        .sort()
        .join(" ");
      if (seen[seen.length - 1]?.state !== state) seen.push({ ready, state });
      const a = node("a");
      if (a?.leaving) {
        sawLeaving = true;
        expect(a.config.drain).toBe(true);
      }
      if (!a && leftWith === undefined) leftWith = state;
    };
    const sampler = setInterval(sample, 5);
    try {
      await removeA();
      await withLog(waitFor("node a left the fleet", () => node("a") === undefined, 60_000, 20));
      await withLog(
        waitFor(
          "both pods ready on b",
          () => {
            const p = pods();
            return p.length === 2 && p.every((x) => x.node === "b" && x.ready && x.phase === "Running");
          },
          30_000,
          50,
        ),
      );
    } finally {
      clearInterval(sampler);
    }
    sample();
    const trace = seen.map((s) => `${s.ready} ready: ${s.state}`).join("\n");
    expect(sawLeaving, trace).toBe(true);
    expect(Math.min(...seen.map((s) => s.ready)), trace).toBeGreaterThanOrEqual(1);
    // It left only once no web pod was on it.
    expect(leftWith, trace).not.toMatch(/@a:/);
    // Moved as a drain moves: two removals of one pod each, both of the pods that were on a.
    const rec = op!.store.getWorkload("Deployment", "default", "web")!;
    const moves = rec.events.filter((e) => e.reason === "ScalingDown").map((e) => e.message);
    expect(moves).toHaveLength(2);
    for (const m of moves) expect(m).toMatch(/^moving off a draining node: removing 1 pod\(s\): web-/);
    expect(moves.map((m) => /(web-\S+)$/.exec(m)![1]).sort()).toEqual(before);
    // Node a was left clean, and the summary no longer lists it.
    await withLog(waitFor("a's engine empty", async () => (await runtimes.get("a")!.list()).length === 0, 20_000, 50));
    await withLog(
      waitFor(
        "the summary without a",
        () =>
          op!.store
            .summary()
            ?.nodes.map((n) => n.name)
            .join() === "b",
        20_000,
        50,
      ),
    );
    expect(lines.some((l) => l.includes("node a removed from Git: draining it before it leaves the fleet (2 pod(s) to move)"))).toBe(true);
    expect(lines.some((l) => l.includes("node a removed from Git is drained: it leaves the fleet"))).toBe(true);
  }, 120_000);

  it("a budget holds the removed node's drain, said on its node line; adding the node back cancels the leaving", async () => {
    const before = await start(2);
    await removeA();
    const line = "leaving (removed from Git); drain of node a waits: PodDisruptionBudget default/web allows 0 disruptions (2 healthy, 2 desired)";
    const held = await withLog(waitFor("the node line says leaving and what holds it", () => (summaryLine("a")?.message === line ? summaryLine("a") : undefined), 30_000, 50));
    expect(held).toMatchObject({ leaving: true, draining: true, pods: 2 });
    const rec = op!.store.getWorkload("Deployment", "default", "web")!;
    expect(rec.conditions.find((c) => c.type === "DrainBlocked")).toMatchObject({ status: "True", reason: "DisruptionBudget" });
    expect(rec.events.filter((e) => e.reason === "DisruptionBudget").map((e) => e.message)).toContain(line.slice("leaving (removed from Git); ".length));
    expect(
      pods()
        .map((p) => `${p.name}@${p.node}`)
        .sort(),
    ).toEqual(before.map((n) => `${n}@a`));

    // Back in Git (b cordoned again): a stops leaving, its pods stay where they are.
    await repo.write("nodes.yaml", nodes({ cordonB: true }));
    await repo.commit("node a back");
    op!.trigger();
    await withLog(waitFor("a no longer leaving", () => node("a")?.leaving === false && node("a")?.config.drain === false, 30_000, 50));
    await withLog(
      waitFor(
        "a's node line clear",
        () => {
          const l = summaryLine("a");
          return l !== undefined && l.message === undefined && l.leaving === undefined && l.draining === undefined;
        },
        30_000,
        50,
      ),
    );
    await withLog(waitFor("DrainBlocked cleared", () => op!.store.getWorkload("Deployment", "default", "web")?.conditions.every((c) => c.type !== "DrainBlocked"), 30_000, 50));
    expect(
      pods()
        .map((p) => `${p.name}@${p.node}:${p.phase}`)
        .sort(),
    ).toEqual(before.map((n) => `${n}@a:Running`));
    expect((await runtimes.get("a")!.list()).filter((c) => c.state === "running")).toHaveLength(2);
  }, 120_000);

  it("a removed node that does not answer leaves at once; its pods are replaced on the others", async () => {
    await start(1);
    runtimes.get("a")!.setDown(true);
    await withLog(waitFor("a not answering", () => node("a")?.ready === false, 20_000, 20));
    await removeA();
    await withLog(waitFor("node a left the fleet", () => node("a") === undefined, 30_000, 20));
    expect(lines.some((l) => l.includes("node a removed from Git does not answer: it leaves at once"))).toBe(true);
    expect(lines.some((l) => l.includes("node a removed from Git: draining it"))).toBe(false);
    await withLog(
      waitFor(
        "2 ready pods on b",
        () => {
          const p = pods();
          return p.length === 2 && p.every((x) => x.node === "b" && x.ready);
        },
        30_000,
        50,
      ),
    );
  }, 120_000);
  it("a restart while the removed node's drain is held carries on: the node is back, leaving, its pods neither doubled nor lost, and it leaves once the budget allows", async () => {
    const before = await start(2);
    await removeA();
    await withLog(waitFor("a leaving, held by the budget", () => summaryLine("a")?.leaving === true && /allows 0 disruptions/.test(summaryLine("a")?.message ?? ""), 30_000, 50));
    await op!.stop();
    op = await launch();
    await withLog(waitFor("a back in the fleet, leaving", () => node("a")?.leaving === true && node("a")?.config.drain === true, 30_000, 50));
    expect(lines.some((l) => l.includes("restored 1 node(s) that were leaving when the operator stopped: a"))).toBe(true);
    // Still held: the same two pods on a, none made elsewhere.
    await withLog(waitFor("the held line again", () => /allows 0 disruptions/.test(summaryLine("a")?.message ?? ""), 30_000, 50));
    expect(
      pods()
        .map((p) => `${p.name}@${p.node}`)
        .sort(),
    ).toEqual(before.map((n) => `${n}@a`));
    expect((await runtimes.get("b")!.list()).filter((c) => c.state === "running")).toHaveLength(0);

    await repo.write("budget.yaml", budget(1));
    await repo.commit("budget: minAvailable 1");
    op!.trigger();
    await withLog(waitFor("node a left the fleet", () => node("a") === undefined, 60_000, 20));
    await withLog(
      waitFor(
        "both pods ready on b",
        () => {
          const p = pods();
          return p.length === 2 && p.every((x) => x.node === "b" && x.ready && x.phase === "Running");
        },
        30_000,
        50,
      ),
    );
    await withLog(waitFor("a's engine empty", async () => (await runtimes.get("a")!.list()).length === 0, 20_000, 50));
  }, 120_000);
});
