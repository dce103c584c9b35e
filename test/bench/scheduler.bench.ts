/**
 * Scheduler benchmark: one scheduling pass over fake snapshot data (no runtime), per case in a fresh process
 * so that each case's peak memory is its own. Prints figures, asserts nothing.
 *
 *   npm run bench:scheduler                 # both cases, 5,000 nodes × 50,000 pods
 *   npx tsx test/bench/scheduler.bench.ts basic 5000 50000
 *   npx tsx test/bench/scheduler.bench.ts spread 5000 50000
 *
 * Case "basic": the default profile, pods without affinity or spread constraints (kube-scheduler's
 * scheduler_perf SchedulingBasic). Case "spread": every Deployment spreads over zones (DoNotSchedule, maxSkew 1)
 * and hostnames (ScheduleAnyway) and keeps its replicas on distinct nodes (required pod anti-affinity).
 * Nodes carry hostname and zone labels (10 zones); 1% are cordoned; they start partly used.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { schedule } from "../../operator/src/scheduler/index.js";
import type { NodeSnapshot, PodRequest, TopologySpreadConstraint, Affinity } from "../../operator/src/scheduler/types.js";

const Mi = 2 ** 20;
const Gi = 2 ** 30;
const REPLICAS = 100;

function makeNodes(n: number): NodeSnapshot[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node-${String(i).padStart(5, "0")}`,
    unschedulable: i % 100 === 99,
    labels: { "kubernetes.io/hostname": `node-${String(i).padStart(5, "0")}`, "topology.kubernetes.io/zone": `zone-${i % 10}` },
    allocatable: { cpuMillis: 32_000, memoryBytes: 128 * Gi, pods: 110 },
    requested: { cpuMillis: (i % 7) * 1000, memoryBytes: (i % 5) * 4 * Gi },
    requestedForScoring: { cpuMillis: (i % 7) * 1000, memoryBytes: (i % 5) * 4 * Gi },
    podCount: i % 7,
    freePorts: 200,
    podsByOwner: {},
  }));
}

const SHAPES = [
  { cpuMillis: 100, memoryBytes: 128 * Mi },
  { cpuMillis: 250, memoryBytes: 256 * Mi },
  { cpuMillis: 0, memoryBytes: 0 },
  { cpuMillis: 500, memoryBytes: 1 * Gi },
];

/** Deployments of REPLICAS replicas each; the replicas of one Deployment share their spec objects, as a template's do. */
function makePods(n: number, spread: boolean): PodRequest[] {
  const out: PodRequest[] = [];
  for (let d = 0; d * REPLICAS < n; d++) {
    const requests = SHAPES[d % SHAPES.length]!;
    const requestsForScoring = { cpuMillis: requests.cpuMillis || 100, memoryBytes: requests.memoryBytes || 200 * Mi };
    const namespace = `ns-${d % 10}`;
    const labels = { app: `app-${d}` };
    const selector = { matchLabels: labels };
    const constraints: TopologySpreadConstraint[] = [
      { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: selector },
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: selector },
    ];
    const affinity: Affinity = {
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: selector, topologyKey: "kubernetes.io/hostname" }] },
    };
    for (let r = 0; r < REPLICAS && out.length < n; r++) {
      const pod: PodRequest = {
        id: `app-${d}-${r}`,
        owner: `Deployment/${namespace}/app-${d}`,
        namespace,
        labels,
        requests,
        requestsForScoring,
        ports: 1,
        images: [`registry.local/app-${d % 50}:v1`],
      };
      if (spread) {
        pod.topologySpreadConstraints = constraints;
        pod.affinity = affinity;
      }
      out.push(pod);
    }
  }
  return out;
}

function runCase(name: string, nodeCount: number, podCount: number): void {
  const spread = name === "spread";
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  sampler.unref();
  // Warm-up on a small fleet so that the JIT has compiled the hot loops before the measured pass.
  schedule(makeNodes(500), makePods(5000, spread));
  const nodes = makeNodes(nodeCount);
  const pods = makePods(podCount, spread);
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const result = schedule(nodes, pods);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  console.log(`case ${name}: ${nodeCount} nodes × ${podCount} pods${spread ? ", zone+hostname spread, hostname anti-affinity" : ", default plugins"}`);
  console.log(`placed: ${result.placements.length}, unschedulable: ${result.unschedulable.length}, seconds: ${seconds.toFixed(2)}`);
  console.log(`pods/s: ${Math.round(podCount / seconds)}`);
  // On a shared machine wall time includes waiting for the CPU; CPU time does not.
  console.log(`cpu seconds: ${cpuSeconds.toFixed(2)} (pods per cpu-second: ${Math.round(podCount / cpuSeconds)})`);
  console.log(`peak rss MiB: ${(peakRss / Mi).toFixed(0)}`);
}

const [caseName, nodesArg, podsArg] = process.argv.slice(2);
if (caseName !== undefined) {
  runCase(caseName, Number(nodesArg ?? 5000), Number(podsArg ?? 50_000));
} else {
  // A published figure, not measured here: printed as a reference with its source, never as a baseline.
  console.log(
    `node ${process.version}; reference (published, not measured in this run): kube-scheduler's scheduler_perf CI thresholds for SchedulingBasic at 5,000 nodes, ` +
      "680 pods/s (10,000 pods) and 810 pods/s (50,000 pods) — kubernetes/kubernetes test/integration/scheduler_perf/misc/performance-config.yaml",
  );
  for (const c of ["basic", "spread"]) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), c, "5000", "50000"], { encoding: "utf8" });
    process.stdout.write(out);
  }
}
