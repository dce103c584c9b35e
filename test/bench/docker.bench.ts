/**
 * Docker runtime benchmark (not a test: prints figures, never fails on timing).
 *
 *   npx tsx test/bench/docker.bench.ts [containers=50]
 *
 * Starts a one-node test fleet and measures, in the same run:
 * 1. create+start+remove of N containers through DockerRuntime (run + remove) with concurrency 1, 4 and
 *    10, against the same work through raw dockerode calls (createContainer, start, remove force);
 * 2. list() latency with N running containers: without a watcher (one inspect per container), with a
 *    watcher (inspect answers cached while the event stream is open), and the raw list call alone.
 */
import Docker from "dockerode";
import os from "node:os";
import { DockerRuntime } from "../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../operator/src/runtime/types.js";
import { startFleet } from "../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";

const N = Number(process.argv[2] ?? 50);
const OWNER = "cx-bench";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

/** Runs jobs 0..n-1 with at most `concurrency` at once; returns each job's latency in ms and the wall time. */
async function pool(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<{ wallMs: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await job(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { wallMs: performance.now() - t0, latencies: latencies.sort((a, b) => a - b) };
}

const fleet = await startFleet({ nodes: 1, name: "bench" });
const rows: string[][] = [];
try {
  const node = fleet.nodes[0]!;
  await buildTestImages(node.socketPath);
  const basePort = Number(node.portRange.split("-")[0]);
  const raw = new Docker({ socketPath: node.socketPath });
  const rt = new DockerRuntime({ endpoint: node.endpoint, owner: OWNER, nodeName: node.name });
  const info = await rt.connect();
  console.log(`engine: ${info.engine}, ${info.platform}, storage ${node.storageDriver}, ${os.cpus().length} CPUs, node ${process.version}`);
  console.log(`runtime: maxConcurrentCalls 8 (default); ${N} containers per scenario\n`);

  let round = 0;
  const launchFor = (i: number): ContainerLaunch => {
    const port = basePort + (i % 900);
    return {
      runtimeName: `cx_bench_${round}_${i}`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(port) },
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.specHash]: `b${round}-${i}` },
    };
  };

  // Warm-up: the first container on a fresh engine pays for layer setup.
  round++;
  const warm = await rt.run(launchFor(0));
  await rt.remove(warm.id);

  for (const concurrency of [1, 4, 10]) {
    for (const via of ["DockerRuntime", "raw dockerode"] as const) {
      round++;
      const r = round;
      const { wallMs, latencies } = await pool(N, concurrency, async (i) => {
        if (via === "DockerRuntime") {
          const c = await rt.run(launchFor(i));
          await rt.remove(c.id);
        } else {
          const l = launchFor(i);
          const c = await raw.createContainer({
            name: `cx_bench_${r}_${i}`,
            Image: l.image,
            Env: [`PORT=${l.env.PORT}`],
            Labels: l.labels,
            HostConfig: { NetworkMode: "host", RestartPolicy: { Name: "no" } },
          });
          await c.start();
          await c.remove({ force: true });
        }
      });
      rows.push([`create+start+remove ×${N}`, via, String(concurrency), fmt(wallMs), ((N * 1000) / wallMs).toFixed(1), fmt(percentile(latencies, 50)), fmt(percentile(latencies, 95))]);
    }
  }

  // list() with N running containers.
  round++;
  const running = await pool(N, 8, async (i) => {
    await rt.run(launchFor(i));
  });
  void running;
  const measure = async (label: string, fn: () => Promise<unknown>, times = 20) => {
    await fn(); // warm (fills the cache when a watcher is on)
    const lat: number[] = [];
    for (let i = 0; i < times; i++) {
      const s = performance.now();
      await fn();
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    rows.push([`list() with ${N} running`, label, "1", fmt(lat.reduce((a, b) => a + b, 0)), "", fmt(percentile(lat, 50)), fmt(percentile(lat, 95))]);
  };
  const fresh = new DockerRuntime({ endpoint: node.endpoint, owner: OWNER });
  await measure("DockerRuntime, no watcher (inspect each)", async () => {
    const l = await fresh.list();
    if (l.length !== N) throw new Error(`expected ${N} containers, got ${l.length}`);
  });
  const unwatch = fresh.watch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  await measure("DockerRuntime, watcher on (cached inspects)", () => fresh.list());
  unwatch();
  await measure("raw listContainers (label filter)", () => raw.listContainers({ all: true, filters: { label: [`${LABELS.owner}=${OWNER}`] } }));
  await fresh.close();
  await rt.close();
} finally {
  await fleet.stop();
}

const header = ["scenario", "via", "conc.", "total ms", "per s", "p50 ms", "p95 ms"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
