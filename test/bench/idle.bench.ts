/**
 * The operator at rest (plain tsx script; prints figures, asserts nothing, so CI never fails on timing):
 *   npm run bench:idle -- [--pods 1000] [--docker-pods 100] [--seconds 300] [--no-docker] [--cpu-prof FILE]
 *   (COXSWAIN_BENCH_IDLE_SECONDS=30 shortens every window as --seconds does)
 *
 * --cpu-prof writes a V8 CPU profile of part 1's window (open it in Chrome DevTools) and prints the
 * functions with the most self time: what to look at when the operator spends more than it should at rest.
 *
 * Two parts, each a window in which nothing changes (no commit, no container moves), after the operator
 * has brought every pod up and recorded the commit as Succeeded:
 * 1. in this process: the whole operator (startOperator, default intervals) on a real Git repository with
 *    --pods pods on fake runtimes (10 Deployments over 10 nodes). CPU is process.cpuUsage() over the window
 *    (every thread of the process: the event loop, GC and libuv's pool), RSS is the highest sampled — of
 *    this process, so tsx and the bench's own code are in it; the heap still used after a full GC (node's
 *    --expose-gc, which the npm script passes) is printed after the window, and so is the highest RSS of the
 *    start-up before it (loading, the first commit, every pod created), with the heap's spaces then: V8 keeps
 *    the heap it grew to while nothing makes it collect, so the window's RSS is mostly the start-up's;
 * 2. the installed command (operator/bin/coxswain.js: the compiled CLI, as users run it; `npm run bench:idle`
 *    builds it first) running `coxswain run` in a process of its own, on one real dockerd (test/support/docker-fleet.ts)
 *    with --docker-pods pods of the local test image, each with an HTTP readiness probe at Kubernetes'
 *    default period (10 s). CPU is read from /proc/<pid>/stat (utime + stime) over the window, for the
 *    operator and, for information, for the dockerd it talks to.
 * The baseline, measured in each window at the same time: a Node process of its own doing nothing (an
 * interval timer that never fires), read from /proc the same way. Goals (issue 14): < 2 % of one core and
 * < 200 MB RSS.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import os from "node:os";
import { getHeapSpaceStatistics } from "node:v8";
import { parseArgs } from "node:util";
import { FakeRuntime } from "../../operator/src/runtime/fake/index.js";
import { startOperator } from "../../operator/src/sync/operator.js";
import { startFleet } from "../support/docker-fleet.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { buildTestImages, TEST_IMAGES } from "../support/images.js";
import { deploymentYaml, nodesYaml } from "../support/manifests.js";
import { sleep, waitFor } from "../support/wait.js";

const { values } = parseArgs({
  options: {
    pods: { type: "string" },
    "docker-pods": { type: "string" },
    seconds: { type: "string" },
    "no-docker": { type: "boolean" },
    "cpu-prof": { type: "string" },
  },
});
const PODS = Number(values.pods ?? 1_000);
const DOCKER_PODS = Number(values["docker-pods"] ?? 100);
const WINDOW_S = Number(values.seconds ?? process.env.COXSWAIN_BENCH_IDLE_SECONDS ?? 300);
const FAKE_NODES = 10;
const FAKE_DEPLOYMENTS = 10;
const GOAL_CPU_PCT = 2;
/** The RSS goal in MB (10^6 bytes, as the issue states it); RSS is printed in MiB. */
const GOAL_RSS_MB = 200;
const GiB = 2 ** 30;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(ROOT, "operator/bin/coxswain.js");
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (getconf CLK_TCK; 100 on Linux/x86 and arm64). */
const CLK_TCK = 100;
/** RSS is sampled this often during a window (a peak between samples can be missed; the figure is a lower bound of it). */
const RSS_SAMPLE_MS = 5_000;

/** CPU seconds (user + system, every thread) and RSS in MiB of a process, from /proc. */
function procUsage(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 overall
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpuS, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}

/** One measured process: CPU share of one core over the window and the highest RSS sampled. */
interface Figures {
  cpuPct: number;
  rssMb: number;
}

/** A probe of one process's usage: `read` gives CPU seconds so far and the RSS now. */
type Reader = () => { cpuS: number; rssMb: number };

const selfReader: Reader = () => {
  const u = process.cpuUsage();
  return { cpuS: (u.user + u.system) / 1e6, rssMb: process.memoryUsage.rss() / 2 ** 20 };
};

const pidReader =
  (pid: number): Reader =>
  () =>
    procUsage(pid);

/** Measures every reader over one window of WINDOW_S seconds (wall time from the same clock). */
async function measureWindow(readers: Record<string, Reader>): Promise<Record<string, Figures>> {
  const start = Object.fromEntries(Object.entries(readers).map(([k, r]) => [k, r()]));
  const peak: Record<string, number> = Object.fromEntries(Object.entries(start).map(([k, u]) => [k, u.rssMb]));
  const t0 = performance.now();
  const deadline = t0 + WINDOW_S * 1000;
  while (performance.now() < deadline) {
    await sleep(Math.min(RSS_SAMPLE_MS, deadline - performance.now()));
    for (const [k, r] of Object.entries(readers)) peak[k] = Math.max(peak[k]!, r().rssMb);
  }
  const wallS = (performance.now() - t0) / 1000;
  const out: Record<string, Figures> = {};
  for (const [k, r] of Object.entries(readers)) {
    const end = r();
    out[k] = { cpuPct: (100 * (end.cpuS - start[k]!.cpuS)) / wallS, rssMb: Math.max(peak[k]!, end.rssMb) };
  }
  return out;
}

/**
 * An idle Node process (the baseline): an interval timer that never fires keeps it alive and asleep.
 * Resolves once it has started (it says so on stdout), so that its start-up is not counted in the window.
 */
async function idleNode(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 2 ** 31 - 1); process.stdout.write('up\\n')"], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the idle Node process exited (${code})`)));
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(child.pid!, "SIGTERM");
  await exited;
}

async function commitPhase(repo: TestRepo, oid: string): Promise<string | undefined> {
  const text = await runGit(["show", `coxswain/status:commits/${oid.slice(0, 2)}/${oid}.yaml`], { cwd: repo.dir }).catch(() => undefined);
  return /^phase: (\w+)/m.exec(text ?? "")?.[1];
}

/** A V8 CPU profile, as the inspector's Profiler.stop gives it (the parts read here). */
interface CpuProfile {
  nodes: { id: number; hitCount?: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  endTime: number;
}

/** Profiles this process while `fn` runs, writes the profile to `file` and prints the 15 functions with the most self time. */
async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await fn();
  } finally {
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
    const hits = profile.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const msPerHit = (profile.endTime - profile.startTime) / 1000 / Math.max(1, hits);
    const self = new Map<string, number>();
    for (const n of profile.nodes) {
      const f = n.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(operator|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + (n.hitCount ?? 0));
    }
    const top = [...self]
      .filter(([k]) => !k.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 15);
    console.log(`CPU profile of the window written to ${file}; most self time (ms):`);
    for (const [k, h] of top) console.log(`  ${(h * msPerHit).toFixed(0).padStart(7)}  ${k}`);
  }
}

const rows: string[][] = [];
const loadavg = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const pct = (x: number): string => `${x.toFixed(2)} %`;
const mb = (x: number): string => `${x.toFixed(0)} MiB`;
const verdict = (ok: boolean): string => (ok ? "met" : "NOT met");

function report(part: string, figures: Record<string, Figures>, operatorKey: string, load: string): void {
  for (const [what, f] of Object.entries(figures)) {
    const isOperator = what === operatorKey;
    rows.push([
      part,
      what,
      pct(f.cpuPct) + (isOperator ? ` (goal < ${GOAL_CPU_PCT} %: ${verdict(f.cpuPct < GOAL_CPU_PCT)})` : ""),
      mb(f.rssMb) + (isOperator ? ` (${((f.rssMb * 2 ** 20) / 1e6).toFixed(0)} MB; goal < ${GOAL_RSS_MB} MB: ${verdict((f.rssMb * 2 ** 20) / 1e6 < GOAL_RSS_MB)})` : ""),
      load,
    ]);
  }
}

/** The highest RSS sampled while `fn` runs (every 250 ms), with the heap's spaces at that moment (used of size, MiB). */
async function startupPeak<T>(fn: () => Promise<T>): Promise<{ result: T; rssMb: number; spaces: string }> {
  let rssMb = 0;
  let spaces = "";
  const sample = () => {
    const rss = process.memoryUsage.rss() / 2 ** 20;
    if (rss <= rssMb) return;
    rssMb = rss;
    spaces = getHeapSpaceStatistics()
      .filter((x) => x.space_size >= 2 ** 20)
      .map((x) => `${x.space_name} ${mb(x.space_used_size / 2 ** 20)} of ${mb(x.space_size / 2 ** 20)}`)
      .join(", ");
  };
  const timer = setInterval(sample, 250);
  try {
    const result = await fn();
    sample();
    return { result, rssMb, spaces };
  } finally {
    clearInterval(timer);
  }
}

/** Part 1: the operator in this process, PODS pods on fake runtimes. */
async function inProcess(): Promise<void> {
  const repo = await makeRepo();
  const stateDir = await tempDir("coxswain-bench-idle-");
  const runtimes: FakeRuntime[] = [];
  let op: Awaited<ReturnType<typeof startOperator>> | undefined;
  try {
    await repo.write("nodes.yaml", nodesYaml(Array.from({ length: FAKE_NODES }, (_, i) => ({ name: `node-${i + 1}`, capacityPods: Math.ceil((PODS / FAKE_NODES) * 1.5) }))));
    for (let d = 0; d < FAKE_DEPLOYMENTS; d++) {
      const replicas = Math.floor(PODS / FAKE_DEPLOYMENTS) + (d < PODS % FAKE_DEPLOYMENTS ? 1 : 0);
      await repo.write(`apps/app-${d}.yaml`, deploymentYaml({ name: `app-${d}`, replicas, image: "app:v1" }));
    }
    const oid = await repo.commit(`${PODS} pods`);
    const t0 = performance.now();
    const startup = await startupPeak(async () => {
      op = await startOperator({
        repo: repo.dir,
        stateDir,
        runtimeFactory: (node) => {
          const rt = new FakeRuntime({ name: node.name, cpuMillis: 64_000, memoryBytes: 256 * GiB });
          runtimes.push(rt);
          return rt;
        },
      });
      const running = op;
      await waitFor(`${PODS} pods ready`, () => running.fleet.pods().filter((p) => p.ready).length === PODS, 600_000, 250);
      await waitFor(
        "the commit recorded as Succeeded",
        async () => {
          await running.flushStatus();
          return (await commitPhase(repo, oid)) === "Succeeded";
        },
        600_000,
        500,
      );
    });
    console.log(`part 1: ${PODS} pods ready and the commit Succeeded ${((performance.now() - t0) / 1000).toFixed(1)} s after the start; measuring ${WINDOW_S} s at rest (load ${loadavg()})`);
    console.log(`part 1: highest RSS of the start-up ${mb(startup.rssMb)}; heap spaces then (used of size): ${startup.spaces}`);
    const callsBefore = runtimes.map((r) => ({ ...r.calls }));
    const baseline = await idleNode();
    try {
      const load = loadavg();
      const measure = () => measureWindow({ "operator (in this process, with the bench harness)": selfReader, "idle Node process (baseline)": pidReader(baseline.pid!) });
      const figures = values["cpu-prof"] ? await profiled(values["cpu-prof"], measure) : await measure();
      report(`1: ${PODS} pods, fake runtime`, figures, "operator (in this process, with the bench harness)", `${load} → ${loadavg()}`);
    } finally {
      await stopChild(baseline);
    }
    // What the RSS holds: the heap still in use after a full collection (with --expose-gc, as the npm script runs it).
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const m = process.memoryUsage();
    console.log(`part 1: after the window${gc ? " and a full GC" : ""}: heap ${mb(m.heapUsed / 2 ** 20)} used of ${mb(m.heapTotal / 2 ** 20)}, external ${mb(m.external / 2 ** 20)}, RSS ${mb(m.rss / 2 ** 20)}`);
    // Where the heap's size is: a space much larger than what it uses is room V8 grew into (while the pods were
    // created) and keeps, not data the operator holds.
    const spaces = getHeapSpaceStatistics()
      .filter((x) => x.space_size >= 2 ** 20)
      .map((x) => `${x.space_name} ${mb(x.space_used_size / 2 ** 20)} of ${mb(x.space_size / 2 ** 20)}`);
    console.log(`part 1: heap spaces (used of size): ${spaces.join(", ")}`);
    const calls: Record<string, number> = {};
    runtimes.forEach((r, i) => {
      for (const [k, v] of Object.entries(r.calls)) calls[k] = (calls[k] ?? 0) + v - (callsBefore[i]![k as keyof typeof r.calls] ?? 0);
    });
    const moved = Object.entries(calls).filter(([k, v]) => v > 0 && k !== "list");
    console.log(`part 1: runtime calls during the window over ${runtimes.length} nodes: list ${calls.list ?? 0}${moved.length ? `, others: ${moved.map(([k, v]) => `${k} ${v}`).join(", ")}` : " (nothing else)"}`);
  } finally {
    await op?.stop();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** The readiness probe of part 2's pods: httpGet /healthz at Kubernetes' default period (10 s). */
function withDefaultProbe(yaml: string): string {
  return yaml.replace("          ports:\n", "          readinessProbe:\n            httpGet: {path: /healthz, port: http}\n          ports:\n");
}

/** Part 2: the CLI as a process of its own on one real dockerd with DOCKER_PODS pods. */
async function onDocker(): Promise<void> {
  const fleet = await startFleet({ nodes: 1, name: "bench-idle" });
  const repo = await makeRepo();
  const stateDir = await tempDir("coxswain-bench-idle-docker-");
  if (!existsSync(path.join(ROOT, "operator/dist/cli/main.js"))) throw new Error("part 2 runs the compiled CLI: npm run build first (npm run bench:idle does)");
  let operator: ChildProcess | undefined;
  try {
    const node = fleet.nodes[0]!;
    await buildTestImages(node.socketPath);
    await repo.write("fleet/nodes.yaml", fleet.nodeManifests());
    await repo.write("apps/web.yaml", withDefaultProbe(deploymentYaml({ name: "web", replicas: DOCKER_PODS, image: TEST_IMAGES.v1 })));
    const oid = await repo.commit(`${DOCKER_PODS} pods on Docker`);
    const t0 = performance.now();
    const output: string[] = [];
    operator = spawn(process.execPath, [BIN, "run", "--repo", repo.dir, "--state-dir", stateDir, "--log-level", "warn"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [operator.stdout!, operator.stderr!]) stream.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
    const proc = operator;
    await waitFor(
      "the commit recorded as Succeeded",
      async () => {
        if (proc.exitCode !== null) throw new Error(`coxswain run exited with ${proc.exitCode}:\n${output.join("")}`);
        return (await commitPhase(repo, oid)) === "Succeeded";
      },
      900_000,
      1_000,
    );
    console.log(
      `part 2: ${DOCKER_PODS} pods ready on ${node.storageDriver} and the commit Succeeded ${((performance.now() - t0) / 1000).toFixed(1)} s after the start; measuring ${WINDOW_S} s at rest (load ${loadavg()})`,
    );
    const baseline = await idleNode();
    try {
      const load = loadavg();
      const figures = await measureWindow({
        "operator (coxswain run, own process)": pidReader(operator.pid!),
        "idle Node process (baseline)": pidReader(baseline.pid!),
        "its dockerd (for information)": pidReader(node.pid),
      });
      report(`2: ${DOCKER_PODS} pods, Docker`, figures, "operator (coxswain run, own process)", `${load} → ${loadavg()}`);
      // What the operator's RSS is: anonymous memory (the heap, buffers, malloc) and mapped files (node's code).
      const status = readFileSync(`/proc/${operator.pid}/status`, "utf8");
      const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0);
      console.log(`part 2: operator's RSS after the window: ${mb(kb("RssAnon") / 1024)} anonymous, ${mb(kb("RssFile") / 1024)} file-backed`);
    } finally {
      await stopChild(baseline);
    }
  } finally {
    if (operator) await stopChild(operator);
    await fleet.stop();
    await repo.cleanup();
    await rm(stateDir, { recursive: true, force: true });
  }
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs, ${(os.totalmem() / GiB).toFixed(0)} GiB; windows of ${WINDOW_S} s\n`);
await inProcess();
if (!values["no-docker"]) await onDocker();

const header = ["part", "process", "CPU of one core", "RSS (highest)", "load avg (1/5/15 min) start → end"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
console.log(`\n${line(header)}`);
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
