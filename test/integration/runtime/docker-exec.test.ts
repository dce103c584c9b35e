/**
 * DockerRuntime exec, kill, restart counts and stop exit codes against a real Docker engine (one dockerd
 * started by the test fleet support), with the busybox test images.
 */
import net from "node:net";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCoxError, type ErrorCode } from "../../../operator/src/api/errors.js";
import { DockerRuntime } from "../../../operator/src/runtime/docker/index.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import { runProbe } from "../../../operator/src/runtime/probe.js";
import type { ContainerLaunch, ObservedContainer } from "../../../operator/src/runtime/types.js";
import { requireDocker, startFleet, type TestFleet } from "../../support/docker-fleet.js";
import { buildTestImages, TEST_IMAGES } from "../../support/images.js";
import { waitForSigtermHandling } from "../../support/observe.js";

const OWNER = "cx-test-exec";
const enabled = requireDocker("docker exec");

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | "resolved" | "not a CoxError"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

/** Polls fn until it returns a defined value or the deadline passes. */
async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!enabled)("DockerRuntime exec, kill and restart counts on a real engine", () => {
  let fleet: TestFleet;
  let rt: DockerRuntime;
  let raw: Docker;
  let seq = 0;
  let nextPort = 0;
  const runtimes: DockerRuntime[] = [];

  function runtime(extra: Partial<ConstructorParameters<typeof DockerRuntime>[0]> = {}): DockerRuntime {
    const r = new DockerRuntime({ endpoint: fleet.nodes[0]!.endpoint, owner: OWNER, nodeName: "node-1", callTimeoutMs: 10_000, ...extra });
    runtimes.push(r);
    return r;
  }

  function launch(overrides: Partial<ContainerLaunch> = {}): ContainerLaunch {
    const n = ++seq;
    const p = Number(fleet.nodes[0]!.portRange.split("-")[0]) + nextPort++;
    return {
      runtimeName: `cx_test_exec-${n}_app`,
      image: TEST_IMAGES.v1,
      env: { PORT: String(p) },
      network: "host",
      ports: [{ name: "http", containerPort: p, hostPort: p, protocol: "TCP" }],
      limits: {},
      labels: { [LABELS.owner]: OWNER, [LABELS.pod]: `exec-${n}`, [LABELS.specHash]: `spec-${n}` },
      ...overrides,
    };
  }

  async function observed(r: DockerRuntime, id: string): Promise<ObservedContainer | undefined> {
    return (await r.list()).find((c) => c.id === id);
  }

  async function waitExited(r: DockerRuntime, id: string): Promise<ObservedContainer> {
    return eventually(
      async () => {
        const c = await observed(r, id);
        return c?.state === "exited" ? c : undefined;
      },
      15_000,
      `container ${id} to exit`,
    );
  }

  beforeAll(async () => {
    fleet = await startFleet({ nodes: 1, name: "exec" });
    await buildTestImages(fleet.nodes[0]!.socketPath);
    raw = new Docker({ socketPath: fleet.nodes[0]!.socketPath });
    rt = runtime();
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await fleet?.stop();
  });

  it("runs a command in the container's working directory and environment", async () => {
    const c = await rt.run(launch({ workingDir: "/www", env: { PORT: "1", GREETING: "hello from env" }, command: ["sleep", "600"] }));
    expect(await rt.exec(c.id, ["sh", "-c", 'pwd; echo "$GREETING"'], 5_000)).toEqual({ exitCode: 0, output: "/www\nhello from env\n" });
    await rt.remove(c.id);
  });

  it("reports a failing command's exit code with stdout and stderr together", async () => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    expect(await rt.exec(c.id, ["sh", "-c", "echo out; sleep 0.05; echo err >&2; exit 3"], 5_000)).toEqual({
      exitCode: 3,
      output: "out\nerr\n",
    });
    await rt.remove(c.id);
  });

  it("reports a program missing from the image as a failed command (126/127), not an error", async () => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    const result = await rt.exec(c.id, ["/no/such/program"], 5_000);
    expect([126, 127]).toContain(result.exitCode);
    expect(result.timedOut).toBeUndefined();
    await rt.remove(c.id);
  });

  it("times out a command at the deadline, closes the stream and kills the command inside the container", async () => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    const started = Date.now();
    const result = await rt.exec(c.id, ["sh", "-c", "echo begun; sleep 300"], 500);
    const elapsed = Date.now() - started;
    // Not before the deadline; not at the command's end either (it sleeps 300 s; the test would time out).
    expect(result).toEqual({ exitCode: -1, output: "begun\n", timedOut: true });
    expect(elapsed).toBeGreaterThanOrEqual(490);
    // The engine runs on this host, so the exec'd shell and its sleep are killed: only PID 1's sleep 600 is left.
    const left = await eventually(
      async () => {
        const ps = await rt.exec(c.id, ["ps", "-o", "args"], 5_000);
        return ps.output.includes("sleep 300") ? undefined : ps.output;
      },
      5_000,
      "the timed-out command to be killed",
    );
    expect(left).toContain("sleep 600");
    expect((await observed(rt, c.id))?.state).toBe("running");
    await rt.remove(c.id);
  });

  it("resolves at the deadline while waiting for an engine slot, and never runs the command afterwards", async () => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    let pulling!: () => void;
    const pullReachedRegistry = new Promise<void>((resolve) => (pulling = resolve));
    const silent = net.createServer(() => pulling()); // a registry that accepts and never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const registry = (silent.address() as net.AddressInfo).port;
    try {
      const busy = runtime({ maxConcurrentCalls: 1, pullTimeoutMs: 5_000 });
      const pull = busy.run(launch({ image: `127.0.0.1:${registry}/coxswain-test/missing:v1` })).then(
        () => "pull",
        () => "pull",
      );
      await pullReachedRegistry; // the engine is pulling: the pull holds the only slot now
      const exec = busy.exec(c.id, ["sh", "-c", "echo ran > /tmp/marker"], 500);
      // The exec gives up at its own deadline (0.5 s), before the pull (deadline 5 s) frees the slot.
      expect(await Promise.race([exec.then(() => "exec"), pull])).toBe("exec");
      expect(await exec).toMatchObject({ exitCode: -1, timedOut: true });
      await pull;
      // One more call through the same single slot: an exec still queued for it would have run first.
      await busy.list();
      expect((await rt.exec(c.id, ["cat", "/tmp/marker"], 5_000)).exitCode).not.toBe(0);
    } finally {
      silent.close();
    }
    await rt.remove(c.id);
  });

  it("keeps the first 10 KiB of a command's output", async () => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    const result = await rt.exec(c.id, ["sh", "-c", "yes 0123456789 | head -c 100000"], 5_000);
    expect(result.exitCode).toBe(0);
    expect(result.output).toHaveLength(10 * 1024);
    expect(result.output.startsWith("0123456789\n0123456789\n")).toBe(true);
    await rt.remove(c.id);
  });

  it.each([
    { name: "refuses exec in a stopped container", target: "stopped" as const, command: ["true"], code: "RuntimeCallFailed" },
    { name: "refuses exec in a missing container", target: "missing" as const, command: ["true"], code: "RuntimeCallFailed" },
    { name: "refuses an empty exec command", target: "running" as const, command: [] as string[], code: "InvalidArgument" },
  ])("$name", async ({ target, command, code }) => {
    const c = await rt.run(launch({ command: ["sleep", "600"] }));
    if (target === "stopped") await rt.stop(c.id, 0);
    expect(await codeOf(rt.exec(target === "missing" ? "0".repeat(64) : c.id, command, 2_000))).toBe(code);
    await rt.remove(c.id);
  });

  it.each([
    { name: "passes on :v1, which serves /www/healthz", image: TEST_IMAGES.v1, ok: true },
    { name: "fails on :never-ready, which has no /www/healthz", image: TEST_IMAGES.neverReady, ok: false },
  ])("an exec probe `cat /www/healthz` $name", async ({ image, ok }) => {
    const c = await rt.run(launch({ image }));
    const outcome = await runProbe({ type: "exec", command: ["cat", "/www/healthz"], runtime: rt, containerId: c.id }, 2_000);
    expect(outcome.ok).toBe(ok);
    if (!ok) expect(outcome.message).toContain("exit code 1");
    await rt.remove(c.id);
  });

  it("counts restarts in place in the container's name: list shows the count, a new runtime instance too, the runtime name stays", async () => {
    const l = launch({ image: TEST_IMAGES.exits });
    const c = await rt.run(l);
    expect(c.restartCount).toBe(0);
    await waitExited(rt, c.id);
    await rt.start(c.id);
    await waitExited(rt, c.id);
    await rt.start(c.id);
    const after = await waitExited(rt, c.id);
    expect(after).toMatchObject({ runtimeName: l.runtimeName, restartCount: 2, exitCode: 1 });
    expect((await observed(runtime(), c.id))?.restartCount).toBe(2);
    expect((await raw.getContainer(c.id).inspect()).Name).toBe(`/${l.runtimeName}.2`);
    await rt.remove(c.id);
  });

  it("does not count a start of a running container, nor of one that never ran", async () => {
    const running = await rt.run(launch());
    await rt.start(running.id);
    expect((await observed(rt, running.id))?.restartCount).toBe(0);
    const l = launch({ command: ["sleep", "600"] });
    const created = await raw.createContainer({ name: l.runtimeName, Image: l.image, Cmd: l.command, Labels: l.labels, HostConfig: { NetworkMode: "host" } });
    await rt.start(created.id);
    expect(await observed(rt, created.id)).toMatchObject({ state: "running", restartCount: 0 });
    await rt.remove(running.id);
    await rt.remove(created.id);
  });

  it("refuses a runtime name that looks like it carries a restart count", async () => {
    expect(await codeOf(rt.run(launch({ runtimeName: "cx_test_app.3" })))).toBe("InvalidArgument");
  });

  it.each([
    { name: "a program that exits 0 on SIGTERM reports 0", command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"], grace: 10, exit: 0 },
    { name: "a program that dies of SIGTERM (exits 128+15) reports 143", command: ["sh", "-c", "trap 'exit 143' TERM; while true; do sleep 0.1; done"], grace: 10, exit: 143 },
    { name: "a program that ignores SIGTERM is killed after the grace period: 137", command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"], grace: 1, exit: 137 },
  ])("stop reports the exit as it happened — $name", async ({ command, grace, exit }) => {
    const c = await rt.run(launch({ command }));
    await waitForSigtermHandling(rt, c.id, exit === 137 ? "ignored" : "caught");
    await rt.stop(c.id, grace);
    expect(await observed(rt, c.id)).toMatchObject({ state: "exited", exitCode: exit });
    await rt.remove(c.id);
  });

  it.each([
    { name: "SIGKILL kills at once: 137", signal: "SIGKILL" as const, exit: 137 },
    { name: "SIGTERM reaches the test app, which exits 0 by itself", signal: "SIGTERM" as const, exit: 0 },
  ])("kill sends one signal without waiting — $name", async ({ signal, exit }) => {
    const c = await rt.run(launch());
    await waitForSigtermHandling(rt, c.id, "caught"); // /bin/start has set its trap
    await rt.kill(c.id, signal);
    expect((await waitExited(rt, c.id)).exitCode).toBe(exit);
    await rt.kill(c.id, "SIGKILL"); // no-op once stopped
    expect((await observed(rt, c.id))?.exitCode).toBe(exit);
    expect(await codeOf(rt.kill("0".repeat(64), "SIGTERM"))).toBe("RuntimeCallFailed");
    await rt.remove(c.id);
  });

  it("keeps list and create answering while a stop waits out its grace period", async () => {
    // One call slot: stops have their own, so the stop in its grace period holds no slot list or create needs.
    const r = runtime({ maxConcurrentCalls: 1 });
    // The handler notes the SIGTERM and carries on, so the stop waits out its (long) grace period — until the
    // test lets the program end by itself, so that no clock decides when the stop is over.
    const program = "trap 'touch /tmp/got-term' TERM; while [ ! -e /tmp/exit-now ]; do sleep 0.1; done";
    const stubborn = await r.run(launch({ command: ["sh", "-c", program] }));
    await waitForSigtermHandling(rt, stubborn.id, "caught");
    let stopDone = false;
    const stop = r.stop(stubborn.id, 300).finally(() => (stopDone = true));
    await eventually(async () => ((await rt.exec(stubborn.id, ["test", "-e", "/tmp/got-term"], 5_000)).exitCode === 0 ? true : undefined), 60_000, "the stop's SIGTERM");
    // The stop is inside its grace period now; list and create go through the single call slot.
    const listed = await r.list();
    const fresh = await r.run(launch());
    expect(stopDone).toBe(false);
    expect(listed.some((c) => c.id === stubborn.id)).toBe(true);
    await rt.exec(stubborn.id, ["touch", "/tmp/exit-now"], 5_000);
    await stop;
    for (const c of [stubborn, fresh]) await r.remove(c.id);
  });
});
