/**
 * The fleet cache on fake runtimes: pods grouped from container labels, host ports assigned from the
 * node's range and never twice, reservations counted by the scheduler's view before containers exist,
 * nodes joining only after their first listing, and readiness from the probe stored in the labels.
 */
import { describe, expect, it, vi } from "vitest";
import { CoxError } from "../../../operator/src/api/errors.js";
import { FakeRuntime } from "../../../operator/src/runtime/fake/index.js";
import { Fleet, type NodeConfig } from "../../../operator/src/runtime/fleet.js";
import { LABELS } from "../../../operator/src/runtime/labels.js";
import type { ContainerLaunch } from "../../../operator/src/runtime/types.js";
import type { ProbeTarget } from "../../../operator/src/runtime/probe.js";
import { waitFor } from "../../support/wait.js";
import { lineLogger } from "../../support/log.js";

const GiB = 2 ** 30;

function node(name: string, from = 30000, to = 30003): NodeConfig {
  return { name, endpoint: `unix:///fake/${name}.sock`, network: "host", address: "127.0.0.1", portRange: { from, to }, unschedulable: false, labels: {} };
}

function launch(pod: string, ports: number[], extra: Record<string, string> = {}): ContainerLaunch {
  return {
    runtimeName: `cx_default_${pod}_app`,
    image: "app:v1",
    env: {},
    network: "host",
    ports: ports.map((p) => ({ containerPort: 8080, hostPort: p, protocol: "TCP" as const })),
    limits: {},
    labels: {
      [LABELS.owner]: "coxswain",
      [LABELS.kind]: "Deployment",
      [LABELS.namespace]: "default",
      [LABELS.workload]: "web",
      [LABELS.pod]: pod,
      [LABELS.container]: "app",
      [LABELS.revision]: "r1",
      [LABELS.ports]: JSON.stringify(ports.map((p) => ({ containerPort: 8080, hostPort: p, protocol: "TCP" }))),
      [LABELS.requests]: JSON.stringify({ cpuMillis: 500, memoryBytes: GiB }),
      ...extra,
    },
  };
}

/** A pod with init containers migrate and seed before its container app, as podLaunches creates them. */
function podWithInits(pod: string): ContainerLaunch[] {
  const one = (name: string, init: number | undefined): ContainerLaunch => {
    const base = launch(pod, [], { [LABELS.container]: name, ...(init !== undefined ? { [LABELS.init]: String(init) } : {}) });
    return { ...base, runtimeName: `cx_default_${pod}_${name}`, ...(init === 0 ? {} : { startLater: true as const }) };
  };
  return [one("migrate", 0), one("seed", 1), one("app", undefined)];
}

function makeFleet(opts: { latency?: (name: string) => number; prober?: (t: ProbeTarget) => Promise<{ ok: boolean; message: string }> } = {}) {
  const runtimes = new Map<string, FakeRuntime>();
  const changes: string[][] = [];
  const fleet = new Fleet({
    runtimeFactory: (n) => {
      const rt = new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB, latencyMs: opts.latency?.(n.name) ?? 0 });
      runtimes.set(n.name, rt);
      return rt;
    },
    pollMs: 60_000,
    ...(opts.prober ? { prober: (t) => opts.prober!(t) } : {}),
    onChange: ({ owners }) => owners.length && changes.push(owners),
  });
  return { fleet, runtimes, changes };
}

describe("fleet", () => {
  it("assigns the lowest free host ports and never one that a pod or a reservation holds", async () => {
    const { fleet } = makeFleet();
    await fleet.setNodes([node("n1", 30000, 30003)]);
    const a = fleet.reserve({ pod: "web-a", node: "n1", owner: "Deployment/default/web", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 100, memoryBytes: 0 }, portCount: 2 });
    expect(a).toEqual([30000, 30001]);
    await fleet.createPod("web-a", "n1", [launch("web-a", a)]);
    const b = fleet.reserve({ pod: "web-b", node: "n1", owner: "Deployment/default/web", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 100, memoryBytes: 0 }, portCount: 1 });
    expect(b).toEqual([30002]);
    expect(() => fleet.reserve({ pod: "web-c", node: "n1", owner: "x", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 0, memoryBytes: 0 }, portCount: 2 })).toThrow();
    await fleet.close();
  });

  it("never assigns a port reserved for the Services' node ports", async () => {
    const { fleet } = makeFleet();
    await fleet.setNodes([node("n1", 30000, 30003)]);
    fleet.setReservedHostPorts([30000, 30002]);
    const a = fleet.reserve({ pod: "web-a", node: "n1", owner: "Deployment/default/web", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 100, memoryBytes: 0 }, portCount: 2 });
    expect(a).toEqual([30001, 30003]);
    await fleet.close();
  });

  it("the scheduler's view offers a node's declared extended resources and counts those its pods (labels) and reservations request", async () => {
    const { fleet } = makeFleet();
    await fleet.setNodes([{ ...node("n1"), capacity: { extended: { "example.com/dongle": 2 } } }, node("n2")]);
    const dongle = JSON.stringify({ cpuMillis: 0, memoryBytes: 0, extended: { "example.com/dongle": 1 } });
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000], { [LABELS.requests]: dongle })]);
    fleet.reserve({
      pod: "web-b",
      node: "n1",
      owner: "Deployment/default/web",
      requests: { cpuMillis: 0, memoryBytes: 0, extended: { "example.com/dongle": 1 } },
      requestsForScoring: { cpuMillis: 100, memoryBytes: 0 },
      portCount: 1,
    });
    const [n1, n2] = fleet.schedulerSnapshot();
    expect(n1!.allocatable.extended).toEqual({ "example.com/dongle": 2 });
    expect(n1!.requested).toEqual({ cpuMillis: 0, memoryBytes: 0, extended: { "example.com/dongle": 2 } });
    expect(n2!.allocatable.extended).toBeUndefined();
    expect(n2!.requested.extended).toBeUndefined();
    await fleet.close();
  });

  it("the scheduler's view counts reservations before their containers exist, and pods' labelled requests", async () => {
    const { fleet } = makeFleet();
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    fleet.reserve({ pod: "web-b", node: "n1", owner: "Deployment/default/web", requests: { cpuMillis: 250, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 250, memoryBytes: 200 }, portCount: 1 });
    const [snap] = fleet.schedulerSnapshot();
    expect(snap!.requested).toEqual({ cpuMillis: 750, memoryBytes: GiB });
    expect(snap!.podCount).toBe(2);
    expect(snap!.podsByOwner).toEqual({ "Deployment/default/web": 2 });
    expect(snap!.freePorts).toBe(2);
    fleet.release("web-b");
    expect(fleet.schedulerSnapshot()[0]!.podCount).toBe(1);
    await fleet.close();
  });

  it("groups containers into pods by label and rebuilds the same pods from a new fleet (a restart)", async () => {
    const first = makeFleet();
    await first.fleet.setNodes([node("n1")]);
    await first.fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    const rt = first.runtimes.get("n1")!;
    const second = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000 });
    await second.setNodes([node("n1")]);
    // Readiness starts afresh: a pod without probes is ready once a listing a second later still sees it.
    expect(second.pods().map((p) => [p.name, p.owner, p.phase, p.ready, p.reason])).toEqual([["web-a", "Deployment/default/web", "Running", false, "Starting"]]);
    second.start();
    await waitFor("ready again", () => second.pods()[0]?.ready, 5_000);
    await first.fleet.close();
    await second.close();
  });

  it("a relisting that changed nothing keeps every pod as it was built; a container whose state changed rebuilds its pod only", async () => {
    const { fleet, runtimes, changes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    await fleet.createPod("web-b", "n1", [launch("web-b", [30001])]);
    const rt = runtimes.get("n1")!;
    // Every listing answers with new objects, labels included, as an engine's JSON does.
    const list = rt.list.bind(rt);
    vi.spyOn(rt, "list").mockImplementation(async () => (await list()).map((c) => ({ ...c, labels: { ...c.labels } })));
    await fleet.refresh("n1");
    const built = fleet.pods().map((p) => p.containers);
    const changesBefore = changes.length;
    await fleet.refresh("n1");
    await fleet.refresh("n1");
    expect(fleet.pods().map((p) => p.containers)).toEqual(built);
    for (const [i, p] of fleet.pods().entries()) expect(p.containers).toBe(built[i]);
    expect(changes.length).toBe(changesBefore);
    rt.crash(built[1]![0]!.id, 3);
    await fleet.refresh("n1");
    const [a, b] = fleet.pods();
    expect(a!.containers).toBe(built[0]);
    expect(b!.containers).not.toBe(built[1]);
    expect([b!.containers[0]!.state, b!.containers[0]!.exitCode]).toEqual(["exited", 3]);
    expect(changes.length).toBeGreaterThan(changesBefore);
    await fleet.close();
  });

  it("a pod without probes is ready only once a listing begun a second after the first still sees it running; a run that exits before never was", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    fleet.start();
    const readySeen = new Set<string>();
    const sample = setInterval(() => {
      for (const p of fleet.pods()) if (p.ready) readySeen.add(`${p.name} run ${p.restartCount}`);
    }, 10);
    try {
      await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
      await fleet.createPod("web-b", "n1", [launch("web-b", [30001])]);
      expect(fleet.pods().map((p) => [p.name, p.ready, p.reason])).toEqual([
        ["web-a", false, "Starting"],
        ["web-b", false, "Starting"],
      ]);
      runtimes.get("n1")!.crash(fleet.pods()[1]!.containers[0]!.id, 1);
      await fleet.refresh("n1");
      await waitFor("web-a ready", () => fleet.pods()[0]!.ready, 5_000);
      // web-b's first run crashed within its first second: never ready (its restart in place may be).
      expect(readySeen.has("web-b run 0")).toBe(false);
    } finally {
      clearInterval(sample);
      await fleet.close();
    }
  });

  it("adds new nodes only after every one of them was listed, so no decision sees half a fleet", async () => {
    const { fleet, runtimes } = makeFleet();
    // The slow node's first listing waits for a gate the test opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const joining = fleet.setNodes([node("fast"), node("slow", 31000, 31003)]);
    const slow = runtimes.get("slow")!;
    const list = slow.list.bind(slow);
    slow.list = async () => {
      await gate;
      return list();
    };
    const fast = runtimes.get("fast")!;
    await waitFor("the fast node to be listed", () => fast.calls.list > 0 && fast.calls.images > 0);
    await new Promise((r) => setImmediate(r)); // its listing has been taken in
    expect(fleet.schedulerSnapshot()).toEqual([]);
    open();
    await joining;
    expect(fleet.schedulerSnapshot().map((n) => n.name)).toEqual(["fast", "slow"]);
    await fleet.close();
  });

  it("keeps a node named leaving, cordoned and draining with its pods, until it is left out; one back in the configs stops leaving", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("a"), node("b", 31000, 31003)]);
    await runtimes.get("b")!.run(launch("web-1", [31000]));
    await fleet.refreshAll();
    expect(await fleet.setNodes([node("a")], ["b"])).toEqual([]);
    const b = () => fleet.listNodes().find((n) => n.config.name === "b");
    expect(b()).toMatchObject({ leaving: true, config: { drain: true } });
    expect(fleet.schedulerSnapshot().find((n) => n.name === "b")?.unschedulable).toBe(true);
    expect(fleet.pods().map((p) => `${p.name}@${p.node}`)).toEqual(["web-1@b"]);
    // Back in Git: it stops leaving, with the config given now.
    await fleet.setNodes([node("a"), node("b", 31000, 31003)]);
    expect(b()?.leaving).toBe(false);
    expect(b()?.config.drain).toBeUndefined();
    // Leaving again, then left out: it leaves, and its containers are stopped.
    await fleet.setNodes([node("a")], ["b"]);
    expect(await fleet.setNodes([node("a")])).toEqual(["b"]);
    expect(b()).toBeUndefined();
    await waitFor("b's containers removed", async () => (await runtimes.get("b")!.list()).length === 0);
    await fleet.close();
  });

  it("a pod with a readiness probe label is ready only once the probe passes, and the change is reported", async () => {
    let ok = false;
    const probed: ProbeTarget[] = [];
    const { fleet, changes } = makeFleet({
      prober: async (t) => {
        probed.push(t);
        return { ok, message: ok ? "200" : "refused" };
      },
    });
    await fleet.setNodes([node("n1")]);
    fleet.start();
    const readiness = JSON.stringify({ type: "http", port: 30000, path: "/healthz", initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 });
    fleet.reserve({ pod: "web-a", node: "n1", owner: "Deployment/default/web", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 0, memoryBytes: 0 }, portCount: 1 });
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000], { [LABELS.readiness]: readiness })]);
    await waitFor("a failed probe", () => probed.length > 0);
    expect(fleet.pods()[0]!.ready).toBe(false);
    expect(probed[0]).toEqual({ type: "http", host: "127.0.0.1", port: 30000, path: "/healthz" });
    ok = true;
    changes.length = 0;
    await waitFor("ready", () => fleet.pods()[0]!.ready, 5_000);
    expect(changes.flat()).toContain("Deployment/default/web");
    await fleet.close();
  });

  it("a read of pods whose containers, health and terminating are unchanged returns the objects of the last read (frozen); a change gives a new one", async () => {
    let ok = false;
    let probes = 0;
    const { fleet } = makeFleet({
      prober: async () => {
        probes++;
        return { ok, message: ok ? "200" : "refused" };
      },
    });
    await fleet.setNodes([node("n1")]);
    fleet.start();
    const readiness = JSON.stringify({ type: "http", port: 30000, path: "/healthz", initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 });
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000], { [LABELS.readiness]: readiness })]);
    await fleet.createPod("web-b", "n1", [launch("web-b", [30001])]);
    await waitFor("a failed probe", () => probes > 0);
    const [a, b] = fleet.pods();
    expect(a!.ready).toBe(false);
    expect(Object.isFrozen(a)).toBe(true);
    expect(fleet.pods()[0]).toBe(a);
    expect(fleet.pods("Deployment/default/web")[1]).toBe(b);
    ok = true;
    const ready = await waitFor("ready", () => fleet.pods().find((p) => p.name === "web-a" && p.ready), 5_000);
    expect(ready).not.toBe(a);
    expect(fleet.pods()[0]).toBe(ready);
    // A copy is still what it was when read: nothing writes into an object once returned.
    expect([a!.ready, a!.reason]).toEqual([false, "NotReady"]);
    fleet.deletePod(ready, 1);
    const stopping = fleet.pods().find((p) => p.name === "web-a");
    expect([stopping!.phase, stopping!.ready, ready.phase, ready.ready]).toEqual(["Terminating", false, "Running", true]);
    await fleet.close();
  });

  it("a pod being deleted is Terminating at once and leaves the cache when its containers are gone", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    fleet.deletePod(fleet.pods()[0]!, 1);
    expect(fleet.pods()[0]!.phase).toBe("Terminating");
    await fleet.settled();
    expect(fleet.pods()).toEqual([]);
    expect(await runtimes.get("n1")!.list()).toEqual([]);
    await fleet.close();
  });

  it("a pod whose deletion fails stays Terminating for a back-off, is not stopped again meanwhile, then is deleted again", async () => {
    const { fleet, runtimes, changes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    const rt = runtimes.get("n1")!;
    // The engine refuses at once (as a stop of a container already gone did, before the next listing).
    const stop = vi.spyOn(rt, "stop").mockRejectedValue(new CoxError("RuntimeCallFailed", "cannot stop container: no such container"));
    changes.length = 0;
    const deletedAt = Date.now();
    fleet.deletePod(fleet.pods()[0]!, 30);
    await waitFor("the stop to fail", () => stop.mock.calls.length === 1, 5_000);
    for (let i = 0; i < 100; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      fleet.deletePod(fleet.pods()[0]!, 30); // what every reconcile of its owner does meanwhile
    }
    expect(fleet.pods()[0]!.phase).toBe("Terminating");
    expect(stop).toHaveBeenCalledTimes(1);
    expect(changes.flat()).toEqual(["Deployment/default/web"]); // Terminating once: no storm of changes
    await waitFor("the back-off to end", () => fleet.pods()[0]?.phase !== "Terminating", 5_000);
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(700); // DELETE_BACKOFF's first wait, less its jitter
    stop.mockRestore();
    fleet.deletePod(fleet.pods()[0]!, 1);
    await fleet.settled();
    expect(fleet.pods()).toEqual([]);
    await fleet.close();
  });

  it("a leaving pod's containers get SIGTERM only after beforeStop is done, with what it left of the grace period", async () => {
    let now = 1_000_000;
    let release!: () => void;
    const seen: string[] = [];
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    const stop = vi.spyOn(rt, "stop");
    const fleet = new Fleet({
      runtimeFactory: () => rt,
      pollMs: 60_000,
      now: () => now,
      beforeStop: async (pod, budgetMs) => {
        seen.push(`${pod.name} ${budgetMs}`);
        await new Promise<void>((resolve) => (release = resolve));
        now += 12_000; // the proxies took 12 s to drain it
      },
    });
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    fleet.deletePod(fleet.pods()[0]!, 30);
    await waitFor("beforeStop to run", () => seen.length === 1);
    expect(seen).toEqual(["web-a 30000"]);
    expect(fleet.pods()[0]).toMatchObject({ phase: "Terminating", ready: false });
    expect((await rt.list())[0]!.state).toBe("running");
    expect(stop).not.toHaveBeenCalled();
    release();
    await fleet.settled();
    expect(stop.mock.calls.map((c) => c[1])).toEqual([18]);
    expect(fleet.pods()).toEqual([]);
    await fleet.close();
  });

  it("a beforeStop that outlasts the grace period is not waited for longer, and a failing one does not keep the pod", async () => {
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    const stop = vi.spyOn(rt, "stop");
    const logs: string[] = [];
    const fleet = new Fleet({
      runtimeFactory: () => rt,
      pollMs: 60_000,
      log: lineLogger((l) => logs.push(l)),
      beforeStop: (pod) => (pod.name === "web-hangs" ? new Promise<void>(() => undefined) : Promise.reject(new Error("proxy unreachable"))),
    });
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-hangs", "n1", [launch("web-hangs", [30000])]);
    await fleet.createPod("web-fails", "n1", [launch("web-fails", [30001])]);
    for (const p of fleet.pods()) fleet.deletePod(p, 1);
    await fleet.settled();
    expect(fleet.pods()).toEqual([]);
    expect(stop).toHaveBeenCalledTimes(2);
    expect(logs.some((l) => l.includes("web-fails") && l.includes("proxy unreachable"))).toBe(true);
    await fleet.close();
  });

  it("each container's preStop hook runs after beforeStop and before SIGTERM, and its time comes out of the grace period", async () => {
    let now = 1_000_000;
    const order: string[] = [];
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    const stop = vi.spyOn(rt, "stop").mockImplementation(async (id, grace) => {
      order.push(`stop ${grace}`);
      return FakeRuntime.prototype.stop.call(rt, id, grace);
    });
    const logs: string[] = [];
    const fleet = new Fleet({
      runtimeFactory: () => rt,
      pollMs: 60_000,
      now: () => now,
      log: lineLogger((l) => logs.push(l)),
      beforeStop: async () => {
        order.push("out of the proxies");
      },
    });
    await fleet.setNodes([node("n1")]);
    const hook = (command: string[]) => ({ [LABELS.preStop]: JSON.stringify({ type: "exec", command }) });
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000], hook(["drain"])), { ...launch("web-a", [30001], hook(["fail"])), runtimeName: "cx_default_web-a_side" }]);
    for (const c of await rt.list()) {
      rt.setExecResult(c.id, (command) => {
        order.push(`exec ${command.join(" ")}`);
        now += 5_000;
        return { exitCode: command[0] === "fail" ? 3 : 0, output: "" };
      });
    }
    fleet.deletePod(fleet.pods()[0]!, 30);
    await fleet.settled();
    expect(order.slice(0, 3).sort()).toEqual(["exec drain", "exec fail", "out of the proxies"]);
    expect(order[0]).toBe("out of the proxies");
    expect(order.slice(3)).toEqual(["stop 20", "stop 20"]); // two hooks of 5 s each (in parallel, on a shared clock)
    expect(stop).toHaveBeenCalledTimes(2);
    expect(logs.filter((l) => l.includes("preStop"))).toEqual([expect.stringContaining("exited with code 3")]);
    await fleet.close();
  });

  it("runs a postStart hook for a container it creates, but not again for one it finds running (an operator restart)", async () => {
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    const hook = { [LABELS.postStart]: JSON.stringify({ type: "exec", command: ["warm-up"] }) };
    // Started by an earlier operator: its hook ran then.
    await rt.run(launch("web-old", [30003], hook));
    const fleet = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000 });
    await fleet.setNodes([node("n1")]);
    fleet.start();
    await fleet.createPod("web-new", "n1", [launch("web-new", [30000], hook)]);
    await waitFor("both pods ready", () => fleet.pods().length === 2 && fleet.pods().every((p) => p.ready), 10_000);
    const newId = fleet.pods().find((p) => p.name === "web-new")!.containers[0]!.id;
    expect(rt.execs).toEqual([{ id: newId, command: ["warm-up"] }]);
    await fleet.close();
  });

  it("runs init containers one at a time, in order, and the pod's containers after the last; an operator restart runs no succeeded one again", async () => {
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    const first = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000 });
    await first.setNodes([node("n1")]);
    first.start();
    await first.createPod("web-a", "n1", podWithInits("web-a"));
    const byName = (f: Fleet) => new Map(f.pods()[0]!.containers.map((c) => [c.labels[LABELS.container]!, c]));
    expect([...byName(first)].map(([n, c]) => [n, c.state])).toEqual([
      ["app", "created"],
      ["migrate", "running"],
      ["seed", "created"],
    ]);
    expect(first.pods().map((p) => [p.phase, p.ready, p.reason])).toEqual([["Pending", false, "Init:0/2"]]);
    rt.crash(byName(first).get("migrate")!.id, 0);
    await waitFor("seed started", () => byName(first).get("seed")?.state === "running", 5_000);
    expect(byName(first).get("app")!.state).toBe("created");
    expect(first.pods()[0]!.reason).toBe("Init:1/2");
    await first.close();

    // A new operator finds migrate succeeded and seed running: it waits for seed, never reruns migrate.
    const second = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000 });
    await second.setNodes([node("n1")]);
    second.start();
    expect(second.pods()[0]!.reason).toBe("Init:1/2");
    rt.crash(byName(second).get("seed")!.id, 0);
    await waitFor("web-a ready", () => second.pods()[0]?.ready === true, 10_000);
    const after = byName(second);
    expect([...after].map(([n, c]) => [n, c.state, c.exitCode, c.restartCount])).toEqual([
      ["app", "running", undefined, 0],
      ["migrate", "exited", 0, 0],
      ["seed", "exited", 0, 0],
    ]);
    expect(second.pods()[0]!.phase).toBe("Running");
    expect(second.pods()[0]!.message).toBeUndefined();
    await second.close();
  });

  it("restarts a failing init container with the crash-loop back-off (Init:Error, Init:CrashLoopBackOff) and never starts the pod's containers meanwhile", async () => {
    let now = 1_000_000;
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB, now: () => now });
    const fleet = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000, now: () => now });
    await fleet.setNodes([node("n1")]);
    fleet.start();
    await fleet.createPod("web-a", "n1", podWithInits("web-a"));
    const migrate = () => fleet.pods()[0]!.containers.find((c) => c.labels[LABELS.container] === "migrate")!;
    now += 500;
    // The first restart of a loop is immediate; here the engine refuses it once: Init:Error until the retry.
    rt.failNext("start", "RuntimeCallFailed");
    rt.crash(migrate().id, 1);
    await waitFor("Init:Error", () => fleet.pods()[0]!.reason === "Init:Error", 5_000);
    now += 1_000;
    await waitFor("migrate restarted", () => migrate().restartCount === 1 && migrate().state === "running", 5_000);
    now += 1_000;
    await fleet.refresh("n1");
    rt.crash(migrate().id, 1);
    await fleet.refresh("n1");
    await waitFor("in back-off", () => fleet.pods()[0]!.reason === "Init:CrashLoopBackOff", 5_000);
    expect(fleet.pods()[0]!.crashLooping).toBe(true);
    expect(migrate().state).toBe("exited");
    now += 10_000;
    await waitFor("restarted after 10 s", () => migrate().restartCount === 2 && migrate().state === "running", 5_000);
    expect(
      fleet
        .pods()[0]!
        .containers.filter((c) => c.labels[LABELS.container] !== "migrate")
        .map((c) => c.state),
    ).toEqual(["created", "created"]);
    expect(fleet.pods()[0]!.phase).toBe("Pending");
    expect(fleet.pods()[0]!.restartCount).toBe(2);
    // It succeeds now: the pod runs, and its restarts are its containers' (none), as kubectl counts them.
    now += 1_000;
    rt.crash(migrate().id, 0);
    const seed = () => fleet.pods()[0]!.containers.find((c) => c.labels[LABELS.container] === "seed")!;
    await waitFor("seed started", () => seed().state === "running", 5_000);
    now += 1_000;
    rt.crash(seed().id, 0);
    await waitFor("the pod runs", () => fleet.pods()[0]!.phase === "Running", 5_000);
    expect(fleet.pods()[0]!.restartCount).toBe(0);
    await fleet.close();
  });

  it("a silent node is NotReady after the grace period; after the eviction timeout its pods are lost, and removed when it is back", async () => {
    let now = 1_000_000;
    const runtimes = new Map<string, FakeRuntime>();
    const fleet = new Fleet({
      runtimeFactory: (n) => {
        const rt = new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB });
        runtimes.set(n.name, rt);
        return rt;
      },
      pollMs: 60_000,
      nodeGraceMs: 10_000,
      evictionTimeoutMs: 30_000,
      now: () => now,
    });
    await fleet.setNodes([node("n1"), node("n2", 31000, 31003)]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    runtimes.get("n1")!.setDown(true);
    await fleet.refresh("n1");
    expect(fleet.schedulerSnapshot().map((n) => n.name)).toEqual(["n2"]); // not placeable while silent
    now += 5_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]!.condition).toBe("Ready"); // within the grace period
    now += 6_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]!.condition).toBe("NotReady");
    expect(fleet.pods().map((p) => p.name)).toEqual(["web-a"]); // not yet evicted
    now += 30_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]!.evicted).toBe(true);
    expect(fleet.pods()).toEqual([]);
    runtimes.get("n1")!.setDown(false);
    await fleet.refresh("n1");
    await fleet.settled();
    expect(fleet.listNodes()[0]).toMatchObject({ condition: "Ready", evicted: false });
    expect(await runtimes.get("n1")!.list()).toEqual([]); // the stale pod was removed
    await fleet.close();
  });

  it("a hung node (a listing that never answers) is NotReady after the grace period and evicted after the timeout, before any call deadline", async () => {
    let now = 1_000_000;
    const runtimes = new Map<string, FakeRuntime>();
    const fleet = new Fleet({
      runtimeFactory: (n) => {
        const rt = new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB });
        runtimes.set(n.name, rt);
        return rt;
      },
      pollMs: 60_000,
      nodeGraceMs: 10_000,
      evictionTimeoutMs: 30_000,
      now: () => now,
    });
    await fleet.setNodes([node("n1"), node("n2", 31000, 31003)]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    const rt = runtimes.get("n1")!;
    let answer!: () => void;
    const hung = new Promise<void>((resolve) => (answer = resolve));
    const list = rt.list.bind(rt);
    rt.list = async () => {
      await hung;
      return list();
    };
    const listing = fleet.refresh("n1"); // accepted, never answered (until `answer`)
    now += 5_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]).toMatchObject({ condition: "Ready", ready: true }); // within the grace period
    now += 6_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]).toMatchObject({ condition: "NotReady", evicted: false });
    expect(fleet.schedulerSnapshot().map((n) => n.name)).toEqual(["n2"]); // no pod goes to a NotReady node
    expect(fleet.pods().map((p) => p.name)).toEqual(["web-a"]);
    now += 30_000;
    fleet.checkHealth();
    expect(fleet.listNodes()[0]!.evicted).toBe(true);
    expect(fleet.pods()).toEqual([]); // replaced elsewhere
    answer(); // the engine answers again: the stale pod goes
    await listing;
    await fleet.settled();
    expect(fleet.listNodes()[0]).toMatchObject({ condition: "Ready", evicted: false });
    expect(await rt.list()).toEqual([]);
    await fleet.close();
  });

  it("a create on a node that hangs right after it waits for one listing more, not for the engine to come back", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    const rt = runtimes.get("n1")!;
    const list = rt.list.bind(rt);
    let listings = 0;
    let timeOut = (): void => undefined;
    // Hung: every listing waits until its engine call deadline fails it (timeOut()).
    rt.list = () => {
      listings++;
      return new Promise((_, reject) => (timeOut = () => reject(new CoxError("NodeUnreachable", "n1: list containers: the Docker engine did not answer within 30000 ms"))));
    };
    void fleet.refresh("n1"); // a poll's listing, under way when the pod is created
    let created = false;
    const creating = fleet.createPod("web-a", "n1", [launch("web-a", [30000])]).then(() => (created = true));
    await waitFor("the container run", () => rt.calls.run === 1);
    // The polls go on asking while each hung listing runs into its deadline.
    for (let pass = 1; pass <= 3 && !created; pass++) {
      void fleet.refresh("n1");
      timeOut();
      await waitFor(`listing ${pass + 1} under way`, () => listings === pass + 1 || created);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(created).toBe(true);
    expect(listings).toBeLessThanOrEqual(3);
    rt.list = list;
    timeOut();
    await creating;
    await fleet.close();
  });

  it("a listing begun before a create and answered after it (a slow engine) keeps the new pod and its host port", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    const rt = runtimes.get("n1")!;
    const list = rt.list.bind(rt);
    let answer = (): void => undefined;
    let waiting = 0;
    // Slow: the engine reads its containers when asked and its answer arrives later.
    rt.list = async () => {
      const snapshot = await list();
      waiting++;
      await new Promise<void>((resolve) => (answer = resolve));
      return snapshot;
    };
    const listing = fleet.refresh("n1");
    await waitFor("the listing under way", () => waiting === 1);
    const owner = "Deployment/default/web";
    const none = { cpuMillis: 0, memoryBytes: 0 };
    const [port] = fleet.reserve({ pod: "web-a", node: "n1", owner, requests: none, requestsForScoring: none, portCount: 1 });
    expect(port).toBe(30000);
    const creating = fleet.createPod("web-a", "n1", [launch("web-a", [port!])]);
    await waitFor("web-a created", () => fleet.pods().some((p) => p.name === "web-a"));
    answer(); // the listing from before the create answers: no web-a in it
    await listing;
    expect(fleet.pods().map((p) => p.name)).toEqual(["web-a"]);
    expect(fleet.reserve({ pod: "web-b", node: "n1", owner, requests: none, requestsForScoring: none, portCount: 1 })).toEqual([30001]);
    fleet.release("web-b");
    rt.list = list;
    await waitFor("the create's own listing", () => waiting === 2);
    answer();
    await creating;
    expect(fleet.pods().map((p) => p.name)).toEqual(["web-a"]);
    await fleet.close();
  });

  it("a listing begun before a pod's removal and answered after it (a slow engine) does not bring the pod back", async () => {
    const { fleet, runtimes } = makeFleet();
    await fleet.setNodes([node("n1")]);
    await fleet.createPod("web-a", "n1", [launch("web-a", [30000])]);
    const rt = runtimes.get("n1")!;
    const list = rt.list.bind(rt);
    let answer = (): void => undefined;
    let waiting = 0;
    rt.list = async () => {
      const snapshot = await list();
      waiting++;
      await new Promise<void>((resolve) => (answer = resolve));
      return snapshot;
    };
    const listing = fleet.refresh("n1");
    await waitFor("the listing under way", () => waiting === 1);
    fleet.deletePod(fleet.pods()[0]!, 0);
    await waitFor("web-a removed", () => fleet.pods().length === 0);
    answer(); // the listing from before the removal answers: web-a in it
    await listing;
    expect(fleet.pods()).toEqual([]);
    rt.list = list;
    await fleet.close();
  });

  it("a node never listed since it joined is unknown until it answers", async () => {
    const rt = new FakeRuntime({ name: "n1", cpuMillis: 2000, memoryBytes: 4 * GiB });
    rt.setDown(true);
    const fleet = new Fleet({ runtimeFactory: () => rt, pollMs: 60_000 });
    await fleet.setNodes([node("n1")]);
    expect(fleet.unknownNodes()).toEqual(["n1"]);
    rt.setDown(false);
    await fleet.refresh("n1");
    expect(fleet.unknownNodes()).toEqual([]);
    await fleet.close();
  });

  it("knows every pod name in use: observed pods of any owner, an evicted node's, pods being stopped and reservations", async () => {
    let now = 1_000_000;
    const runtimes = new Map<string, FakeRuntime>();
    const fleet = new Fleet({
      runtimeFactory: (n) => {
        const rt = new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB });
        runtimes.set(n.name, rt);
        return rt;
      },
      pollMs: 60_000,
      nodeGraceMs: 10_000,
      evictionTimeoutMs: 30_000,
      now: () => now,
    });
    await fleet.setNodes([node("n1"), node("n2", 31000, 31003)]);
    await fleet.createPod("web-lost", "n1", [launch("web-lost", [30000])]);
    await fleet.createPod("api-a", "n2", [launch("api-a", [31000], { [LABELS.workload]: "api", [LABELS.namespace]: "other" })]);
    await fleet.createPod("web-stopping", "n2", [launch("web-stopping", [31001])]);
    runtimes.get("n1")!.setDown(true);
    await fleet.refresh("n1");
    now += 41_000;
    fleet.checkHealth();
    expect(fleet.pods().map((p) => p.name)).toEqual(["api-a", "web-stopping"]); // web-lost is replaced elsewhere; its name is still held
    fleet.reserve({ pod: "web-reserved", node: "n2", owner: "Deployment/default/web", requests: { cpuMillis: 0, memoryBytes: 0 }, requestsForScoring: { cpuMillis: 0, memoryBytes: 0 }, portCount: 1 });
    fleet.deletePod(fleet.pods().find((p) => p.name === "web-stopping")!, 30);
    expect([...fleet.podNames()].sort()).toEqual(["api-a", "web-lost", "web-reserved", "web-stopping"]);
    await waitFor("web-stopping's containers to be removed", () => fleet.pods().every((p) => p.name !== "web-stopping"));
    expect([...fleet.podNames()].sort()).toEqual(["api-a", "web-lost", "web-reserved"]);
    fleet.release("web-reserved");
    expect([...fleet.podNames()].sort()).toEqual(["api-a", "web-lost"]);
    await fleet.close();
  });
});

describe("fleet: the node each claim is bound to", () => {
  /** A fleet whose runtimes report the claims in `held` (node → claims) as their storage. */
  function claimFleet(held: Map<string, string[]>) {
    const removed: string[] = [];
    const fleet = new Fleet({
      runtimeFactory: (n) =>
        Object.assign(new FakeRuntime({ name: n.name, cpuMillis: 2000, memoryBytes: 4 * GiB }), {
          claims: async () => (held.get(n.name) ?? []).map((claim) => ({ claim, volume: `v-${claim}` })),
          removeClaim: async (claim: string) => {
            removed.push(`${n.name}:${claim}`);
            held.set(
              n.name,
              (held.get(n.name) ?? []).filter((c) => c !== claim),
            );
          },
        }),
      pollMs: 60_000,
    });
    return { fleet, removed };
  }

  it("reads bindings from the nodes' storage first, then from placements and the status branch", async () => {
    const held = new Map([["b", ["shop/db"]]]);
    const { fleet } = claimFleet(held);
    await fleet.setNodes([node("a"), node("b")]);
    fleet.seedClaims({ "shop/db": "a", "shop/cache": "a" });
    expect(fleet.claimNode("shop/db")).toBe("b"); // the storage wins over a record
    expect(fleet.claimNode("shop/cache")).toBe("a");
    fleet.bindClaim("shop/new", "b");
    fleet.bindClaim("shop/new", "a"); // bound already: keeps its node
    expect(fleet.claimNode("shop/new")).toBe("b");
    expect(fleet.claimNode("shop/none")).toBeUndefined();
    expect(fleet.claimVolumes()).toEqual([{ claim: "shop/db", node: "b", volume: "v-shop/db" }]);
    await fleet.close();
  });

  it("keeps a claim bound to a node that left the fleet, and forgets a claim whose data it removed", async () => {
    const held = new Map([
      ["a", ["shop/db"]],
      ["b", ["shop/tmp"]],
    ]);
    const { fleet, removed } = claimFleet(held);
    await fleet.setNodes([node("a"), node("b")]);
    await fleet.setNodes([node("b")]);
    expect(fleet.claimNode("shop/db")).toBe("a");
    await fleet.removeClaimData("shop/tmp", "b");
    expect(removed).toEqual(["b:shop/tmp"]);
    expect(fleet.claimNode("shop/tmp")).toBeUndefined();
    await expect(fleet.removeClaimData("shop/db", "a")).rejects.toMatchObject({ code: "NodeUnreachable" });
    await fleet.close();
  });
});
