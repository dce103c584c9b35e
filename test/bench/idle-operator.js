/**
 * The process bench:idle's part 1 measures (test/bench/idle.bench.ts): the compiled operator (operator/dist, as
 * `coxswain run` runs it) with every node on the fake runtime, and nothing else but this file — no tsx, no
 * bench harness. Plain JavaScript so that node runs it as it is.
 *
 *   node test/bench/idle-operator.js '{"repo": DIR, "stateDir": DIR, "nodes": 10}'
 *
 * The parent talks to it over node's IPC channel (spawn's "ipc" stdio): it sends { id, op, ... } and gets
 * { id, result } or { id, error } back. Nothing is sent during the measured window, so the channel costs the
 * window nothing but an idle socket.
 */
import { writeFile } from "node:fs/promises";
import { getHeapSpaceStatistics } from "node:v8";
import { FakeRuntime } from "../../operator/dist/runtime/fake/index.js";
import { startOperator } from "../../operator/dist/sync/operator.js";

const { repo, stateDir, nodes } = JSON.parse(process.argv[2] ?? "{}");
const GiB = 2 ** 30;
/** @type {FakeRuntime[]} */
const runtimes = [];
const op = await startOperator({
  repo,
  stateDir,
  runtimeFactory: (node) => {
    const rt = new FakeRuntime({ name: node.name, cpuMillis: 64_000, memoryBytes: 256 * GiB });
    runtimes.push(rt);
    return rt;
  },
});
/** @type {import("node:inspector/promises").Session | undefined} */
let session;

/** What the parent can ask. */
const ops = {
  /** Pods ready, of how many nodes' runtimes made (every node should have one). */
  ready: () => ({ ready: op.fleet.pods().filter((p) => p.ready).length, runtimes: runtimes.length, nodes }),
  /** Writes the status branch now (the operator does so on its own timer too). */
  flush: () => op.flushStatus(),
  /** The runtime calls so far, summed over every node. */
  calls: () => {
    const sum = {};
    for (const r of runtimes) for (const [k, v] of Object.entries(r.calls)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  },
  /** The heap now (after a full collection when `gc` is asked and node runs with --expose-gc). */
  heap: ({ gc }) => {
    if (gc) globalThis.gc?.();
    return {
      collected: Boolean(gc && globalThis.gc),
      usage: process.memoryUsage(),
      spaces: getHeapSpaceStatistics().map((s) => ({ name: s.space_name, used: s.space_used_size, size: s.space_size })),
    };
  },
  /** Starts V8's CPU profiler (the inspector is loaded only then). */
  profileStart: async () => {
    const { Session } = await import("node:inspector/promises");
    session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  },
  /** Stops it and writes the profile to `file`. */
  profileStop: async ({ file }) => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    await writeFile(file, JSON.stringify(profile));
  },
  /** Stops the operator (its containers stay, as `coxswain run` leaves them); the process exits when the parent disconnects. */
  stop: () => op.stop(),
};

process.on("message", async (msg) => {
  try {
    const result = await ops[msg.op](msg);
    process.send({ id: msg.id, result });
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) });
  }
});
process.send({ id: 0, result: "started" });
