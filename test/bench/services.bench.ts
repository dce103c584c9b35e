/**
 * Service controller cost at scale (not a test: prints figures, asserts nothing). Run: `npm run bench:services`
 * or `npx tsx test/bench/services.bench.ts [services=1000] [pods=10000] [nodes=20]`. Needs Debian's haproxy
 * (/usr/sbin/haproxy) for the baseline.
 *
 * The real ServiceController (controllers/service) on a desired graph built from manifest text by the real
 * loader: `services` Services, each selecting the pods of a Deployment of its own, `pods` ready pods spread
 * over `nodes` host-network nodes; the node proxies are FakeProxy (test/support/service-harness.ts), so
 * what is measured is the controller's own work — endpoints from the fleet, every node's HAProxy
 * configuration, the runtime-API edits — not HAProxy's.
 *
 * 1. Cold start: the first reconcile of every Service and every node's proxy (each node gets its whole
 *    configuration, a reload).
 * 2. An endpoint change: one pod turns not ready and the fleet tells the controller (podsChanged), whose
 *    queued keys then run as the work queue runs them (one copy each); every node's proxy gets runtime-API
 *    edits (no reload), and the status files are written once.
 * 3. A structural change: one Service more in the commit; every node's proxy reloads.
 * Baseline, in the same run: `haproxy -c` of one node's configuration, the check the real node proxy runs
 * before every reload — what the controller's share is compared with. Each figure is the median of RUNS.
 */
import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ObservedPod } from "../../operator/src/runtime/fleet.js";
import { tempDir } from "../support/git-repo.js";
import { fakeNode, readyPod, serviceHarness } from "../support/service-harness.js";

const SERVICES = Number(process.argv[2] ?? 1_000);
const PODS = Number(process.argv[3] ?? 10_000);
const NODES = Number(process.argv[4] ?? 20);
const RUNS = 5;
const HAPROXY = "/usr/sbin/haproxy";

const run = promisify(execFile);

function manifests(services: number): string {
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-${i}}
spec:
  selector: {matchLabels: {app: app-${i}}}
  template:
    metadata: {labels: {app: app-${i}}}
    spec:
      containers:
        - {name: web, image: "web:1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: app-${i}}
spec:
  selector: {app: app-${i}}
  ports:
    - {name: http, port: ${10_000 + i}, targetPort: http}
`);
  }
  return docs.join("---\n");
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  console.log(
    `service controller: ${SERVICES} Services, ${PODS} pods, ${NODES} nodes; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const nodes = Array.from({ length: NODES }, (_, n) => fakeNode(`node-${n}`, `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`, "host", { from: 30_000, to: 39_999 }));
  const pods: ObservedPod[] = Array.from({ length: PODS }, (_, p) =>
    readyPod({ name: `app-${p % SERVICES}-${p}`, node: nodes[p % NODES]!.name, labels: { app: `app-${p % SERVICES}` }, hostPort: 30_000 + Math.floor(p / NODES) }),
  );
  const text = manifests(SERVICES);
  const more = `${text}---\n${manifests(SERVICES + 1)
    .split("---\n")
    .slice(-2)
    .join("---\n")}`;

  const cold: number[] = [];
  const endpoint: number[] = [];
  const structural: number[] = [];
  let sizes = { bytes: 0, commands: 0, reloads: 0 };
  let config = "";
  for (let r = 0; r < RUNS; r++) {
    for (const p of pods) (p as { ready: boolean }).ready = true;
    const h = serviceHarness({ manifests: text, nodes, pods });
    cold.push(await timed(() => h.run()));
    const n0 = h.proxies.get("node-0")!;
    config = n0.reloads.at(-1) ?? "";
    const reloadsBefore = n0.reloads.length;
    (pods[r] as { ready: boolean }).ready = false;
    // What the fleet says when a pod's readiness changes; then the work queue runs what that queued.
    endpoint.push(
      await timed(async () => {
        h.controller.podsChanged([`Deployment/default/app-${r % SERVICES}`]);
        await h.drain();
      }),
    );
    sizes = { bytes: Buffer.byteLength(config), commands: n0.commands.length, reloads: n0.reloads.length - reloadsBefore };
    h.setManifests(more);
    structural.push(await timed(() => h.run()));
  }
  console.log(`one node's configuration: ${(sizes.bytes / 1024).toFixed(0)} KiB; an endpoint change gave node-0 ${sizes.commands} runtime-API command(s) and ${sizes.reloads} reload(s)`);
  console.log(`1. cold start, every Service and ${NODES} proxies configured: ${fmt(median(cold))} (runs: ${cold.map(fmt).join(", ")})`);
  console.log(`2. one pod not ready → edits on ${NODES} proxies: ${fmt(median(endpoint))} (runs: ${endpoint.map(fmt).join(", ")})`);
  console.log(`3. one Service more → ${NODES} reloads: ${fmt(median(structural))} (runs: ${structural.map(fmt).join(", ")})`);

  const dir = await tempDir("coxswain-services-bench-");
  try {
    const file = join(dir, "haproxy.cfg");
    await writeFile(file, config);
    const checks: number[] = [];
    for (let r = 0; r < RUNS; r++) checks.push(await timed(async () => void (await run(HAPROXY, ["-c", "-q", "-f", file]))));
    console.log(`baseline: haproxy -c of one node's configuration (before every reload of a real proxy): ${fmt(median(checks))} (runs: ${checks.map(fmt).join(", ")})`);
    console.log(`the controller's reload of all ${NODES} nodes ÷ one haproxy -c: ${(median(structural) / median(checks)).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    `load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}

await main();
