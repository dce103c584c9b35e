/**
 * The request log of a real HAProxy, run by the real node proxy manager (HaproxyProcess, which collects
 * the log over UDP), with small Node backends on 127.0.0.1: the pure pipeline (Services and pods →
 * proxyConfig with the listener's requestLog on → renderHaproxy with the collector's target), then
 * requestFigures over what arrived, compared with what the clients saw:
 * - every request is one record: counts per pod exact; a backend that answers 500 to 30% of its requests
 *   has a success rate of 70% and as many failures as the clients got 500s; a slow backend's p95 is above
 *   a fast one's and at least its delay;
 * - a TCP-mode Service logs one record per connection, with no status and no latency;
 * - a server that refuses connections: HAProxy moves the request to another server, which it counts for;
 * - a rendered configuration with request logs passes `haproxy -c` without a warning;
 * - after an operator restart, the adopted proxy logs to the new operator from the reload that names it.
 * Nothing waits a fixed time: each test waits until the records of every request it sent have arrived.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HaproxyProcess } from "../../../operator/src/runtime/proxy/haproxy-process.js";
import { requestFigures } from "../../../operator/src/traffic/analysis.js";
import { serviceEndpoints } from "../../../operator/src/traffic/endpoints.js";
import { renderHaproxy, type RequestLogTarget } from "../../../operator/src/traffic/haproxy.js";
import { proxyConfig } from "../../../operator/src/traffic/proxy.js";
import type { ProxyConfig, RequestRecord, ServiceSpec, TrafficPod } from "../../../operator/src/traffic/types.js";
import { sendRequests, type TimedAnswer } from "../../support/http-load.js";
import { waitFor } from "../../support/wait.js";
import { pod, podPort, port, service } from "../../unit/traffic/builders.js";
import { requireHaproxy } from "./haproxy-binary.js";

const haproxy = requireHaproxy("the request log of haproxy");
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const OPERATOR_FIXTURE = fileURLToPath(new URL("../runtime/haproxy-operator.fixture.ts", import.meta.url));

/** How long the slow backend takes to answer. */
const SLOW_MS = 40;

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port: p } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return p;
}

/** How many answers of each backend (body) the clients got, and how many of them were 500s. */
function tally(answers: TimedAnswer[]): Map<string, { requests: number; errors: number }> {
  const out = new Map<string, { requests: number; errors: number }>();
  for (const a of answers) {
    const t = out.get(a.body ?? "(none)") ?? { requests: 0, errors: 0 };
    t.requests++;
    if (a.status !== 200) t.errors++;
    out.set(a.body ?? "(none)", t);
  }
  return out;
}

/** The nearest-rank 95th percentile. */
function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1]!;
}

describe.skipIf(haproxy === undefined)("the request log of a real HAProxy, collected over UDP", () => {
  /** Backends by name: fast answers at once, flaky answers 500 to 3 of every 10 requests, slow after SLOW_MS. */
  const backends = new Map<string, { server: Server; port: number }>();
  /** A port nothing listens on: a pod there refuses connections. */
  let refusedPort = 0;
  const dirs: string[] = [];
  const proxies: HaproxyProcess[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    let flakyCount = 0;
    const handlers: Record<string, (res: import("node:http").ServerResponse) => void> = {
      fast: (res) => res.end("fast"),
      flaky: (res) => {
        res.statusCode = flakyCount++ % 10 < 3 ? 500 : 200;
        res.end("flaky");
      },
      slow: (res) => void setTimeout(() => res.end("slow"), SLOW_MS),
    };
    for (const [name, handle] of Object.entries(handlers)) {
      const server = createServer((_req, res) => handle(res));
      server.keepAliveTimeout = 120_000;
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      backends.set(name, { server, port: (server.address() as AddressInfo).port });
    }
    refusedPort = await freePort();
  });

  afterEach(async () => {
    for (const p of proxies.splice(0)) await p.close();
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });

  afterAll(async () => {
    for (const { server } of backends.values()) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function newProxy(dir = mkdtempSync(join(tmpdir(), "cx-reqlog-"))): HaproxyProcess {
    dirs.push(dir);
    const proxy = new HaproxyProcess({ stateDir: dir, binary: haproxy! });
    proxies.push(proxy);
    return proxy;
  }

  /** A pod of Service `app` answering on backend `name`'s port (or the refused port). */
  const backendPod = (name: string, app: string): TrafficPod =>
    pod(`${app}-${name}`, { address: "127.0.0.1", labels: { app }, ports: [podPort({ hostPort: name === "refused" ? refusedPort : backends.get(name)!.port })] });

  /** The configuration of one Service on 127.0.0.1:`listenPort` over these pods, its listener logging requests. */
  function configFor(svc: ServiceSpec, pods: TrafficPod[]): ProxyConfig {
    const node = { name: "n1", address: "127.0.0.1", serviceNetworkAddresses: new Map([[`default/${svc.name}`, "127.0.0.1"]]) };
    const config = proxyConfig(node, [svc], [serviceEndpoints(svc, pods)]);
    return { ...config, listeners: config.listeners.map((l) => ({ ...l, requestLog: true })) };
  }

  /** Pod address ("ip:port") → backend name, for requestFigures. */
  function groupsOf(pods: TrafficPod[]): Map<string, string> {
    return new Map(pods.map((p) => [`${p.address}:${p.ports[0]!.hostPort}`, p.name.slice(p.name.indexOf("-") + 1)]));
  }

  /** Collects every record the proxy's request log delivers. */
  function collect(proxy: HaproxyProcess): RequestRecord[] {
    const records: RequestRecord[] = [];
    proxy.requestLog.subscribe((batch) => records.push(...batch));
    return records;
  }

  const ALL = { from: 0, to: Number.MAX_SAFE_INTEGER };

  it("records every request exactly once, per pod, with the failures and latencies the clients saw", async () => {
    const proxy = newProxy();
    const records = collect(proxy);
    const listen = await freePort();
    const svc = service("web", { ports: [port({ name: "http", port: listen, mode: "http" })] });
    const pods = ["fast", "flaky", "slow"].map((n) => backendPod(n, "web"));
    const target = await proxy.requestLog.start();
    expect(target.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await proxy.apply({ reload: true, text: renderHaproxy(configFor(svc, pods), { requestLog: target }).text });

    const answers = await sendRequests(listen, 600, 6);
    await waitFor("a record of every request", () => records.length >= answers.length);
    expect(records).toHaveLength(600);
    expect(answers.filter((a) => a.error !== undefined)).toEqual([]);
    expect(new Set(records.map((r) => r.backend))).toEqual(new Set([`default.web:${listen}`]));

    const client = tally(answers);
    const figures = requestFigures(records, groupsOf(pods), ALL);
    for (const name of ["fast", "flaky", "slow"]) {
      expect(figures.get(name)!.requests, name).toBe(client.get(name)!.requests);
      expect(figures.get(name)!.failed, name).toBe(client.get(name)!.errors);
    }
    const flaky = figures.get("flaky")!;
    // 3 of every 10 of its requests: 70%, give or take the last incomplete ten.
    expect(flaky.successRate!).toBeGreaterThanOrEqual(69);
    expect(flaky.successRate!).toBeLessThanOrEqual(71);
    expect(figures.get("fast")!.successRate).toBe(100);
    expect(figures.get("slow")!.successRate).toBe(100);

    const fastP95 = figures.get("fast")!.latencyP95Ms!;
    const slowP95 = figures.get("slow")!.latencyP95Ms!;
    expect(slowP95).toBeGreaterThanOrEqual(SLOW_MS);
    expect(slowP95).toBeGreaterThan(fastP95);
    // What the proxy measured is part of what the clients waited — within HAProxy's clock, which counts
    // whole milliseconds (a client once measured 41.98 ms where the proxy logged 42).
    expect(p95(answers.filter((a) => a.body === "slow").map((a) => a.ms))).toBeGreaterThanOrEqual(slowP95 - 1);
  });

  it("records each connection of a TCP-mode Service, with no status and no latency; one the server refused is a failure", async () => {
    const proxy = newProxy();
    const records = collect(proxy);
    const listenOk = await freePort();
    const listenRefused = await freePort();
    const ok = service("db", { ports: [port({ port: listenOk, mode: "tcp" })] });
    const refused = service("gone", { ports: [port({ port: listenRefused, mode: "tcp" })] });
    const okPods = [backendPod("fast", "db")];
    const refusedPods = [backendPod("refused", "gone")];
    const target = await proxy.requestLog.start();
    const node = {
      name: "n1",
      address: "127.0.0.1",
      serviceNetworkAddresses: new Map([
        ["default/db", "127.0.0.1"],
        ["default/gone", "127.0.0.1"],
      ]),
    };
    const config = proxyConfig(node, [ok, refused], [serviceEndpoints(ok, okPods), serviceEndpoints(refused, refusedPods)]);
    const logged = { ...config, listeners: config.listeners.map((l) => ({ ...l, requestLog: true })) };
    await proxy.apply({ reload: true, text: renderHaproxy(logged, { requestLog: target }).text });

    // One connection per request (no keep-alive): 20 through the Service whose pod answers, 3 to the one that refuses.
    const oneShot = (p: number) => sendRequests(p, 1, 1).then(([a]) => a!);
    for (let i = 0; i < 20; i++) expect((await oneShot(listenOk)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await oneShot(listenRefused)).error).toBeDefined();
    await waitFor("a record of every connection", () => records.length >= 23);
    expect(records).toHaveLength(23);
    expect(records.every((r) => r.mode === "tcp" && r.status === undefined)).toBe(true);
    const figures = requestFigures(records, new Map([...groupsOf(okPods), ...groupsOf(refusedPods)]), ALL);
    expect(figures.get("fast")).toEqual({ requests: 20, failed: 0, successRate: 100, latencyRequests: 0 });
    expect(figures.get("refused")).toEqual({ requests: 3, failed: 3, successRate: 0, latencyRequests: 0 });
  });

  it("counts a request HAProxy moved off a server that refused its connection for the server that answered it", async () => {
    const proxy = newProxy();
    const records = collect(proxy);
    const listen = await freePort();
    const svc = service("mixed", { ports: [port({ name: "http", port: listen, mode: "http" })] });
    const pods = [backendPod("fast", "mixed"), backendPod("refused", "mixed")];
    await proxy.apply({ reload: true, text: renderHaproxy(configFor(svc, pods), { requestLog: await proxy.requestLog.start() }).text });

    const answers = await sendRequests(listen, 40, 2);
    expect(answers.every((a) => a.status === 200 && a.body === "fast")).toBe(true);
    await waitFor("a record of every request", () => records.length >= 40);
    const figures = requestFigures(records, groupsOf(pods), ALL);
    expect(figures.get("fast")).toMatchObject({ requests: 40, failed: 0 });
    expect(figures.get("refused")!.requests).toBe(0);
    // Those that were tried on the refusing server first say so.
    expect(records.filter((r) => r.redispatched).length).toBeGreaterThan(0);
  });

  it("accepts a rendered configuration whose listeners and ingress log their requests with haproxy -c, without a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "cx-reqlog-check-"));
    dirs.push(dir);
    const http = service("web", { ports: [port({ name: "http", port: 18080, mode: "http" })] });
    const tcp = service("db", { ports: [port({ port: 15432, mode: "tcp" })] });
    const node = {
      name: "n1",
      address: "127.0.0.1",
      serviceNetworkAddresses: new Map([
        ["default/web", "127.0.0.1"],
        ["default/db", "127.0.0.1"],
      ]),
    };
    const pods = [backendPod("fast", "web"), backendPod("slow", "db")];
    const base = proxyConfig(node, [http, tcp], [serviceEndpoints(http, pods), serviceEndpoints(tcp, pods)]);
    const config: ProxyConfig = {
      ...base,
      listeners: base.listeners.map((l) => ({ ...l, requestLog: true })),
      ingress: { http: [{ address: "127.0.0.1", port: 18081 }], https: [], routes: [{ match: "Prefix", path: "", backend: "default/web:18080" }], certificates: [] },
    };
    for (const target of [
      { address: "127.0.0.1:40000", tag: "0123456789abcdef" },
      { address: "stdout", tag: "0123456789abcdef" },
    ] satisfies RequestLogTarget[]) {
      const file = join(dir, "haproxy.cfg");
      writeFileSync(file, renderHaproxy(config, { statsSocket: join(dir, "admin.sock"), requestLog: target }).text);
      const run = spawnSync(haproxy!, ["-c", "-f", file], { encoding: "utf8" });
      const output = `${run.stdout}${run.stderr}`;
      expect(run.status, output).toBe(0);
      expect(output).not.toMatch(/\[(WARNING|ALERT)\]/);
    }
  });

  it("an adopted proxy sends its log to the operator that adopted it from the reload that names its collector on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cx-reqlog-"));
    const listen = await freePort();
    const svc = service("web", { ports: [port({ name: "http", port: listen, mode: "http" })] });
    const pods = [backendPod("fast", "web")];
    // The operator that dies: its collector is this socket.
    const old = createSocket("udp4");
    await new Promise<void>((r) => old.bind(0, "127.0.0.1", r));
    const oldTarget = { address: `127.0.0.1:${old.address().port}`, tag: "0123456789abcdef" };
    // Request lines only: HAProxy also tells a proxy's log when the proxy stops (at a reload).
    let oldLines = 0;
    old.on("message", (m) => void (m.toString().startsWith(`cx1 ${oldTarget.tag} `) && oldLines++));
    writeFileSync(join(dir, "first.cfg"), renderHaproxy(configFor(svc, pods), { requestLog: oldTarget }).text);
    const op = spawn(process.execPath, ["--import", "tsx", OPERATOR_FIXTURE, dir, join(dir, "first.cfg")], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.push(op);
    let out = "";
    op.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor("the first operator to start its proxy", () => out.includes("\n"));
    expect((await sendRequests(listen, 5, 1)).every((a) => a.status === 200)).toBe(true);
    await waitFor("the first operator's collector to get its 5 lines", () => oldLines >= 5);
    const exited = new Promise((r) => op.once("exit", r));
    op.kill("SIGKILL");
    await exited;

    const proxy = newProxy(dir);
    const records = collect(proxy);
    await proxy.apply({ reload: true, text: renderHaproxy(configFor(svc, pods), { requestLog: await proxy.requestLog.start() }).text });
    expect(proxy.health().pid).toBe(JSON.parse(out.slice(0, out.indexOf("\n"))).pid); // adopted, not started anew
    const answers = await sendRequests(listen, 30, 2);
    await waitFor("a record of every request at the new collector", () => records.length >= answers.length);
    expect(records).toHaveLength(30);
    expect(oldLines).toBe(5);
    old.close();
  });
});
