/**
 * Latency benchmark (not a test: prints figures, asserts nothing). Run: `npm run bench:latency` or
 * `npx tsx test/bench/latency.bench.ts [pushes]`.
 *
 * Push → reconcile start, for the three ways coxswain learns about a push, each over ≥ 30 pushes of a
 * one-line change, with the real operator running in-process (startOperator; the fake runtime stands in
 * for the engines, which play no part before the reconcile starts). "Reconcile start" is the moment the
 * operator prints `commit <oid> …: valid`, i.e. the commit was noticed, read and validated and its changes
 * are handed to the controllers. Each timing starts just before `git push`.
 *
 * - watch:   a bare repository on disk, pushed to with `git push <path>`; chokidar on its refs.
 * - webhook: a remote over the smart-HTTP server; after the push a signed webhook (the generic endpoint)
 *            is POSTed to the operator's own server (startOperator with `listen` and `webhookSecret`, as
 *            `coxswain run --listen … --webhook-secret-file …`), whose onPush triggers an immediate fetch
 *            of the mirror and queues the branch sync.
 * - poll:    the same remote, found by the operator's own poll (interval POLL_MS, default 1 s: the
 *            latency is about half the interval plus a fetch).
 * Baselines in the same run: how long `git push` itself takes (to disk and over HTTP).
 *
 * Pushes in the watch and webhook modes are at least 600 ms apart: the operator holds a head that moves
 * again within 500 ms of its previous move until the burst is over (sync/operator.ts BurstGate), and this
 * bench measures single pushes, not bursts.
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { FakeRuntime } from "../../operator/src/runtime/fake/index.js";
import { sign } from "../../operator/src/server/index.js";
import { startOperator, type RunningOperator } from "../../operator/src/sync/operator.js";
import { makeRepo, runGit, tempDir, type TestRepo } from "../support/git-repo.js";
import { createBareRepo, startGitServer, type GitServer } from "../support/git-server.js";
import { configMapYaml } from "../support/manifests.js";
import { lineLogger } from "../support/log.js";

const PUSHES = Math.max(30, Number(process.argv[2] ?? 30));
const POLL_MS = Number(process.env.POLL_MS ?? 1_000);
const SECRET = randomBytes(24).toString("hex");

interface Stats {
  p50: number;
  p95: number;
  min: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { p50: q(0.5), p95: q(0.95), min: s[0]!, max: s[s.length - 1]! };
}

const fmt = (ms: number): string => (ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);
const rows: string[] = [];
function row(what: string, s: Stats): void {
  const line = `${what.padEnd(44)} ${fmt(s.p50).padStart(9)} ${fmt(s.p95).padStart(9)} ${fmt(s.min).padStart(9)} ${fmt(s.max).padStart(9)}`;
  rows.push(line);
  console.log(line);
}

/** Log lines of the operator → resolves waiters for "commit <short> …: valid". */
class Seen {
  private readonly waiters = new Map<string, (t: number) => void>();
  private readonly early = new Map<string, number>();
  line = (l: string): void => {
    const m = /^commit ([0-9a-f]{7}) .*: valid/.exec(l);
    if (!m) return;
    const t = performance.now();
    const w = this.waiters.get(m[1]!);
    if (w) {
      this.waiters.delete(m[1]!);
      w(t);
    } else this.early.set(m[1]!, t);
  };
  /** Resolves with the time the commit's reconcile started. */
  when(oid: string, timeoutMs = 30_000): Promise<number> {
    const short = oid.slice(0, 7);
    const early = this.early.get(short);
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reconcile of ${short} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(short, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
    });
  }
}

/** stop() that may be called twice (explicitly, then by the final cleanup). */
function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

const fakeRuntime = () => new FakeRuntime({ name: "local", cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 });

async function commitChange(work: TestRepo, i: number): Promise<string> {
  await work.write("config.yaml", configMapYaml("bench", { N: String(i) }));
  return work.commit(`change ${i}`);
}

/**
 * A random gap between pushes: lets the previous commit's work settle, keeps single pushes apart from the
 * burst window (500 ms), and, for the poll, spreads the pushes uniformly over the poll's phase (else every
 * push would land at the same point of the cycle).
 */
async function pause(spreadMs = 250): Promise<void> {
  await new Promise((r) => setTimeout(r, 600 + Math.random() * spreadMs));
}

async function main(): Promise<void> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    console.log(`node ${process.version}, ${(await runGit(["--version"])).trim()}, ${PUSHES} pushes per mode, poll interval ${POLL_MS} ms\n`);
    console.log(`${"push → reconcile start".padEnd(44)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"min".padStart(9)} ${"max".padStart(9)}`);

    // ------------------------------------------------------------ watch (repository on disk)
    {
      const bareRoot = await tempDir("coxswain-bench-");
      cleanup.push(() => rm(bareRoot, { recursive: true, force: true }));
      const bare = await createBareRepo(bareRoot, "app.git");
      const work = await makeRepo();
      cleanup.push(() => work.cleanup());
      await commitChange(work, 0);
      await work.push(bare, "main");
      const state = await tempDir("coxswain-state-");
      cleanup.push(() => rm(state, { recursive: true, force: true }));
      const seen = new Seen();
      const op = await startOperator({
        repo: bare,
        stateDir: state,
        runtime: "process",
        pollMs: 600_000,
        statusDebounceMs: 200,
        log: lineLogger(seen.line),
        runtimeFactory: fakeRuntime,
      });
      const stop = once(() => op.stop());
      cleanup.push(stop);
      const lat: number[] = [];
      const push: number[] = [];
      for (let i = 1; i <= PUSHES; i++) {
        const oid = await commitChange(work, i);
        const t0 = performance.now();
        const reconciled = seen.when(oid);
        await work.push(bare, "main");
        push.push(performance.now() - t0);
        lat.push((await reconciled) - t0);
        await pause();
      }
      row("watch (git push to a repository on disk)", stats(lat));
      row("  baseline: git push to disk", stats(push));
      await stop();
    }

    // ------------------------------------------------------------ remote: webhook and poll
    const root = await tempDir("coxswain-server-");
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    await createBareRepo(root, "app.git");
    const git: GitServer = await startGitServer({ root });
    cleanup.push(() => git.close());
    const url = git.url("app.git");
    const work = await makeRepo();
    cleanup.push(() => work.cleanup());
    let n = 0;
    await commitChange(work, n++);
    await work.push(url, "main");

    // webhook
    {
      const state = await tempDir("coxswain-state-");
      cleanup.push(() => rm(state, { recursive: true, force: true }));
      const seen = new Seen();
      const op: RunningOperator = await startOperator({
        repo: url,
        stateDir: state,
        runtime: "process",
        pollMs: 600_000,
        statusDebounceMs: 200,
        log: lineLogger(seen.line),
        runtimeFactory: fakeRuntime,
        listen: "127.0.0.1:0",
        webhookSecret: SECRET,
        webhookRate: 1_000,
      });
      const stop = once(() => op.stop());
      cleanup.push(stop);
      const server = op.server!;
      const lat: number[] = [];
      const push: number[] = [];
      const hook: number[] = [];
      for (let i = 1; i <= PUSHES; i++) {
        const oid = await commitChange(work, n++);
        const t0 = performance.now();
        const reconciled = seen.when(oid);
        await work.push(url, "main");
        const t1 = performance.now();
        push.push(t1 - t0);
        const body = JSON.stringify({ ref: "refs/heads/main", after: oid });
        const res = await fetch(`${server.url}/api/v1/webhooks/generic`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-coxswain-signature-256": `sha256=${sign(SECRET, body)}` },
          body,
        });
        if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
        hook.push(performance.now() - t1);
        lat.push((await reconciled) - t0);
        await pause();
      }
      row("webhook (git push over HTTP, then the hook)", stats(lat));
      row("  baseline: git push over HTTP", stats(push));
      row("  the webhook request itself", stats(hook));
      await stop();
    }

    // poll
    {
      const state = await tempDir("coxswain-state-");
      cleanup.push(() => rm(state, { recursive: true, force: true }));
      const seen = new Seen();
      const op = await startOperator({ repo: url, stateDir: state, runtime: "process", pollMs: POLL_MS, statusDebounceMs: 200, log: lineLogger(seen.line), runtimeFactory: fakeRuntime });
      const stop = once(() => op.stop());
      cleanup.push(stop);
      const lat: number[] = [];
      for (let i = 1; i <= PUSHES; i++) {
        const oid = await commitChange(work, n++);
        const t0 = performance.now();
        const reconciled = seen.when(oid, POLL_MS * 3 + 30_000);
        await work.push(url, "main");
        lat.push((await reconciled) - t0);
        await pause(POLL_MS);
      }
      row(`poll (every ${POLL_MS} ms)`, stats(lat));
      await stop();
    }
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

await main();
