/**
 * Scheduler micro benchmark: one pass placing PODS pods on NODES nodes with the default profile.
 * Prints figures, asserts nothing. Run: npx tsx test/bench/scheduler.bench.ts [nodes] [pods]
 *
 * Also prints a per-phase estimate (filters only, and filters + each score plugin) measured on a sample
 * of the pods, to show where the time goes.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEFAULT_PROFILE, schedule } from "../../operator/src/scheduler/index.js";
import type { NodeSnapshot, PodRequest, SchedulerProfile } from "../../operator/src/scheduler/types.js";

const NODES = Number(process.argv[2] ?? 5000);
const PODS = Number(process.argv[3] ?? 50_000);
const Mi = 2 ** 20;
const Gi = 2 ** 30;

function makeNodes(n: number): NodeSnapshot[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${String(i).padStart(5, "0")}`,
    unschedulable: i % 100 === 99,
    labels: { "kubernetes.io/hostname": `node-${i}` },
    allocatable: { cpuMillis: 32_000, memoryBytes: 128 * Gi, pods: 110 },
    requested: { cpuMillis: (i % 7) * 1000, memoryBytes: (i % 5) * 4 * Gi },
    requestedForScoring: { cpuMillis: (i % 7) * 1000, memoryBytes: (i % 5) * 4 * Gi },
    podCount: i % 7,
    freePorts: 200,
    podsByOwner: {},
  }));
}

/** 500 Deployments of 100 replicas each, with a few request shapes. */
function makePods(n: number): PodRequest[] {
  const shapes = [
    { cpuMillis: 100, memoryBytes: 128 * Mi },
    { cpuMillis: 250, memoryBytes: 256 * Mi },
    { cpuMillis: 0, memoryBytes: 0 },
    { cpuMillis: 500, memoryBytes: 1 * Gi },
  ];
  return Array.from({ length: n }, (_, i) => {
    const owner = Math.floor(i / 100);
    const requests = shapes[owner % shapes.length]!;
    return {
      id: `pod-${i}`,
      owner: `Deployment/ns-${owner % 10}/app-${owner}`,
      requests,
      requestsForScoring: { cpuMillis: requests.cpuMillis || 100, memoryBytes: requests.memoryBytes || 200 * Mi },
      ports: 1,
    };
  });
}

/** The profile of one phase: the default filters with a growing part of the default scores. */
function phaseProfile(phase: string): SchedulerProfile {
  const filters = DEFAULT_PROFILE.filters;
  const scores = DEFAULT_PROFILE.scores;
  switch (phase) {
    case "filters":
      return { filters, scores: [] };
    case "fit":
      return { filters, scores: scores.filter((p) => p.name === "NodeResourcesFit") };
    case "spread":
      return { filters, scores: scores.filter((p) => p.name === "PodTopologySpread") };
    default:
      return DEFAULT_PROFILE;
  }
}

const phase = process.argv[4] ?? "all";
const nodes = makeNodes(NODES);
const pods = makePods(PODS);
const profile = phaseProfile(phase);
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
sampler.unref();

if (phase === "all") console.log(`node ${process.version}, ${NODES} nodes × ${PODS} pods, default profile`);
// Warm-up so that the JIT has compiled the hot loops before the measured pass.
schedule(nodes.slice(0, 500), pods.slice(0, 2000), { profile });

const heapBefore = process.memoryUsage().heapUsed;
const t0 = process.hrtime.bigint();
const result = schedule(nodes, pods, { profile });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const heapAfter = process.memoryUsage().heapUsed;

if (phase !== "all") {
  console.log(`${phase.padEnd(8)} ${PODS} pods in ${seconds.toFixed(2)} s → ${Math.round(PODS / seconds)} pods/s`);
} else {
  console.log(`placed: ${result.placements.length}, unschedulable: ${result.unschedulable.length}`);
  console.log(`seconds: ${seconds.toFixed(2)}`);
  console.log(`pods/s: ${Math.round(PODS / seconds)}`);
  console.log(`node evaluations/s: ${Math.round((PODS * NODES) / seconds)}`);
  console.log(`peak rss MiB: ${(peakRss / Mi).toFixed(0)}`);
  console.log(`heap delta MiB: ${((heapAfter - heapBefore) / Mi).toFixed(0)}`);

  // Where the time goes: each phase in a fresh process (a shared process would make the plugin call
  // sites polymorphic and skew the figures), on the first 5,000 pods.
  const sample = String(Math.min(PODS, 5000));
  console.log(`\nphases (${NODES} nodes, ${sample} pods, one process each): filters only; + LeastAllocated; + PodTopologySpread; all`);
  for (const p of ["filters", "fit", "spread", "default"]) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(NODES), sample, p], {
      encoding: "utf8",
    });
    process.stdout.write(out);
  }
}
