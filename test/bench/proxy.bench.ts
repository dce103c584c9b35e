/**
 * Service data-plane benchmark (not a test: prints figures, asserts nothing). Run: `npm run bench:proxy` or
 * `npx tsx test/bench/proxy.bench.ts [changes=10]` (DURATION_MS=5000 sets each load window). Needs
 * Debian's haproxy (/usr/sbin/haproxy, where the node proxy runs it) and git.
 *
 * Everything runs through the real path: the whole operator in-process (startOperator) on a Git repository
 * with the process runtime, a Deployment `bench-web` (3 pods: small Node HTTP servers, each its own process,
 * on 127.0.0.1), a Service selecting it and an Ingress routing host "bench" to that Service, served by the
 * node's real HAProxy 2.6 (HaproxyProcess, master-worker, runtime API; the operator runs with an ingress
 * HTTP port). The HTTP clients run in a child process of their own (proxy-client.ts), so neither the
 * operator nor a backend shares their event loop.
 *
 * 1. Throughput and latency: N keep-alive clients (8, 32) against the Service's address (HAProxy → 3 pods),
 *    through the ingress port (the Ingress's host and path rules, then the same pods) and straight against
 *    one of those pods, interleaved direct, Service, ingress, ingress, Service, direct so that the machine's
 *    load affects them alike; requests/s, p50, p99, errors, the client's CPU, and each ÷ direct.
 * 2. Endpoint change → served, as a user feels it: the Deployment scaled by a commit (3 → 4 → 3, repeated);
 *    t0 is the first moment anything in the operator reads the new pod as ready (or the leaving pod as
 *    Terminating) from its fleet — what the service controller reads; the fleet's pods() is wrapped to see
 *    it, which the controllers reach within microtasks of the change, so no sampling period or event-loop
 *    delay of a watcher's own adds to or hides from the figure; t1 is the first answer from the new pod
 *    (or the last answer from the leaving one) seen by a probe sending through the Service all the while.
 *    The path between is the operator's own: fleet change → work queue → service controller → proxyEdits
 *    → HaproxyProcess → runtime-API commands. The part before t0 (commit → process started → readiness
 *    probe every 1 s) is printed as context, not counted.
 * 3. A change that needs a reload: a commit that gives the Service a new port (and drops the previous new
 *    one); t0 is the moment the operator has the commit (its "valid" line), t1 the first answer on the new
 *    port (tried every 2 ms).
 * For 2 and 3, the time in the node proxy's apply() (runtime-API commands, or `haproxy -c` + reload + the
 * new worker serving) is measured by wrapping the real proxy factory, and the probe's failed requests over
 * all the changes are printed (a pod leaves drained; reloads are hitless). The Ingress is part of every
 * change: an endpoint change edits its backend too, and a reload loads its frontend.
 *
 * Times across processes are CLOCK_MONOTONIC. Output lines come in a fixed order; figures vary from run to
 * run on a loaded machine (the load average is printed at the start and the end).
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { Fleet, ObservedPod } from "../../operator/src/runtime/fleet.js";
import { ProcessRuntime } from "../../operator/src/runtime/process/index.js";
import { nodeProxyFactory, type ProxyFactory } from "../../operator/src/runtime/proxy/index.js";
import type { ProxyChange } from "../../operator/src/runtime/proxy/types.js";
import { startOperator, type RunningOperator } from "../../operator/src/sync/operator.js";
import { makeRepo, tempDir, type TestRepo } from "../support/git-repo.js";
import { deploymentYaml, ingressYaml, serviceYaml } from "../support/manifests.js";
import { waitFor } from "../support/wait.js";
import { monotonicMs, type ClientAsk, type ClientReply, type ClientRequest, type FirstAnswer, type LoadResult, type ProbeSeen } from "./proxy-client.js";
import { lineLogger } from "../support/log.js";

const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
/** Where the node proxy (HaproxyProcess's default) runs HAProxy. */
const HAPROXY = "/usr/sbin/haproxy";
const CHANGES = Math.max(5, Number(process.argv[2] ?? 10));
const DURATION_MS = Number(process.env.DURATION_MS ?? 5_000);
const WARMUP_MS = 1_000;
const CLIENTS = [8, 32];
const NAME = "bench-web";
const OWNER = `Deployment/default/${NAME}`;
const PORT = 18080;
/** The operator's ingress HTTP port, on the node's address (127.0.0.1). */
const INGRESS_PORT = 18081;
/** The reload changes add port EXTRA_PORT + i. */
const EXTRA_PORT = 19000;
/** Host ports of the pods; away from the test suites' ranges and from the ephemeral ports. */
const PORT_RANGE = { from: 64100, to: 64199 };
const PODS = 3;
const PROBE = { connections: 2, gapMs: 1 };
/** A new Service port is tried this often. */
const TRY_PORT_MS = 2;

/**
 * A backend pod: answers every request at once with its pod name (Content-Length framed), keeps
 * connections alive, and exits at once on SIGTERM — only being taken out of the proxy first keeps
 * clients whole when it leaves.
 */
const APP = `
const http = require("node:http");
const body = Buffer.from(process.env.COXSWAIN_POD + "\\n");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

// ------------------------------------------------------------------ figures

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
const ms = (x: number): string => (Math.abs(x) < 10 ? `${x.toFixed(2)} ms` : Math.abs(x) < 100 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`);
const int = (x: number): string => String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const errorText = (errors: Record<string, number>): string => {
  const total = Object.values(errors).reduce((a, b) => a + b, 0);
  const kinds = Object.keys(errors).sort();
  return total === 0 ? "0" : `${total} (${kinds.map((k) => `${k}: ${errors[k]}`).join(", ")})`;
};

/** p50 / p95 / max / min of a list of latencies, one row. */
function latencyRow(what: string, xs: readonly number[]): string {
  if (xs.length === 0) return `   ${what.padEnd(60)} (no samples)`;
  const s = [...xs].sort((a, b) => a - b);
  return `   ${what.padEnd(60)} ${ms(quantile(s, 0.5)).padStart(9)} ${ms(quantile(s, 0.95)).padStart(9)} ${ms(s[s.length - 1]!).padStart(9)} ${ms(s[0]!).padStart(9)}`;
}

// ------------------------------------------------------------------ the client process

/** The client child process and its request/reply channel. */
class Client {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.on("message", (m: ClientReply) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(`client: ${m.error}`));
      else w?.resolve(m.result);
    });
    this.exited = new Promise((r) => child.once("exit", () => r()));
    void this.exited.then(() => {
      for (const w of this.waiting.values()) w.reject(new Error("the client process exited"));
      this.waiting.clear();
    });
  }

  static start(): Client {
    return new Client(fork(join(ROOT, "test/bench/proxy-client.ts"), [], { cwd: ROOT, execArgv: ["--import", "tsx"], serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  }

  call<T>(ask: ClientAsk): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
      this.child.send({ ...ask, id } satisfies ClientRequest);
    });
  }

  /** Closes the channel (the child exits on it); then, if it lingers, SIGKILL to its pid. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------ the node proxy, timed

/** One apply() of the node proxy: when it was called and when it returned (NaN while it runs, or after it failed). */
interface ApplyRecord {
  kind: "reload" | "edit";
  start: number;
  end: number;
}

/** The real proxy factory, each apply() timed into `records` in the order called. */
function timedProxies(inner: ProxyFactory, records: ApplyRecord[]): ProxyFactory {
  return (node) => {
    const proxy = inner(node);
    return {
      async apply(change: ProxyChange) {
        const record: ApplyRecord = { kind: change.reload ? "reload" : "edit", start: monotonicMs(), end: Number.NaN };
        records.push(record);
        await proxy.apply(change);
        record.end = monotonicMs();
      },
      health: () => proxy.health(),
      stats: () => proxy.stats(),
      close: () => proxy.close(),
    };
  };
}

/** One command on a HAProxy CLI socket; resolves with its answer. */
function cli(socket: string, command: string): Promise<string> {
  return new Promise((resolveAnswer, reject) => {
    const chunks: Buffer[] = [];
    const conn = connect(socket, () => conn.end(`${command}\n`));
    conn.on("data", (c: Buffer) => chunks.push(c));
    conn.on("end", () => resolveAnswer(Buffer.concat(chunks).toString("utf8")));
    conn.on("error", reject);
  });
}

// ------------------------------------------------------------------ main

/** When a pod was first read from the fleet as ready, and as Terminating (monotonic ms). */
interface PodSeen {
  ready?: number;
  terminating?: number;
}

/**
 * Wraps `fleet.pods()` (instrumentation: what it returns is unchanged) to note, per pod of `owner`, the
 * first call that returned it ready and the first that returned it Terminating. The fleet changes a pod
 * and tells the controllers synchronously, and their reconciles read pods() within microtasks, so the
 * first such read is the moment the operator knows — with no poll period of the bench's own. Returns the
 * notes and the unwrapped pods() for the bench's own reads (which must not count).
 */
function watchPods(fleet: Fleet, owner: string): { seen: Map<string, PodSeen>; pods: (owner?: string) => ObservedPod[] } {
  const seen = new Map<string, PodSeen>();
  const pods = fleet.pods.bind(fleet);
  fleet.pods = (o?: string): ObservedPod[] => {
    const list = pods(o);
    const at = monotonicMs();
    for (const p of list) {
      if (p.owner !== owner) continue;
      let s = seen.get(p.name);
      if (s === undefined) seen.set(p.name, (s = {}));
      if (p.ready && s.ready === undefined) s.ready = at;
      if (p.phase === "Terminating" && s.terminating === undefined) s.terminating = at;
    }
    return list;
  };
  return { seen, pods };
}

async function main(): Promise<void> {
  if (!existsSync(HAPROXY)) {
    console.error(`bench:proxy needs HAProxy 2.6 or later at ${HAPROXY} (apt-get install -y haproxy)`);
    process.exitCode = 1;
    return;
  }
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
    })());
  const onSignal = (): void => {
    void cleanup().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const logLines: string[] = [];
  try {
    const load = os.loadavg();
    const cpus = os.cpus();
    console.log(`machine: ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? "unknown"}), load average ${load.map((l) => l.toFixed(2)).join(" / ")} (1 / 5 / 15 min) at the start; node ${process.version}`);
    if (load[0]! > cpus.length / 2) {
      console.log(`note: the load average is ${load[0]!.toFixed(1)} on ${cpus.length} CPUs: other work shares this machine, so the figures are noisy (compare within one run)`);
    }

    // ---------------------------------------------------------------- the operator, its pods and Service
    const appDir = await tempDir("coxswain-bench-app-");
    cleanups.push(() => rm(appDir, { recursive: true, force: true }));
    const appFile = join(appDir, "app.cjs");
    await writeFile(appFile, APP);
    const repo: TestRepo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    const stateDir = await tempDir("coxswain-bench-state-");
    cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
    // Pods are processes in their own groups: they outlive the operator, so they are removed by pid here.
    cleanups.push(async () => {
      const rt = new ProcessRuntime({ stateDir, owner: "coxswain" });
      for (const c of await rt.list()) await rt.remove(c.id);
      await rt.close();
    });
    const web = (replicas: number): string => deploymentYaml({ name: NAME, replicas, command: [process.execPath, appFile], probe: true, grace: 10 });
    const service = (extraPort?: number): string =>
      serviceYaml({
        name: NAME,
        ports: [{ name: "http", port: PORT, targetPort: "http" }, ...(extraPort === undefined ? [] : [{ name: "http-extra", port: extraPort, targetPort: "http" }])],
      });
    await repo.write("web.yaml", web(PODS));
    await repo.write("svc.yaml", service());
    // The client sends "Host: bench".
    await repo.write("ingress.yaml", ingressYaml({ name: NAME, rules: [{ host: "bench", paths: [{ path: "/", service: NAME, port: PORT }] }] }));
    await repo.commit("bench-web, its Service and an Ingress to it");

    const applies: ApplyRecord[] = [];
    /** Short oid → monotonic ms of the operator's "valid" line: the moment it has the commit. */
    const validAt = new Map<string, number>();
    const op: RunningOperator = await startOperator({
      repo: repo.dir,
      stateDir,
      runtime: "process",
      defaultPortRange: PORT_RANGE,
      ingress: { httpPort: INGRESS_PORT },
      proxyFactory: timedProxies(
        nodeProxyFactory(stateDir, () => undefined),
        applies,
      ), // process runtime: local HAProxy
      log: lineLogger((line) => {
        const m = /^commit ([0-9a-f]{7}) .*: valid/.exec(line);
        if (m) validAt.set(m[1]!, monotonicMs());
        logLines.push(line);
        if (logLines.length > 200) logLines.shift();
      }),
    });
    cleanups.push(() => op.stop({ stopProxies: true }));
    const watched = watchPods(op.fleet, OWNER);
    const podSeen = watched.seen;
    const podsOf = (): ObservedPod[] => watched.pods(OWNER);
    const address = await waitFor(
      `Service ${NAME} served by ${PODS} ready pods`,
      () => {
        const text = op.store.getFile(`services/default/${NAME}.yaml`);
        const s = text === undefined ? undefined : (parse(text) as { ports: { endpoints: { ready: unknown[] } }[]; nodes: { address?: string; serving: boolean }[] });
        return s && s.ports[0]!.endpoints.ready.length === PODS && s.nodes[0]?.serving === true ? s.nodes[0].address : undefined;
      },
      120_000,
    );
    const info = await cli(join(stateDir, "proxy", "local", "stats.sock"), "show info");
    const field = (name: string): string => new RegExp(`^${name}: (.*)$`, "m").exec(info)?.[1] ?? "?";
    console.log(`proxy: HAProxy ${field("Version")} (${field("Nbthread")} threads), master-worker, as the operator runs it on a process-runtime node`);
    console.log(`Service default/${NAME} at ${address}:${PORT} (HTTP mode, round robin) → ${PODS} pods of Deployment ${NAME}; backends: Node ${process.version} HTTP servers, one process each, answering at once`);
    console.log(`Ingress default/${NAME}: host bench, path / (Prefix) → that Service, at 127.0.0.1:${INGRESS_PORT} (the operator's ingress HTTP port)\n`);

    const client = Client.start();
    cleanups.push(() => client.stop());
    // Every pod answers through the Service and through the ingress before anything is measured.
    for (const [host, port] of [
      [address, PORT],
      ["127.0.0.1", INGRESS_PORT],
    ] as const) {
      const seen = new Set<string>();
      await waitFor(`every pod answering through ${host}:${port}`, async () => {
        const r = await client.call<LoadResult>({ type: "load", host, port, clients: 4, warmupMs: 0, durationMs: 300 });
        for (const b of Object.keys(r.byBackend)) seen.add(b);
        return seen.size === PODS;
      });
    }

    // ---------------------------------------------------------------- 1. throughput and latency
    {
      const direct = podsOf()[0]!;
      const directPort = direct.ports.find((p) => p.name === "http")!.hostPort;
      const targets = { direct: { host: "127.0.0.1", port: directPort }, service: { host: address, port: PORT }, ingress: { host: "127.0.0.1", port: INGRESS_PORT } };
      console.log(
        `1. Throughput and latency: closed loop (a client sends when its previous request answered), pre-opened keep-alive connections, ${WARMUP_MS} ms warm-up, then 2 × ${DURATION_MS} ms per target, interleaved direct, Service, ingress, ingress, Service, direct`,
      );
      console.log(`   ${"clients  target".padEnd(44)} ${"req/s".padStart(8)} ${"p50".padStart(9)} ${"p99".padStart(9)}  ${"client CPU".padStart(10)}  errors`);
      for (const clients of CLIENTS) {
        const runs: Record<keyof typeof targets, LoadResult[]> = { direct: [], service: [], ingress: [] };
        for (const which of ["direct", "service", "ingress", "ingress", "service", "direct"] as const) {
          runs[which].push(await client.call<LoadResult>({ type: "load", ...targets[which], clients, warmupMs: WARMUP_MS, durationMs: DURATION_MS }));
        }
        const summary = (rs: LoadResult[]) => {
          const latencies = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
          const errors: Record<string, number> = {};
          for (const r of rs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
          const byBackend: Record<string, number> = {};
          for (const r of rs) for (const [k, v] of Object.entries(r.byBackend)) byBackend[k] = (byBackend[k] ?? 0) + v;
          return {
            rps: (rs.reduce((a, r) => a + r.requests, 0) / rs.reduce((a, r) => a + r.windowMs, 0)) * 1000,
            p50: quantile(latencies, 0.5),
            p99: quantile(latencies, 0.99),
            cpu: rs.reduce((a, r) => a + r.cpu, 0) / rs.length,
            errors,
            reconnects: rs.reduce((a, r) => a + r.reconnects, 0),
            byBackend,
          };
        };
        const d = summary(runs.direct);
        const s = summary(runs.service);
        const g = summary(runs.ingress);
        const row = (what: string, x: typeof d): string =>
          `   ${`${String(clients).padEnd(8)} ${what}`.padEnd(44)} ${int(x.rps).padStart(8)} ${ms(x.p50).padStart(9)} ${ms(x.p99).padStart(9)}  ${`${Math.round(x.cpu * 100)}%`.padStart(10)}  ${errorText(x.errors)}${x.reconnects > 0 ? `; ${x.reconnects} reconnects` : ""}`;
        const ratio = (what: string, x: typeof d): string =>
          `   ${`${String(clients).padEnd(8)} ${what} ÷ direct`.padEnd(44)} ${(x.rps / d.rps).toFixed(2).padStart(8)} ${(x.p50 / d.p50).toFixed(2).padStart(9)} ${(x.p99 / d.p99).toFixed(2).padStart(9)}`;
        /** How the requests of a target spread over the pods. */
        const shares = (x: typeof d): string => {
          const total = Object.values(x.byBackend).reduce((a, b) => a + b, 0);
          return Object.values(x.byBackend)
            .map((n) => Math.round((n / total) * 100))
            .sort((a, b) => a - b)
            .map((p) => `${p}%`)
            .join(" / ");
        };
        console.log(row("direct to one pod", d));
        console.log(row(`Service (HAProxy → ${PODS} pods)`, s));
        console.log(row(`ingress (host, path → ${PODS} pods)`, g));
        console.log(ratio("Service", s));
        console.log(ratio("ingress", g));
        console.log(`   ${"".padEnd(8)} requests per pod: Service ${shares(s)}; ingress ${shares(g)}`);
      }
      console.log("   (client CPU: the load generator's share of one core in the window; near 100% means it, not the target, set the pace)\n");
    }

    // ---------------------------------------------------------------- 2. endpoint changes (runtime API)
    await client.call({ type: "probe-start", host: address, port: PORT, ...PROBE });
    const probeSeen = (): Promise<ProbeSeen> => client.call<ProbeSeen>({ type: "probe-seen" });
    /** Per measured change: its t0 and t1 (monotonic ms). */
    const joins: { t0: number; t1: number; committedAt: number }[] = [];
    const leaves: { pod: string; t0: number; t1: number }[] = [];
    const reloads: { t0: number; t1: number }[] = [];
    let lastCommitAt = 0;
    /** Commits at least 600 ms after the previous commit (a head that moves again within 500 ms is held as a burst); returns the oid and when. */
    const commit = async (file: string, text: string, message: string): Promise<{ oid: string; at: number }> => {
      await new Promise((r) => setTimeout(r, Math.max(0, lastCommitAt + 600 - monotonicMs())));
      await repo.write(file, text);
      lastCommitAt = monotonicMs();
      return { oid: await repo.commit(message), at: lastCommitAt };
    };
    for (let i = 1; i <= CHANGES; i++) {
      // Join: 3 → 4, measured once the probe has had an answer from the new pod.
      const known = new Set([...podSeen.keys(), ...podsOf().map((p) => p.name)]);
      const { at: committedAt } = await commit("web.yaml", web(PODS + 1), `scale to ${PODS + 1} (${i})`);
      const joined = await waitFor("a new pod ready in the fleet", () => [...podSeen].find(([name, s]) => !known.has(name) && s.ready !== undefined), 60_000, 20);
      const first = await waitFor(`an answer from ${joined[0]} through the Service`, async () => (await probeSeen()).backends[joined[0]]?.first, 30_000, 20);
      joins.push({ t0: joined[1].ready!, t1: first, committedAt });
      // Leave: 4 → 3, measured once the pod is gone (stopped and removed) and 3 pods are ready again.
      await commit("web.yaml", web(PODS), `scale to ${PODS} (${i})`);
      const [leaving, s] = await waitFor("a pod Terminating in the fleet", () => [...podSeen].find(([name, x]) => x.terminating !== undefined && !leaves.some((l) => l.pod === name)), 60_000, 20);
      await waitFor(`${leaving} gone`, () => !podsOf().some((p) => p.name === leaving) && podsOf().filter((p) => p.ready).length === PODS, 60_000, 20);
      const last = (await probeSeen()).backends[leaving]?.last;
      if (last === undefined) throw new Error(`the probe never had an answer from ${leaving}`);
      leaves.push({ pod: leaving, t0: s.terminating!, t1: last });
    }
    const afterScaling = await probeSeen();

    // ---------------------------------------------------------------- 3. a new Service port (reload)
    for (let i = 1; i <= CHANGES; i++) {
      const port = EXTRA_PORT + i;
      const answered = client.call<FirstAnswer>({ type: "first-answer", host: address, port, everyMs: TRY_PORT_MS, timeoutMs: 60_000 });
      const { oid } = await commit("svc.yaml", service(port), `Service port ${port}`);
      const t0 = await waitFor(`the operator has ${oid.slice(0, 7)}`, () => validAt.get(oid.slice(0, 7)), 30_000, 5);
      const a = await answered;
      if (a.at === undefined) throw new Error(`no answer on the new port ${port} within 60 s`);
      reloads.push({ t0, t1: a.at });
    }
    const seen = await probeSeen();
    await client.call({ type: "probe-stop" });
    // A reload's apply() returns once HaproxyProcess has seen the new worker serve, which can be after the first answer.
    await waitFor("the last proxy apply() returned", () => applies.every((a) => !Number.isNaN(a.end)) || undefined, 30_000, 20);

    /** The first apply of `kind` called at or after t0: nothing else changes the proxy around a measured change. */
    const applyAfter = (t0: number, kind: ApplyRecord["kind"]): ApplyRecord | undefined => applies.find((a) => a.kind === kind && a.start >= t0);
    const breakdown = (changes: readonly { t0: number }[], kind: ApplyRecord["kind"]): { toApply: number[]; apply: number[] } => {
      const found = changes.flatMap((c) => {
        const a = applyAfter(c.t0, kind);
        return a ? [{ toApply: a.start - c.t0, apply: a.end - a.start }] : [];
      });
      return { toApply: found.map((f) => f.toApply), apply: found.map((f) => f.apply) };
    };
    const joinParts = breakdown(joins, "edit");
    const leaveParts = breakdown(leaves, "edit");
    const reloadParts = breakdown(reloads, "reload");
    const probeSeconds = (monotonicMs() - seen.since) / 1000;
    const rate = seen.requests / probeSeconds;
    console.log(`2. Endpoint change → served, ${CHANGES} changes each, through the whole operator (process runtime, real HAProxy): what a user feels once the operator knows`);
    console.log("   t0: the operator first reads the pod ready / Terminating from its fleet, or has the commit; t1: the probe's first / last answer from the pod, or the first answer on the new port");
    console.log(`   ${"".padEnd(60)} ${"p50".padStart(9)} ${"p95".padStart(9)} ${"max".padStart(9)} ${"min".padStart(9)}`);
    const spans = (xs: readonly { t0: number; t1: number }[]): number[] => xs.map((x) => x.t1 - x.t0);
    console.log(latencyRow("pod ready → first answer from it (runtime-API edit)", spans(joins)));
    console.log(latencyRow("  t0 → proxy apply() called (queue, endpoints, edits)", joinParts.toApply));
    console.log(latencyRow("  apply(): runtime-API commands on the stats socket", joinParts.apply));
    console.log(latencyRow("pod Terminating → last answer from it (runtime-API drain)", spans(leaves)));
    console.log(latencyRow("  t0 → proxy apply() called", leaveParts.toApply));
    console.log(latencyRow("  apply(): runtime-API commands", leaveParts.apply));
    console.log(latencyRow("new Service port → first answer on it (reload)", spans(reloads)));
    console.log(latencyRow("  t0 → proxy apply() called", reloadParts.toApply));
    console.log(latencyRow("  apply(): haproxy -c, reload, new worker serving", reloadParts.apply));
    console.log(
      latencyRow(
        "context: commit → new pod ready (start, 1 s probe)",
        joins.map((j) => j.t0 - j.committedAt),
      ),
    );
    const errors = (s: ProbeSeen): Record<string, number> => Object.fromEntries(Object.entries(s.errors).map(([k, v]) => [k, v.count]));
    console.log(`   probe: ${PROBE.connections} keep-alive connections, ${int(rate)} requests/s through the Service: a pod among ${PODS + 1} answers about every ${ms((1000 * (PODS + 1)) / rate)}, the resolution of t1`);
    console.log("   (a negative figure: the pod's last answer came before t0, and no probe request reached it in between: within that resolution)");
    console.log(
      `   probe's failed requests: during the ${2 * CHANGES} scalings ${errorText(errors(afterScaling))} of ${int(afterScaling.requests)}; in all, with the ${CHANGES} reloads, ${errorText(errors(seen))} of ${int(seen.requests)}`,
    );
    const end = os.loadavg();
    console.log(`\nload average at the end: ${end.map((l) => l.toFixed(2)).join(" / ")}`);
  } catch (err) {
    console.error(`bench:proxy failed: ${(err as Error).stack ?? String(err)}`);
    console.error(`last operator lines:\n${logLines.slice(-30).join("\n")}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

await main();
