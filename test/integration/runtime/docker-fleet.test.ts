/**
 * The test fleet support and node loss as DockerRuntime sees it: several real dockerd daemons, node
 * stop/start, a hung engine, and cleanup — including after the test process itself dies.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError, type CoxError } from "../../../operator/src/api/errors.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { reapAbandonedFleets, requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES, TEST_PROXY_IMAGE } from "../../support/images.js";
import { waitFor } from "../../support/wait.js";

const OWNER = "cx-test-fleet";
const enabled = requireDocker("docker fleet");
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const supportUrl = pathToFileURL(path.join(repoRoot, "test/support/docker-fleet.ts")).href;

function alive(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
    return state !== undefined && state !== "Z";
  } catch {
    return false;
  }
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m === dir || m.startsWith(dir + "/"));
}

/** Pids whose command line mentions dir (dockerd, containerd, shims of that fleet). */
function processesMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, "utf8").includes(dir) && alive(Number(e))) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** GET on an engine's socket, parsed. */
function engineJson(socketPath: string, urlPath: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: urlPath }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`GET ${urlPath}: ${res.statusCode} ${body}`))));
      })
      .on("error", reject);
  });
}

/** The host interface of a bridge network as the engine describes it. */
function bridgeOf(network: unknown): string {
  const n = network as { Id: string; Options?: Record<string, string> };
  return n.Options?.["com.docker.network.bridge.name"] ?? `br-${n.Id.slice(0, 12)}`;
}

/** The CoxError a call rejects with; fails the test when it resolves or throws anything else. */
async function coxErrorOf(p: Promise<unknown>): Promise<CoxError> {
  try {
    await p;
  } catch (err) {
    if (isCoxError(err)) return err;
    throw new Error(`expected a CoxError, got ${String(err)}`);
  }
  throw new Error("expected the call to fail, it resolved");
}

/** Runs a child test process that starts a one-node fleet and then waits forever; returns what it started. */
async function orphanFleet(): Promise<{ child: ReturnType<typeof spawn>; dir: string; daemonPid: number }> {
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cx-orphan-")), "orphan.mts");
  fs.writeFileSync(
    script,
    `const { startFleet } = await import(${JSON.stringify(supportUrl)});
const fleet = await startFleet({ nodes: 1, name: "orphan" });
console.log(JSON.stringify({ dir: fleet.dir, pid: fleet.nodes[0].pid }));
setInterval(() => undefined, 1000);
`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once("exit", (c) => reject(new Error(`orphan script exited with ${c} before starting its fleet`)));
  });
  fs.rmSync(path.dirname(script), { recursive: true, force: true });
  const { dir, pid } = JSON.parse(line) as { dir: string; pid: number };
  return { child, dir, daemonPid: pid };
}

describe.skipIf(!enabled)("test fleet of real dockerd daemons", () => {
  let fleet: TestFleet;
  const runtimes: DockerRuntime[] = [];

  function runtime(node: number, callTimeoutMs = 2_000): DockerRuntime {
    const r = new DockerRuntime({ endpoint: fleet.nodes[node]!.endpoint, owner: OWNER, nodeName: fleet.nodes[node]!.name, callTimeoutMs });
    runtimes.push(r);
    return r;
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 3, name: "fl" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await fleet?.stop();
  });

  it("starts every node on its own socket and data root with disjoint port ranges", async () => {
    expect(fleet.nodes.map((n) => n.name)).toEqual(["node-1", "node-2", "node-3"]);
    expect(new Set(fleet.nodes.map((n) => n.socketPath)).size).toBe(3);
    expect(new Set(fleet.nodes.map((n) => n.pid)).size).toBe(3);
    const ranges = fleet.nodes.map((n) => n.portRange.split("-").map(Number) as [number, number]);
    for (const [from, to] of ranges) expect(to - from).toBe(999);
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThan(sorted[i - 1]![1]);
    for (let i = 0; i < 3; i++) {
      const info = await runtime(i).connect();
      expect(info.cpuMillis).toBeGreaterThan(0);
      expect(fleet.nodes[i]!.endpoint).toBe(`unix://${fleet.nodes[i]!.socketPath}`);
    }
    // The engines are separate: an image built on node-1 is not on node-2.
    expect(await runtime(0).images()).toContain(TEST_IMAGES.v1);
    expect(await runtime(1).images()).not.toContain(TEST_IMAGES.v1);
  });

  it("describes the fleet as coxswain Node manifests, each node with its own Service network and the local proxy image", () => {
    const docs = parseAllDocuments(fleet.nodeManifests()).map((d) => d.toJS() as Record<string, any>);
    expect(docs).toHaveLength(3);
    docs.forEach((doc, i) => {
      expect(doc).toEqual({
        apiVersion: "coxswain.io/v1alpha1",
        kind: "Node",
        metadata: { name: fleet.nodes[i]!.name },
        spec: {
          endpoint: fleet.nodes[i]!.endpoint,
          network: "host",
          address: "127.0.0.1",
          portRange: fleet.nodes[i]!.portRange,
          serviceNetwork: expect.stringMatching(/^127\.1[0-3][0-9]\.0\.0\/16$/), // from the node's machine-wide port slot
          proxyImage: TEST_PROXY_IMAGE,
        },
      });
    });
    // Nodes on one host need disjoint ones (and fleets side by side too: the slot is machine-wide).
    expect(new Set(docs.map((d) => d.spec.serviceNetwork)).size).toBe(3);
  });

  it("makes connect and list fail with NodeUnreachable at once while a node is down, and recovers", async () => {
    const rt = runtime(1, 2_000);
    await buildTestImages(fleet.nodes[1]!.socketPath);
    const port = Number(fleet.nodes[1]!.portRange.split("-")[0]);
    const c = await rt.run({
      runtimeName: "cx_fleet_loss_app",
      image: TEST_IMAGES.v1,
      env: { PORT: String(port) },
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.specHash]: "x" },
    });
    const oldPid = fleet.nodes[1]!.pid;
    await fleet.stopNode(1);
    expect(alive(oldPid)).toBe(false);
    for (const call of [() => rt.connect(), () => rt.list(), () => rt.images()]) {
      const err = await coxErrorOf(call());
      expect(err.code).toBe("NodeUnreachable");
      // Refused at once by the transport (the socket is gone), not left to run into the call deadline.
      expect(err.details).toMatchObject({ errno: expect.stringMatching(/^(ENOENT|ECONNREFUSED)$/) });
      expect(err.details?.timeoutMs).toBeUndefined();
    }
    await fleet.startNode(1);
    expect(fleet.nodes[1]!.pid).not.toBe(oldPid);
    await expect(rt.connect()).resolves.toMatchObject({ cpuMillis: expect.any(Number) });
    // Same data root: the container is still known (the daemon stopped it on shutdown).
    const after = (await rt.list()).find((x) => x.id === c.id);
    expect(after?.state).toBe("exited");
  });

  it("makes calls to a hung engine fail with NodeUnreachable at the call timeout", async () => {
    const rt = runtime(2, 1_000);
    await rt.connect();
    await fleet.pauseNode(2); // resolves once every thread of the daemon is stopped
    try {
      const t0 = Date.now();
      const err = await coxErrorOf(rt.list());
      const took = Date.now() - t0;
      expect(err.code).toBe("NodeUnreachable");
      // The call deadline ended it (not a transport error), and not before the deadline.
      expect(err.details).toMatchObject({ timeoutMs: 1_000 });
      expect(took).toBeGreaterThanOrEqual(900);
    } finally {
      fleet.resumeNode(2);
    }
    await expect(rt.list()).resolves.toBeInstanceOf(Array);
  });

  it("reports a daemon that does not come up in time with its log, and leaves nothing behind", async () => {
    let message = "";
    try {
      const f = await startFleet({ nodes: 1, name: "slow", startTimeoutMs: 1 });
      await f.stop();
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/node-1: no answer to \/_ping within 1 ms/);
    expect(message).toMatch(/dockerd\.log/);
    expect(fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith("cxf-slow-"))).toEqual([]);
  });

  it("stop() removes containers, daemons, their process trees, mounts, network bridges and the temp dir", async () => {
    const f = await startFleet({ nodes: 2, name: "stop" });
    await buildTestImages(f.nodes[0]!.socketPath);
    const rt = new DockerRuntime({ endpoint: f.nodes[0]!.endpoint, owner: OWNER });
    const port = Number(f.nodes[0]!.portRange.split("-")[0]);
    const c = await rt.run({
      runtimeName: "cx_fleet_stop_app",
      image: TEST_IMAGES.v1,
      env: { PORT: String(port) },
      network: "host",
      ports: [],
      limits: {},
      labels: { [LABELS.owner]: OWNER },
    });
    expect(c.state).toBe("running");
    await rt.close();
    // A bridge-mode pod on node 2 makes the runtime create its user-defined network: a host bridge.
    await buildTestImages(f.nodes[1]!.socketPath);
    const bridged = () => new DockerRuntime({ endpoint: f.nodes[1]!.endpoint, owner: OWNER, nodeName: f.nodes[1]!.name });
    const bridgeLaunch = (name: string) => ({
      runtimeName: name,
      image: TEST_IMAGES.v1,
      env: { PORT: "8080", BIND: "0.0.0.0" },
      network: "bridge" as const,
      ports: [{ name: "http", containerPort: 8080, hostPort: port + 1_000, protocol: "TCP" as const }],
      limits: {},
      labels: { [LABELS.owner]: OWNER },
    });
    let rt2 = bridged();
    expect((await rt2.run(bridgeLaunch("cx_fleet_stop_bridged"))).state).toBe("running");
    await rt2.close();
    const bridge = bridgeOf(await engineJson(f.nodes[1]!.socketPath, "/networks/coxswain"));
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(true);
    // Node loss leaves no bridge behind; the node started again makes it again and can use it.
    await f.stopNode(1);
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    await f.startNode(1);
    rt2 = bridged();
    expect((await rt2.run(bridgeLaunch("cx_fleet_stop_bridged_again"))).state).toBe("running");
    await rt2.close();
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(true);
    const daemonPids = f.nodes.map((n) => n.pid);
    const related = processesMentioning(f.dir);
    expect(related.length).toBeGreaterThanOrEqual(4); // 2 × (dockerd + containerd) + the shim
    await f.stop();
    for (const pid of [...daemonPids, ...related]) expect(alive(pid)).toBe(false);
    expect(processesMentioning(f.dir)).toEqual([]);
    expect(mountsUnder(f.dir)).toEqual([]);
    // A bridge left on the host keeps one of the engines' 31 default address pools taken machine-wide.
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    expect(fs.existsSync(f.dir)).toBe(false);
    await f.stop(); // idempotent
  });

  it("kills the daemons of a test process that is terminated by a signal", async () => {
    const { child, dir, daemonPid } = await orphanFleet();
    expect(alive(daemonPid)).toBe(true);
    process.kill(child.pid!, "SIGTERM");
    await waitFor("the daemon to die with its test process", () => !alive(daemonPid), 10_000);
    await waitFor("the fleet dir to be removed", () => !fs.existsSync(dir), 10_000);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it("reaps the daemons of a test process killed with -9 on the next fleet start", async () => {
    const { child, dir, daemonPid } = await orphanFleet();
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(child.pid!, "SIGKILL");
    await exited;
    expect(alive(daemonPid)).toBe(true); // nobody cleaned up: the kill gave no chance
    reapAbandonedFleets();
    expect(alive(daemonPid)).toBe(false);
    expect(processesMentioning(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
    // Our own fleet is untouched: its owner (this process) is alive.
    await expect(runtime(0).list()).resolves.toBeInstanceOf(Array);
  });
});
