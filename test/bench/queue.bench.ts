/**
 * Work-queue micro benchmark (not a test: prints figures, never fails on timing).
 *
 *   npx tsx test/bench/queue.bench.ts
 *
 * 100,000 adds over 10,000 keys with a no-op handler, in three shapes, against bare p-queue running
 * 100,000 no-op tasks in the same process (all at once, and 1,000 per turn: p-queue's enqueue gets slower as
 * its queue grows, so the batched row is the fair comparison for the batched WorkQueue row). Each figure is the median of ROUNDS runs after a warm-up.
 * - before start: every add lands while the key is queued, so the queue collapses them to 10,000 runs;
 * - while running: the queue is started first; adds of keys in flight mark them dirty (one more run each);
 * - in batches: 1,000 adds per event-loop turn, the shape of a burst of watch events.
 */
import PQueue from "p-queue";
import { WorkQueue } from "../../operator/src/engine/queue.js";

const ADDS = 100_000;
const KEYS = 10_000;
const CONCURRENCY = 16;
const ROUNDS = 7;
const keys = Array.from({ length: KEYS }, (_, i) => `Deployment/default/web-${i}`);
const turn = () => new Promise<void>((r) => setImmediate(r));

interface Figure {
  ms: number;
  runs: number;
}

async function workQueue(shape: "before start" | "while running" | "in batches"): Promise<Figure> {
  let runs = 0;
  const q = new WorkQueue({ concurrency: CONCURRENCY });
  const handler = async () => void runs++;
  const t0 = performance.now();
  if (shape !== "before start") q.start(handler);
  for (let i = 0; i < ADDS; i++) {
    q.add(keys[i % KEYS]!);
    if (shape === "in batches" && i % 1_000 === 999) await turn();
  }
  if (shape === "before start") q.start(handler);
  await q.onIdle();
  const ms = performance.now() - t0;
  await q.shutdown({ drain: false });
  return { ms, runs };
}

async function bare(batched: boolean): Promise<Figure> {
  let runs = 0;
  const q = new PQueue({ concurrency: CONCURRENCY });
  const t0 = performance.now();
  for (let i = 0; i < ADDS; i++) {
    void q.add(async () => void runs++);
    if (batched && i % 1_000 === 999) await turn();
  }
  await q.onIdle();
  return { ms: performance.now() - t0, runs };
}

async function median(f: () => Promise<Figure>): Promise<Figure> {
  await f(); // warm-up
  const all: Figure[] = [];
  for (let i = 0; i < ROUNDS; i++) all.push(await f());
  all.sort((a, b) => a.ms - b.ms);
  return all[Math.floor(ROUNDS / 2)]!;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const rows: [string, Figure][] = [
  ["WorkQueue, adds before start", await median(() => workQueue("before start"))],
  ["WorkQueue, adds while running", await median(() => workQueue("while running"))],
  ["WorkQueue, 1,000 adds per turn", await median(() => workQueue("in batches"))],
  ["bare p-queue, all at once", await median(() => bare(false))],
  ["bare p-queue, 1,000 per turn", await median(() => bare(true))],
];
console.log(`node ${process.version}, ${ADDS.toLocaleString("en-US")} adds over ${KEYS.toLocaleString("en-US")} keys, concurrency ${CONCURRENCY}, median of ${ROUNDS}`);
console.log("case                              total ms     adds/s   handler runs     runs/s");
for (const [name, f] of rows) {
  console.log(`${name.padEnd(32)} ${f.ms.toFixed(1).padStart(9)} ${fmt((ADDS / f.ms) * 1000).padStart(10)} ${fmt(f.runs).padStart(14)} ${fmt((f.runs / f.ms) * 1000).padStart(10)}`);
}
