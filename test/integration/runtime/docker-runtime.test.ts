/**
 * DockerRuntime against real Docker engines started by the test fleet support (two dockerd daemons).
 */
import http from "node:http";
import net from "node:net";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError, type CoxError } from "../../../operator/src/api/errors.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { chooseApiVersion, compareApiVersions, MAX_API_VERSION, MIN_API_VERSION } from "../../../operator/src/runtime/docker/api-version.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch, ObservedContainer } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitForSigtermHandling } from "../../support/observe.js";

const OWNER = "cx-test-runtime";
const enabled = requireDocker("docker runtime");

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<CoxError> {
  try {
    await p;
  } catch (err) {
    if (!isCoxError(err)) throw err;
    return err;
  }
  throw new Error("expected a rejection");
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, timeout: 2_000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Polls fn until it returns a defined value or the deadline passes. */
async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

describe.skipIf(!enabled)("DockerRuntime on real engines", () => {
  let fleet: TestFleet;
  let rt: DockerRuntime;
  let raw: Docker;
  let nextPort = 0;
  let seq = 0;
  const runtimes: DockerRuntime[] = [];

  function port(node = 0): number {
    const [from] = fleet.nodes[node]!.portRange.split("-").map(Number);
    return from! + nextPort++;
  }

  function runtime(node = 0, extra: Partial<ConstructorParameters<typeof DockerRuntime>[0]> = {}): DockerRuntime {
    const r = new DockerRuntime({
      endpoint: fleet.nodes[node]!.endpoint,
      owner: OWNER,
      nodeName: fleet.nodes[node]!.name,
      callTimeoutMs: 10_000,
      pullTimeoutMs: 5_000,
      ...extra,
    });
    runtimes.push(r);
    return r;
  }

  function launch(overrides: Partial<ContainerLaunch> = {}): ContainerLaunch {
    const n = ++seq;
    const p = port();
    return {
      runtimeName: `cx_test_app-${n}_app`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(p) },
      network: "host",
      ports: [{ name: "http", containerPort: p, hostPort: p, protocol: "TCP" }],
      limits: {},
      labels: {
        [LABELS.owner]: OWNER,
        [LABELS.namespace]: "default",
        [LABELS.kind]: "Deployment",
        [LABELS.workload]: "app",
        [LABELS.pod]: `app-rev1-${n}`,
        [LABELS.container]: "app",
        [LABELS.revision]: "rev1",
        [LABELS.specHash]: `spec-${n}`,
        [LABELS.node]: "node-1",
        [LABELS.ports]: JSON.stringify([{ name: "http", containerPort: p, hostPort: p, protocol: "TCP" }]),
      },
      ...overrides,
    };
  }

  /** The engine's "kill" events of a container since `since` (epoch seconds): signal number and time, in order. */
  async function killEvents(id: string, since: number): Promise<{ signal: string; timeNano: number }[]> {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const stream = (await raw.getEvents({ since, until, filters: { container: [id], event: ["kill"] } })) as NodeJS.ReadableStream;
    let text = "";
    for await (const chunk of stream) text += chunk.toString();
    return text
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { timeNano: number; Actor: { Attributes: Record<string, string> } })
      .map((e) => ({ signal: e.Actor.Attributes.signal ?? "", timeNano: e.timeNano }));
  }

  async function waitExited(r: DockerRuntime, id: string): Promise<ObservedContainer> {
    return eventually(async () => (await r.list()).find((c) => c.id === id && c.state === "exited"), 15_000, `container ${id} to exit`);
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 2, name: "rt" });
    await Promise.all(fleet.nodes.map((n) => buildTestImages(n.socketPath)));
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    rt = runtime(0);
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await fleet?.stop();
  });

  it("reports capacity and the negotiated API version on connect", async () => {
    const info = await rt.connect();
    const engine = (await raw.info()) as { NCPU: number; MemTotal: number };
    expect(info.cpuMillis).toBe(engine.NCPU * 1000);
    expect(info.memoryBytes).toBe(engine.MemTotal);
    const version = await raw.version();
    expect(rt.apiVersion).toBe(chooseApiVersion(version as { ApiVersion: string }, "test"));
    expect(info.engine).toContain(`API ${rt.apiVersion}`);
    expect(info.platform).toBe(`${version.Os}/${version.Arch}`);
    // connect is idempotent
    expect(await rt.connect()).toEqual(info);
  });

  it.each([
    { engine: "1.41", min: "1.12", expected: "1.41" },
    { engine: "1.45", min: "1.24", expected: "1.45" },
    { engine: "1.52", min: "1.44", expected: MAX_API_VERSION },
    { engine: "1.40", min: "1.12", expected: "EngineApiUnsupported" },
    { engine: "1.60", min: "1.50", expected: "EngineApiUnsupported" },
    { engine: "banana", min: "1.12", expected: "RuntimeCallFailed" },
  ])("pins min(engine $engine, $expected) or refuses: engine API $engine (min $min) → $expected", ({ engine, min, expected }) => {
    let result: string;
    try {
      result = chooseApiVersion({ ApiVersion: engine, MinAPIVersion: min }, "test");
    } catch (err) {
      result = isCoxError(err) ? err.code : String(err);
    }
    expect(result).toBe(expected);
    expect(MIN_API_VERSION).toBe("1.41");
  });

  it("negotiates again when a pinned version is too new for the engine", async () => {
    const r = runtime(0, { apiVersion: MAX_API_VERSION });
    expect(r.apiVersion).toBe(MAX_API_VERSION);
    const engine = (await raw.version()).ApiVersion;
    await r.list();
    expect(r.apiVersion).toBe(compareApiVersions(engine, MAX_API_VERSION) < 0 ? engine : MAX_API_VERSION);
    expect(r.apiVersion).not.toBe(MAX_API_VERSION === engine ? "never" : MAX_API_VERSION);
  });

  it("ignores DOCKER_HOST and the other DOCKER_* variables", async () => {
    const saved = { ...process.env };
    process.env.DOCKER_HOST = "tcp://127.0.0.1:1";
    process.env.DOCKER_TLS_VERIFY = "1";
    process.env.DOCKER_CERT_PATH = "/nonexistent/certs";
    try {
      const r = runtime(0);
      await expect(r.connect()).resolves.toMatchObject({ cpuMillis: expect.any(Number) });
      await expect(r.list()).resolves.toBeInstanceOf(Array);
    } finally {
      for (const k of ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it("runs a container with its labels and env: the app answers on $PORT and list() shows it running", async () => {
    const l = launch();
    const c = await rt.run(l);
    expect(c.state).toBe("running");
    expect(c.runtimeName).toBe(l.runtimeName);
    expect(c.image).toBe(TEST_IMAGES.v1);
    expect(c.labels).toEqual(l.labels);
    expect(c.startedAt).toBeGreaterThanOrEqual(c.createdAt);
    const res = await eventually(() => httpGet(Number(l.env.PORT), "/").catch(() => undefined), 10_000, "the app");
    expect(res).toEqual({ status: 200, body: "v1\n" });
    expect((await httpGet(Number(l.env.PORT), "/healthz")).body).toBe("ok\n");
    const listed = (await rt.list()).find((x) => x.id === c.id);
    expect(listed).toEqual(c);
  });

  it("rebuilds state from labels: a new runtime instance lists what an earlier one started", async () => {
    const first = runtime(0);
    const l = launch();
    const c = await first.run(l);
    await first.close();
    const second = runtime(0);
    const found = (await second.list()).find((x) => x.runtimeName === l.runtimeName);
    expect(found).toMatchObject({ id: c.id, state: "running", labels: l.labels, image: l.image });
  });

  it("never lists containers without our owner label", async () => {
    const foreign = await raw.createContainer({ name: `foreign-${seq}`, Image: TEST_IMAGES.exits, HostConfig: { NetworkMode: "host" } });
    const other = await raw.createContainer({
      name: `other-owner-${seq}`,
      Image: TEST_IMAGES.exits,
      Labels: { [LABELS.owner]: "someone-else" },
      HostConfig: { NetworkMode: "host" },
    });
    const mine = await rt.run(launch({ image: TEST_IMAGES.exits }));
    const ids = (await rt.list()).map((c) => c.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(foreign.id);
    expect(ids).not.toContain(other.id);
    for (const c of await rt.list()) expect(c.labels[LABELS.owner]).toBe(OWNER);
    await rt.remove(foreign.id); // remove() does not check ownership: the caller decides what to remove
    await rt.remove(other.id);
  });

  it("lists containers sorted by runtime name", async () => {
    const names = (await rt.list()).map((c) => c.runtimeName);
    expect(names).toEqual([...names].sort());
  });

  it.each([
    { name: "args replace CMD and keep no entrypoint", command: undefined, args: ["/bin/sh", "-c", "exit 9"], workingDir: undefined, exit: 9 },
    { name: "command replaces the entrypoint and the image's CMD is not appended", command: ["/bin/sh", "-c", "exit $(( $# + 10 ))", "zero"], args: undefined, workingDir: undefined, exit: 10 },
    { name: "command and args together", command: ["/bin/sh", "-c", "exit $(( $# + 10 ))", "zero"], args: ["a", "b"], workingDir: undefined, exit: 12 },
    { name: "workingDir sets the process's directory", command: ["/bin/sh", "-c", '[ "$(pwd)" = /www ] && exit 20 || exit 21'], args: undefined, workingDir: "/www", exit: 20 },
    { name: "env reaches the process", command: ["/bin/sh", "-c", 'exit "$ANSWER"'], args: undefined, workingDir: undefined, exit: 42, env: { ANSWER: "42" } },
  ])("maps $name as Kubernetes does", async ({ command, args, workingDir, exit, env }) => {
    const l = launch({ image: TEST_IMAGES.v1 });
    if (command) l.command = command;
    if (args) l.args = args;
    if (workingDir) l.workingDir = workingDir;
    if (env) l.env = { ...l.env, ...env };
    const c = await rt.run(l);
    const done = await waitExited(rt, c.id);
    expect(done.exitCode).toBe(exit);
  });

  it("sets CPU and memory limits on the container", async () => {
    const c = await rt.run(launch({ limits: { cpuMillis: 250, memoryBytes: 64 * 1024 * 1024 } }));
    const info = await raw.getContainer(c.id).inspect();
    expect(info.HostConfig.NanoCpus).toBe(250_000_000);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.RestartPolicy?.Name).toBe("no");
    expect(info.HostConfig.NetworkMode).toBe("host");
  });

  it("bounds a container's log on an engine whose log driver is json-file (the kubelet's 10 MiB × 5 files)", async () => {
    expect((await raw.info()).LoggingDriver).toBe("json-file"); // the test engines keep Docker's default
    const c = await rt.run(launch());
    const info = await raw.getContainer(c.id).inspect();
    expect(info.HostConfig.LogConfig).toEqual({ Type: "json-file", Config: { "max-file": "5", "max-size": "10m" } });
  });

  it("reports the :exits image as exited with exit code 1", async () => {
    const c = await rt.run(launch({ image: TEST_IMAGES.exits }));
    const done = await waitExited(rt, c.id);
    expect(done.exitCode).toBe(1);
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.startedAt!);
  });

  it("serves v2 from :v2 and no /healthz from :never-ready", async () => {
    const v2 = launch({ image: TEST_IMAGES.v2 });
    const nr = launch({ image: TEST_IMAGES.neverReady });
    await Promise.all([rt.run(v2), rt.run(nr)]);
    const a = await eventually(() => httpGet(Number(v2.env.PORT), "/").catch(() => undefined));
    expect(a.body).toBe("v2\n");
    const b = await eventually(() => httpGet(Number(nr.env.PORT), "/healthz").catch(() => undefined));
    expect(b.status).toBe(404);
  });

  it("stops gracefully: a container that traps TERM exits by itself, not killed at the end of the grace period", async () => {
    const c = await rt.run(launch());
    await waitForSigtermHandling(rt, c.id, "caught"); // /bin/start has set its trap
    await rt.stop(c.id, 20);
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.state).toBe("exited");
    expect(after.exitCode).toBe(0); // a SIGKILL at the end of the grace period would be 137
  });

  it("kills a container that ignores TERM once the grace period is over", async () => {
    const c = await rt.run(launch({ command: ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 1; done"] }));
    await waitForSigtermHandling(rt, c.id, "ignored");
    const since = Math.floor(Date.now() / 1000) - 1;
    await rt.stop(c.id, 1);
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.state).toBe("exited");
    expect(after.exitCode).toBe(137);
    // The engine's own record: SIGTERM, then SIGKILL after our grace period (1 s), not Docker's default (10 s).
    const kills = await killEvents(c.id, since);
    expect(kills.map((k) => k.signal)).toEqual(["15", "9"]);
    const graceMs = (kills[1]!.timeNano - kills[0]!.timeNano) / 1e6;
    expect(graceMs).toBeGreaterThanOrEqual(900);
    expect(graceMs).toBeLessThan(10_000);
  });

  it("runs the command under the engine's init, so a shell with no TERM handler of its own stops on SIGTERM", async () => {
    const c = await rt.run(launch({ command: ["/bin/sh", "-c", "while true; do sleep 1; done"] }));
    expect(await rt.exec(c.id, ["cat", "/proc/1/comm"], 10_000)).toMatchObject({ exitCode: 0, output: "docker-init\n" });
    await rt.stop(c.id, 20);
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.state).toBe("exited");
    expect(after.exitCode).toBe(143); // 128 + SIGTERM, forwarded by the init; a SIGKILL at the grace period's end would be 137
  });

  it("with noInit the command is PID 1 itself, where a shell ignores SIGTERM until the grace period ends", async () => {
    const c = await rt.run(launch({ command: ["/bin/sh", "-c", "while true; do sleep 1; done"], noInit: true }));
    expect(await rt.exec(c.id, ["cat", "/proc/1/comm"], 10_000)).toMatchObject({ exitCode: 0, output: "sh\n" });
    await rt.stop(c.id, 1);
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.exitCode).toBe(137);
  });

  it("treats stopping a stopped or missing container as done", async () => {
    const c = await rt.run(launch({ image: TEST_IMAGES.exits }));
    await waitExited(rt, c.id);
    await expect(rt.stop(c.id, 1)).resolves.toBeUndefined();
    await expect(rt.stop("0".repeat(64), 1)).resolves.toBeUndefined();
  });

  it("removes idempotently, force-killing a running container", async () => {
    const c = await rt.run(launch());
    await rt.remove(c.id);
    expect((await rt.list()).map((x) => x.id)).not.toContain(c.id);
    await expect(rt.remove(c.id)).resolves.toBeUndefined();
    await expect(rt.remove("does-not-exist")).resolves.toBeUndefined();
  });

  it("starts a stopped container again in place", async () => {
    const c = await rt.run(launch());
    await rt.stop(c.id, 5);
    await rt.start(c.id);
    const after = (await rt.list()).find((x) => x.id === c.id)!;
    expect(after.state).toBe("running");
    expect(after.startedAt!).toBeGreaterThan(c.startedAt!);
    await expect(rt.start(c.id)).resolves.toBeUndefined(); // already running
    expect((await rejection(rt.start("0".repeat(64)))).code).toBe("RuntimeCallFailed");
  });

  it("reuses a container of the same name, owner and spec hash (retry after a crash between create and start)", async () => {
    const l = launch();
    const body = { Image: l.image, Env: [`PORT=${l.env.PORT}`], Labels: l.labels, HostConfig: { NetworkMode: "host" } };
    const created = await raw.createContainer({ name: l.runtimeName, ...body });
    const c = await rt.run(l);
    expect(c.id).toBe(created.id);
    expect(c.state).toBe("running");
    const again = await rt.run(l);
    expect(again.id).toBe(created.id);
  });

  it.each([
    { name: "another spec hash", labels: (l: ContainerLaunch) => ({ ...l.labels, [LABELS.specHash]: "different" }) },
    { name: "another owner", labels: (l: ContainerLaunch) => ({ ...l.labels, [LABELS.owner]: "someone-else" }) },
    { name: "no labels at all", labels: () => ({}) },
  ])("refuses a name taken by a container with $name", async ({ labels }) => {
    const l = launch();
    await raw.createContainer({ name: l.runtimeName, Image: l.image, Labels: labels(l), HostConfig: { NetworkMode: "host" } });
    expect((await rejection(rt.run(l))).code).toBe("RuntimeCallFailed");
  });

  it("reports a command missing from the image as CommandNotFound and leaves no container behind, by path or by name (PATH)", async () => {
    for (const command of ["/no/such/program", "no-such-program"]) {
      const l = launch({ command: [command] });
      const err = await rejection(rt.run(l));
      expect(err.code).toBe("CommandNotFound");
      expect((await rt.list()).map((c) => c.runtimeName)).not.toContain(l.runtimeName);
    }
    // Without the init, the engine itself refuses the start: the same code.
    const l = launch({ command: ["/no/such/program"], noInit: true });
    expect((await rejection(rt.run(l))).code).toBe("CommandNotFound");
  });

  it("refuses an env value with a NUL byte as InvalidField naming the variable, not the value, and creates nothing", async () => {
    const marker = "Dk61nulValueQp";
    const l = launch();
    l.env = { ...l.env, TOKEN: `abc\u0000${marker}` };
    const err = await rejection(rt.run(l));
    expect(err.code).toBe("InvalidField");
    expect(err.message).toContain("TOKEN");
    expect(`${err.message} ${JSON.stringify(err.details)}`).not.toContain(marker);
    expect((await raw.listContainers({ all: true })).flatMap((c) => c.Names ?? [])).not.toContain(`/${l.runtimeName}`);
  });

  it("fails fast with ImagePullFailed when the registry refuses connections", async () => {
    const l = launch({ image: "127.0.0.1:1/coxswain-test/missing:v1" });
    const err = await rejection(rt.run(l));
    expect(err.code).toBe("ImagePullFailed");
    expect(err.details).toMatchObject({ image: l.image, node: "node-1" });
    // The engine answered with the refusal; the pull did not run into its deadline.
    expect(isCoxError(err.cause) ? err.cause.code : String(err.cause)).toBe("RuntimeCallFailed");
  });

  it("gives up a pull at its deadline when the registry never answers", async () => {
    const silent = net.createServer(() => undefined); // accepts, never answers
    const p = port();
    await new Promise<void>((resolve) => silent.listen(p, "127.0.0.1", resolve));
    try {
      const r = runtime(0, { pullTimeoutMs: 1_500 });
      const l = launch({ image: `127.0.0.1:${p}/coxswain-test/missing:v1` });
      const t0 = Date.now();
      const err = await rejection(r.run(l));
      expect(err.code).toBe("ImagePullFailed");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
      // Ended by the pull deadline (without it, the call would never return).
      expect(isCoxError(err.cause, "NodeUnreachable") && err.cause.details).toMatchObject({ timeoutMs: 1_500 });
    } finally {
      silent.close();
    }
  });

  it("lists images as sorted repo:tag names", async () => {
    const images = await rt.images();
    expect(images).toEqual(expect.arrayContaining(Object.values(TEST_IMAGES)));
    expect(images).toEqual([...new Set(images)].sort());
  });

  it("rebuilding the test images is a no-op when they are present", async () => {
    const before = await Promise.all(Object.values(TEST_IMAGES).map(async (n) => (await raw.getImage(n).inspect()).Id));
    await buildTestImages(fleet.nodes[0]!.socketPath);
    const after = await Promise.all(Object.values(TEST_IMAGES).map(async (n) => (await raw.getImage(n).inspect()).Id));
    expect(after).toEqual(before);
  });

  it("publishes bridge-mode ports on a user-defined bridge network, on every node", async () => {
    for (const node of [0, 1]) {
      const r = runtime(node, { publishIp: "127.0.0.1" });
      const hostPort = port(node);
      const l = launch({
        network: "bridge",
        env: { PORT: "8080", BIND: "0.0.0.0" },
        ports: [{ name: "http", containerPort: 8080, hostPort, protocol: "TCP" }],
      });
      const c = await r.run(l);
      expect(c.state).toBe("running");
      const res = await eventually(() => httpGet(hostPort, "/").catch(() => undefined), 10_000, `bridge port on node ${node + 1}`);
      expect(res.body).toBe("v1\n");
    }
  });

  it("keeps at most maxConcurrentCalls engine calls in flight", async () => {
    const r = runtime(0, { maxConcurrentCalls: 2 });
    let maxInFlight = 0;
    let sawWaiting = false;
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, r.load.inFlight);
      sawWaiting ||= r.load.waiting > 0;
    }, 0);
    try {
      const results = await Promise.all(Array.from({ length: 12 }, () => r.images()));
      expect(results.every((x) => x.length > 0)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(maxInFlight).toBeLessThanOrEqual(2);
    expect(sawWaiting).toBe(true);
  });
});
