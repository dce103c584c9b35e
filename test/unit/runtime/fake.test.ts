import { describe, expect, it } from "vitest";
import { isCoxError, type ErrorCode } from "../../../operator/src/api/errors.js";
import { FAKE_OPS, FAKE_SIGKILL_EXIT, FAKE_SIGTERM_EXIT, FakeRuntime, type FakeOp } from "../../../operator/src/runtime/fake/index.js";
import { DEFAULT_OWNER, LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";

function launch(name: string, image = "web:v1", owner = DEFAULT_OWNER): ContainerLaunch {
  return {
    runtimeName: name,
    image,
    env: {},
    network: "host",
    ports: [],
    limits: {},
    labels: { [LABELS.owner]: owner, [LABELS.pod]: name },
  };
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | "resolved" | "not a CoxError"> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCoxError(err) ? err.code : "not a CoxError";
  }
}

function node(extra: Partial<ConstructorParameters<typeof FakeRuntime>[0]> = {}): FakeRuntime {
  return new FakeRuntime({ name: "n1", cpuMillis: 4000, memoryBytes: 8 << 30, ...extra });
}

/** Calls one operation with arguments that succeed on a node holding container "n1-c1". */
function call(rt: FakeRuntime, op: FakeOp): Promise<unknown> {
  switch (op) {
    case "connect":
      return rt.connect();
    case "list":
      return rt.list();
    case "run":
      return rt.run(launch(`extra-${rt.calls.run}`));
    case "start":
      return rt.start("n1-c1");
    case "stop":
      return rt.stop("n1-c1", 1);
    case "kill":
      return rt.kill("n1-c1", "SIGTERM");
    case "exec":
      return rt.exec("n1-c1", ["true"], 1_000);
    case "remove":
      return rt.remove("does-not-exist");
    case "images":
      return rt.images();
  }
}

describe("FakeRuntime", () => {
  it("reports the configured capacity on connect", async () => {
    const info = await node().connect();
    expect(info).toEqual({ cpuMillis: 4000, memoryBytes: 8 << 30, engine: "fake n1", platform: "linux/amd64" });
  });

  it("runs a container immediately with a deterministic, counter-based id", async () => {
    const rt = node({ now: () => 42 });
    const a = await rt.run(launch("a"));
    const b = await rt.run(launch("b"));
    expect(a).toMatchObject({ id: "n1-c1", runtimeName: "a", image: "web:v1", state: "running", createdAt: 42, startedAt: 42 });
    expect(b.id).toBe("n1-c2");
    expect(a.labels).toEqual(launch("a").labels);
  });

  it("lists only the owner's containers, sorted by runtime name", async () => {
    const rt = node();
    await rt.run(launch("zeta"));
    await rt.run(launch("alpha"));
    await rt.run(launch("mine-not", "web:v1", "someone-else"));
    const listed = await rt.list();
    expect(listed.map((c) => c.runtimeName)).toEqual(["alpha", "zeta"]);
    expect(rt.size).toBe(3);
  });

  it("hands out frozen views, so callers cannot change the node's state", async () => {
    const rt = node();
    const c = await rt.run(launch("a"));
    expect(() => Object.assign(c, { state: "exited" })).toThrow(TypeError);
    const [listed] = await rt.list();
    expect(() => Object.assign(listed!, { state: "dead" })).toThrow(TypeError);
    expect(rt.get(c.id)?.state).toBe("running");
  });

  it("lists an unchanged container as the same object, and a changed one as a new view", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    const b = await rt.run(launch("b"));
    const first = await rt.list();
    expect(first).toEqual([a, b]);
    expect(first[0]).toBe(a);
    first.pop(); // the array is the caller's
    expect(await rt.list()).toEqual([a, b]);
    await rt.stop(b.id, 10);
    const [a2, b2] = await rt.list();
    expect(a2).toBe(a);
    expect(b2).not.toBe(b);
    expect(b2).toMatchObject({ state: "exited", exitCode: FAKE_SIGTERM_EXIT });
    expect(b.state).toBe("running"); // a view handed out earlier still says what was seen then
  });

  it("rejects a second container with the same runtime name", async () => {
    const rt = node();
    await rt.run(launch("a"));
    expect(await codeOf(rt.run(launch("a")))).toBe("RuntimeCallFailed");
    expect(rt.size).toBe(1);
  });

  it("stops with the SIGTERM exit code given a grace period and the SIGKILL code without one", async () => {
    const rt = node({ now: () => 7 });
    const a = await rt.run(launch("a"));
    const b = await rt.run(launch("b"));
    await rt.stop(a.id, 30);
    await rt.stop(b.id, 0);
    expect(rt.get(a.id)).toMatchObject({ state: "exited", exitCode: FAKE_SIGTERM_EXIT, finishedAt: 7 });
    expect(rt.get(b.id)).toMatchObject({ state: "exited", exitCode: FAKE_SIGKILL_EXIT });
    await rt.stop(a.id, 30); // no-op when stopped
    expect(rt.get(a.id)?.exitCode).toBe(FAKE_SIGTERM_EXIT);
  });

  it("starts a stopped container again with a new start time and no exit", async () => {
    let now = 1;
    const rt = node({ now: () => now });
    const a = await rt.run(launch("a"));
    await rt.stop(a.id, 1);
    now = 5;
    await rt.start(a.id);
    const after = rt.get(a.id)!;
    expect(after.state).toBe("running");
    expect(after.startedAt).toBe(5);
    expect(after.exitCode).toBeUndefined();
    expect(after.finishedAt).toBeUndefined();
  });

  it("removes running and stopped containers, frees the name, and keeps the image", async () => {
    const rt = node();
    const a = await rt.run(launch("a", "web:v1"));
    const b = await rt.run(launch("b", "web:v2"));
    await rt.stop(b.id, 0);
    await rt.remove(a.id);
    await rt.remove(b.id);
    await rt.remove("never-existed");
    expect(await rt.list()).toEqual([]);
    expect(await rt.images()).toEqual(["web:v1", "web:v2"]);
    expect((await rt.run(launch("a"))).state).toBe("running");
  });

  it.each([
    { name: "rejects start of an unknown container", op: "start" as const },
    { name: "rejects stop of an unknown container", op: "stop" as const },
  ])("$name", async ({ op }) => {
    const rt = node();
    const p = op === "start" ? rt.start("nope") : rt.stop("nope", 1);
    expect(await codeOf(p)).toBe("RuntimeCallFailed");
  });

  it("lists added images, sorted", async () => {
    const rt = node();
    rt.addImage("zz:1");
    rt.addImage("aa:1");
    await rt.run(launch("a", "mm:1"));
    expect(await rt.images()).toEqual(["aa:1", "mm:1", "zz:1"]);
  });

  it("reports a crashed container as exited with its exit code and not ready", async () => {
    const rt = node({ now: () => 9 });
    const a = await rt.run(launch("a"));
    expect(rt.isReady(a.id)).toBe(true);
    rt.crash(a.id, 3);
    expect(rt.get(a.id)).toMatchObject({ state: "exited", exitCode: 3, finishedAt: 9 });
    expect(rt.isReady(a.id)).toBe(false);
  });

  it("is ready by default while running, follows setReady, and drops the override on restart", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    rt.setReady(a.id, false);
    expect(rt.isReady(a.id)).toBe(false);
    rt.setReady(a.id, true);
    expect(rt.isReady(a.id)).toBe(true);
    rt.setReady(a.id, false);
    await rt.stop(a.id, 0);
    expect(rt.isReady(a.id)).toBe(false);
    await rt.start(a.id);
    expect(rt.isReady(a.id)).toBe(true);
    expect(rt.isReady("unknown")).toBe(false);
  });

  it.each([
    { name: "rejects crash of an unknown container", act: (rt: FakeRuntime) => rt.crash("nope", 1) },
    { name: "rejects setReady of an unknown container", act: (rt: FakeRuntime) => rt.setReady("nope", true) },
  ])("$name", ({ act }) => {
    let caught: unknown;
    try {
      act(node());
    } catch (err) {
      caught = err;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });

  it.each(FAKE_OPS.map((op) => ({ op })))("fails the next $op calls with the injected code, then recovers", async ({ op }) => {
    const rt = node();
    await rt.run(launch("first")); // n1-c1, the target of start/stop
    const before = rt.calls[op];
    rt.failNext(op, "ImagePullFailed", 2);
    expect(await codeOf(call(rt, op))).toBe("ImagePullFailed");
    expect(await codeOf(call(rt, op))).toBe("ImagePullFailed");
    expect(await codeOf(call(rt, op))).toBe("resolved");
    expect(rt.calls[op] - before).toBe(3);
  });

  it("queues injected failures in order", async () => {
    const rt = node();
    rt.failNext("list", "RuntimeCallFailed");
    rt.failNext("list", "NodeUnreachable");
    expect(await codeOf(rt.list())).toBe("RuntimeCallFailed");
    expect(await codeOf(rt.list())).toBe("NodeUnreachable");
    expect(await codeOf(rt.list())).toBe("resolved");
  });

  it("does not create a container when run fails", async () => {
    const rt = node();
    rt.failNext("run", "RuntimeCallFailed");
    await codeOf(rt.run(launch("a")));
    expect(rt.size).toBe(0);
    expect((await rt.run(launch("a"))).id).toBe("n1-c1");
  });

  it("throws NodeUnreachable from every call while down and keeps its containers", async () => {
    const rt = node();
    const a = await rt.run(launch("first"));
    rt.setDown(true);
    expect(rt.down).toBe(true);
    for (const op of FAKE_OPS) expect(await codeOf(call(rt, op))).toBe("NodeUnreachable");
    rt.setDown(false);
    expect((await rt.list()).map((c) => c.id)).toEqual([a.id]);
    expect(rt.get(a.id)?.state).toBe("running");
  });

  it("counts every call per operation", async () => {
    const rt = node();
    await rt.connect();
    await rt.list();
    await rt.list();
    const a = await rt.run(launch("a"));
    await rt.stop(a.id, 0);
    await rt.start(a.id);
    await rt.exec(a.id, ["true"], 100);
    await rt.kill(a.id, "SIGKILL");
    await rt.remove(a.id);
    await rt.images();
    expect(rt.calls).toEqual({ connect: 1, list: 2, run: 1, start: 1, stop: 1, kill: 1, remove: 1, images: 1, exec: 1 });
  });

  it("delays every call by a fixed latency", async () => {
    const rt = node({ latencyMs: 40 });
    const started = performance.now();
    await rt.list();
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it("delays each operation by its own latency", async () => {
    const rt = node({ latencyMs: (op) => (op === "run" ? 60 : 0) });
    // No latency: answered without a timer, before anything queued on the event loop runs.
    const order: string[] = [];
    setImmediate(() => order.push("next turn of the event loop"));
    await rt.list();
    order.push("list");
    expect(order).toEqual(["list"]);
    const started = performance.now();
    await rt.run(launch("a"));
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it("notifies watchers of every change, and not after unsubscribing", async () => {
    const rt = node();
    const seen: (string | undefined)[] = [];
    const off = rt.watch((id) => seen.push(id));
    const a = await rt.run(launch("a"));
    rt.crash(a.id, 1);
    await rt.start(a.id);
    await rt.stop(a.id, 1);
    await rt.remove(a.id);
    await Promise.resolve();
    expect(seen).toEqual([a.id, a.id, a.id, a.id, a.id]);
    off();
    await rt.run(launch("b"));
    await Promise.resolve();
    expect(seen).toHaveLength(5);
  });

  it("takes seeded containers as found, including those of other owners", async () => {
    const rt = node();
    rt.seed({ id: "old-1", runtimeName: "leftover", image: "web:v0", labels: { [LABELS.owner]: DEFAULT_OWNER }, state: "exited", exitCode: 1, createdAt: 1 });
    rt.seed({ id: "other-1", runtimeName: "theirs", image: "db:1", labels: { [LABELS.owner]: "other" }, state: "running", createdAt: 1 });
    expect((await rt.list()).map((c) => c.id)).toEqual(["old-1"]);
    expect(await rt.images()).toEqual(["db:1", "web:v0"]);
    expect(() => rt.seed({ id: "x", runtimeName: "leftover", image: "i", labels: {}, state: "running", createdAt: 1 })).toThrow();
  });

  it("lists with a custom owner", async () => {
    const rt = node({ owner: "blue" });
    await rt.run(launch("a", "i", "blue"));
    await rt.run(launch("b", "i", DEFAULT_OWNER));
    expect((await rt.list()).map((c) => c.runtimeName)).toEqual(["a"]);
  });

  it("runs and lists 50,000 containers (the time is printed, not asserted: a benchmark's job)", async () => {
    const rt = node({ cpuMillis: 1_000_000 });
    const launches = Array.from({ length: 50_000 }, (_, i) => launch(`pod-${i}`));
    const started = performance.now();
    for (const l of launches) await rt.run(l);
    const elapsed = performance.now() - started;
    console.log(`fake runtime: 50,000 run() calls in ${elapsed.toFixed(0)} ms`);
    expect(rt.size).toBe(50_000);
    const listStarted = performance.now();
    expect((await rt.list()).length).toBe(50_000);
    console.log(`fake runtime: list() of 50,000 containers in ${(performance.now() - listStarted).toFixed(0)} ms`);
  });
});

describe("FakeRuntime restarts, signals and exec", () => {
  it("counts restarts in place: a new container has 0, each start after a run adds one, and the count stays after a stop", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    expect(a.restartCount).toBe(0);
    await rt.start(a.id); // running: no-op, not a restart
    expect(rt.get(a.id)?.restartCount).toBe(0);
    rt.crash(a.id, 1);
    await rt.start(a.id);
    await rt.stop(a.id, 1);
    await rt.start(a.id);
    await rt.stop(a.id, 0);
    expect((await rt.list())[0]?.restartCount).toBe(2);
  });

  it("keeps the restart count of a seeded container and counts from there", async () => {
    const rt = node();
    rt.seed({ id: "s", runtimeName: "s", image: "i", labels: { [LABELS.owner]: DEFAULT_OWNER }, state: "exited", exitCode: 1, createdAt: 1, startedAt: 2, finishedAt: 3, restartCount: 4 });
    await rt.start("s");
    expect(rt.get("s")?.restartCount).toBe(5);
  });

  it.each([
    { name: "a program that dies of SIGTERM exits 143 on stop", behaviour: undefined, grace: 30, exit: FAKE_SIGTERM_EXIT },
    { name: "a program that handles SIGTERM exits 0 on stop", behaviour: "exit0" as const, grace: 30, exit: 0 },
    { name: "a program that ignores SIGTERM is killed after the grace period (137)", behaviour: "ignore" as const, grace: 30, exit: FAKE_SIGKILL_EXIT },
    { name: "a stop without grace kills at once even a program that exits on SIGTERM (137)", behaviour: "exit0" as const, grace: 0, exit: FAKE_SIGKILL_EXIT },
  ])("$name", async ({ behaviour, grace, exit }) => {
    const rt = node();
    const a = await rt.run(launch("a"));
    if (behaviour) rt.setSigtermBehaviour(a.id, behaviour);
    await rt.stop(a.id, grace);
    expect(rt.get(a.id)).toMatchObject({ state: "exited", exitCode: exit });
  });

  it.each([
    { name: "SIGKILL kills with 137", signal: "SIGKILL" as const, behaviour: undefined, state: "exited", exit: 137 },
    { name: "SIGTERM kills a default program with 143", signal: "SIGTERM" as const, behaviour: undefined, state: "exited", exit: 143 },
    { name: "SIGTERM leaves a program that ignores it running", signal: "SIGTERM" as const, behaviour: "ignore" as const, state: "running", exit: undefined },
    { name: "SIGINT kills with 130", signal: "SIGINT" as const, behaviour: undefined, state: "exited", exit: 130 },
    { name: "SIGHUP kills with 129", signal: "SIGHUP" as const, behaviour: undefined, state: "exited", exit: 129 },
  ])("kill: $name", async ({ signal, behaviour, state, exit }) => {
    const rt = node();
    const a = await rt.run(launch("a"));
    if (behaviour) rt.setSigtermBehaviour(a.id, behaviour);
    await rt.kill(a.id, signal);
    expect(rt.get(a.id)?.state).toBe(state);
    expect(rt.get(a.id)?.exitCode).toBe(exit);
  });

  it("kill of a stopped container is a no-op, of an unknown one RuntimeCallFailed", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    await rt.stop(a.id, 1);
    await rt.kill(a.id, "SIGKILL");
    expect(rt.get(a.id)?.exitCode).toBe(FAKE_SIGTERM_EXIT);
    expect(await codeOf(rt.kill("nope", "SIGTERM"))).toBe("RuntimeCallFailed");
  });

  it("exec succeeds with empty output when nothing is scripted, and records every command", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    expect(await rt.exec(a.id, ["cat", "/healthz"], 1_000)).toEqual({ exitCode: 0, output: "" });
    expect(rt.execs).toEqual([{ id: a.id, command: ["cat", "/healthz"] }]);
  });

  it.each([
    { name: "returns a scripted success", script: () => ({ exitCode: 0, output: "ok\n" }), result: { exitCode: 0, output: "ok\n" } },
    { name: "returns a scripted failure", script: () => ({ exitCode: 1, output: "cat: /healthz: No such file\n" }), result: { exitCode: 1, output: "cat: /healthz: No such file\n" } },
    { name: "returns an async script's result before the deadline", script: async () => ({ exitCode: 3, output: "" }), result: { exitCode: 3, output: "" } },
    {
      name: "turns a throwing script into exit code 126 with its message",
      script: () => {
        throw new Error("exec format error");
      },
      result: { exitCode: 126, output: "exec format error" },
    },
    { name: "times out a script that does not answer by the deadline", script: () => new Promise<never>(() => undefined), result: { exitCode: -1, output: "", timedOut: true } },
    { name: "cuts output to 10 KiB", script: () => ({ exitCode: 0, output: "x".repeat(20_000) }), result: { exitCode: 0, output: "x".repeat(10 * 1024) } },
  ])("exec $name", async ({ script, result }) => {
    const rt = node();
    const a = await rt.run(launch("a"));
    rt.setExecResult(a.id, script);
    expect(await rt.exec(a.id, ["probe"], 50)).toEqual(result);
  });

  it("passes the command and deadline to the script", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    const seen: Array<[readonly string[], number]> = [];
    rt.setExecResult(a.id, (command, timeoutMs) => {
      seen.push([command, timeoutMs]);
      return { exitCode: command[0] === "ok" ? 0 : 1, output: "" };
    });
    expect((await rt.exec(a.id, ["ok"], 500)).exitCode).toBe(0);
    expect((await rt.exec(a.id, ["bad"], 700)).exitCode).toBe(1);
    expect(seen).toEqual([
      [["ok"], 500],
      [["bad"], 700],
    ]);
  });

  it("refuses exec in a stopped or unknown container with RuntimeCallFailed", async () => {
    const rt = node();
    const a = await rt.run(launch("a"));
    rt.crash(a.id, 1);
    expect(await codeOf(rt.exec(a.id, ["true"], 100))).toBe("RuntimeCallFailed");
    expect(await codeOf(rt.exec("nope", ["true"], 100))).toBe("RuntimeCallFailed");
  });

  it.each([
    { name: "rejects setExecResult for an unknown container", act: (rt: FakeRuntime) => rt.setExecResult("nope", () => ({ exitCode: 0, output: "" })) },
    { name: "rejects setSigtermBehaviour for an unknown container", act: (rt: FakeRuntime) => rt.setSigtermBehaviour("nope", "ignore") },
  ])("$name", ({ act }) => {
    let caught: unknown;
    try {
      act(node());
    } catch (err) {
      caught = err;
    }
    expect(isCoxError(caught, "InvalidArgument")).toBe(true);
  });
});

describe("FakeRuntime usage", () => {
  it("accrues CPU time at the rate set, on its clock, for a running container only", async () => {
    let now = 1_000;
    const rt = node({ now: () => now });
    const c = await rt.run(launch("web"));
    expect(await rt.usage(c.id)).toBeUndefined();
    rt.setUsage(c.id, 250, 64 << 20);
    now += 2_000;
    expect(await rt.usage(c.id)).toEqual({ cpuNanos: 500e6, memoryBytes: 64 << 20, at: 3_000 });
    rt.setUsage(c.id, 1000, 64 << 20);
    now += 1_000;
    expect((await rt.usage(c.id))!.cpuNanos).toBe(1500e6);
    await rt.stop(c.id, 0);
    expect(await rt.usage(c.id)).toBeUndefined();
  });
});
