/**
 * HaproxyProcess with the real haproxy binary and real Node HTTP backends on 127.0.0.1. The configurations
 * are small hand-written templates (the renderer lives in traffic/). Steady keep-alive clients run through
 * reloads and runtime-API edits; the tests assert that none of their requests failed and that traffic went
 * where the configuration says (counts per backend), never how long anything took.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { createConnection, createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isCoxError } from "../../../operator/src/api/errors.js";
import { readCmdline, readProcStat } from "../../../operator/src/runtime/process/proc.js";
import { HaproxyProcess } from "../../../operator/src/runtime/proxy/haproxy-process.js";
import { renderHaproxy } from "../../../operator/src/traffic/haproxy.js";
import type { ProxyListener } from "../../../operator/src/traffic/types.js";
import type { ProxyHealth } from "../../../operator/src/runtime/proxy/types.js";
import { get, servedBy, startLoad } from "../../support/http-load.js";
import { coxErrorOf } from "../../support/errors.js";
import { waitFor } from "../../support/wait.js";

const HAPROXY = "/usr/sbin/haproxy";
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const OPERATOR_FIXTURE = fileURLToPath(new URL("./haproxy-operator.fixture.ts", import.meta.url));

/** True when haproxy is installed; in CI (CI=true) a missing binary fails the suite instead of skipping it. */
function requireHaproxy(suiteName: string): boolean {
  if (existsSync(HAPROXY)) return true;
  const why = `needs ${HAPROXY} (apt-get install -y haproxy)`;
  if (process.env.CI === "true") throw new Error(`${suiteName}: haproxy is not available in CI: ${why}`);
  console.warn(`${suiteName}: skipped, ${why}`);
  return false;
}

// ---- bookkeeping: every proxy, state dir, backend and child a test makes is cleaned up ----

const proxies: HaproxyProcess[] = [];
const stateDirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

async function newProxy(): Promise<{ proxy: HaproxyProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "cx-haproxy-"));
  stateDirs.push(dir);
  const proxy = new HaproxyProcess({ stateDir: dir });
  proxies.push(proxy);
  return { proxy, dir };
}

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

afterAll(async () => {
  for (const dir of stateDirs) {
    expect(processesUsing(dir), `processes left behind for ${dir}`).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  }
});

/** Live processes whose command line names `dir` (the proxy's master and workers name its sockets). */
function processesUsing(dir: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => readCmdline(pid)?.includes(dir) && readProcStat(pid)?.state !== "Z");
}

/** One command on a unix-socket CLI of HAProxy; resolves with its answer. */
function cli(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = createConnection(socket, () => conn.end(`${command}\n`));
    conn.on("data", (c: Buffer) => chunks.push(c));
    conn.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    conn.on("error", reject);
  });
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An HTTP backend answering its own name. Keeps idle connections (HAProxy reuses them) for the whole test. */
async function backend(name: string): Promise<{ name: string; port: number }> {
  const server = http.createServer((_req, res) => res.end(name));
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { name, port: (server.address() as AddressInfo).port };
}

/** Holds a port without SO_REUSEPORT, so HAProxy cannot bind it. */
async function holdPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A small HTTP configuration: one frontend on `port` and backend `be` with the given server lines. */
function config(port: number, servers: string[], extra: string[] = []): string {
  return [
    "global",
    "    hard-stop-after 30s",
    "defaults",
    "    mode http",
    "    timeout connect 5s",
    "    timeout client 30s",
    "    timeout server 30s",
    "    option idle-close-on-response",
    "frontend fe",
    `    bind 127.0.0.1:${port}`,
    "    default_backend be",
    "backend be",
    "    balance roundrobin",
    ...servers.map((s) => `    ${s}`),
    ...extra,
    "",
  ].join("\n");
}

function server(b: { name: string; port: number }): string {
  return `server ${b.name} 127.0.0.1:${b.port}`;
}

/** Four empty slots for runtime-API edits. */
const SLOTS = "server-template s 1-4 127.0.0.1:1 disabled";

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function running(h: ProxyHealth): number {
  expect(h.running).toBe(true);
  return h.pid!;
}

// ---- tests ----

describe.skipIf(!requireHaproxy("haproxy-process"))("HaproxyProcess with the real haproxy", () => {
  it("serves traffic through a listener, reports its health, and counts requests in stats()", async () => {
    const { proxy } = await newProxy();
    const a = await backend("a");
    const port = await freePort();
    const text = config(port, [server(a)]);
    await proxy.apply({ reload: true, text });

    const h = proxy.health();
    expect(running(h)).toBeGreaterThan(0);
    expect(h.config?.hash).toBe(sha256(text));
    expect(h.restarts).toBe(0);
    expect(h.lastError).toBeUndefined();

    for (let i = 0; i < 10; i++) expect(await get(port)).toBe("a");
    const before = await proxy.stats();
    expect(before.map((s) => [s.backend, s.server])).toEqual([
      ["be", undefined],
      ["be", "a"],
    ]);
    const rowA = (rows: typeof before) => rows.find((s) => s.server === "a")!;
    expect(rowA(before)).toMatchObject({ status: "no check", address: `127.0.0.1:${a.port}`, weight: 1 });
    expect(rowA(before).requestsTotal).toBeGreaterThanOrEqual(10);

    for (let i = 0; i < 15; i++) await get(port);
    const after = await proxy.stats();
    expect(rowA(after).requestsTotal - rowA(before).requestsTotal).toBe(15);
    expect(rowA(after).responses2xx - rowA(before).responses2xx).toBe(15);
    expect(rowA(after).sessionsTotal).toBeGreaterThanOrEqual(25);
    expect(after[0]!.requestsTotal).toBeGreaterThanOrEqual(25);
  });

  it("loses no request of steady keep-alive clients across reloads, and traffic follows the servers", async () => {
    const { proxy } = await newProxy();
    const [a, b, c] = [await backend("a"), await backend("b"), await backend("c")];
    const port = await freePort();
    await proxy.apply({ reload: true, text: config(port, [server(a)]) });
    const master = running(proxy.health());
    const load = startLoad(port);
    await servedBy(load, ["a"], []);

    const steps: [string[], string[], string[]][] = [
      // servers in the configuration, backends that must serve, backends that must not
      [["a", "b"], ["a", "b"], []],
      [["b"], ["b"], ["a"]],
      [["b", "c"], ["b", "c"], ["a"]],
      [["c"], ["c"], ["a", "b"]],
      [["a", "c"], ["a", "c"], ["b"]],
    ];
    const byName = { a, b, c } as Record<string, { name: string; port: number }>;
    for (const [names, serving, idle] of steps) {
      const text = config(
        port,
        names.map((n) => server(byName[n]!)),
      );
      await proxy.apply({ reload: true, text });
      expect(proxy.health().config?.hash).toBe(sha256(text));
      await servedBy(load, serving, idle);
    }
    // The same text again is a reload too (a new worker), and as harmless.
    await proxy.apply({ reload: true, text: config(port, [server(a), server(c)]) });
    await servedBy(load, ["a", "c"], ["b"]);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(running(proxy.health())).toBe(master); // hitless: the master stays, workers change
    expect(proxy.health().restarts).toBe(0);
  });

  it("loses no request across runtime-API edits: a slot moved to another backend, drained, put in maint", async () => {
    const { proxy } = await newProxy();
    const [a, b, c] = [await backend("a"), await backend("b"), await backend("c")];
    const port = await freePort();
    await proxy.apply({ reload: true, text: config(port, [SLOTS]) });
    await proxy.apply({ reload: false, commands: [`set server be/s1 addr 127.0.0.1 port ${a.port}`, "set server be/s1 state ready"] });
    const master = running(proxy.health());
    const load = startLoad(port);
    await servedBy(load, ["a"], []);

    await proxy.apply({ reload: false, commands: [`set server be/s2 addr 127.0.0.1 port ${b.port}`, "set server be/s2 state ready"] });
    await servedBy(load, ["a", "b"], []);
    await proxy.apply({ reload: false, commands: ["set server be/s1 state drain"] });
    await servedBy(load, ["b"], ["a"]);
    // The drained slot moves to another backend and takes traffic again.
    await proxy.apply({ reload: false, commands: [`set server be/s1 addr 127.0.0.1 port ${c.port}`, "set server be/s1 state ready"] });
    await servedBy(load, ["b", "c"], ["a"]);
    await proxy.apply({ reload: false, commands: ["set server be/s2 state maint"] });
    await servedBy(load, ["c"], ["a", "b"]);
    await proxy.apply({ reload: false, commands: ["set server be/s2 state ready", "set server be/s2 weight 0"] });
    await servedBy(load, ["c"], ["a", "b"]);
    await proxy.apply({ reload: false, commands: ["set server be/s2 weight 100", "set server be/s1 weight 100"] });
    await servedBy(load, ["b", "c"], ["a"]);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(running(proxy.health())).toBe(master);
    const slots = (await proxy.stats()).filter((s) => s.server === "s1" || s.server === "s2");
    expect(slots.map((s) => [s.server, s.address, s.weight])).toEqual([
      ["s1", `127.0.0.1:${c.port}`, 100],
      ["s2", `127.0.0.1:${b.port}`, 100],
    ]);
  });

  it("keeps ClientIP affinity across reloads: each client address stays on its backend, asked in another order", async () => {
    const { proxy, dir } = await newProxy();
    const [a, b] = [await backend("a"), await backend("b")];
    const [port, other] = [await freePort(), await freePort()];
    const sticky: ProxyListener = {
      key: "default/sticky:80",
      binds: [{ address: "127.0.0.1", port }],
      mode: "http",
      affinity: { timeoutSeconds: 600 },
      servers: [a, b].map((s) => ({ id: `${s.name}:80`, address: "127.0.0.1", port: s.port, weight: 1, state: "ready" as const })),
    };
    const render = (listeners: ProxyListener[]) => renderHaproxy({ node: "n1", listeners }, { peersSocket: proxy.peersSocket }).text;
    await proxy.apply({ reload: true, text: render([sticky]) });
    // Eight client addresses: round robin gives them a and b in turn, and the stick table remembers each.
    const clients = Array.from({ length: 8 }, (_, i) => `127.0.0.${20 + i}`);
    const from = (localAddress: string): Promise<string> => get(port, { localAddress });
    const first = new Map<string, string>();
    for (const c of clients) first.set(c, await from(c));
    expect(new Set(first.values())).toEqual(new Set(["a", "b"]));
    // A worker hands its tables over only once it has finished its own start-up resync (HAProxy waits up
    // to 5 s to learn from a predecessor): wait for that, as a proxy that has run a while has.
    const stats = join(dir, "stats.sock");
    await waitFor("the first worker's start-up resync to end", async () => /resync_timeout=<PAST>/.test(await cli(stats, "show peers")));
    // A reload (a new listener is one), then the clients in reverse order: a fresh round robin would hand
    // the first of them "a" whatever it had; each must get its own backend again.
    const unrelated: ProxyListener = { key: "default/other:80", binds: [{ address: "127.0.0.1", port: other }], mode: "http", servers: [] };
    await proxy.apply({ reload: true, text: render([unrelated, sticky]) });
    // The old worker pushes its entries to the new one through the peers socket as it stops.
    await waitFor("the new worker to hold the 8 entries", async () => /used:8\b/.test(await cli(stats, "show table default.sticky:80")));
    const after = new Map<string, string>();
    for (const c of [...clients].reverse()) after.set(c, await from(c));
    expect(after).toEqual(first);
  });

  it("refuses a runtime-API command HAProxy rejects with ProxyCommandRejected, after applying the ones before it", async () => {
    const { proxy } = await newProxy();
    const a = await backend("a");
    const port = await freePort();
    await proxy.apply({ reload: true, text: config(port, [SLOTS]) });
    const cases: [string, string[], number][] = [
      ["no such server", ["set server be/s1 addr 127.0.0.1 port " + a.port, "set server be/s9 state ready"], 1],
      ["no such backend", ["set server nope/s1 state ready"], 0],
      ["weight out of range", ["set server be/s1 weight 300"], 0],
      ["unknown command", ["frobnicate"], 0],
      ["two commands in one", ["set server be/s1 state ready; set server be/s2 state ready"], 0],
    ];
    for (const [what, commands, index] of cases) {
      const err = await coxErrorOf(proxy.apply({ reload: false, commands }));
      expect(err.code, what).toBe("ProxyCommandRejected");
      expect(err.details?.index, what).toBe(index);
      expect(proxy.health().lastError?.code, what).toBe("ProxyCommandRejected");
    }
    // The first command of the first case was applied.
    expect((await proxy.stats()).find((s) => s.server === "s1")?.address).toBe(`127.0.0.1:${a.port}`);
    await proxy.apply({ reload: false, commands: ["set server be/s1 state ready"] });
    expect(await get(port)).toBe("a");
    expect(proxy.health().lastError).toBeUndefined();
  });

  it("refuses an invalid configuration with ProxyConfigInvalid at its line, and keeps serving the last good one", async () => {
    const { proxy, dir } = await newProxy();
    const a = await backend("a");
    const port = await freePort();
    const good = config(port, [server(a)]);
    await proxy.apply({ reload: true, text: good });
    const pid = running(proxy.health());
    const load = startLoad(port, 2);
    await servedBy(load, ["a"], []);

    const bad = config(port, [server(a), "balance nonsense"]);
    const line = bad.split("\n").indexOf("    balance nonsense") + 1;
    const err = await coxErrorOf(proxy.apply({ reload: true, text: bad }));
    expect(err.code).toBe("ProxyConfigInvalid");
    expect(err.retry).toBe("stalled");
    expect((err.details!.lines as string[]).some((l) => l.includes(`[haproxy.cfg:${line}]`))).toBe(true);

    const h = proxy.health();
    expect(h.lastError?.code).toBe("ProxyConfigInvalid");
    expect(h.config?.hash).toBe(sha256(good));
    expect(running(h)).toBe(pid);
    expect((await readFile(join(dir, "haproxy.cfg"), "utf8")).startsWith(good)).toBe(true);
    await servedBy(load, ["a"], []);
    await load.stop();
    expect(load.failures).toEqual([]);

    // A first configuration that does not load starts nothing.
    const { proxy: fresh } = await newProxy();
    expect((await coxErrorOf(fresh.apply({ reload: true, text: bad }))).code).toBe("ProxyConfigInvalid");
    expect(fresh.health()).toMatchObject({ running: false, restarts: 0 });
    expect((await coxErrorOf(fresh.apply({ reload: false, commands: ["show info"] }))).code).toBe("ProxyUnreachable");
  });

  it("reports a bind that is in use with ProxyBindFailed naming it, at start and at reload, and keeps serving", async () => {
    const { proxy } = await newProxy();
    const a = await backend("a");
    const held = await holdPort();
    const port = await freePort();

    const atStart = await coxErrorOf(proxy.apply({ reload: true, text: config(held, [server(a)]) }));
    expect(atStart.code).toBe("ProxyBindFailed");
    expect(atStart.message).toContain(`127.0.0.1:${held}`);
    expect(atStart.details?.binds).toEqual([{ bind: `127.0.0.1:${held}`, reason: "Address already in use", where: "haproxy.cfg:10" }]);
    expect(proxy.health().running).toBe(false);

    const good = config(port, [server(a)]);
    await proxy.apply({ reload: true, text: good });
    const pid = running(proxy.health());
    const load = startLoad(port, 2);
    await servedBy(load, ["a"], []);

    const clash = config(port, [server(a)], ["frontend other", `    bind 127.0.0.1:${held}`, "    default_backend be"]);
    const atReload = await coxErrorOf(proxy.apply({ reload: true, text: clash }));
    expect(atReload.code).toBe("ProxyBindFailed");
    expect(atReload.message).toContain(`127.0.0.1:${held}`);
    expect(running(proxy.health())).toBe(pid);
    expect(proxy.health().config?.hash).toBe(sha256(good));
    await servedBy(load, ["a"], []);

    // The next good reload works: the failed one left nothing half done.
    await proxy.apply({ reload: true, text: config(port, [server(a)], ["# again"]) });
    await servedBy(load, ["a"], []);
    await load.stop();
    expect(load.failures).toEqual([]);
  });

  it("restarts a master killed with SIGKILL, with the last good configuration and the edits applied since", async () => {
    const { proxy, dir } = await newProxy();
    const [a, b] = [await backend("a"), await backend("b")];
    const port = await freePort();
    await proxy.apply({ reload: true, text: config(port, [SLOTS]) });
    await proxy.apply({ reload: false, commands: [`set server be/s1 addr 127.0.0.1 port ${a.port}`, "set server be/s1 state ready"] });
    expect(await get(port)).toBe("a");
    await proxy.apply({ reload: false, commands: [`set server be/s1 addr 127.0.0.1 port ${b.port}`] });
    expect(await get(port)).toBe("b");
    // An invalid text in between is not what the restart uses.
    await coxErrorOf(proxy.apply({ reload: true, text: "global\n    nonsense\n" }));

    const before = running(proxy.health());
    process.kill(before, "SIGKILL");
    const after = await waitFor("the proxy to run again", () => {
      const h = proxy.health();
      return h.running && h.pid !== before && h.restarts === 1 && h.lastError === undefined ? h : undefined;
    });
    expect(after.config?.hash).toBe(sha256(config(port, [SLOTS])));
    expect(await get(port)).toBe("b");
    const s1 = (await proxy.stats()).find((s) => s.server === "s1");
    expect(s1).toMatchObject({ address: `127.0.0.1:${b.port}`, status: "no check" });
    // The killed master's worker did not outlive it: what runs is the new master and its own worker(s).
    await waitFor("only the new master and its workers", () => processesUsing(dir).every((pid) => pid === after.pid || readProcStat(pid)?.ppid === after.pid));
  });

  it("close() stops the master and its workers, by pid, and later applies fail", async () => {
    const { proxy, dir } = await newProxy();
    const a = await backend("a");
    const port = await freePort();
    await proxy.apply({ reload: true, text: config(port, [server(a)]) });
    await proxy.apply({ reload: true, text: config(port, [server(a)], ["# reloaded"]) });
    const load = startLoad(port, 2);
    await servedBy(load, ["a"], []);
    await load.stop();
    expect(processesUsing(dir).length).toBeGreaterThanOrEqual(2); // the master and its worker

    await proxy.close();
    expect(processesUsing(dir)).toEqual([]);
    expect(proxy.health().running).toBe(false);
    expect((await coxErrorOf(proxy.apply({ reload: true, text: config(port, [server(a)]) }))).code).toBe("ProxyUnreachable");
    await proxy.close(); // twice is harmless
  });

  it("adopts the proxy an operator that was killed left running on the same state directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cx-haproxy-"));
    stateDirs.push(dir);
    const a = await backend("a");
    const b = await backend("b");
    const port = await freePort();
    const first = config(port, [server(a)]);
    await writeFile(join(dir, "first.cfg"), first);

    const op: ChildProcess = spawn(process.execPath, ["--import", "tsx", OPERATOR_FIXTURE, dir, join(dir, "first.cfg")], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let errOut = "";
    op.stderr!.on("data", (d: Buffer) => (errOut += d.toString()));
    const exited = new Promise<void>((resolve) => op.once("exit", () => resolve()));
    const health = await new Promise<ProxyHealth>((resolve, reject) => {
      op.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(JSON.parse(out.slice(0, out.indexOf("\n"))) as ProxyHealth);
      });
      op.once("exit", (code) => reject(new Error(`operator fixture exited ${code}: ${errOut}`)));
    });
    process.kill(op.pid!, "SIGKILL");
    await exited;
    expect(await get(port)).toBe("a"); // the proxy outlived its operator

    const proxy = new HaproxyProcess({ stateDir: dir });
    proxies.push(proxy);
    const load = startLoad(port, 2);
    await servedBy(load, ["a"], []);
    await proxy.apply({ reload: true, text: config(port, [server(b)]) });
    expect(running(proxy.health())).toBe(health.pid);
    await servedBy(load, ["b"], ["a"]);
    await load.stop();
    expect(load.failures).toEqual([]);

    await proxy.close();
    expect(processesUsing(dir)).toEqual([]);
  });
});

describe("HaproxyProcess without a usable haproxy", () => {
  it("reports a missing binary with CommandNotFound and starts nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cx-haproxy-"));
    stateDirs.push(dir);
    const proxy = new HaproxyProcess({ stateDir: dir, binary: join(dir, "no-such-haproxy") });
    proxies.push(proxy);
    const err = await coxErrorOf(proxy.apply({ reload: true, text: config(1, []) }));
    expect(err.code).toBe("CommandNotFound");
    expect(proxy.health()).toMatchObject({ running: false, restarts: 0, lastError: { code: "CommandNotFound" } });
  });

  it("refuses a state directory too long for its unix sockets with InvalidArgument", () => {
    let code: string | undefined;
    try {
      new HaproxyProcess({ stateDir: join(tmpdir(), "x".repeat(100)) });
    } catch (err) {
      code = isCoxError(err) ? err.code : "not a CoxError";
    }
    expect(code).toBe("InvalidArgument");
  });
});
