/**
 * From a commit to ready pods on three real Docker engines (plain tsx script; prints figures, asserts
 * nothing about time, so CI never fails on timing):
 *   npm run bench:converge -- [--replicas 30] [--rounds 3]
 *
 * Three dockerd of a test fleet (test/support/docker-fleet.ts) with the local test images
 * (test/support/images.ts). Measured in the same run:
 * - the baseline: raw dockerode, all at once — create + start the same containers (same image, host
 *   network, PORT in the node's range) spread evenly over the three engines, and probe each one the way
 *   the operator's readiness probe does (runtime/probe.ts runProbe, GET /healthz, first try at once, then
 *   every periodSeconds = 1 s); the time until every one answered. Run before the first round and after
 *   each one (the machine drifts, and these engines' own work loads it: one run's ratio went from 0.77× to
 *   1.30× between runs in the same hour), each round's ratio is taken against the mean of the baselines
 *   just before and after it, and the median of the rounds' ratios is held against the goal; the
 *   baseline's containers are removed before the operator's next step;
 * - the operator in this process (startOperator, default settings) on a Git repository with the three
 *   Node objects, settled: commit a Deployment of --replicas pods (the same image and readiness probe) →
 *   every pod ready (the operator's own view, runtime/fleet.ts pods()); goal ≤ 1.2 × the baseline;
 * - a rolling update (image v1 → v2, default strategy 25 %/25 %): commit → every pod of the new revision
 *   ready and no old pod left — a fresh rollout;
 * - a revert (`git revert` of that commit): → every pod of the old revision ready and no new one left,
 *   against the fresh rollout;
 * - then the Deployment is removed from Git and the round ends once its containers are gone from every
 *   engine. --rounds rounds (default 3) in one operator's life.
 * After each operator step every pod is asked GET / on its port and must answer the expected version.
 * Each operator step is broken down from the operator's own log lines and its pods: when the commit was
 * read (and how long reading it took), when the engines created and started the containers, when the pods
 * became ready.
 * Each figure is printed with the load average (/proc/loadavg) at its end.
 */
import Docker from "dockerode";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import { parseArgs } from "node:util";
import type { ObservedPod } from "../../operator/src/runtime/fleet.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import { runProbe } from "../../operator/src/runtime/probe.js";
import { startOperator, type RunningOperator } from "../../operator/src/sync/operator.js";
import { startFleet, type FleetNode } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml } from "../support/manifests.js";
import { httpGet } from "../support/observe.js";
import { lineLogger } from "../support/log.js";
import { sleep, waitFor } from "../support/wait.js";

const { values } = parseArgs({ options: { replicas: { type: "string" }, rounds: { type: "string" } } });
const REPLICAS = Number(values.replicas ?? 30);
const ROUNDS = Number(values.rounds ?? 3);
const ENGINES = 3;
const GOAL_RATIO = 1.2;
/** The readiness probe's period, in the manifest and in the baseline (deploymentYaml's probe: 1 s). */
const PERIOD_MS = 1_000;
/** How long any one step may take before the bench gives up (a broken run, not a slow one). */
const STEP_LIMIT_MS = 10 * 60_000;
const OWNER = "Deployment/default/web";

const loadavg = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** The baseline: create + start `REPLICAS` containers at once over the engines, probe each until it answers; returns the wall time. */
async function rawBaseline(nodes: readonly FleetNode[], round: string): Promise<number> {
  const engines = nodes.map((n) => new Docker({ socketPath: n.socketPath }));
  const ids: { engine: Docker; id: string }[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: REPLICAS }, async (_, i) => {
      const k = i % nodes.length;
      const engine = engines[k]!;
      // From the top of the node's range: far from the ports the operator assigns (lowest free first).
      const port = Number(nodes[k]!.portRange.split("-")[1]) - Math.floor(i / nodes.length);
      const c = await engine.createContainer({
        name: `cx_bench_${round}_${i}`,
        Image: TEST_IMAGES.v1,
        Env: [`PORT=${port}`],
        HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "no" } },
      });
      ids.push({ engine, id: c.id });
      await c.start();
      for (;;) {
        const tried = performance.now();
        if ((await runProbe({ type: "http", host: "127.0.0.1", port, path: "/healthz" }, PERIOD_MS)).ok) break;
        await sleep(Math.max(0, PERIOD_MS - (performance.now() - tried)));
      }
    }),
  );
  const wall = performance.now() - t0;
  await Promise.all(ids.map(({ engine, id }) => engine.getContainer(id).remove({ force: true })));
  return wall;
}

/** Waits until the Deployment's pods are exactly REPLICAS, all ready and of a revision `wanted` accepts; returns them. */
async function podsSettled(op: RunningOperator, what: string, wanted: (revision: string) => boolean) {
  return waitFor(
    what,
    () => {
      const pods = op.fleet.pods(OWNER);
      return pods.length === REPLICAS && pods.every((p) => p.ready && p.phase === "Running" && wanted(p.revision)) ? pods : undefined;
    },
    STEP_LIMIT_MS,
    10,
  );
}

/** Every pod answers GET / with `version` (what the image serves). */
async function checkServing(op: RunningOperator, version: string): Promise<void> {
  const bodies = await Promise.all(op.fleet.pods(OWNER).map((p) => httpGet(p.ports[0]!.hostPort, "/", 2_000)));
  const wrong = bodies.filter((b) => b?.trim() !== version);
  if (wrong.length > 0) throw new Error(`${wrong.length} of ${bodies.length} pods do not serve ${version}: ${JSON.stringify(wrong.slice(0, 3))}`);
}

async function commitPhase(repo: TestRepo, oid: string): Promise<string | undefined> {
  const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => undefined);
  return /^phase: (\w+)/m.exec(text ?? "")?.[1];
}

/** The containers of pods (any owner) still on the engines. */
async function podContainers(nodes: readonly FleetNode[]): Promise<number> {
  const counts = await Promise.all(nodes.map((n) => new Docker({ socketPath: n.socketPath }).listContainers({ all: true, filters: { label: [LABELS.pod] } })));
  return counts.reduce((sum, list) => sum + list.length, 0);
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const ratios = (xs: readonly number[]): string => xs.map((x) => `${x.toFixed(2)}×`).join(", ");

const web = (image: string): string => deploymentYaml({ name: "web", replicas: REPLICAS, image, probe: true, grace: 5 });

const rows: [string, string, string][] = [];
/** The operator's log lines with the time they were logged (performance.now()). */
const logged: { at: number; line: string }[] = [];

/**
 * Where the time of an operator step begun at `t0` (performance.now()) and `epoch0` (Date.now()) went: when
 * the commit was read, from the operator's log line (and how long reading it took), when the engines created
 * and started the step's containers, and when the operator saw the pods ready (first and last of each).
 */
function breakdown(t0: number, epoch0: number, pods: readonly ObservedPod[]): string {
  const read = logged.find((l) => l.at >= t0 && / read in \d+ ms/.test(l.line));
  const span = (times: number[]): string => {
    const sorted = times.map((t) => t - epoch0).sort((a, b) => a - b);
    return `${secs(sorted[0]!)}–${secs(sorted[sorted.length - 1]!)}`;
  };
  const parts = [
    read ? `commit read at ${secs(read.at - t0)} (reading took ${/ read in (\d+) ms/.exec(read.line)![1]} ms)` : "commit read: not logged",
    `created ${span(pods.map((p) => p.createdAt))}`,
    `started ${span(pods.map((p) => p.containers[0]?.startedAt ?? Number.NaN))}`,
    `ready ${span(pods.map((p) => p.readySince ?? Number.NaN))}`,
  ];
  return `  ${parts.join(", ")}`;
}

const fleet = await startFleet({ nodes: ENGINES, name: "bench-conv" });
const repo = await makeRepo();
const stateDir = await tempDir("coxswain-bench-converge-");
let op: RunningOperator | undefined;
try {
  await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
  console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${ENGINES} engines (${fleet.nodes[0]!.storageDriver}), ${REPLICAS} replicas, readiness probe every ${PERIOD_MS / 1000} s\n`);
  // Warm-up: the first container on a fresh engine pays for setting up its layers.
  await rawBaseline(fleet.nodes, "warm");

  const before = await rawBaseline(fleet.nodes, "before");
  rows.push([`baseline: raw dockerode create+start+probe ×${REPLICAS} (before)`, secs(before), loadavg()]);

  await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
  const nodesOid = await repo.commit("three engines");
  op = await startOperator({ repo: repo.dir, stateDir, log: lineLogger((line) => logged.push({ at: performance.now(), line })) });
  const running = op;
  await waitFor(
    "the nodes' commit Succeeded",
    async () => {
      await running.flushStatus();
      return (await commitPhase(repo, nodesOid)) === "Succeeded";
    },
    STEP_LIMIT_MS,
    200,
  );

  const converges: number[] = [];
  const rollouts: number[] = [];
  const reverts: number[] = [];
  let lastBaseline = before;
  for (let round = 1; round <= ROUNDS; round++) {
    const r = `round ${round}:`;
    // 1. commit → every replica ready.
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v1));
    let t0 = performance.now();
    let epoch0 = Date.now();
    await repo.commit(`web v1 ×${REPLICAS}`);
    op.trigger();
    const v1 = await podsSettled(op, `${REPLICAS} v1 pods ready`, () => true);
    const converge = performance.now() - t0;
    const v1Revision = v1[0]!.revision;
    await checkServing(op, "v1");
    const perEngine = fleet.nodes.map((n) => v1.filter((p) => p.node === n.name).length).join("/");
    rows.push([`${r} operator: commit → ${REPLICAS} pods ready (${perEngine} per engine)`, secs(converge), loadavg()]);
    rows.push([breakdown(t0, epoch0, v1), "", ""]);

    // 2. a rolling update v1 → v2: a fresh rollout.
    await repo.write("apps/web.yaml", web(TEST_IMAGES.v2));
    t0 = performance.now();
    epoch0 = Date.now();
    const v2Oid = await repo.commit("web v2");
    op.trigger();
    const v2 = await podsSettled(op, `${REPLICAS} v2 pods ready, no v1 left`, (rev) => rev !== v1Revision);
    const rollout = performance.now() - t0;
    const v2Revision = v2[0]!.revision;
    await checkServing(op, "v2");
    rows.push([`${r} operator: rolling update v1 → v2 (fresh rollout, 25 %/25 %)`, secs(rollout), loadavg()]);
    rows.push([breakdown(t0, epoch0, v2), "", ""]);

    // 3. revert → the old revision serving again.
    t0 = performance.now();
    epoch0 = Date.now();
    await repo.revert(v2Oid);
    op.trigger();
    const back = await podsSettled(op, `${REPLICAS} v1 pods ready, no v2 left`, (rev) => rev !== v2Revision);
    const revert = performance.now() - t0;
    await checkServing(op, "v1");
    rows.push([`${r} operator: git revert → v1 serving (revision ${back[0]!.revision === v1Revision ? "re-used" : "new"})`, secs(revert), loadavg()]);
    rows.push([breakdown(t0, epoch0, back), "", ""]);

    // 4. the Deployment removed from Git; the round ends when its containers are gone from every engine.
    await repo.rm("apps/web.yaml");
    await repo.commit("web removed");
    op.trigger();
    await waitFor("web's pods and containers gone", async () => running.fleet.pods(OWNER).length === 0 && (await podContainers(fleet.nodes)) === 0, STEP_LIMIT_MS, 50);

    const after = await rawBaseline(fleet.nodes, `after${round}`);
    rows.push([`baseline: raw dockerode create+start+probe ×${REPLICAS} (after round ${round})`, secs(after), loadavg()]);
    const baseline = (lastBaseline + after) / 2;
    lastBaseline = after;
    converges.push(converge / baseline);
    rollouts.push(rollout / baseline);
    reverts.push(revert / rollout);
  }

  const ratio = median(converges);
  rows.push([`commit → ready / baseline (each round against the baselines around it)`, `${ratios(converges)}; median ${ratio.toFixed(2)}× (goal ≤ ${GOAL_RATIO}×: ${ratio <= GOAL_RATIO ? "met" : "NOT met"})`, ""]);
  rows.push([`rolling update / baseline`, `${ratios(rollouts)}; median ${median(rollouts).toFixed(2)}×`, ""]);
  rows.push([`revert / fresh rollout`, `${ratios(reverts)}; median ${median(reverts).toFixed(2)}×`, ""]);
} finally {
  await op?.stop({ stopProxies: true });
  await fleet.stop();
  await repo.cleanup();
  await rm(stateDir, { recursive: true, force: true });
}

const header: [string, string, string] = ["what", "time", "load avg (1/5/15 min) at its end"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: readonly string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
